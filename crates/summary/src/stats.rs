//! What happened while reading the source: the `capture` object of the JSON (beyond pktvisor).

use serde_json::{Value, json};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packet records read from the source.
    pub packets_read: u64,
    /// Packets the BPF filter rejected.
    pub bpf_rejected: u64,
    /// Packets whose headers could not be fully decoded although they were captured whole.
    pub malformed: u64,
    /// Packets captured shorter than they were on the wire (snap length).
    pub truncated: u64,
    /// Packets of a link type we cannot decode (skipped).
    pub unsupported_link_type: u64,
    pub link_types: Vec<u32>,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    /// Damage that ended reading early (truncated or corrupt file), with its byte offset.
    pub damage: Option<String>,
}

/// Seconds.nanoseconds as a string: exact, unlike a JSON float.
fn ts_string(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

impl CaptureStats {
    /// Adds another worker's counts (the first and last times widen; damage is kept).
    pub fn merge(&mut self, other: &CaptureStats) {
        self.packets_read += other.packets_read;
        self.bpf_rejected += other.bpf_rejected;
        self.malformed += other.malformed;
        self.truncated += other.truncated;
        self.unsupported_link_type += other.unsupported_link_type;
        for lt in &other.link_types {
            if !self.link_types.contains(lt) {
                self.link_types.push(*lt);
            }
        }
        self.first_ts_ns = match (self.first_ts_ns, other.first_ts_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts_ns = self.last_ts_ns.max(other.last_ts_ns);
        if self.damage.is_none() {
            self.damage.clone_from(&other.damage);
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "packets_read": self.packets_read,
            "bpf_rejected": self.bpf_rejected,
            "malformed": self.malformed,
            "truncated": self.truncated,
            "unsupported_link_type": self.unsupported_link_type,
            "link_types": self.link_types,
        });
        if let (Some(first), Some(last)) = (self.first_ts_ns, self.last_ts_ns) {
            v["first_ts"] = json!(ts_string(first));
            v["last_ts"] = json!(ts_string(last));
        }
        if let Some(d) = &self.damage {
            v["damage"] = json!(d);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_exact_strings() {
        assert_eq!(ts_string(1_567_706_414_599_964_000), "1567706414.599964000");
        assert_eq!(ts_string(5), "0.000000005");
    }
}
