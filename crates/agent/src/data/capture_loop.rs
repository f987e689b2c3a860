//! The capture thread: reads the ring, shards packets by flow into per-worker batches, and
//! keeps the workers' clocks and the drop counters current.

use crate::batch::{BATCH_PACKETS, Batch, BatchPool};
use crate::counters::CaptureCounters;
use crate::recording::RecordingFeed;
use crate::shard::Sharder;
use crate::worker::{Msg, SendFailure, Worker};
use pv_capture::LiveCapture;
use pv_wire::LinkType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A partly filled batch waits at most this long (the API's live bucket stays fresh).
const FLUSH_EVERY: Duration = Duration::from_millis(50);

fn unix_now_sec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub struct CaptureLoop<'a> {
    pub capture: LiveCapture,
    pub workers: &'a [Worker],
    pub counters: &'a CaptureCounters,
    pub stop: &'a AtomicBool,
    /// `--record`: every packet also goes to the recorder thread, in capture order.
    pub recording: Option<RecordingFeed>,
    /// Emptied batches coming back from the workers.
    pub pool: BatchPool,
}

impl CaptureLoop<'_> {
    /// Runs until `stop` is set or capture fails; the last batches are then queued, waiting
    /// for room, so that nothing captured is lost at shutdown.
    pub fn run(mut self) {
        let sharder = Sharder::new(self.workers.len());
        let link = LinkType::from_linktype(self.capture.linktype());
        let mut batches: Vec<Batch> = (0..self.workers.len()).map(|_| self.pool.take()).collect();
        // Ticks a worker's full queue could not take yet, given again at the next chance.
        let mut late_tick: Vec<Option<u64>> = vec![None; self.workers.len()];
        let mut last_flush = Instant::now();
        let mut last_second = unix_now_sec();
        // The live bucket exists from the start, before any packet.
        self.tick_all(last_second, &mut late_tick);
        let mut record_batch = Batch::with_capacity(BATCH_PACKETS);
        let mut since_clock = 0u32;
        while !self.stop.load(Ordering::Relaxed) {
            match self.capture.next_packet() {
                Ok(Some(p)) => {
                    self.counters.packets.fetch_add(1, Ordering::Relaxed);
                    if let Some(feed) = &self.recording {
                        record_batch.push(&p);
                        if record_batch.len() >= BATCH_PACKETS {
                            feed.offer(std::mem::replace(
                                &mut record_batch,
                                Batch::with_capacity(BATCH_PACKETS),
                            ));
                        }
                    }
                    let worker = sharder.worker_for_frame(link, p.data);
                    if let Some(batch) = batches.get_mut(worker) {
                        batch.push(&p);
                        if batch.len() >= BATCH_PACKETS {
                            let full = std::mem::replace(batch, self.pool.take());
                            self.hand_over(worker, full);
                        }
                    }
                    since_clock += 1;
                    if since_clock < 64 {
                        continue;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("pktvisord: error: {e}");
                    self.counters.set_error(e.to_string());
                    break;
                }
            }
            since_clock = 0;
            if last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_all(&mut batches, false);
                if let Some(feed) = &self.recording
                    && !record_batch.is_empty()
                {
                    feed.offer(std::mem::replace(
                        &mut record_batch,
                        Batch::with_capacity(BATCH_PACKETS),
                    ));
                }
                last_flush = Instant::now();
            }
            let now = unix_now_sec();
            if now != last_second {
                last_second = now;
                self.update_stats();
                self.tick_all(now, &mut late_tick);
            } else if late_tick.iter().any(Option::is_some) {
                self.tick_all(now, &mut late_tick);
            }
        }
        self.flush_all(&mut batches, true);
        if let Some(feed) = self.recording.take() {
            feed.finish(record_batch);
        }
        self.update_stats();
    }

    /// Tells every worker the second, without waiting: a worker whose queue is full gets it
    /// at the next chance (its queue holds packets that rotate its windows anyway).
    fn tick_all(&self, now: u64, late: &mut [Option<u64>]) {
        for (w, late) in self.workers.iter().zip(late.iter_mut()) {
            *late = (!w.try_tick(now)).then_some(now);
        }
    }

    fn hand_over(&self, worker: usize, batch: Batch) {
        let Some(w) = self.workers.get(worker) else {
            return;
        };
        if let Err(SendFailure::Full(b)) = w.try_send(batch) {
            self.counters
                .queue_drops
                .fetch_add(b.len() as u64, Ordering::Relaxed);
            self.pool.give_back(b);
        }
    }

    fn flush_all(&self, batches: &mut [Batch], wait: bool) {
        for (i, batch) in batches.iter_mut().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let full = std::mem::replace(batch, self.pool.take());
            match (wait, self.workers.get(i)) {
                (true, Some(w)) => {
                    w.send(Msg::Packets(full));
                }
                _ => self.hand_over(i, full),
            }
        }
    }

    fn update_stats(&mut self) {
        if let Ok(s) = self.capture.stats() {
            self.counters
                .kernel_received
                .store(s.received, Ordering::Relaxed);
            self.counters
                .kernel_dropped
                .store(s.dropped, Ordering::Relaxed);
            self.counters
                .if_dropped
                .store(s.if_dropped, Ordering::Relaxed);
        }
    }
}
