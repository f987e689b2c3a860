//! The bucketed time window: buckets of `period` seconds of packet time, the newest `keep` of
//! them retained, bucket 0 being the live one.
//!
//! Bucket boundaries are multiples of the period in Unix time (a 60 s bucket runs from hh:mm:00
//! to hh:mm+1:00), so buckets of different agents cover the same span and merge meaningfully at
//! a hub.

use std::collections::VecDeque;

/// Something that can be accumulated per time bucket and merged across buckets.
pub trait Bucket {
    /// Folds `other` (same kind, another time span or worker) into `self`.
    fn merge_from(&mut self, other: &Self);

    /// Called once the buckets of several workers for the same period are merged: each worker's
    /// rates covered the seconds from its own first packet on, with gaps between workers that a
    /// single reader of all the packets would have counted as idle seconds (see
    /// [`crate::Rate::join_spans`]).
    fn join_worker_spans(&mut self) {}
}

#[derive(Clone, Debug)]
pub struct TimeBucket<B> {
    /// Start of the bucket's span in Unix seconds (aligned to the period).
    pub start_sec: u64,
    /// Capture times of the first and last packet seen in the bucket (ns); None while empty.
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: u64,
    pub data: B,
}

impl<B> TimeBucket<B> {
    #[inline]
    fn note(&mut self, ts_ns: u64) {
        if self.first_ts_ns.is_none() {
            self.first_ts_ns = Some(ts_ns);
        }
        self.last_ts_ns = self.last_ts_ns.max(ts_ns);
    }
}

pub struct Window<B, F: Fn() -> B> {
    /// Seconds per bucket; None puts everything into one bucket (pktvisor's `--summary`).
    period: Option<u64>,
    keep: usize,
    /// Newest first.
    buckets: VecDeque<TimeBucket<B>>,
    make: F,
    closed: u64,
    /// Packet time (ns) from which a packet opens a new bucket: 0 before the first bucket,
    /// `u64::MAX` without a period. Saves a division per packet on the hot path.
    rotate_at_ns: u64,
}

impl<B: Bucket + Clone, F: Fn() -> B> Window<B, F> {
    /// `period` in seconds (None: a single bucket for the whole input); `keep` >= 1 buckets.
    pub fn new(period: Option<u64>, keep: usize, make: F) -> Self {
        Self {
            period: period.filter(|p| *p > 0),
            keep: keep.max(1),
            buckets: VecDeque::new(),
            make,
            closed: 0,
            rotate_at_ns: 0,
        }
    }

    pub fn period(&self) -> Option<u64> {
        self.period
    }

    /// Number of buckets closed (rotated out of the live position) so far.
    pub fn closed_buckets(&self) -> u64 {
        self.closed
    }

    /// The bucket a packet captured at `ts_ns` belongs to, rotating when it starts a new period.
    /// Packets older than the live bucket (reordered input) are kept in the live bucket.
    #[inline]
    pub fn bucket_at(&mut self, ts_ns: u64) -> &mut B {
        if ts_ns >= self.rotate_at_ns {
            self.rotate_for(ts_ns);
        }
        let live = self
            .buckets
            .front_mut()
            .expect("a live bucket exists after rotation");
        live.note(ts_ns);
        &mut live.data
    }

