//! `pktvisord --record DIR`: the recorder runs on its own thread, fed by the capture thread
//! with batches of the packets it read, in capture order, over a bounded queue. The capture
//! thread never waits for the recorder: a batch that finds the queue full is dropped and
//! counted (`pv_record_queue_drops_total`), so recording can fall behind without the
//! summaries or the kernel ring paying for it. At shutdown the last batch is queued waiting
//! for room, the queue is drained and the current file completed and renamed.

use crate::batch::Batch;
use crate::counters::CaptureCounters;
use crate::prometheus::text::Exposition;
use pv_record::{FLOW_SIZE_HELP, RecordStats, Recorder};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches waiting for the recorder: 512 × 256 packets absorb a few seconds of a stalled disk
/// at a high packet rate...
const QUEUE_BATCHES: usize = 512;
/// ...and at most this many captured bytes, whatever the packet sizes (64 KiB GSO frames on a
/// virtual interface would otherwise let a stalled recorder hold gigabytes).
const QUEUE_BYTES: u64 = 256 << 20;
/// How often the shared copy of the recorder's counters is refreshed.
const STATS_EVERY: Duration = Duration::from_millis(250);
/// Longest wait for a batch before the recorder checks its durability flush.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// What the API reads about recording.
#[derive(Default)]
pub struct RecordingShared {
    pub stats: Mutex<RecordStats>,
    /// Packets dropped because the recorder's queue was full.
    pub queue_drops: AtomicU64,
    /// Captured bytes queued and not yet recorded.
    queued_bytes: AtomicU64,
    /// The open file's packets past the cutoff so far (when recordings are indexed): a PQL
    /// query of the open file counts them too.
    pub live_cut: Option<Arc<Mutex<pv_record::LiveCut>>>,
}

impl RecordingShared {
    /// Counters at zero, and where the open file's cut packets are published (`live_cut`).
    pub fn new(live_cut: Option<Arc<Mutex<pv_record::LiveCut>>>) -> RecordingShared {
        RecordingShared {
            live_cut,
            ..RecordingShared::default()
        }
    }

    /// gotm's and our recording metrics, plus gotm's NIC counters from libpcap's statistics,
    /// written with the agent's one Prometheus writer (an `instance` label when given). gotm's
    /// families carry gotm's labels (main.go's `labels`: `interface`, and `worker` — one
    /// recorder thread here, worker "0", the label gotm's dashboard selects), with gotm's types.
    pub fn prometheus(
        &self,
        counters: &CaptureCounters,
        interface: &str,
        instance: Option<&str>,
    ) -> String {
        let common = instance
            .map(|i| vec![("instance".to_string(), i.to_string())])
            .unwrap_or_default();
        let mut exp = Exposition::new(common);
        let gotm = [("interface", interface), ("worker", "0")];
        let labels_of = |name: &str| -> &[(&str, &str)] {
            if name.starts_with("gotm_") {
                &gotm
            } else {
                &[]
            }
        };
        let (metrics, histogram) = match self.stats.lock() {
            Ok(s) => (s.metrics(), Some(s.flow_size_histogram())),
            Err(_) => (Vec::new(), None),
        };
        for m in metrics {
            exp.family(m.name, m.kind, m.help);
            exp.sample(m.name, labels_of(m.name), &m.value.to_string());
        }
        if let Some((buckets, count, sum)) = histogram {
            // gotm's mFlowSize is a plain Histogram: no labels.
            let name = "gotm_flow_size_bytes";
            exp.family(name, "histogram", FLOW_SIZE_HELP);
            for (upper, cumulative) in buckets {
                let le = upper.to_string();
                exp.sample(
                    "gotm_flow_size_bytes_bucket",
                    &[("le", &le)],
                    &cumulative.to_string(),
                );
            }
            exp.sample(
                "gotm_flow_size_bytes_bucket",
                &[("le", "+Inf")],
                &count.to_string(),
            );
            exp.sample("gotm_flow_size_bytes_sum", &[], &sum.to_string());
            exp.sample("gotm_flow_size_bytes_count", &[], &count.to_string());
        }
        // gotm's flow filter requests to dumbno (its -dumbno flag), by status: there is no
        // dumbno client here, so none are ever sent; the series exist so that gotm's
        // dashboard panels read 0 rather than "no data".
        let name = "gotm_flows_filtered";
        exp.family(
            name,
            "counter",
            "Flows sent to a dumbno filter, by status (no dumbno client here: always 0).",
        );
        for status in ["ok", "err", "ignored"] {
            exp.sample(name, &[("status", status)], "0");
        }
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        // gotm sets these from pcap's statistics as gauges (`mReceived` and the others).
        let nic = [
            (
                "gotm_packet_nic_received",
                "Packets the kernel passed to the capture (libpcap ps_recv).",
                load(&counters.kernel_received),
            ),
            (
                "gotm_packet_nic_dropped",
                "Packets the kernel dropped because the capture ring was full (ps_drop).",
                load(&counters.kernel_dropped),
            ),
            (
                "gotm_packet_nic_if_dropped",
                "Packets the interface dropped (ps_ifdrop).",
                load(&counters.if_dropped),
            ),
        ];
        exp.table("gauge", &gotm, nic);
        let name = "pv_record_queue_drops_total";
        exp.family(
            name,
            "counter",
            "Packets not recorded because the recorder's queue was full.",
        );
        exp.sample(name, &[], &load(&self.queue_drops).to_string());
        exp.finish()
    }
}

