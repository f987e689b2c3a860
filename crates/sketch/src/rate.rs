//! Per-second rates measured in packet time.
//!
//! pktvisor samples its rate counters with a wall-clock timer, so a file read in 0.2 s reports
//! absurd rates. Here the clock is the capture timestamp: every second of packet time between
//! the first and the last packet of a bucket contributes one value (idle seconds count as 0), and
//! the reported quantiles are those of these per-second values.

use crate::codec::{
    Decode, DecodeError, Encode, Reader, put_counts, put_opt_var, put_var, read_counts,
};
use crate::quantiles::Quantiles;
use std::borrow::Cow;

/// Tracks which second of packet time is current for a group of rates that share it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecondClock {
    current: Option<u64>,
}

/// What happened to the clock when a packet arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Same second as before (or the very first packet).
    Same,
    /// The previous second ended; `idle` whole seconds without packets lay in between, and
    /// `second` is the one now under way.
    Ended { idle: u64, second: u64 },
}

impl SecondClock {
    /// Advances to `second`. Timestamps that go backwards (reordered captures) stay in the
    /// current second rather than rewriting history.
    #[inline]
    pub fn advance(&mut self, second: u64) -> Tick {
        match self.current {
            Some(cur) if second > cur => {
                self.current = Some(second);
                Tick::Ended {
                    idle: second - cur - 1,
                    second,
                }
            }
            Some(_) => Tick::Same,
            None => {
                self.current = Some(second);
                Tick::Same
            }
        }
    }
}

/// Seconds kept by number (so that workers' rates of the same seconds add up) before the
/// oldest are folded into a distribution: two hours of one bucket.
const MAX_SECONDS: usize = 7200;

/// One rate: the count of each second of packet time (seconds without any count are zeros
/// between the first and the current second).
///
/// Rates merge by second: the same second seen by two workers adds up (the agent shards one
/// interface's packets over several), different seconds (older buckets of a window) sit side
/// by side. Past [`MAX_SECONDS`] the oldest seconds are folded into a quantile sketch that
/// merges as a distribution (a summary of a capture spanning hours, read by several workers,
/// is then approximate in its rates only).
#[derive(Clone, Debug, Default)]
pub struct Rate {
    /// Nonzero seconds, ascending, as (second, count); the current one's count may be partly
    /// in `live` still.
    seconds: Vec<(u64, u64)>,
    /// Count of the current second not yet in `seconds` (see [`Rate::add`]).
    live: u64,
    /// Seconds covered, as disjoint ascending inclusive ranges: zero unless in `seconds`.
    spans: Vec<(u64, u64)>,
    /// The second under way (None before `start`).
    current: Option<u64>,
    /// Seconds folded out of `seconds` and their number of zero seconds.
    folded: Quantiles,
    folded_zeros: u64,
}

impl Rate {
    /// The first second of this rate is under way.
    #[inline]
    pub fn start(&mut self, second: u64) {
        if self.current.is_none() {
            self.current = Some(second);
            add_span(&mut self.spans, (second, second));
        }
    }

    /// Counts `amount` in the current second (nothing before [`start`](Self::start)). Runs for
    /// every packet, several times: it only adds to `live`, which joins `seconds` when the
    /// second ends or the rate is read.
    #[inline]
    pub fn add(&mut self, amount: u64) {
        if self.current.is_some() {
            self.live += amount;
        }
    }

    /// Moves `live` into `seconds`: the state `add` would have left by updating `seconds` itself.
    fn settle(&mut self) {
        let amount = std::mem::take(&mut self.live);
        let Some(sec) = self.current else {
            return;
        };
        match self.seconds.last_mut() {
            Some((s, count)) if *s == sec => *count += amount,
            _ if amount > 0 => {
                self.seconds.push((sec, amount));
                if self.seconds.len() > MAX_SECONDS {
                    self.fold_oldest();
                }
            }
            _ => {}
        }
    }

