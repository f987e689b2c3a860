//! What the recorder counts, under gotm's meanings, and the flow-size histogram.
//!
//! gotm's counters: packets and bytes *seen* (`gotm_packet_count`, `gotm_bytes_total`) versus
//! *written* (`gotm_packet_output_count`, `gotm_bytes_output_total`); flows *created*
//! (`gotm_flow_count`), *in the table now* (`gotm_active_flow_count`) and *expired by the idle
//! timeout* (`gotm_expired_flow_count`); `gotm_flow_size_bytes`, the bytes seen of each flow
//! when it leaves the table. Bytes are wire lengths (what the flow carried, not the snap
//! length's share), so the cutoff and the histogram do not depend on `--snaplen`.

/// Upper bounds of the flow-size histogram buckets, gotm's (`mFlowSize` in gotm's main.go,
/// `prometheus.ExponentialBuckets(1024, 4, 15)`): 1 KiB times every power of 4 up to 256 GiB,
/// so that a gotm dashboard's `gotm_flow_size_bytes_bucket{le="65536"}` finds its series.
pub const FLOW_SIZE_BUCKETS: [u64; 15] = {
    let mut b = [0u64; 15];
    let mut i = 0;
    while i < 15 {
        b[i] = 1024u64 << (2 * i);
        i += 1;
    }
    b
};

/// A Prometheus-style histogram of flow sizes (non-cumulative counts per bucket; the last
/// slot counts flows above 256 GiB).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowSizeHistogram {
    pub counts: [u64; FLOW_SIZE_BUCKETS.len() + 1],
    pub sum: u64,
    pub count: u64,
}

impl FlowSizeHistogram {
    pub fn observe(&mut self, bytes: u64) {
        let slot = FLOW_SIZE_BUCKETS.partition_point(|&upper| upper < bytes);
        if let Some(c) = self.counts.get_mut(slot) {
            *c += 1;
        }
        self.sum = self.sum.saturating_add(bytes);
        self.count += 1;
    }
}

/// Counters kept by the flow table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created (a flow that expires and comes back counts again).
    pub created: u64,
    /// Flows in the table now.
    pub active: u64,
    /// Flows that left because no packet came for the idle timeout.
    pub expired: u64,
    /// Flows the last sweep of the table expired (gotm's `gotm_expired_flow_count`, a gauge of
    /// its last cleanup).
    pub expired_last_sweep: u64,
    /// Wall time spent sweeping the table, in nanoseconds (gotm's
    /// `gotm_expired_flow_duration_seconds_sum`, "Total time spent expiring flows").
    pub sweep_ns: u64,
    /// Flows pushed out because the table was full (oldest last packet first).
    pub evicted: u64,
    pub size: FlowSizeHistogram,
}

/// Everything the recorder counts (a copy is handed to whoever serves metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Packets offered to the recorder.
    pub packets: u64,
    /// Packets written to files.
    pub packets_output: u64,
    /// Wire bytes of the packets offered.
    pub bytes: u64,
    /// Wire bytes of the packets written.
    pub bytes_output: u64,
    /// Packets not written because of a write error (disk full): offered while recording was
    /// paused, or handed to a file that then could not keep them.
    pub packets_paused: u64,
    pub flows: FlowStats,
    /// Files completed (renamed from `.tmp` to their final name).
    pub files_written: u64,
    /// Files deleted by the retention budget.
    pub files_deleted: u64,
    /// `.tmp` files left by an earlier run and recovered at start.
    pub files_recovered: u64,
    /// Bytes of the completed files in the output directory (as retention sees them).
    pub bytes_on_disk: u64,
    /// Write, rename or delete failures.
    pub write_errors: u64,
    /// True while recording is paused after a write error.
    pub paused: bool,
    /// The first write error that paused recording (what a file command reports on exit).
    pub first_error: Option<String>,
    /// Packets whose timestamp lay past [`crate::recorder::MAX_PLAUSIBLE_NS`], filed at the
    /// newest plausible time.
    pub implausible_timestamps: u64,
    /// Packets past their flow's cutoff beyond [`crate::cut::MAX_CUT_PER_FILE`] in one file:
    /// neither stored nor indexed.
    pub cut_not_indexed: u64,
}

/// One of the recorder's metrics: its name, Prometheus type, help text and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: &'static str,
    pub help: &'static str,
    /// Counts are whole; a duration in seconds is not (exact below 2^53, far past any count).
    pub value: f64,
}

/// The help text of `gotm_flow_size_bytes`.
pub const FLOW_SIZE_HELP: &str = "Bytes seen of each flow when it left the flow table.";

