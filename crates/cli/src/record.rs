//! `pktvisor record INPUT --out DIR`: re-cuts a capture file with the recorder's rules (flow
//! cutoff, rotation, compression, retention) into gotm's file layout.

use crate::progress::FileProgress;
use crate::record_args::RecordArgs;
use crate::stop_signal;
use pv_capture::FileFormat;
use pv_record::{MAX_SNAPLEN, RecordStats, Recorder};
use pv_wire::LinkType;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct RecordCmd {
    /// Output directory: files go to DIR/YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS.pcap[.gz|.zst].
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub record: RecordArgs,

    /// Bytes kept of each packet (default: the input's snap length).
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SNAPLEN)))]
    pub snaplen: Option<u32>,

    /// A capture file (.pcap, .pcapng, optionally gzip-compressed).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
}

/// Records the whole file; damage in the input ends it with a warning, like a summary does.
/// SIGINT/SIGTERM end it early with the current file completed.
pub fn run(program: &str, cmd: &RecordCmd) -> Result<RecordStats, String> {
    // As the summary: a classic pcap of a link type we cannot decode is refused up front (its
    // files would be pcap files nothing reads); pcapng packets of such interfaces are skipped
    // and counted.
    let mut reader = pv_pipeline::open_capture(&cmd.input).map_err(|e| e.to_string())?;
    // pcapng timestamps may be finer than microseconds; pcap says which it has.
    let nanosecond = match reader.format() {
        FileFormat::Pcap => reader.pcap_header().is_some_and(|h| h.nanosecond),
        FileFormat::PcapNg => true,
    };
    let input_snaplen = reader.snaplen().filter(|&s| s > 0).unwrap_or(MAX_SNAPLEN);
    let snaplen = cmd.snaplen.map_or(input_snaplen, |s| s.min(MAX_SNAPLEN));
    let config = cmd.record.to_config(&cmd.out, snaplen, nanosecond);
    let log_program = program.to_string();
    let mut recorder = Recorder::new(
        config,
        Box::new(move |line| eprintln!("{log_program}: {line}")),
    )
    .map_err(|e| format!("cannot record to {}: {e}", cmd.out.display()))?;
    stop_signal::install();
    let mut progress = FileProgress::new();
    let mut since_progress = 0u32;
    let mut unsupported = 0u64;
    while !stop_signal::requested() {
        match reader.next_packet() {
            Ok(Some(p)) if LinkType::from_linktype(p.linktype).is_none() => unsupported += 1,
            Ok(Some(p)) => {
                recorder.record(p.linktype, p.ts_ns, p.orig_len, p.data);
            }
            Ok(None) => break,
            Err(e) if e.is_damage() => {
                eprintln!("{program}: warning: {e}; recorded the packets before it");
                break;
            }
            Err(e) => return Err(e.to_string()),
        }
        since_progress += 1;
        if since_progress == 4096 {
            since_progress = 0;
            progress.update(reader.file_bytes_read(), reader.file_size());
            recorder.flush_if_due();
        }
    }
    progress.finish();
    if unsupported > 0 {
        eprintln!(
            "{program}: warning: {unsupported} packets of link types we cannot decode were not recorded"
        );
    }
    if stop_signal::requested() {
        eprintln!("{program}: stopped by a signal; the current file is complete");
    }
    Ok(recorder.finish())
}

/// The closing line: what went in, what came out.
pub fn summary_line(s: &RecordStats) -> String {
    format!(
        "packets in {} out {}, bytes in {} out {}, flows {} (expired {}, evicted {}), files written {} deleted {} recovered {}, bytes on disk {}",
        s.packets,
        s.packets_output,
        s.bytes,
        s.bytes_output,
        s.flows.created,
        s.flows.expired,
        s.flows.evicted,
        s.files_written,
        s.files_deleted,
        s.files_recovered,
        s.bytes_on_disk
    )
}

/// Why a recording is incomplete (packets lost to write errors, or a failed rename or
/// deletion), None when everything offered was handled.
pub fn incomplete(s: &RecordStats) -> Option<String> {
    if s.packets_paused == 0 && s.write_errors == 0 {
        return None;
    }
    let first = s
        .first_error
        .as_deref()
        .unwrap_or("a rename or deletion failed");
    Some(format!(
        "recorded {} of the {} packets to keep; {} not written, {} write error(s), the first: {first}",
        s.packets_output,
        s.packets_output + s.packets_paused,
        s.packets_paused,
        s.write_errors
    ))
}
