//! Opening the segments of a directory for a query: each capture's index read from beside it
//! when current, else built (and written) now; with a predicate on catalogue records, the
//! captures a request cannot use are not opened at all.

use super::{Built, CutPackets, Segment, Stored, catalog, codec, segment_path};
use crate::error::SearchError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The index of `capture`: opened from beside it when it is there and current (only its
/// header is read now), else built (and written, when `write` — a read-only directory still
/// answers). Returns it with the damage found in the capture when it was built now.
pub fn load_or_build(capture: &Path, write: bool) -> Result<(Stored, Option<String>), SearchError> {
    load_or_build_with(capture, write, &CutPackets::default())
}

/// As `load_or_build`, a segment built now taking in `cut` (the recorder's packets past their
/// flow's cutoff that belong with this file).
pub fn load_or_build_with(
    capture: &Path,
    write: bool,
    cut: &CutPackets,
) -> Result<(Stored, Option<String>), SearchError> {
    let path = segment_path(capture);
    let current_len = std::fs::metadata(capture).map(|m| m.len()).ok();
    // With packets past the cutoff to take in, an index already there is built again: a query
    // that came before the indexer thread built it from the file alone.
    if let Ok(stored) = Stored::open(&path)
        && Some(stored.source_len) == current_len
        && cut.is_empty()
    {
        return Ok((stored, None));
    }
    let Built {
        segment: seg,
        damage,
        facts,
    } = Segment::build_with(capture, cut)?;
    let bytes = codec::encode(&seg);
    if write {
        // Written whole then renamed, so that a reader never sees half an index.
        let tmp = {
            let mut s = path.as_os_str().to_os_string();
            s.push(".part");
            PathBuf::from(s)
        };
        let io = |e: std::io::Error| SearchError::List {
            path: path.clone(),
            source: e,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        // The directory's catalogue learns of it (a search that cannot use it opens the
        // segment instead: a failure here loses nothing), before the segment takes its place:
        // the other way, a query between the two could prune by the old record a segment
        // rebuilt with more values (the packets past the cutoff the indexer brings).
        if let Some(facts) = facts {
            let _ = catalog::append(capture, &catalog::Entry::of(&seg, facts));
        }
        std::fs::rename(&tmp, &path).map_err(io)?;
    }
    let stored = Stored::from_bytes(bytes).map_err(|d| SearchError::Index {
        path: path.clone(),
        damage: d,
    })?;
    Ok((stored, damage))
}

/// Every capture's segment below `path`, in time order: opened when current, else built and
/// written beside it (but for the recorder's open `.tmp`, which grows: built in memory each
/// time, so that the newest packets answer too). With `rebuild`, every index is built anew.
/// Damage in a capture and indexes that cannot be written are warnings, as is a file that is
/// not a capture.
pub fn open_segments(
    path: &Path,
    rebuild: bool,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Stored>, SearchError> {
    let opened = open_segments_where(path, rebuild, None, None, warn)?;
    Ok(opened.segments.into_iter().map(|(_, s)| s).collect())
}

/// The segments a request opened, in time order.
pub struct Opened {
    /// Each with its first column: the packets before it, opened or not.
    pub segments: Vec<(u64, Stored)>,
    /// Captures not opened: their catalogue records said the request needs nothing of them.
    pub skipped: usize,
}

/// As `open_segments`, but a capture whose current catalogue record `needed` refuses is not
/// opened (nor built, nor rebuilt): only its place in time and its packet count are kept, from
/// the record, so that columns number the packets as if it were opened. `open_cut`: the
/// recorder's open file (by name) with its packets past the cutoff so far, indexed with it.
pub fn open_segments_where(
    path: &Path,
    rebuild: bool,
    needed: Option<&dyn Fn(&catalog::Entry) -> bool>,
    open_cut: Option<(&Path, &CutPackets)>,
    warn: &mut dyn FnMut(String),
) -> Result<Opened, SearchError> {
    // (first packet's time, packets, the segment when opened)
    let mut all: Vec<(u64, u64, Option<Stored>)> = Vec::new();
    let mut catalogs: HashMap<PathBuf, catalog::Catalog> = HashMap::new();
    let none = CutPackets::default();
    for capture in crate::capture_files(path)? {
        let open = capture.extension().is_some_and(|e| e == "tmp");
        if let Some(needed) = needed
            && !open
            && let Some(dir) = capture.parent()
            && let Ok(meta) = std::fs::metadata(&capture)
        {
            let cat = catalogs
                .entry(dir.to_path_buf())
                .or_insert_with(|| catalog::Catalog::load(dir));
            if let Some(e) = cat.get(&capture, meta.len())
                && !needed(e)
            {
                all.push((e.first_ts, u64::from(e.packets), None));
                continue;
            }
        }
        if rebuild {
            let _ = std::fs::remove_file(segment_path(&capture));
        }
        let cut = open_cut
            .filter(|(tmp, _)| open && tmp.file_name() == capture.file_name())
            .map_or(&none, |(_, cut)| cut);
        match load_or_build_with(&capture, !open, cut) {
            Ok((seg, damage)) => {
                if let Some(d) = damage {
                    warn(format!("{d}; indexed the packets before it"));
                }
                all.push((seg.first_ts, u64::from(seg.packets), Some(seg)));
            }
            Err(SearchError::List { path, source }) if !open => {
                // The directory may be read-only: answer from memory.
                warn(format!(
                    "{}: cannot write the index ({source}); using it unsaved",
                    path.display()
                ));
                let seg = load_or_build(&capture, false)?.0;
                all.push((seg.first_ts, u64::from(seg.packets), Some(seg)));
            }
            Err(SearchError::Capture(e)) if !e.is_damage() => warn(format!("{e}; skipped")),
            Err(e) => return Err(e),
        }
    }
    // Columns number the packets in time order across files.
    all.sort_by_key(|s| s.0);
    let mut opened = Opened {
        segments: Vec::with_capacity(all.len()),
        skipped: 0,
    };
    let mut base = 0u64;
    for (_, packets, seg) in all {
        match seg {
            Some(seg) => opened.segments.push((base, seg)),
            None => opened.skipped += 1,
        }
        base += packets;
    }
    Ok(opened)
}
