//! The regular files below the recording directory (its `YYYY/MM/DD` tree), with their sizes:
//! what both retention (completed files) and recovery (`.tmp` files) start from.

use std::io;
use std::path::{Path, PathBuf};

/// Every regular file below `dir` and its size, in no particular order. A directory that
/// vanishes while it is walked (retention removing an emptied day) is skipped.
pub fn files_below(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push((entry.path(), entry.metadata()?.len()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_files_of_every_depth_and_tolerates_a_missing_dir() {
        let dir = std::env::temp_dir().join(format!("pv-dir-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("2026/11/24")).unwrap();
        std::fs::write(dir.join("top.pcap"), b"abc").unwrap();
        std::fs::write(dir.join("2026/11/24/x.pcap.tmp"), b"abcdef").unwrap();
        let mut files = files_below(&dir).unwrap();
        files.sort();
        assert_eq!(
            files,
            vec![
                (dir.join("2026/11/24/x.pcap.tmp"), 6),
                (dir.join("top.pcap"), 3)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(files_below(&dir).unwrap().is_empty());
    }
}