    #[cold]
    fn rotate_for(&mut self, ts_ns: u64) {
        let sec = ts_ns / 1_000_000_000;
        let rotate = match (self.buckets.front(), self.period) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(live), Some(p)) => sec >= live.start_sec + p,
        };
        if rotate {
            self.open_bucket(sec);
        }
    }

    /// Rotates on a clock tick without packets (idle links still advance the window); opens
    /// the live bucket if there is none yet (an agent serves bucket 0 before any packet).
    pub fn advance_to(&mut self, sec: u64) {
        match (self.buckets.front(), self.period) {
            (None, _) => self.open_bucket(sec),
            (Some(live), Some(p)) if sec >= live.start_sec + p => self.open_bucket(sec),
            _ => {}
        }
    }

    fn open_bucket(&mut self, sec: u64) {
        let start_sec = match self.period {
            Some(p) => sec - sec % p,
            None => sec,
        };
        // Periods without packets between the live bucket and the new one are empty buckets:
        // the window always spans the newest `keep` periods of time, not of traffic. Only the
        // last `keep` of them can survive, so no more than that are made.
        if let (Some(live), Some(p)) = (self.buckets.front(), self.period) {
            let live_start = live.start_sec;
            let skipped = (start_sec - live_start) / p - 1;
            self.closed += 1 + skipped;
            for i in skipped.saturating_sub(self.keep as u64)..skipped {
                self.push(live_start + (i + 1) * p);
            }
        }
        self.push(start_sec);
        self.rotate_at_ns = match self.period {
            Some(p) => (start_sec + p).saturating_mul(1_000_000_000),
            None => u64::MAX,
        };
    }

    fn push(&mut self, start_sec: u64) {
        self.buckets.push_front(TimeBucket {
            start_sec,
            first_ts_ns: None,
            last_ts_ns: 0,
            data: (self.make)(),
        });
        self.buckets.truncate(self.keep);
    }

    /// The live bucket's data, without noting a packet in it (None before the first bucket).
    pub fn live_mut(&mut self) -> Option<&mut B> {
        self.buckets.front_mut().map(|b| &mut b.data)
    }

    /// Buckets newest first; index 0 is the live bucket.
    pub fn buckets(&self) -> impl Iterator<Item = &TimeBucket<B>> {
        self.buckets.iter()
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The newest `n` buckets merged into one (None when there is no bucket yet).
    pub fn merged(&self, n: usize) -> Option<TimeBucket<B>> {
        let mut parts = self.buckets.iter().take(n.max(1));
        let mut merged = parts.next()?.clone();
        for older in parts {
            merged.data.merge_from(&older.data);
            merged.start_sec = older.start_sec;
            merged.first_ts_ns = match (merged.first_ts_ns, older.first_ts_ns) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            merged.last_ts_ns = merged.last_ts_ns.max(older.last_ts_ns);
        }
        Some(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default, Debug)]
    struct Count(u64);
    impl Bucket for Count {
        fn merge_from(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn rotates_on_aligned_period_boundaries_and_keeps_the_newest() {
        let mut w = Window::new(Some(60), 3, Count::default);
        for sec in [119, 120, 121, 179, 180, 250, 400] {
            w.bucket_at(sec * S).0 += 1;
        }
        // periods 60, 120, 180, 240, (300 empty), 360
        let spans: Vec<(u64, u64)> = w.buckets().map(|b| (b.start_sec, b.data.0)).collect();
        assert_eq!(spans, vec![(360, 1), (300, 0), (240, 1)]);
        assert_eq!(w.closed_buckets(), 5);
        let m = w.merged(3).unwrap();
        assert_eq!((m.start_sec, m.data.0), (240, 2));
        assert_eq!(m.first_ts_ns, Some(250 * S));
        assert_eq!(m.last_ts_ns, 400 * S);
        // A gap of days makes at most `keep` empty buckets.
        w.bucket_at(86_400 * 9 * S).0 += 1;
        let spans: Vec<(u64, u64)> = w.buckets().map(|b| (b.start_sec, b.data.0)).collect();
        assert_eq!(spans, vec![(777_600, 1), (777_540, 0), (777_480, 0)]);
    }

    #[test]
    fn summary_mode_is_one_bucket() {
        let mut w = Window::new(None, 5, Count::default);
        for sec in [5, 1000, 86_400 * 30] {
            w.bucket_at(sec * S).0 += 1;
        }
        assert_eq!(w.len(), 1);
        let b = w.merged(5).unwrap();
        assert_eq!(
            (b.data.0, b.first_ts_ns, b.last_ts_ns),
            (3, Some(5 * S), 86_400 * 30 * S)
        );
    }

    #[test]
    fn idle_clock_rotates_and_late_packets_stay_live() {
        let mut w = Window::new(Some(10), 5, Count::default);
        w.advance_to(11);
        assert_eq!(w.len(), 1);
        w.bucket_at(12 * S).0 += 1;
        w.advance_to(25);
        assert_eq!(w.len(), 2);
        w.bucket_at(3 * S).0 += 1;
        assert_eq!(w.buckets().next().unwrap().data.0, 1);
        assert_eq!(w.buckets().next().unwrap().start_sec, 20);
    }
}
