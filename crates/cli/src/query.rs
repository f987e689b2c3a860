//! `pktvisor index PATH` and `pktvisor query PATH 'PQL'`: the field index of every capture file
//! below PATH (written beside each as `NAME.pvx`, rebuilt when its capture changed) and PQL
//! answered on it, in Pilosa's JSON shapes.

use pv_search::index::{
    Segment, Stored, catalog, decode_segment, open_segments, open_segments_where, segment_path,
};
use pv_search::pql::{Index, TimeRange, may_contribute, parse};
use pv_search::time::parse_time;
use pv_search::{SearchError, capture_files};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct IndexCmd {
    /// A recording directory (searched recursively) or one capture file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Verify every index against its capture instead of writing: an index that is missing,
    /// stale or differs from a fresh build of its capture is named, and the exit status is 1.
    #[arg(long)]
    pub check: bool,
}

#[derive(clap::Args, Debug)]
pub struct QueryCmd {
    /// A recording directory (searched recursively) or one capture file; missing or stale
    /// indexes are built first (and written when the directory allows).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// The query: one or more PQL calls, e.g. 'Count(Row(netsrc="10.0.0.1"))',
    /// 'TopN(dns-qname, n=10)', 'TopN(frame=transdst, Row(tcp=SYN), n=5)',
    /// 'Sum(Row(transproto=UDP), field=length)'.
    #[arg(value_name = "PQL")]
    pub pql: String,

    /// Only packets at or after this time (RFC 3339 or Unix seconds), for every call.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,

    /// Only packets before this time.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

/// Every capture's segment (see `open_segments`), warnings on stderr.
fn segments(program: &str, path: &Path, rebuild: bool) -> Result<Vec<Stored>, SearchError> {
    open_segments(path, rebuild, &mut |w| eprintln!("{program}: warning: {w}"))
}

pub fn run_index(program: &str, cmd: &IndexCmd) -> ExitCode {
    if cmd.check {
        return check(program, &cmd.path);
    }
    match segments(program, &cmd.path, false) {
        Ok(segs) => {
            let packets: u64 = segs.iter().map(|s| u64::from(s.packets)).sum();
            eprintln!("{program}: {} files indexed, {packets} packets", segs.len());
            // The catalogues anew, from the indexes just checked or built.
            if let Err(e) = catalog::rewrite_below(&cmd.path) {
                eprintln!("{program}: warning: {e}; searches open every index instead");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(program: &str, path: &Path) -> ExitCode {
    let files = match capture_files(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{program}: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut bad = 0;
    for capture in &files {
        let stored = std::fs::read(segment_path(capture)).ok();
        let fresh = Segment::build(capture);
        let verdict = match (stored, fresh) {
            (None, _) => Some("no index".to_string()),
            (_, Err(e)) => Some(format!("cannot read the capture: {e}")),
            (Some(bytes), Ok((seg, _))) => match decode_segment(&bytes) {
                Err(why) => Some(format!("index damaged: {why}")),
                // Packets past their flow's cutoff are in the index, not in the file.
                Ok(stored) if stored.only_stored() == seg => None,
                Ok(stored) if stored.source_len != seg.source_len => {
                    Some("index stale (the capture changed)".to_string())
                }
                Ok(_) => Some("index differs from its capture".to_string()),
            },
        };
        if let Some(v) = verdict {
            bad += 1;
            println!("{}: {v}", capture.display());
        }
    }
    eprintln!(
        "{program}: {} files checked, {bad} with a bad index",
        files.len()
    );
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn run_query(program: &str, cmd: &QueryCmd) -> ExitCode {
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("{program}: error: {e}");
        ExitCode::from(2)
    };
    let calls = match parse(&cmd.pql) {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    if let Err(e) = Index::validate(&calls) {
        return usage(&e);
    }
    let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
    let range = match (time(&cmd.from), time(&cmd.to)) {
        (Ok(from), Ok(to)) => TimeRange { from, to },
        (Err(e), _) | (_, Err(e)) => return usage(&e),
    };
    // Only the captures whose catalogue records say they may change an answer are opened.
    let needed = |e: &catalog::Entry| may_contribute(&calls, range, e);
    let answer = |rebuild: bool| {
        let warn = &mut |w: String| eprintln!("{program}: warning: {w}");
        open_segments_where(&cmd.path, rebuild, Some(&needed), None, warn).map(|opened| {
            eprintln!(
                "{program}: answered from {} indexes ({} not opened: their catalogue records \
                 say they cannot change the answer)",
                opened.segments.len(),
                opened.skipped
            );
            Index::with_bases(opened.segments, range).and_then(|index| index.answer(&calls))
        })
    };
    let answered = match answer(false) {
        // A damaged index is rebuilt from its capture, and the query asked again.
        Ok(Err(e)) if e.damaged => {
            eprintln!("{program}: warning: {}; rebuilding the indexes", e.message);
            answer(true)
        }
        other => other,
    };
    match answered {
        Ok(Ok(json)) => crate::output::print(program, &format!("{json}\n")),
        Ok(Err(e)) if e.damaged => {
            eprintln!("{program}: error: {}", e.message);
            ExitCode::FAILURE
        }
        Ok(Err(e)) => usage(&e),
        Err(e) => {
            eprintln!("{program}: error: {e}");
            ExitCode::FAILURE
        }
    }
}
