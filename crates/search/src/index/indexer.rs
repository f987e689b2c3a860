//! Indexing recordings as they are written: the recorder hands each completed file to a thread
//! of its own (indexing 2.4 M packets takes ~2.6 s, which the recorder's thread cannot spend
//! without its queue overflowing), which writes the file's segment beside it. A file the
//! thread has not reached yet is indexed by the first query that needs it, so nothing waits.

use super::load_or_build_with;
use pv_record::CutPackets;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Completed files waiting for the thread at most; past that the recorder waits for it. Each
/// holds up to 1 Mi packets past the cutoff (~200 MB): unbounded, a capture file recorded
/// faster than it is indexed (12 M packets/s against 1.5 M) would queue every file's. With one
/// waiting, one being indexed and the recorder's current one, the lists stay under 600 MB
/// (346 MB peak RSS recording the 2.4 M-packet benchmark capture, 2.39 M of them cut, in
/// files of 10 s).
const QUEUED_FILES: usize = 1;

/// The indexing thread's end for the recorder.
pub struct Indexer {
    tx: Option<SyncSender<(PathBuf, CutPackets)>>,
    thread: Option<JoinHandle<IndexerStats>>,
}

/// What the thread did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexerStats {
    pub files: u64,
    pub packets: u64,
    /// Files that could not be indexed (each logged).
    pub failed: u64,
}

impl Indexer {
    /// Starts the thread; `log` gets one line per file that could not be indexed.
    pub fn spawn(log: Box<dyn FnMut(&str) + Send>) -> std::io::Result<Indexer> {
        let (tx, rx) = sync_channel(QUEUED_FILES);
        let thread = std::thread::Builder::new()
            .name("pv-index".into())
            .spawn(move || run(rx, log))?;
        Ok(Indexer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// What `Recorder::on_file_complete` is given: each completed file, with its packets past
    /// the cutoff, goes to the thread. The thread outlives the recorder (`finish` waits for it),
    /// so a send cannot fail while the recorder runs.
    pub fn hook(&self) -> pv_record::OnComplete {
        let tx = self.tx.clone().expect("the sender lives until finish");
        Box::new(move |path, cut| {
            let _ = tx.send((path.to_path_buf(), cut));
        })
    }

    /// Waits for the files handed over so far to be indexed.
    pub fn finish(mut self) -> IndexerStats {
        self.tx.take();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

fn run(rx: Receiver<(PathBuf, CutPackets)>, mut log: Box<dyn FnMut(&str) + Send>) -> IndexerStats {
    let mut stats = IndexerStats::default();
    // Ends when every sender is gone (the recorder finished).
    for (path, cut) in rx {
        // Retention may delete a file before its turn comes: nothing to index then.
        if !path.exists() {
            continue;
        }
        match load_or_build_with(&path, true, &cut) {
            Ok((seg, damage)) => {
                // ... or while it was being indexed, after looking for an index to delete:
                // an index must not outlive its file.
                if !path.exists() {
                    let _ = std::fs::remove_file(super::segment_path(&path));
                    continue;
                }
                stats.files += 1;
                stats.packets += u64::from(seg.packets);
                if let Some(d) = damage {
                    log(&format!("index: {d}; indexed the packets before it"));
                }
            }
            Err(e) => {
                stats.failed += 1;
                log(&format!("index: {}: {e}", path.display()));
            }
        }
    }
    stats
}