impl RecordStats {
    /// gotm's metrics under gotm's names, then ours (`pv_record_`), as data: the agent writes
    /// them with its one Prometheus writer (labels escaped, families declared once).
    pub fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric {
                name: "gotm_packet_count",
                kind: "counter",
                help: "Packets seen by the recorder.",
                value: self.packets as f64,
            },
            Metric {
                name: "gotm_packet_output_count",
                kind: "counter",
                help: "Packets written to pcap files.",
                value: self.packets_output as f64,
            },
            Metric {
                name: "gotm_bytes_total",
                kind: "counter",
                help: "Wire bytes of the packets seen.",
                value: self.bytes as f64,
            },
            Metric {
                name: "gotm_bytes_output_total",
                kind: "counter",
                help: "Wire bytes of the packets written.",
                value: self.bytes_output as f64,
            },
            Metric {
                name: "gotm_flow_count",
                kind: "counter",
                help: "Flows created.",
                value: self.flows.created as f64,
            },
            Metric {
                name: "gotm_active_flow_count",
                kind: "gauge",
                help: "Flows in the flow table.",
                value: self.flows.active as f64,
            },
            Metric {
                name: "gotm_expired_flow_count",
                kind: "gauge",
                help: "Flows the last sweep of the flow table expired (gotm: its last cleanup).",
                value: self.flows.expired_last_sweep as f64,
            },
            Metric {
                name: "gotm_expired_flow_duration_seconds_sum",
                kind: "counter",
                help: "Total time spent expiring flows.",
                value: self.flows.sweep_ns as f64 / 1e9,
            },
            Metric {
                name: "pv_record_expired_flows_total",
                kind: "counter",
                help: "Flows expired by the idle timeout.",
                value: self.flows.expired as f64,
            },
            Metric {
                name: "pv_record_evicted_flows_total",
                kind: "counter",
                help: "Flows evicted because the flow table was full.",
                value: self.flows.evicted as f64,
            },
            Metric {
                name: "pv_record_paused_packets_total",
                kind: "counter",
                help: "Packets lost to write errors (disk full) or offered while recording was paused.",
                value: self.packets_paused as f64,
            },
            Metric {
                name: "pv_record_files_written_total",
                kind: "counter",
                help: "pcap files completed.",
                value: self.files_written as f64,
            },
            Metric {
                name: "pv_record_files_deleted_total",
                kind: "counter",
                help: "pcap files deleted by the retention budget.",
                value: self.files_deleted as f64,
            },
            Metric {
                name: "pv_record_files_recovered_total",
                kind: "counter",
                help: "Unfinished files of an earlier run recovered at start.",
                value: self.files_recovered as f64,
            },
            Metric {
                name: "pv_record_disk_bytes",
                kind: "gauge",
                help: "Bytes of completed pcap files in the output directory.",
                value: self.bytes_on_disk as f64,
            },
            Metric {
                name: "pv_record_write_errors_total",
                kind: "counter",
                help: "Failed writes, renames and deletions.",
                value: self.write_errors as f64,
            },
            Metric {
                name: "pv_record_implausible_timestamps_total",
                kind: "counter",
                help: "Packets whose timestamp lay past 2200, filed at the newest plausible time.",
                value: self.implausible_timestamps as f64,
            },
            Metric {
                name: "pv_record_cut_not_indexed_total",
                kind: "counter",
                help: "Packets past their flow's cutoff left out of their file's index (over 1 Mi in one file).",
                value: self.cut_not_indexed as f64,
            },
            Metric {
                name: "pv_record_paused",
                kind: "gauge",
                help: "1 while recording is paused by a write error (disk full).",
                value: f64::from(u8::from(self.paused)),
            },
        ]
    }

    /// `gotm_flow_size_bytes`: (upper bound, cumulative count) per bucket, then the count and
    /// sum of every flow's bytes.
    pub fn flow_size_histogram(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let h = &self.flows.size;
        let mut cumulative = 0;
        let buckets = FLOW_SIZE_BUCKETS
            .iter()
            .zip(&h.counts)
            .map(|(upper, count)| {
                cumulative += count;
                (*upper, cumulative)
            })
            .collect();
        (buckets, h.count, h.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gotm's `prometheus.ExponentialBuckets(1024, 4, 15)`: client_golang makes `count`
    /// bounds `start * factor^i`.
    #[test]
    fn buckets_are_gotms() {
        let gotm: Vec<u64> = (0..15).map(|i| 1024 * 4u64.pow(i)).collect();
        assert_eq!(FLOW_SIZE_BUCKETS.to_vec(), gotm);
        assert!(FLOW_SIZE_BUCKETS.contains(&65_536));
        assert_eq!(FLOW_SIZE_BUCKETS[14], 256 << 30);
    }

    #[test]
    fn a_size_lands_in_the_first_bucket_at_or_above_it() {
        let mut h = FlowSizeHistogram::default();
        for bytes in [1, 1024, 1025, 256 << 30, (256 << 30) + 1] {
            h.observe(bytes);
        }
        assert_eq!(h.counts[0], 2); // 1 and 1024
        assert_eq!(h.counts[1], 1); // 1025 <= 4096
        assert_eq!(h.counts[14], 1);
        assert_eq!(h.counts[15], 1); // above 256 GiB
        assert_eq!(h.count, 5);
    }

    #[test]
    fn histogram_is_cumulative() {
        let mut s = RecordStats::default();
        s.flows.size.observe(100);
        s.flows.size.observe(5000);
        s.packets = 7;
        let (buckets, count, sum) = s.flow_size_histogram();
        let at = |upper: u64| buckets.iter().find(|(u, _)| *u == upper).unwrap().1;
        assert_eq!((at(1024), at(4096), at(16384)), (1, 1, 2));
        assert_eq!((count, sum), (2, 5100));
        let packets = s
            .metrics()
            .into_iter()
            .find(|m| m.name == "gotm_packet_count");
        assert_eq!(packets.map(|m| (m.kind, m.value)), Some(("counter", 7.0)));
    }
}
