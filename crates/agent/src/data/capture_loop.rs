//! The capture thread: reads the ring, shards packets by flow into per-worker batches, and
//! keeps the workers' clocks and the drop counters current.

use crate::batch::{BATCH_PACKETS, Batch, BatchPool};
use crate::counters::{CaptureCounters, LINK_TYPE_CHANGED};
use crate::recording::RecordingFeed;
use crate::shard::Sharder;
use crate::worker::{Msg, SendFailure, Worker};
use pv_capture::{CaptureError, LiveCapture, LiveConfig, LiveStats};
use pv_wire::LinkType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A partly filled batch waits at most this long (the API's live bucket stays fresh).
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Longest sleep between looks at the stop flag while the capture is down.
const DOWN_POLL: Duration = Duration::from_millis(100);

fn unix_now_sec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub struct CaptureLoop<'a> {
    pub capture: LiveCapture,
    /// How `capture` was opened: it is opened again so when the interface returns after going
    /// down or away (same name).
    pub config: LiveConfig,
    pub workers: &'a [Worker],
    pub counters: &'a CaptureCounters,
    pub stop: &'a AtomicBool,
    /// `--record`: every packet also goes to the recorder thread, in capture order.
    pub recording: Option<RecordingFeed>,
    /// Emptied batches coming back from the workers.
    pub pool: BatchPool,
}

/// The loop's state: the capture (None while the interface is down or gone) and what the
/// kernel counted on the captures closed before it.
struct Running<'a> {
    capture: Option<LiveCapture>,
    config: LiveConfig,
    linktype: u32,
    reopen: Backoff,
    /// The interface came back as another link type, already counted for this outage.
    link_changed: bool,
    stats_base: LiveStats,
    workers: &'a [Worker],
    counters: &'a CaptureCounters,
    recording: Option<RecordingFeed>,
    pool: BatchPool,
}

impl CaptureLoop<'_> {
    /// Runs until `stop` is set; the last batches are then queued, waiting for room, so that
    /// nothing captured is lost at shutdown. A capture that fails (the interface went down,
    /// was deleted, the driver erred) is counted and reopened with back-off when the interface
    /// is back; meanwhile the clock goes on, so windows rotate and show the gap.
    pub fn run(self) {
        let linktype = self.capture.linktype();
        let mut run = Running {
            capture: Some(self.capture),
            config: self.config,
            linktype,
            reopen: Backoff::default(),
            link_changed: false,
            stats_base: LiveStats::default(),
            workers: self.workers,
            counters: self.counters,
            recording: self.recording,
            pool: self.pool,
        };
        run.run(self.stop);
    }
}

