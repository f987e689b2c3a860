//! The bucketed time window: buckets of `period` seconds of packet time, the newest `keep` of
//! them retained, bucket 0 being the live one.
//!
//! Where buckets begin depends on the stream ([`Boundaries`]): a live capture's buckets start
//! at multiples of the period in Unix time (a 60 s bucket runs from hh:mm:00 to hh:mm+1:00), so
//! buckets of different workers and agents cover the same span and merge meaningfully at a hub;
//! a recorded stream's first bucket starts at its first packet and each later one at the packet
//! that crossed the previous one's end, as pktvisor's `AbstractMetricsManager::_period_shift`
//! does for files. A window that keeps one bucket never rotates: the whole stream is one
//! bucket (pktvisor's `num_periods: 1`, whose `new_event` shifts only when `_num_periods > 1`).

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

/// Where a window's buckets begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundaries {
    /// At multiples of the period in Unix time (live capture: workers and agents agree).
    Aligned,
    /// At the stream's first packet, then at each packet that crosses a bucket's end
    /// (recorded streams, as pktvisor reads files).
    FromStream,
}

/// The shape of a window: seconds per bucket, buckets kept, where they begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Seconds per bucket; None (or `keep` 1) puts the whole stream into one bucket.
    pub period: Option<u64>,
    pub keep: usize,
    pub boundaries: Boundaries,
}

impl WindowSpec {
    /// One bucket for the whole stream (pktvisor's `--summary`, `num_periods: 1`).
    pub const WHOLE_STREAM: WindowSpec = WindowSpec {
        period: None,
        keep: 1,
        boundaries: Boundaries::FromStream,
    };

    /// The period that rotates the window: none when one bucket is kept.
    fn rotating_period(&self) -> Option<u64> {
        self.period.filter(|p| *p > 0 && self.keep > 1)
    }
}

#[derive(Clone, Debug)]
pub struct TimeBucket<B> {
    /// The bucket's identity in Unix seconds: where its period begins (aligned to the period
    /// for live capture), matched when workers' buckets are merged.
    pub start_sec: u64,
    /// The span the bucket covers, in Unix seconds, as pktvisor's `period` reports it
    /// (`start_ts`, `length = until - from`): from when it opened (a live agent's first bucket
    /// opens when the agent starts, mid-period) to when it closed, or, while it is live, to
    /// the newest packet or clock tick it saw.
    pub from_sec: u64,
    pub until_sec: u64,
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
        self.until_sec = self.until_sec.max(ts_ns / 1_000_000_000);
    }

    /// pktvisor's `period`: `(start_ts, length)` in seconds.
    pub fn period(&self) -> (u64, u64) {
        (self.from_sec, self.until_sec.saturating_sub(self.from_sec))
    }

    /// Widens this bucket's span to cover `other`'s (another worker's copy of the same period,
    /// or an older bucket of a merged window).
    fn absorb_span(&mut self, other: &TimeBucket<B>) {
        self.start_sec = self.start_sec.min(other.start_sec);
        self.from_sec = self.from_sec.min(other.from_sec);
        self.until_sec = self.until_sec.max(other.until_sec);
        self.first_ts_ns = match (self.first_ts_ns, other.first_ts_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts_ns = self.last_ts_ns.max(other.last_ts_ns);
    }
}

impl<B: Bucket> TimeBucket<B> {
    /// Folds `other` into this bucket: data and span.
    pub fn absorb(&mut self, other: &TimeBucket<B>) {
        self.data.merge_from(&other.data);
        self.absorb_span(other);
    }
}

/// The newest `n` buckets of `buckets` (newest first) merged into one (None when there is
/// none), spanning from the oldest one's start.
pub fn merge_newest<B: Bucket + Clone>(
    buckets: &[TimeBucket<B>],
    n: usize,
) -> Option<TimeBucket<B>> {
    let mut parts = buckets.iter().take(n.max(1));
    let mut merged = parts.next()?.clone();
    for older in parts {
        merged.absorb(older);
    }
    Some(merged)
}

