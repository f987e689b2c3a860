//! A worker thread: owns one `Summarizer` (its handlers and windows) and is the only one to
//! touch it, so the packet path takes no lock. Readers ask for a copy through the same queue.

use crate::batch::Batch;
use pv_pipeline::{Snapshot, Summarizer};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Batches a worker may have queued before the capture thread drops new ones (counted).
pub const QUEUE_BATCHES: usize = 256;

pub enum Msg {
    Packets(Batch),
    /// Wall-clock second: windows rotate even when no packet arrives.
    Tick(u64),
    /// A reader wants a copy of the buckets.
    Snapshot(Sender<Snapshot>),
    /// The input ended (a file source): open transactions time out.
    EndOfInput,
    /// Everything queued before this is processed; the worker ends.
    Stop,
}

pub struct Worker {
    tx: SyncSender<Msg>,
    join: JoinHandle<()>,
}

/// Why a batch was not queued.
pub enum SendFailure {
    /// The worker is behind: the batch was dropped.
    Full(Batch),
    /// The worker is gone.
    Gone,
}

impl Worker {
    pub fn spawn(index: usize, summarizer: Summarizer) -> std::io::Result<Worker> {
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let join = std::thread::Builder::new()
            .name(format!("pv-worker-{index}"))
            .spawn(move || run(summarizer, rx))?;
        Ok(Worker { tx, join })
    }

    /// Queues a batch without waiting (the capture thread must never block on a worker).
    pub fn try_send(&self, batch: Batch) -> Result<(), SendFailure> {
        match self.tx.try_send(Msg::Packets(batch)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Msg::Packets(b))) => Err(SendFailure::Full(b)),
            Err(_) => Err(SendFailure::Gone),
        }
    }

    /// Queues a message, waiting for room (ticks, snapshot requests, the last batches).
    pub fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    pub fn sender(&self) -> SyncSender<Msg> {
        self.tx.clone()
    }

    /// Ends the worker once what is queued is processed.
    pub fn join(self) {
        let _ = self.tx.send(Msg::Stop);
        let _ = self.join.join();
    }
}

fn run(mut summarizer: Summarizer, rx: Receiver<Msg>) {
    for msg in rx {
        match msg {
            Msg::Packets(batch) => {
                for p in batch.iter() {
                    // Without a user-space BPF filter (the kernel filters live captures),
                    // processing a packet cannot fail.
                    let _ = summarizer.packet(&p);
                }
            }
            Msg::Tick(sec) => summarizer.advance_to(sec),
            Msg::Snapshot(reply) => {
                let _ = reply.send(summarizer.snapshot());
            }
            Msg::EndOfInput => summarizer.end_of_input(),
            Msg::Stop => break,
        }
    }
}
