//! Rates measured between refreshes, kept for the sparklines: packets per second and DNS
//! packets per second over the last minutes.

use crate::model::{Window, dns, net};
use pv_handlers::{dns::metrics as d, net::metrics as n};
use std::collections::VecDeque;
use std::time::Instant;

/// Samples kept per series: ten minutes at the default refresh of one second.
pub const HISTORY_LEN: usize = 600;

/// Counters of bucket 0 at one refresh.
#[derive(Clone, Copy, Debug)]
struct Reading {
    at: Instant,
    bucket_start: Option<u64>,
    packets: u64,
    packets_in: u64,
    packets_out: u64,
    dns: u64,
}

/// Per-second rates between the last two readings of the live bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LiveRates {
    pub pps: f64,
    pub pps_in: f64,
    pub pps_out: f64,
    pub dns: f64,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    last: Option<Reading>,
    pub live: Option<LiveRates>,
    pub pps: VecDeque<f64>,
    pub dns: VecDeque<f64>,
}

impl History {
    /// Takes a reading of the live bucket (`bucket/0`) made at `at`. Rates are the counters'
    /// growth over wall time since the previous reading; when the bucket rotated in between,
    /// the new bucket's counters are the growth (the old bucket's tail is not seen again).
    pub fn observe(&mut self, live_bucket: &Window, at: Instant) {
        let get = |stat| live_bucket.count(stat).unwrap_or(0);
        let now = Reading {
            at,
            bucket_start: live_bucket.period().0,
            packets: get(net(n::TOTAL)),
            packets_in: get(net(n::IN)),
            packets_out: get(net(n::OUT)),
            dns: get(dns(d::WIRE_PACKETS_TOTAL)),
        };
        let Some(prev) = self.last else {
            self.last = Some(now);
            return;
        };
        let secs = now.at.saturating_duration_since(prev.at).as_secs_f64();
        // Two answers in quick succession (a window change) say nothing about a rate.
        if secs < 0.2 {
            return;
        }
        let rotated = now.bucket_start != prev.bucket_start;
        let grow = |new: u64, old: u64| {
            let delta = if rotated {
                new
            } else {
                new.saturating_sub(old)
            };
            delta as f64 / secs
        };
        let rates = LiveRates {
            pps: grow(now.packets, prev.packets),
            pps_in: grow(now.packets_in, prev.packets_in),
            pps_out: grow(now.packets_out, prev.packets_out),
            dns: grow(now.dns, prev.dns),
        };
        self.live = Some(rates);
        push(&mut self.pps, rates.pps);
        push(&mut self.dns, rates.dns);
        self.last = Some(now);
    }

    /// The agent went away: its counters start again when it comes back.
    pub fn forget_reading(&mut self) {
        self.last = None;
        self.live = None;
    }
}

fn push(series: &mut VecDeque<f64>, v: f64) {
    if series.len() == HISTORY_LEN {
        series.pop_front();
    }
    series.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn bucket(start: u64, total: u64, dns: u64) -> Window {
        Window::from_v3(&json!({"1m": {"period": {"start_ts": start},
            "packets": {"total": total, "in": total / 2, "out": total / 2},
            "dns": {"wire_packets": {"total": dns}}}}))
        .unwrap()
    }

    #[test]
    fn rates_are_growth_per_second() {
        let t0 = Instant::now();
        let mut h = History::default();
        h.observe(&bucket(60, 100, 10), t0);
        assert_eq!(h.live, None);
        h.observe(&bucket(60, 300, 30), t0 + Duration::from_secs(2));
        let r = h.live.unwrap();
        assert_eq!((r.pps, r.pps_in, r.dns), (100.0, 50.0, 10.0));
        // Rotation: the new bucket's 40 packets arrived within the 2 s.
        h.observe(&bucket(120, 40, 4), t0 + Duration::from_secs(4));
        assert_eq!(h.live.unwrap().pps, 20.0);
        assert_eq!(h.pps.iter().copied().collect::<Vec<_>>(), vec![100.0, 20.0]);
        // Too soon after the previous reading: ignored.
        h.observe(&bucket(120, 400, 4), t0 + Duration::from_millis(4100));
        assert_eq!(h.pps.len(), 2);
    }

    #[test]
    fn history_is_bounded() {
        let t0 = Instant::now();
        let mut h = History::default();
        for i in 0..(HISTORY_LEN as u64 + 10) {
            h.observe(&bucket(60, i * 10, 0), t0 + Duration::from_secs(i));
        }
        assert_eq!(h.pps.len(), HISTORY_LEN);
    }
}
