//! Which files below a directory are captures: by name, as the recorder and tcpdump name them
//! (a directory may hold other files — notes, indexes — that must not be read as packets).

use crate::error::SearchError;
use std::path::{Path, PathBuf};

/// Name endings of capture files, before an optional `.gz`/`.zst` and `.tmp`.
const CAPTURE_ENDINGS: [&str; 3] = [".pcap", ".pcapng", ".cap"];

fn is_capture_name(name: &str) -> bool {
    let name = name.strip_suffix(".tmp").unwrap_or(name);
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    CAPTURE_ENDINGS.iter().any(|e| name.ends_with(e))
        // tcpdump -G names files with a strftime pattern, often ending in a number.
        || name.rsplit_once(".pcap").is_some_and(|(_, rest)| rest.chars().all(|c| c.is_ascii_digit()))
}

/// Every capture file below `path` (or `path` itself when it is a file), in name order — the
/// recorder's names (`YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS[_NNNN].pcap`) sort in time order.
pub fn capture_files(path: &Path) -> Result<Vec<PathBuf>, SearchError> {
    let list = |p: &Path, e: std::io::Error| SearchError::List {
        path: p.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(|e| list(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| list(&dir, e))? {
            let entry = entry.map_err(|e| list(&dir, e))?;
            let p = entry.path();
            let kind = entry.file_type().map_err(|e| list(&p, e))?;
            if kind.is_dir() {
                todo.push(p);
            } else if kind.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_capture_name)
            {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        return Err(SearchError::NoCaptures {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names() {
        for yes in [
            "2026-12-07T01-00-00.pcap",
            "2026-12-07T01-00-00_0001.pcap.zst",
            "2026-12-07T01-00-00.pcap.gz.tmp",
            "x.pcapng",
            "trace.cap",
            "dump.pcap17",
        ] {
            assert!(is_capture_name(yes), "{yes}");
        }
        for no in ["notes.txt", "x.pcap.idx", "x.zst", "pcap", "x.pcapx"] {
            assert!(!is_capture_name(no), "{no}");
        }
    }
}
