//! What the recorder counts, under gotm's meanings, and the flow-size histogram.
//!
//! gotm's counters: packets and bytes *seen* (`gotm_packet_count`, `gotm_bytes_total`) versus
//! *written* (`gotm_packet_output_count`, `gotm_bytes_output_total`); flows *created*
//! (`gotm_flow_count`), *in the table now* (`gotm_active_flow_count`) and *expired by the idle
//! timeout* (`gotm_expired_flow_count`); `gotm_flow_size_bytes`, the bytes seen of each flow
//! when it leaves the table. Bytes are wire lengths (what the flow carried, not the snap
//! length's share), so the cutoff and the histogram do not depend on `--snaplen`.

/// Upper bounds of the flow-size histogram buckets: every power of two from 64 B (one small
/// DNS packet) to 1 GiB (past the largest flows worth telling apart; bigger ones land in +Inf).
pub const FLOW_SIZE_BUCKETS: [u64; 25] = {
    let mut b = [0u64; 25];
    let mut i = 0;
    while i < 25 {
        b[i] = 1u64 << (6 + i);
        i += 1;
    }
    b
};

/// A Prometheus-style histogram of flow sizes (non-cumulative counts per bucket; the last
/// slot counts flows above 1 GiB).
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
}

impl RecordStats {
    /// The Prometheus text lines: gotm's metrics under gotm's names, then ours (`pv_record_`).
    /// `labels` is the inside of `{...}` for every sample ("" for none).
    pub fn prometheus(&self, labels: &str) -> String {
        let mut out = String::new();
        let lb = |extra: &str| -> String {
            match (labels.is_empty(), extra.is_empty()) {
                (true, true) => String::new(),
                (true, false) => format!("{{{extra}}}"),
                (false, true) => format!("{{{labels}}}"),
                (false, false) => format!("{{{labels},{extra}}}"),
            }
        };
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{} {value}\n",
                lb("")
            ));
        };
        let f = &self.flows;
        metric(
            "gotm_packet_count",
            "counter",
            "Packets seen by the recorder.",
            self.packets,
        );
        metric(
            "gotm_packet_output_count",
            "counter",
            "Packets written to pcap files.",
            self.packets_output,
        );
        metric(
            "gotm_bytes_total",
            "counter",
            "Wire bytes of the packets seen.",
            self.bytes,
        );
        metric(
            "gotm_bytes_output_total",
            "counter",
            "Wire bytes of the packets written.",
            self.bytes_output,
        );
        metric("gotm_flow_count", "counter", "Flows created.", f.created);
        metric(
            "gotm_active_flow_count",
            "gauge",
            "Flows in the flow table.",
            f.active,
        );
        metric(
            "gotm_expired_flow_count",
            "counter",
            "Flows expired by the idle timeout.",
            f.expired,
        );
        metric(
            "pv_record_evicted_flows_total",
            "counter",
            "Flows evicted because the flow table was full.",
            f.evicted,
        );
        metric(
            "pv_record_paused_packets_total",
            "counter",
            "Packets lost to write errors (disk full) or offered while recording was paused.",
            self.packets_paused,
        );
        metric(
            "pv_record_files_written_total",
            "counter",
            "pcap files completed.",
            self.files_written,
        );
        metric(
            "pv_record_files_deleted_total",
            "counter",
            "pcap files deleted by the retention budget.",
            self.files_deleted,
        );
        metric(
            "pv_record_files_recovered_total",
            "counter",
            "Unfinished files of an earlier run recovered at start.",
            self.files_recovered,
        );
        metric(
            "pv_record_disk_bytes",
            "gauge",
            "Bytes of completed pcap files in the output directory.",
            self.bytes_on_disk,
        );
        metric(
            "pv_record_write_errors_total",
            "counter",
            "Failed writes, renames and deletions.",
            self.write_errors,
        );
        metric(
            "pv_record_paused",
            "gauge",
            "1 while recording is paused by a write error (disk full).",
            u64::from(self.paused),
        );
        let h = &f.size;
        out.push_str(
            "# HELP gotm_flow_size_bytes Bytes seen of each flow when it left the flow table.\n",
        );
        out.push_str("# TYPE gotm_flow_size_bytes histogram\n");
        let mut cumulative = 0;
        for (upper, count) in FLOW_SIZE_BUCKETS.iter().zip(&h.counts) {
            cumulative += count;
            out.push_str(&format!(
                "gotm_flow_size_bytes_bucket{} {cumulative}\n",
                lb(&format!("le=\"{upper}\""))
            ));
        }
        out.push_str(&format!(
            "gotm_flow_size_bytes_bucket{} {}\n",
            lb("le=\"+Inf\""),
            h.count
        ));
        out.push_str(&format!("gotm_flow_size_bytes_sum{} {}\n", lb(""), h.sum));
        out.push_str(&format!(
            "gotm_flow_size_bytes_count{} {}\n",
            lb(""),
            h.count
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_from_64_bytes_to_1_gib() {
        assert_eq!(FLOW_SIZE_BUCKETS[0], 64);
        assert_eq!(FLOW_SIZE_BUCKETS[24], 1 << 30);
    }

    #[test]
    fn a_size_lands_in_the_first_bucket_at_or_above_it() {
        let mut h = FlowSizeHistogram::default();
        for bytes in [1, 64, 65, 1 << 30, (1 << 30) + 1] {
            h.observe(bytes);
        }
        assert_eq!(h.counts[0], 2); // 1 and 64
        assert_eq!(h.counts[1], 1); // 65 <= 128
        assert_eq!(h.counts[24], 1);
        assert_eq!(h.counts[25], 1); // above 1 GiB
        assert_eq!(h.count, 5);
    }

    #[test]
    fn prometheus_histogram_is_cumulative_and_labelled() {
        let mut s = RecordStats::default();
        s.flows.size.observe(100);
        s.flows.size.observe(5000);
        s.packets = 7;
        let text = s.prometheus("instance=\"a\"");
        assert!(text.contains("gotm_packet_count{instance=\"a\"} 7\n"));
        assert!(text.contains("gotm_flow_size_bytes_bucket{instance=\"a\",le=\"64\"} 0\n"));
        assert!(text.contains("gotm_flow_size_bytes_bucket{instance=\"a\",le=\"128\"} 1\n"));
        assert!(text.contains("gotm_flow_size_bytes_bucket{instance=\"a\",le=\"8192\"} 2\n"));
        assert!(text.contains("gotm_flow_size_bytes_bucket{instance=\"a\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("gotm_flow_size_bytes_sum{instance=\"a\"} 5100\n"));
        assert!(s.prometheus("").contains("gotm_packet_count 7\n"));
    }
}