/// The capture thread's end of the recorder.
pub struct RecordingFeed {
    tx: SyncSender<Batch>,
    shared: Arc<RecordingShared>,
    /// Most captured bytes queued ([`QUEUE_BYTES`]).
    max_bytes: u64,
}

impl RecordingFeed {
    /// Queues a batch without waiting; a full queue drops it, counted.
    pub fn offer(&self, batch: Batch) {
        let bytes = batch.bytes() as u64;
        let queued = &self.shared.queued_bytes;
        if queued.load(Ordering::Relaxed) + bytes > self.max_bytes {
            self.drop_batch(&batch);
            return;
        }
        queued.fetch_add(bytes, Ordering::Relaxed);
        match self.tx.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                queued.fetch_sub(bytes, Ordering::Relaxed);
                self.drop_batch(&b);
            }
        }
    }

    fn drop_batch(&self, batch: &Batch) {
        self.shared
            .queue_drops
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    /// Queues the last batch, waiting for room (shutdown: nothing captured is lost).
    pub fn finish(self, batch: Batch) {
        if !batch.is_empty() {
            self.shared
                .queued_bytes
                .fetch_add(batch.bytes() as u64, Ordering::Relaxed);
            let _ = self.tx.send(batch);
        }
    }
}

/// Starts the recorder thread; the thread ends when the feed is dropped or finished, after
/// completing the current file.
pub fn spawn(
    recorder: Recorder,
    shared: Arc<RecordingShared>,
) -> std::io::Result<(RecordingFeed, JoinHandle<RecordStats>)> {
    let (tx, rx) = sync_channel(QUEUE_BATCHES);
    let thread_shared = shared.clone();
    let handle = std::thread::Builder::new()
        .name("pv-record".into())
        .spawn(move || record_loop(recorder, rx, &thread_shared))?;
    let feed = RecordingFeed {
        tx,
        shared,
        max_bytes: QUEUE_BYTES,
    };
    Ok((feed, handle))
}