/// Merges another worker's buckets (newest first) into `mine`, matching them by their start
/// (every worker's buckets begin at the same boundaries), or, when the window is one bucket
/// for the whole stream, into that bucket whatever its start. Each merged bucket's rates are
/// then joined as one reader's would be.
pub fn merge_workers<B: Bucket + Clone>(
    mine: &mut Vec<TimeBucket<B>>,
    theirs: &[TimeBucket<B>],
    whole_stream: bool,
) {
    for other in theirs {
        match mine
            .iter_mut()
            .find(|b| whole_stream || b.start_sec == other.start_sec)
        {
            Some(b) => {
                b.absorb(other);
                b.data.join_worker_spans();
            }
            None => mine.push(other.clone()),
        }
    }
    mine.sort_by_key(|b| std::cmp::Reverse(b.start_sec));
}

pub struct Window<B, F: Fn() -> B> {
    /// Seconds per bucket; None keeps everything in one bucket.
    period: Option<u64>,
    boundaries: Boundaries,
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
    pub fn new(spec: WindowSpec, make: F) -> Self {
        Self {
            period: spec.rotating_period(),
            boundaries: spec.boundaries,
            keep: spec.keep.max(1),
            buckets: VecDeque::new(),
            make,
            closed: 0,
            rotate_at_ns: 0,
        }
    }

