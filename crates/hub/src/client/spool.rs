//! The agent's queue of pushes not yet acknowledged by the hub, oldest first: files
//! `NNNNNNNNNNNNNNNNNNNN.push` in `--spool-dir` (so they survive a restart of the agent), or
//! memory without one. Bounded by bytes: past the bound the oldest pushes are dropped and
//! counted.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

const SUFFIX: &str = ".push";

#[derive(Debug)]
struct Entry {
    seq: u64,
    len: u64,
    /// The body when the spool has no directory.
    body: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct Spool {
    dir: Option<PathBuf>,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    bytes: u64,
    next_seq: u64,
    /// Pushes dropped to stay within `max_bytes` since the spool was opened.
    pub dropped: u64,
}

impl Spool {
    /// A spool in `dir` (created if missing; pushes left there by an earlier run are kept, in
    /// order), or in memory.
    pub fn open(dir: Option<&Path>, max_bytes: u64) -> std::io::Result<Spool> {
        let mut entries = Vec::new();
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)?;
            for e in std::fs::read_dir(dir)? {
                let e = e?;
                let name = e.file_name();
                // Half a push written when the agent died: it was never queued.
                if name.to_str().is_some_and(|n| n.ends_with(".tmp")) {
                    std::fs::remove_file(e.path())?;
                    continue;
                }
                let Some(seq) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(SUFFIX))
                    .and_then(|n| n.parse::<u64>().ok())
                else {
                    continue;
                };
                entries.push(Entry {
                    seq,
                    len: e.metadata()?.len(),
                    body: None,
                });
            }
        }
        entries.sort_by_key(|e| e.seq);
        let mut spool = Spool {
            dir: dir.map(Path::to_path_buf),
            max_bytes,
            bytes: entries.iter().map(|e| e.len).sum(),
            next_seq: entries.last().map_or(1, |e| e.seq + 1),
            entries: entries.into(),
            dropped: 0,
        };
        spool.trim()?;
        Ok(spool)
    }

    fn path(&self, seq: u64) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{seq:020}{SUFFIX}")))
    }

    /// Queues a push after every other.
    pub fn add(&mut self, body: Vec<u8>) -> std::io::Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let len = body.len() as u64;
        let body = match self.path(seq) {
            Some(path) => {
                // Written whole under another name first: a crash never leaves half a push
                // under a name the next run would send.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, &body)?;
                std::fs::rename(&tmp, &path)?;
                None
            }
            None => Some(body),
        };
        self.entries.push_back(Entry { seq, len, body });
        self.bytes += len;
        self.trim()
    }

    fn trim(&mut self) -> std::io::Result<()> {
        while self.bytes > self.max_bytes && !self.entries.is_empty() {
            self.remove_oldest()?;
            self.dropped += 1;
        }
        Ok(())
    }

    /// The oldest push waiting.
    pub fn oldest(&self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(e) = self.entries.front() else {
            return Ok(None);
        };
        match (&e.body, self.path(e.seq)) {
            (Some(b), _) => Ok(Some(b.clone())),
            (None, Some(path)) => std::fs::read(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Removes the oldest push (delivered, or dropped).
    pub fn remove_oldest(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.len;
            if let Some(path) = self.path(e.seq) {
                match std::fs::remove_file(path) {
                    Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_survives_reopening_and_the_bound_drops_the_oldest() {
        let dir = std::env::temp_dir().join(format!("pv-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = Spool::open(Some(&dir), 25).unwrap();
        for i in 0..3u8 {
            s.add(vec![i; 10]).unwrap();
        }
        // 30 bytes > 25: the first push went.
        assert_eq!((s.len(), s.bytes(), s.dropped), (2, 20, 1));
        drop(s);
        std::fs::write(dir.join("00000000000000000009.tmp"), b"half").unwrap();
        let mut s = Spool::open(Some(&dir), 25).unwrap();
        assert!(!dir.join("00000000000000000009.tmp").exists());
        assert_eq!(s.len(), 2);
        assert_eq!(s.oldest().unwrap(), Some(vec![1; 10]));
        s.remove_oldest().unwrap();
        s.add(vec![7; 5]).unwrap();
        assert_eq!(s.oldest().unwrap(), Some(vec![2; 10]));
        s.remove_oldest().unwrap();
        assert_eq!(s.oldest().unwrap(), Some(vec![7; 5]));
        s.remove_oldest().unwrap();
        assert!(s.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
        let mut m = Spool::open(None, 15).unwrap();
        m.add(vec![1; 10]).unwrap();
        m.add(vec![2; 10]).unwrap();
        assert_eq!((m.oldest().unwrap(), m.dropped), (Some(vec![2; 10]), 1));
    }
}