    /// This rate with `live` settled, for reading.
    fn settled(&self) -> Cow<'_, Rate> {
        if self.live == 0 {
            return Cow::Borrowed(self);
        }
        let mut rate = self.clone();
        rate.settle();
        Cow::Owned(rate)
    }

    /// The second under way is now `second` (the ones between were idle).
    #[inline]
    pub fn end_second(&mut self, second: u64) {
        let Some(cur) = self.current else {
            self.start(second);
            return;
        };
        if second <= cur {
            return;
        }
        self.settle();
        self.current = Some(second);
        match self.spans.last_mut() {
            Some((_, last)) if *last >= cur => *last = second,
            _ => add_span(&mut self.spans, (cur, second)),
        }
    }

    /// Folds the oldest half of the kept seconds (and the zeros among them) into `folded`.
    #[cold]
    fn fold_oldest(&mut self) {
        let keep_from = self.seconds.len() / 2;
        let Some(&(boundary, _)) = self.seconds.get(keep_from) else {
            return;
        };
        let mut nonzero = 0;
        for (_, count) in self.seconds.drain(..keep_from) {
            self.folded.update(count);
            nonzero += 1;
        }
        // Covered seconds before the boundary leave the spans; those without a count were 0.
        let mut covered = 0;
        self.spans.retain_mut(|(first, last)| {
            if *last < boundary {
                covered += *last - *first + 1;
                false
            } else {
                if *first < boundary {
                    covered += boundary - *first;
                    *first = boundary;
                }
                true
            }
        });
        self.folded_zeros += covered.saturating_sub(nonzero);
    }

    /// The value of the second in progress.
    pub fn live(&self) -> u64 {
        let settled = match (self.current, self.seconds.last()) {
            (Some(cur), Some((s, count))) if *s == cur => *count,
            _ => 0,
        };
        settled + self.live
    }

    /// Quantile (nearest rank) over every second covered, the one in progress included.
    pub fn quantile(&self, rank: f64) -> Option<u64> {
        self.settled().settled_quantile(rank)
    }

    fn settled_quantile(&self, rank: f64) -> Option<u64> {
        if self.spans.is_empty() && self.folded.is_empty() && self.folded_zeros == 0 {
            return None;
        }
        let covered: u64 = self.spans.iter().map(|(f, l)| l - f + 1).sum();
        let zeros = covered.saturating_sub(self.seconds.len() as u64) + self.folded_zeros;
        let mut all = self.folded.clone();
        for (_, count) in &self.seconds {
            all.update(*count);
        }
        all.quantile_with_zeros(rank, zeros)
    }

    /// The count of the last whole second before wall-clock second `now`, as pktvisor's
    /// `Rate::rate()` holds the last second its timer closed: the second before `now` once
    /// packets of `now` came, else the second under way if `now` is past it, 0 when that
    /// second had no packets (an idle link). None before the first second.
    pub fn last_whole_second(&self, now: u64) -> Option<u64> {
        let current = self.current?;
        let target = if now > current {
            now - 1
        } else {
            current.checked_sub(1)?
        };
        let rate = self.settled();
        Some(
            rate.seconds
                .iter()
                .rev()
                .find(|(s, _)| *s <= target)
                .filter(|(s, _)| *s == target)
                .map_or(0, |(_, c)| *c),
        )
    }

    /// Seconds measured (idle ones included), or 0 before the first: the number of values the
    /// quantiles are taken over, pktvisor's `Quantile::get_n` of a rate's per-second sketch
    /// (what its Prometheus `_count` prints).
    pub fn count(&self) -> u64 {
        let covered: u64 = self.spans.iter().map(|(f, l)| l - f + 1).sum();
        covered + self.folded.count() + self.folded_zeros
    }

    /// The busiest second's value (0 when every second measured was idle), or None before the
    /// first second: pktvisor's `get_max_item`, which its Prometheus `_sum` prints.
    pub fn max(&self) -> Option<u64> {
        if self.count() == 0 {
            return None;
        }
        let rate = self.settled();
        let seconds = rate.seconds.iter().map(|(_, c)| *c).max();
        Some(seconds.max(rate.folded.max()).unwrap_or(0))
    }

    /// Adds another rate's seconds: equal seconds add up, others join.
    pub fn merge(&mut self, other: &Rate) {
        self.settle();
        let other = other.settled();
        let mut merged = Vec::with_capacity(self.seconds.len() + other.seconds.len());
        let (mut a, mut b) = (
            self.seconds.iter().peekable(),
            other.seconds.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(sa, ca)), Some(&&(sb, cb))) => {
                    if sa == sb {
                        merged.push((sa, ca + cb));
                        a.next();
                        b.next();
                    } else if sa < sb {
                        merged.push((sa, ca));
                        a.next();
                    } else {
                        merged.push((sb, cb));
                        b.next();
                    }
                }
                (Some(&&x), None) => {
                    merged.push(x);
                    a.next();
                }
                (None, Some(&&y)) => {
                    merged.push(y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.seconds = merged;
        for span in &other.spans {
            add_span(&mut self.spans, *span);
        }
        self.folded.merge(&other.folded);
        self.folded_zeros += other.folded_zeros;
        self.current = self.current.max(other.current);
        while self.seconds.len() > MAX_SECONDS {
            self.fold_oldest();
        }
    }

    /// Joins the covered seconds into one range from the first to the last: after merging the
    /// rates of several workers for the same bucket, whose own ranges each started at their own
    /// first packet. One rate alone always covers one range (from its first second to the
    /// current one), so this is what one worker seeing every packet would have covered.
    pub fn join_spans(&mut self) {
        if let (Some(&(first, _)), Some(&(_, last))) = (self.spans.first(), self.spans.last()) {
            self.spans.clear();
            self.spans.push((first, last));
        }
    }
}

