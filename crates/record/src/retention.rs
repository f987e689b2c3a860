//! The disk budget: completed files, oldest first, deleted until the directory fits within
//! `--retention-size` bytes and holds nothing that started more than `--retention-age` before
//! the newest packet (packet time, so re-cutting an old capture keeps its own last hours).
//!
//! Files are ordered by their path below the output directory, which is their start time
//! (see `rotation`). Only files named as this recorder names them are counted or deleted;
//! anything else in the directory is left alone. The file being written is not in the list:
//! it joins when it is complete, and the budget is enforced right then.

use crate::compress::Compression;
use crate::dir_walk::files_below;
use crate::rotation::{NS_PER_SEC, start_of_name};
use std::io;
use std::path::{Path, PathBuf};

/// The name ending of a recording's field index, kept beside the file (pv-search's
/// `segment_path`).
pub const INDEX_SUFFIX: &str = ".pvx";
/// The catalogue of a directory's indexes (`pv_search::index::catalog`): deleted with the
/// directory's last capture.
pub const CATALOG_NAME: &str = "catalog.pvc";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    /// Most bytes of completed files kept (0 = no limit).
    pub max_bytes: u64,
    /// Files starting longer ago than this (packet time) are deleted (0 = no limit).
    pub max_age_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Kept {
    /// Path relative to the output directory: its text order is time order.
    rel: String,
    size: u64,
    start_secs: u64,
}

/// The completed files in the output directory and their total size.
pub struct Retention {
    dir: PathBuf,
    policy: RetentionPolicy,
    files: Vec<Kept>,
    total: u64,
}

/// What one enforcement did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Enforced {
    pub deleted: u64,
    pub errors: u64,
}

impl Retention {
    /// Lists the completed files already in `dir` (from earlier runs).
    pub fn scan(dir: &Path, policy: RetentionPolicy) -> io::Result<Retention> {
        let mut r = Retention {
            dir: dir.to_path_buf(),
            policy,
            files: Vec::new(),
            total: 0,
        };
        for (path, size) in files_below(dir)? {
            r.add(&path, size);
        }
        Ok(r)
    }

    /// Counts a completed file (ignored unless named like ours and inside the directory).
    pub fn add(&mut self, path: &Path, size: u64) {
        let Some(kept) = self.kept(path, size) else {
            return;
        };
        let at = self.files.partition_point(|f| f.rel < kept.rel);
        self.total += kept.size;
        self.files.insert(at, kept);
    }