impl Running<'_> {
    fn run(&mut self, stop: &AtomicBool) {
        let sharder = Sharder::new(self.workers.len());
        let link = LinkType::from_linktype(self.linktype);
        let mut batches: Vec<Batch> = (0..self.workers.len()).map(|_| self.pool.take()).collect();
        // Ticks a worker's full queue could not take yet, given again at the next chance.
        let mut late_tick: Vec<Option<u64>> = vec![None; self.workers.len()];
        let mut last_flush = Instant::now();
        let mut last_second = unix_now_sec();
        // The live bucket exists from the start, before any packet; the drop counters' base.
        self.tick_all(last_second, &mut late_tick);
        self.give_drops(last_second);
        let mut record_batch = Batch::with_capacity(BATCH_PACKETS);
        let mut since_clock = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let Some(capture) = self.capture.as_mut() else {
                self.try_reopen();
                since_clock = 0;
                self.housekeeping(&mut last_second, &mut late_tick);
                continue;
            };
            match capture.next_packet() {
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
                Err(e) => self.lost(e),
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
            self.housekeeping(&mut last_second, &mut late_tick);
        }
        self.flush_all(&mut batches, true);
        if let Some(feed) = self.recording.take() {
            feed.finish(record_batch);
        }
        self.update_stats();
    }

    /// Once a second: the kernel's counters, and the workers' clocks.
    fn housekeeping(&mut self, last_second: &mut u64, late_tick: &mut [Option<u64>]) {
        let now = unix_now_sec();
        if now != *last_second {
            *last_second = now;
            self.update_stats();
            self.tick_all(now, late_tick);
            self.give_drops(now);
        } else if late_tick.iter().any(Option::is_some) {
            self.tick_late(late_tick);
        }
    }

    /// The capture failed: it is closed (its ring freed), the outage counted, and reopening
    /// starts.
    fn lost(&mut self, e: CaptureError) {
        self.update_stats();
        self.stats_base = self.totals();
        self.capture = None;
        eprintln!(
            "pktvisord: error: {e}; capture resumes when {} is back",
            self.config.iface
        );
        self.counters.went_down(e.kind(), e.to_string());
        self.reopen = Backoff::default();
    }

    /// While down: waits a little, and at the back-off's time tries to open the interface
    /// again. Opened with another link type, it is closed again and capture stays down.
    fn try_reopen(&mut self) {
        std::thread::sleep(self.reopen.until_next().min(DOWN_POLL));
        if !self.reopen.due() {
            return;
        }
        match LiveCapture::open(&self.config) {
            Ok(c) if c.linktype() == self.linktype => {
                self.capture = Some(c);
                self.link_changed = false;
                let down = self.counters.came_back();
                eprintln!(
                    "pktvisord: capture on {} resumed after {:.1} s",
                    self.config.iface,
                    down.as_secs_f64()
                );
            }
            Ok(c) => {
                let message = format!(
                    "interface '{}' came back with link type {} instead of {}: capture stays \
                     stopped (restart the agent to capture it)",
                    self.config.iface,
                    c.linktype(),
                    self.linktype
                );
                if self.link_changed {
                    self.counters.still_down(message);
                } else {
                    eprintln!("pktvisord: error: {message}");
                    // Counted once: the outage goes on, it is not a new one each minute.
                    self.counters.went_down(LINK_TYPE_CHANGED, message);
                    self.link_changed = true;
                }
                // Nothing will change that: look again only rarely.
                self.reopen.give_up();
            }
            Err(e) => {
                self.counters.still_down(e.to_string());
                self.reopen.failed();
            }
        }
    }

    /// What the kernel counted, on this capture and the ones before it.
    fn totals(&self) -> LiveStats {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        LiveStats {
            received: load(&self.counters.kernel_received),
            dropped: load(&self.counters.kernel_dropped),
            if_dropped: load(&self.counters.if_dropped),
        }
    }

    /// The kernel's drop totals to worker 0's pcap handlers (pktvisor's `pcap_stats` signal,
    /// once a second).
    fn give_drops(&self, now: u64) {
        let t = self.totals();
        if let Some(w) = self.workers.first() {
            w.try_capture_drops(
                now,
                pv_handlers::CaptureDrops {
                    os_drops: t.dropped,
                    if_drops: t.if_dropped,
                },
            );
        }
    }

    /// Tells every worker the second, without waiting: a worker whose queue is full gets it
    /// at the next chance (its queue holds packets that rotate its windows anyway).
    fn tick_all(&self, now: u64, late: &mut [Option<u64>]) {
        for (w, late) in self.workers.iter().zip(late.iter_mut()) {
            *late = (!w.try_tick(now)).then_some(now);
        }
    }

    /// Gives the workers whose queue was full the tick they missed (only them: the others
    /// have it).
    fn tick_late(&self, late: &mut [Option<u64>]) {
        for (w, late) in self.workers.iter().zip(late.iter_mut()) {
            if let Some(second) = *late
                && w.try_tick(second)
            {
                *late = None;
            }
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
        let base = self.stats_base;
        if let Some(Ok(s)) = self.capture.as_mut().map(LiveCapture::stats) {
            self.counters
                .kernel_received
                .store(base.received + s.received, Ordering::Relaxed);
            self.counters
                .kernel_dropped
                .store(base.dropped + s.dropped, Ordering::Relaxed);
            self.counters
                .if_dropped
                .store(base.if_dropped + s.if_dropped, Ordering::Relaxed);
        }
    }
}

/// When to try opening a lost interface again: 100 ms after it failed, then doubling up to 5 s
/// (an interface flap is over in well under a second; a deleted one may take minutes to be
/// recreated, and each try costs a few system calls and a 64 MiB ring allocation).
#[derive(Debug)]
struct Backoff {
    next: Instant,
    wait: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(5);
    /// After the interface came back as something else.
    const GAVE_UP: Duration = Duration::from_secs(60);

    fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    fn until_next(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    fn failed(&mut self) {
        self.wait = (self.wait * 2).min(Self::MOST);
        self.next = Instant::now() + self.wait;
    }

    fn give_up(&mut self) {
        self.wait = Self::GAVE_UP;
        self.next = Instant::now() + self.wait;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            next: Instant::now() + Self::FIRST,
            wait: Self::FIRST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_backs_off_from_100_ms_to_5_s() {
        let mut b = Backoff::default();
        assert!(!b.due() && b.until_next() <= Backoff::FIRST);
        let waits: Vec<u128> = (0..8)
            .map(|_| {
                b.failed();
                b.wait.as_millis()
            })
            .collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.give_up();
        assert_eq!(b.wait, Duration::from_secs(60));
    }
}