/// Seconds are Unix times; a bound far past any (year ~36 800) keeps the sums of span lengths
/// a reader computes from overflowing whatever a hostile encoding claims.
const MAX_DECODED_SECOND: u64 = 1 << 40;

impl Encode for SecondClock {
    fn encode(&self, out: &mut Vec<u8>) {
        put_opt_var(out, self.current);
    }
}

impl Decode for SecondClock {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            current: r.opt_var("second clock")?,
        })
    }
}

/// Everything a rate holds, the second under way included (`live`, unsettled: settling is
/// the reader's business, as it would have been the writer's). Seconds and spans ascend, so
/// they go as gaps.
impl Encode for Rate {
    fn encode(&self, out: &mut Vec<u8>) {
        put_counts(out, &self.seconds);
        put_var(out, self.live);
        put_var(out, self.spans.len() as u64);
        let mut prev_last = 0;
        for &(first, last) in &self.spans {
            put_var(out, first - prev_last);
            put_var(out, last - first);
            prev_last = last;
        }
        put_opt_var(out, self.current);
        self.folded.encode(out);
        put_var(out, self.folded_zeros);
    }
}

impl Decode for Rate {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let seconds = read_counts(r, "rate seconds")?;
        if seconds.len() > MAX_SECONDS {
            return Err(DecodeError::OutOfRange {
                what: "rate seconds",
            });
        }
        let live = r.var("rate live")?;
        let n = r.count(2, "rate spans")?;
        let mut spans = Vec::with_capacity(n);
        let mut prev_last = 0u64;
        for i in 0..n {
            let gap = r.var("rate spans")?;
            let len = r.var("rate spans")?;
            let first = prev_last.checked_add(gap);
            let last = first.and_then(|f| f.checked_add(len));
            // Spans are disjoint and ascending: after the first, each starts past the last.
            match (first, last) {
                (Some(first), Some(last)) if (i == 0 || gap > 0) && last < MAX_DECODED_SECOND => {
                    spans.push((first, last));
                    prev_last = last;
                }
                _ => {
                    return Err(DecodeError::OutOfRange { what: "rate spans" });
                }
            }
        }
        let current = r.opt_var("rate current second")?;
        let folded = Quantiles::decode(r)?;
        let folded_zeros = r.var("rate folded zeros")?;
        Ok(Rate {
            seconds,
            live,
            spans,
            current,
            folded,
            folded_zeros,
        })
    }
}

