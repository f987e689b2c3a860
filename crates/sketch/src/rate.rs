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
mod tests;
