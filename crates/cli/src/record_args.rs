//! The recording flags shared by `pktvisor record` and `pktvisord --record`, and their
//! translation into the recorder's configuration.

use clap::Args;
use pv_record::{Compression, FlowTableConfig, RecordConfig, RetentionPolicy, RotationPolicy};
use std::path::Path;
use std::time::Duration;

const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Args, Clone, Debug)]
pub struct RecordArgs {
    /// Bytes kept of each flow (both directions together, wire lengths): the packet that
    /// crosses the cutoff is kept, later ones are not (TCP SYN/FIN/RST always are).
    /// 0 = unlimited. Suffixes k, M, G (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "64k", value_parser = parse_size)]
    pub flow_cutoff_bytes: u64,

    /// Packets kept of each flow (0 = unlimited).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub flow_cutoff_packets: u64,

    /// A flow without packets for this long (packet time) ends; its next packet starts a new
    /// flow. Suffixes s, m, h, d.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub flow_timeout: u64,

    /// Most flows tracked at once; when full, the flows idle longest are evicted (counted).
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub flow_table_size: u64,

    /// Start a new file at every multiple of this much packet time (0 = never).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub rotate_interval: u64,

    /// Start a new file once this many pcap bytes (before compression) are in it (0 = never).
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = parse_size)]
    pub rotate_size: u64,

    /// Compression of the files: none, gzip (.pcap.gz, read directly by wireshark/tshark) or
    /// zstd (.pcap.zst).
    #[arg(long, value_name = "KIND", default_value = "none", value_parser = parse_compression)]
    pub compress: Compression,

    /// Keep at most this many bytes of completed files in the directory; the oldest are
    /// deleted first (0 = no limit).
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = parse_size)]
    pub retention_size: u64,

    /// Delete files that started longer ago than this before the newest packet (0 = never).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub retention_age: u64,

    /// Do not index the files as they complete (by default each gets its field index,
    /// NAME.pvx, for `pktvisor query`; a file not indexed yet is indexed by the first query).
    #[arg(long)]
    pub no_index: bool,
}

impl RecordArgs {
    /// The recorder's configuration for output `dir`; durations here are in seconds.
    pub fn to_config(&self, dir: &Path, snaplen: u32, nanosecond: bool) -> RecordConfig {
        RecordConfig {
            dir: dir.to_path_buf(),
            flows: FlowTableConfig {
                cutoff_bytes: self.flow_cutoff_bytes,
                cutoff_packets: self.flow_cutoff_packets,
                idle_timeout_ns: self.flow_timeout.saturating_mul(NS_PER_SEC),
                cap: self.flow_table_size as usize,
            },
            rotation: RotationPolicy {
                interval_ns: self.rotate_interval.saturating_mul(NS_PER_SEC),
                size_bytes: self.rotate_size,
            },
            compression: self.compress,
            retention: RetentionPolicy {
                max_bytes: self.retention_size,
                max_age_ns: self.retention_age.saturating_mul(NS_PER_SEC),
            },
            snaplen,
            nanosecond,
            flush_every: Duration::from_secs(1),
        }
    }
}

/// `65536`, `64k`, `64KiB`, `10M`, `1G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (a number with k, M or G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (use k, M, G or T)"
            ));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Seconds from `90`, `90s`, `15m`, `24h`, `7d`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (a number with s, m, h or d)"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (use s, m, h or d)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .filter(|s| s.checked_mul(NS_PER_SEC).is_some())
        .ok_or_else(|| format!("'{text}' is too long"))
}

fn parse_compression(text: &str) -> Result<Compression, String> {
    Compression::parse(text).ok_or_else(|| format!("'{text}': use none, gzip or zstd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5x").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60"), Ok(60));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999d").is_err());
    }
}