/// Adds an inclusive range of seconds to disjoint ascending ranges, joining what overlaps or
/// touches.
fn add_span(spans: &mut Vec<(u64, u64)>, (first, last): (u64, u64)) {
    let at = spans.partition_point(|s| s.1.saturating_add(1) < first);
    let mut new = (first, last);
    let mut end = at;
    while let Some(&(f, l)) = spans.get(end) {
        if f > last.saturating_add(1) {
            break;
        }
        new = (new.0.min(f), new.1.max(l));
        end += 1;
    }
    spans.splice(at..end, [new]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds (second, amount) events through a clock into one rate, as the handlers do.
    fn feed(events: &[(u64, u64)]) -> Rate {
        let mut clock = SecondClock::default();
        let mut rate = Rate::default();
        for &(sec, amount) in events {
            if let Tick::Ended { second, .. } = clock.advance(sec) {
                rate.end_second(second);
            }
            rate.start(sec);
            rate.add(amount);
        }
        rate
    }

    #[test]
    fn the_second_under_way_is_read_and_merged_before_it_ends() {
        let mut r = feed(&[(5, 2), (6, 1), (6, 3)]);
        assert_eq!(r.live(), 4);
        // seconds 5 → 2, 6 → 4 (under way)
        assert_eq!(r.quantile(1.0), Some(4));
        let mut m = feed(&[(6, 10)]);
        m.merge(&r);
        assert_eq!((m.live(), m.quantile(1.0)), (14, Some(14)));
        r.add(1);
        r.end_second(8);
        r.add(7);
        // seconds 5 → 2, 6 → 5, 7 → 0, 8 → 7 (under way)
        assert_eq!(r.live(), 7);
        assert_eq!(r.quantile(0.25), Some(0));
        assert_eq!(r.quantile(0.75), Some(5));
    }

    #[test]
    fn per_second_values_with_idle_gaps() {
        // seconds 100..=104: values 3, 0, 0, 1, 2
        let r = feed(&[(100, 1), (100, 1), (100, 1), (103, 1), (104, 1), (104, 1)]);
        // sorted: 0 0 1 2 3
        assert_eq!(r.quantile(0.5), Some(1));
        assert_eq!(r.quantile(0.9), Some(3));
        assert_eq!(r.quantile(0.2), Some(0));
        // Five seconds measured, the busiest 3: pktvisor's `_count` and `_sum`.
        assert_eq!((r.count(), r.max()), (5, Some(3)));
        assert_eq!((Rate::default().count(), Rate::default().max()), (0, None));
        // Seconds 100..=104 hold 3, 0, 0, 1, 2 (104 under way): pktvisor's `live` is the last
        // whole second before now.
        assert_eq!(r.last_whole_second(104), Some(1));
        assert_eq!(r.last_whole_second(105), Some(2));
        assert_eq!(r.last_whole_second(107), Some(0));
        assert_eq!(r.last_whole_second(101), Some(1));
        assert_eq!(Rate::default().last_whole_second(5), None);
        // Idle seconds only: measured, all zero.
        let mut idle = Rate::default();
        idle.start(7);
        idle.end_second(9);
        assert_eq!((idle.count(), idle.max()), (3, Some(0)));
    }

    #[test]
    fn backwards_time_stays_in_current_second() {
        let r = feed(&[(10, 1), (11, 1), (10, 1)]);
        // seconds: 10 → 1, 11 → 2
        assert_eq!(r.quantile(0.5), Some(1));
        assert_eq!(r.quantile(0.99), Some(2));
    }

    #[test]
    fn unstarted_rate_reports_nothing_and_merge_adds_seconds() {
        assert_eq!(Rate::default().quantile(0.5), None);
        let a = feed(&[(1, 5), (2, 5)]);
        let b = feed(&[(7, 1), (9, 1)]);
        let mut m = Rate::default();
        m.merge(&a);
        m.merge(&b);
        // seconds: 5 5 1 0 1
        assert_eq!(m.quantile(0.5), Some(1));
        assert_eq!(m.quantile(0.99), Some(5));
        assert_eq!(m.quantile(0.1), Some(0));
    }

    #[test]
    fn workers_with_gaps_between_them_join_as_one_reader() {
        // One reader: packets at 10, 12 (worker A) and 20, 21 (worker B): 12 seconds covered.
        let one = feed(&[(10, 1), (12, 1), (20, 5), (21, 1)]);
        let mut a = feed(&[(10, 1), (12, 1)]);
        a.merge(&feed(&[(20, 5), (21, 1)]));
        // Side by side (other buckets of a window) the gap 13..19 is not covered...
        assert_eq!(a.quantile(0.5), Some(1));
        // ...joined (workers of one bucket) it is idle time, as for one reader.
        a.join_spans();
        for q in [0.5, 0.9, 0.99] {
            assert_eq!(a.quantile(q), one.quantile(q), "q {q}");
        }
        assert_eq!(a.quantile(0.5), Some(0));
    }

    #[test]
    fn workers_of_the_same_seconds_add_up() {
        // One stream of seconds 100..=104 (3, 0, 0, 1, 2) split between two workers.
        let a = feed(&[(100, 1), (100, 1), (104, 1)]);
        let b = feed(&[(100, 1), (103, 1), (104, 1)]);
        let whole = feed(&[(100, 3), (103, 1), (104, 2)]);
        let mut m = a.clone();
        m.merge(&b);
        for rank in [0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
            assert_eq!(m.quantile(rank), whole.quantile(rank), "rank {rank}");
        }
    }

    #[test]
    fn long_streams_fold_and_stay_bounded() {
        let mut events = Vec::new();
        for sec in 0..20_000u64 {
            if sec % 3 != 0 {
                events.push((sec, 1 + sec % 5));
            }
        }
        let r = feed(&events);
        assert!(r.seconds.len() <= MAX_SECONDS);
        // values: a third zeros, the rest 1..=5 evenly: the median is 2 (nearest rank).
        let mut all: Vec<u64> = (0..20_000u64)
            .map(|s| if s % 3 == 0 { 0 } else { 1 + s % 5 })
            .collect();
        all.sort();
        for rank in [0.2, 0.5, 0.9] {
            let pos = ((rank * all.len() as f64).ceil() as usize).max(1);
            assert_eq!(r.quantile(rank), Some(all[pos - 1]), "rank {rank}");
        }
        // Seconds 1..=19999 (the first packet is at 1), folded ones included; the busiest 5.
        assert_eq!((r.count(), r.max()), (19_999, Some(5)));
    }

    #[test]
    fn spans_join() {
        let mut s = Vec::new();
        for span in [(10, 12), (20, 20), (13, 15), (18, 19), (30, 31), (14, 25)] {
            add_span(&mut s, span);
        }
        assert_eq!(s, vec![(10, 25), (30, 31)]);
    }

    #[test]
    fn travels_with_the_second_under_way_and_folded_seconds() {
        use crate::codec::round_trip;
        let events: Vec<(u64, u64)> = (0..(MAX_SECONDS as u64 * 2))
            .filter(|s| s % 5 != 0)
            .map(|s| (1_000 + s, s % 13 + 1))
            .collect();
        let r = feed(&events);
        assert!(r.folded_zeros > 0 || !r.folded.is_empty());
        let d = round_trip(&r);
        assert_eq!(d.live(), r.live());
        for rank in [0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(d.quantile(rank), r.quantile(rank));
        }
        let other = feed(&[(900, 4), (905, 1), (20_000, 7)]);
        let (mut m, mut dm) = (r.clone(), d);
        m.merge(&other);
        dm.merge(&round_trip(&other));
        for rank in [0.5, 0.99, 1.0] {
            assert_eq!(dm.quantile(rank), m.quantile(rank));
        }
        assert_eq!(round_trip(&Rate::default()).quantile(0.5), None);
    }
}