    /// Seconds per bucket; None when the window is one bucket for the whole stream.
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
            self.rotate_to(ts_ns / 1_000_000_000);
        }
        let live = self
            .buckets
            .front_mut()
            .expect("a live bucket exists after rotation");
        live.note(ts_ns);
        &mut live.data
    }

    /// The bucket the last [`Window::bucket_at`] returned, for more of the same packet: the
    /// rotation and the bucket's span are done (a second `bucket_at(ts_ns)` would repeat both
    /// to no effect). The dns handler asks for its bucket up to four times a message: 300 k
    /// messages paid ~20 instructions for each repeat.
    #[inline]
    pub fn current(&mut self) -> &mut B {
        &mut self
            .buckets
            .front_mut()
            .expect("bucket_at opened a live bucket")
            .data
    }

    /// The stream's clock reached `sec` (a clock tick on an idle link, or a packet another
    /// handler or worker saw): rotates when a period ended, opens the first bucket if there
    /// is none yet (an agent serves bucket 0 before any packet), and extends the live
    /// bucket's span to `sec`.
    pub fn advance_to(&mut self, sec: u64) {
        self.rotate_to(sec);
        if let Some(live) = self.buckets.front_mut() {
            live.until_sec = live.until_sec.max(sec);
        }
    }

    #[cold]
    fn rotate_to(&mut self, sec: u64) {
        match (self.buckets.front(), self.period) {
            (None, _) => self.open_first(sec),
            (Some(live), Some(p)) if sec >= live.start_sec + p => self.open_bucket(sec, p),
            _ => {}
        }
    }

    fn open_first(&mut self, sec: u64) {
        let start_sec = match (self.period, self.boundaries) {
            (Some(p), Boundaries::Aligned) => sec - sec % p,
            _ => sec,
        };
        self.push(start_sec);
        if let Some(live) = self.buckets.front_mut() {
            // The first bucket covers the stream from its first second on, not the part of
            // the period before it.
            live.from_sec = sec;
            live.until_sec = sec;
        }
        self.set_rotate_at(start_sec);
    }

    fn open_bucket(&mut self, sec: u64, p: u64) {
        let live_start = self.buckets.front().map_or(sec, |b| b.start_sec);
        let start_sec = match self.boundaries {
            Boundaries::Aligned => sec - sec % p,
            Boundaries::FromStream => sec,
        };
        // Aligned: periods without packets between the live bucket and the new one are empty
        // buckets, so the window always spans the newest `keep` periods of time, not of
        // traffic. Only the last `keep` of them can survive, so no more than that are made.
        // (A recorded stream, as pktvisor reads it, shifts once per crossing packet.)
        let skipped = match self.boundaries {
            Boundaries::Aligned => (start_sec - live_start) / p - 1,
            Boundaries::FromStream => 0,
        };
        if let Some(live) = self.buckets.front_mut() {
            live.until_sec = if skipped > 0 {
                live_start + p
            } else {
                start_sec
            };
        }
        self.closed += 1 + skipped;
        for i in skipped.saturating_sub(self.keep as u64)..skipped {
            let empty = live_start + (i + 1) * p;
            self.push(empty);
            if let Some(b) = self.buckets.front_mut() {
                b.until_sec = empty + p;
            }
        }
        self.push(start_sec);
        self.set_rotate_at(start_sec);
    }

    fn set_rotate_at(&mut self, start_sec: u64) {
        self.rotate_at_ns = match self.period {
            Some(p) => (start_sec + p).saturating_mul(1_000_000_000),
            None => u64::MAX,
        };
    }

    fn push(&mut self, start_sec: u64) {
        self.buckets.push_front(TimeBucket {
            start_sec,
            from_sec: start_sec,
            until_sec: start_sec,
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

    /// Takes every bucket out, newest first, leaving the window empty.
    pub fn take_buckets(&mut self) -> impl Iterator<Item = TimeBucket<B>> {
        std::mem::take(&mut self.buckets).into_iter()
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
            merged.absorb(older);
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

    fn aligned(period: u64, keep: usize) -> WindowSpec {
        WindowSpec {
            period: Some(period),
            keep,
            boundaries: Boundaries::Aligned,
        }
    }

    fn spans<F: Fn() -> Count>(w: &Window<Count, F>) -> Vec<(u64, u64, u64, u64)> {
        w.buckets()
            .map(|b| (b.start_sec, b.data.0, b.period().0, b.period().1))
            .collect()
    }

    /// pktvisor's recorded stream (`AbstractMetricsManager::set_start_tstamp`, `new_event`,
    /// `_period_shift`): the first bucket starts at the first packet, the next at the first
    /// packet at or past start + 60 s, one shift per crossing packet however long the gap,
    /// and a closed bucket's length runs to the packet that closed it.
    #[test]
    fn a_recorded_stream_starts_at_its_first_packet() {
        let spec = WindowSpec {
            period: Some(60),
            keep: 3,
            boundaries: Boundaries::FromStream,
        };
        let mut w = Window::new(spec, Count::default);
        for sec in [1_000_031, 1_000_090, 1_000_091, 1_000_095, 1_000_400] {
            w.bucket_at(sec * S).0 += 1;
        }
        assert_eq!(
            spans(&w),
            vec![
                (1_000_400, 1, 1_000_400, 0),
                (1_000_091, 2, 1_000_091, 309),
                (1_000_031, 2, 1_000_031, 60),
            ]
        );
        let m = w.merged(3).unwrap();
        assert_eq!((m.data.0, m.period()), (5, (1_000_031, 369)));
    }

    /// `num_periods: 1` never shifts, whatever the period (pktvisor: `_num_periods > 1 &&`).
    #[test]
    fn one_kept_bucket_is_the_whole_stream() {
        for boundaries in [Boundaries::Aligned, Boundaries::FromStream] {
            let spec = WindowSpec {
                period: Some(60),
                keep: 1,
                boundaries,
            };
            let mut w = Window::new(spec, Count::default);
            for sec in [1_000_031, 1_000_400, 1_090_000] {
                w.bucket_at(sec * S).0 += 1;
            }
            w.advance_to(1_090_010);
            assert_eq!(spans(&w), vec![(1_000_031, 3, 1_000_031, 89_979)]);
        }
    }

    #[test]
    fn rotates_on_aligned_period_boundaries_and_keeps_the_newest() {
        let mut w = Window::new(aligned(60, 3), Count::default);
        for sec in [119, 120, 121, 179, 180, 250, 400] {
            w.bucket_at(sec * S).0 += 1;
        }
        // periods 60, 120, 180, 240, (300 empty), 360
        let spans: Vec<(u64, u64)> = w.buckets().map(|b| (b.start_sec, b.data.0)).collect();
        assert_eq!(spans, vec![(360, 1), (300, 0), (240, 1)]);
        // Closed buckets cover their whole period; the live one up to its newest packet.
        let periods: Vec<(u64, u64)> = w.buckets().map(TimeBucket::period).collect();
        assert_eq!(periods, vec![(360, 40), (300, 60), (240, 60)]);
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
        let mut w = Window::new(WindowSpec::WHOLE_STREAM, Count::default);
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
        let mut w = Window::new(aligned(10, 5), Count::default);
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