fn record_loop(
    mut recorder: Recorder,
    rx: Receiver<Batch>,
    shared: &RecordingShared,
) -> RecordStats {
    let mut published = Instant::now();
    loop {
        match rx.recv_timeout(IDLE_WAIT) {
            Ok(batch) => {
                for p in batch.iter() {
                    recorder.record(p.linktype, p.ts_ns, p.orig_len, p.data);
                }
                shared
                    .queued_bytes
                    .fetch_sub(batch.bytes() as u64, Ordering::Relaxed);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // After every batch too: a trickle of packets (a slow download's ACKs) never fills
        // the recorder's own per-256-packets check, and what a kill -9 loses must stay within
        // one flush interval whatever the rate.
        recorder.flush_if_due();
        if published.elapsed() >= STATS_EVERY {
            published = Instant::now();
            if let Ok(mut s) = shared.stats.lock() {
                *s = recorder.stats();
            }
        }
    }
    let stats = recorder.finish();
    if let Ok(mut s) = shared.stats.lock() {
        *s = stats.clone();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gotm's names, labels and types (main.go: `labels = {"interface", "worker"}`, the NIC
    /// counters and the expired count are GaugeVecs, mFlowSize a plain Histogram of
    /// ExponentialBuckets(1024, 4, 15), mFlowsFiltered by "status").
    #[test]
    fn metrics_carry_gotms_names_labels_and_types() {
        let shared = RecordingShared::default();
        shared.stats.lock().unwrap().packets = 42;
        shared.queue_drops.store(7, Ordering::Relaxed);
        let counters = CaptureCounters::default();
        counters.kernel_received.store(50, Ordering::Relaxed);
        counters.kernel_dropped.store(3, Ordering::Relaxed);
        let text = shared.prometheus(&counters, "eth1", Some("a"));
        for line in [
            "gotm_packet_count{instance=\"a\",interface=\"eth1\",worker=\"0\"} 42",
            "gotm_packet_nic_received{instance=\"a\",interface=\"eth1\",worker=\"0\"} 50",
            "gotm_packet_nic_dropped{instance=\"a\",interface=\"eth1\",worker=\"0\"} 3",
            "gotm_packet_nic_if_dropped{instance=\"a\",interface=\"eth1\",worker=\"0\"} 0",
            "gotm_expired_flow_count{instance=\"a\",interface=\"eth1\",worker=\"0\"} 0",
            "gotm_flows_filtered{instance=\"a\",status=\"err\"} 0",
            "gotm_flow_size_bytes_bucket{instance=\"a\",le=\"65536\"} 0",
            "pv_record_queue_drops_total{instance=\"a\"} 7",
            "# TYPE gotm_packet_nic_received gauge",
            "# TYPE gotm_expired_flow_count gauge",
            "# TYPE gotm_active_flow_count gauge",
            "# TYPE gotm_packet_count counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(
            shared
                .prometheus(&counters, "eth1", None)
                .lines()
                .any(|l| l == "gotm_packet_nic_received{interface=\"eth1\",worker=\"0\"} 50")
        );
        // The one writer escapes label values (the recorder's own writer did not).
        let text = shared.prometheus(&counters, "eth1", Some("a\"b"));
        assert!(
            text.lines().any(|l| l
                == "gotm_packet_count{instance=\"a\\\"b\",interface=\"eth1\",worker=\"0\"} 42"),
            "{text}"
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (tx, _rx) = sync_channel(1);
        let feed = RecordingFeed {
            tx,
            shared: Arc::new(RecordingShared::default()),
            max_bytes: QUEUE_BYTES,
        };
        let packet = pv_capture::Packet {
            ts_ns: 1,
            orig_len: 3,
            data: b"abc",
            linktype: 1,
            interface: 0,
        };
        for _ in 0..3 {
            let mut b = Batch::with_capacity(2);
            b.push(&packet);
            b.push(&packet);
            feed.offer(b);
        }
        // One batch fits the queue; the other two (4 packets) are dropped and counted.
        assert_eq!(feed.shared.queue_drops.load(Ordering::Relaxed), 4);
        assert_eq!(feed.shared.queued_bytes.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn the_queue_is_bounded_by_bytes_too() {
        let (tx, _rx) = sync_channel(QUEUE_BATCHES);
        let feed = RecordingFeed {
            tx,
            shared: Arc::new(RecordingShared::default()),
            max_bytes: 1 << 20,
        };
        let big = vec![0u8; 65_535];
        let packet = pv_capture::Packet {
            ts_ns: 1,
            orig_len: 65_535,
            data: &big,
            linktype: 1,
            interface: 0,
        };
        for _ in 0..10 {
            let mut b = Batch::with_capacity(4);
            for _ in 0..4 {
                b.push(&packet);
            }
            feed.offer(b);
        }
        let queued = feed.shared.queued_bytes.load(Ordering::Relaxed);
        assert!(queued <= 1 << 20, "{queued}");
        // 1 MiB holds 4 batches of 4 × 65 535 bytes; the other 6 are dropped, though the
        // channel had room for them.
        assert_eq!(feed.shared.queue_drops.load(Ordering::Relaxed), 6 * 4);
    }
}
