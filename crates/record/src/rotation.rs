//! When a file ends and what the next one is called.
//!
//! Layout (gotm's directory and name pattern): `DIR/YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS.pcap[.gz|.zst]`,
//! but in UTC and named by the packet time the file starts at (gotm names a file by local
//! wall-clock time when it closes it, and rotates on a ticker started with the program: see
//! docs/compatibility.md). Interval rotation is aligned: with a 60 s interval files start at
//! whole minutes of packet time (the first file of a run is named by the start of the
//! interval its first packet falls in), so files of different runs and machines line up. A file closed early by `--rotate-size` (or a change of link type) is
//! followed by one named by its first packet's second; when that name is taken, a counter is
//! appended (`..._0001.pcap`), which keeps names in time order when sorted as text.

use std::path::{Path, PathBuf};

pub const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Start a new file at every multiple of this much packet time (0 = never).
    pub interval_ns: u64,
    /// Start a new file once this many pcap bytes (before compression) were written to it
    /// (0 = never).
    pub size_bytes: u64,
}

impl RotationPolicy {
    /// Packet time at which the file holding a packet at `ts_ns` must end (`u64::MAX` without
    /// interval rotation).
    pub fn interval_end(&self, ts_ns: u64) -> u64 {
        if self.interval_ns == 0 {
            return u64::MAX;
        }
        (ts_ns / self.interval_ns)
            .saturating_add(1)
            .saturating_mul(self.interval_ns)
    }

    /// Packet time that names a file whose first packet is at `ts_ns`, opened at an interval
    /// boundary (`aligned`) or mid-interval after a size rotation.
    pub fn name_time(&self, ts_ns: u64, aligned: bool) -> u64 {
        if aligned && self.interval_ns > 0 {
            ts_ns / self.interval_ns * self.interval_ns
        } else {
            ts_ns
        }
    }
}

/// UTC calendar fields of a Unix time and back (shared with the reports and searches:
/// `pv_wire::civil_time`).
pub use pv_wire::civil_time::{civil_from_unix, unix_from_civil};

/// `YYYY/MM/DD` and `YYYY-MM-DDTHH-MM-SS` of a Unix time.
pub fn stem(secs: u64) -> (String, String) {
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    (
        format!("{y:04}/{mo:02}/{d:02}"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}"),
    )
}

/// The final path of a file starting at `secs`; `attempt` > 0 appends `_NNNN` to make the
/// name unique.
pub fn file_path(dir: &Path, secs: u64, suffix: &str, attempt: u32) -> PathBuf {
    let (day_dir, name) = stem(secs);
    let counter = if attempt == 0 {
        String::new()
    } else {
        format!("_{attempt:04}")
    };
    dir.join(day_dir)
        .join(format!("{name}{counter}.pcap{suffix}"))
}

/// The temporary name a file has while it is written.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The start time a file name of ours carries (`YYYY-MM-DDTHH-MM-SS...`), in Unix seconds.
pub fn start_of_name(name: &str) -> Option<u64> {
    let b = name.as_bytes();
    if b.len() < 19 || b.get(10) != Some(&b'T') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> { name.get(from..to)?.parse().ok() };
    unix_from_civil(
        i64::from(num(0, 4)?),
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_of_known_times() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        // 2000-02-29 (a leap day of a century divisible by 400) 12:34:56 UTC.
        assert_eq!(civil_from_unix(951_827_696), (2000, 2, 29, 12, 34, 56));
        // `date -u -d @1764000000`: Mon Nov 24 16:00:00 UTC 2025.
        assert_eq!(civil_from_unix(1_764_000_000), (2025, 11, 24, 16, 0, 0));
        assert_eq!(civil_from_unix(4_107_542_399), (2100, 2, 28, 23, 59, 59));
    }

    #[test]
    fn calendar_round_trips_over_many_days() {
        for secs in (0..5_000_000_000u64).step_by(86_400 * 37 + 3_601) {
            let (y, mo, d, h, mi, s) = civil_from_unix(secs);
            assert_eq!(unix_from_civil(y, mo, d, h, mi, s), Some(secs));
        }
    }

    #[test]
    fn gotm_layout_names() {
        let p = file_path(Path::new("/rec"), 1_764_000_007, ".zst", 0);
        assert_eq!(p, Path::new("/rec/2025/11/24/2025-11-24T16-00-07.pcap.zst"));
        let p = file_path(Path::new("/rec"), 1_764_000_007, "", 3);
        assert_eq!(
            p,
            Path::new("/rec/2025/11/24/2025-11-24T16-00-07_0003.pcap")
        );
        assert_eq!(
            tmp_path(&p),
            Path::new("/rec/2025/11/24/2025-11-24T16-00-07_0003.pcap.tmp")
        );
        assert_eq!(
            start_of_name("2025-11-24T16-00-07_0003.pcap"),
            Some(1_764_000_007)
        );
        assert_eq!(start_of_name("notes.txt"), None);
    }

    #[test]
    fn names_sort_in_time_order() {
        let mut names: Vec<String> = [(100, 0), (100, 2), (100, 1), (101, 0), (99, 0)]
            .iter()
            .map(|&(s, a)| file_path(Path::new("d"), s, "", a).display().to_string())
            .collect();
        names.sort();
        let expected: Vec<String> = [(99, 0), (100, 0), (100, 1), (100, 2), (101, 0)]
            .iter()
            .map(|&(s, a)| file_path(Path::new("d"), s, "", a).display().to_string())
            .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn intervals_align_to_multiples_of_packet_time() {
        let r = RotationPolicy {
            interval_ns: 60 * NS_PER_SEC,
            size_bytes: 0,
        };
        let ts = 1_764_000_037 * NS_PER_SEC + 5;
        assert_eq!(r.interval_end(ts), 1_764_000_060 * NS_PER_SEC);
        assert_eq!(r.name_time(ts, true), 1_764_000_000 * NS_PER_SEC);
        assert_eq!(r.name_time(ts, false), ts);
        let never = RotationPolicy {
            interval_ns: 0,
            size_bytes: 0,
        };
        assert_eq!(never.interval_end(ts), u64::MAX);
    }
}