    fn kept(&self, path: &Path, size: u64) -> Option<Kept> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".tmp") {
            return None;
        }
        Compression::of_name(name)?;
        let start_secs = start_of_name(name)?;
        let rel = path.strip_prefix(&self.dir).ok()?.to_str()?.to_string();
        Some(Kept {
            rel,
            size,
            start_secs,
        })
    }

    /// Bytes of the completed files.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Deletes the oldest files until the budget holds at packet time `now_ns`; each deletion
    /// is reported to `log`.
    pub fn enforce(&mut self, now_ns: u64, log: &mut dyn FnMut(&str)) -> Enforced {
        let mut done = Enforced::default();
        let now_secs = now_ns / NS_PER_SEC;
        let max_age_secs = self.policy.max_age_ns / NS_PER_SEC;
        let mut first_kept = 0;
        for f in &self.files {
            let too_big = self.policy.max_bytes > 0 && self.total > self.policy.max_bytes;
            let too_old =
                self.policy.max_age_ns > 0 && now_secs.saturating_sub(f.start_secs) > max_age_secs;
            if !too_big && !too_old {
                break;
            }
            let path = self.dir.join(&f.rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    done.deleted += 1;
                    // The file's field index (`pktvisor index`), which lives beside it and
                    // answers only for it, goes with it.
                    let mut index = path.clone().into_os_string();
                    index.push(INDEX_SUFFIX);
                    let _ = std::fs::remove_file(index);
                    let why = if too_big { "size" } else { "age" };
                    log(&format!(
                        "retention ({why}): deleted {} ({} bytes)",
                        path.display(),
                        f.size
                    ));
                    self.remove_empty_dirs(&path);
                }
                // Someone else removed it: it no longer takes space either.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Left in place and still counted; the next enforcement tries again.
                    done.errors += 1;
                    log(&format!("retention: cannot delete {}: {e}", path.display()));
                    break;
                }
            }
            self.total -= f.size;
            first_kept += 1;
        }
        self.files.drain(..first_kept);
        done
    }

    /// Removes the day, month and year directories a deletion left empty (but for the
    /// catalogue, which describes only what was there).
    fn remove_empty_dirs(&self, file: &Path) {
        if let Some(day) = file.parent()
            && let Ok(mut entries) = std::fs::read_dir(day)
            && entries.all(|e| e.is_ok_and(|e| e.file_name() == CATALOG_NAME))
        {
            let _ = std::fs::remove_file(day.join(CATALOG_NAME));
        }
        let mut d = file.parent();
        while let Some(dir) = d {
            if dir == self.dir || !dir.starts_with(&self.dir) || std::fs::remove_dir(dir).is_err() {
                break;
            }
            d = dir.parent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::file_path;

    fn lab(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pvrec-ret-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn make(dir: &Path, secs: u64, size: usize) -> PathBuf {
        let p = file_path(dir, secs, "", 0);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![0u8; size]).unwrap();
        p
    }

    #[test]
    fn oldest_files_go_first_until_the_size_fits() {
        let dir = lab("size");
        // Three days apart, created out of order.
        let c = make(&dir, 1_764_000_000 + 2 * 86_400, 300);
        let a = make(&dir, 1_764_000_000, 300);
        let b = make(&dir, 1_764_000_000 + 86_400, 300);
        std::fs::write(dir.join("notes.txt"), "not ours").unwrap();
        // The day's catalogue of indexes describes only its captures: it goes with the last.
        std::fs::write(a.parent().unwrap().join(CATALOG_NAME), "records").unwrap();
        std::fs::write(b.parent().unwrap().join(CATALOG_NAME), "records").unwrap();
        let mut r = Retention::scan(
            &dir,
            RetentionPolicy {
                max_bytes: 700,
                max_age_ns: 0,
            },
        )
        .unwrap();
        assert_eq!((r.file_count(), r.total_bytes()), (3, 900));
        let mut lines = Vec::new();
        let done = r.enforce(0, &mut |l| lines.push(l.to_string()));
        assert_eq!(
            done,
            Enforced {
                deleted: 1,
                errors: 0
            }
        );
        assert!(!a.exists() && b.exists() && c.exists());
        assert!(dir.join("notes.txt").exists());
        // The emptied day directory went with it, catalogue and all; the others keep theirs.
        assert!(!a.parent().unwrap().exists());
        assert!(b.parent().unwrap().join(CATALOG_NAME).exists());
        assert!(lines[0].contains("deleted") && lines[0].contains("300 bytes"));
        assert_eq!(r.total_bytes(), 600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn files_older_than_the_age_go() {
        let dir = lab("age");
        let t0 = 1_764_000_000;
        for i in 0..5 {
            make(&dir, t0 + i * 60, 10);
        }
        let mut r = Retention::scan(
            &dir,
            RetentionPolicy {
                max_bytes: 0,
                max_age_ns: 120 * NS_PER_SEC,
            },
        )
        .unwrap();
        // Newest packet at t0 + 4 min: files starting at t0 and t0 + 1 min are over 2 min old.
        let done = r.enforce((t0 + 240) * NS_PER_SEC, &mut |_| {});
        assert_eq!(done.deleted, 2);
        assert_eq!(r.file_count(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn added_files_join_in_time_order() {
        let dir = lab("add");
        let mut r = Retention::scan(
            &dir,
            RetentionPolicy {
                max_bytes: 15,
                max_age_ns: 0,
            },
        )
        .unwrap();
        let late = make(&dir, 2_000_000_000, 10);
        let early = make(&dir, 1_000_000_000, 10);
        r.add(&late, 10);
        r.add(&early, 10);
        r.enforce(0, &mut |_| {});
        assert!(!early.exists() && late.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
