//! Per-second rates measured in packet time.
//!
//! pktvisor samples its rate counters with a wall-clock timer, so a file read in 0.2 s reports
//! absurd rates. Here the clock is the capture timestamp: every second of packet time between
//! the first and the last packet of a bucket contributes one value (idle seconds count as 0), and
//! the reported quantiles are those of these per-second values.

use crate::quantiles::Quantiles;

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
    /// The previous second ended; `idle` whole seconds without packets lay in between.
    Ended { idle: u64 },
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

/// One rate: the running count of the current second plus the distribution of finished seconds.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    current: u64,
    /// Whether the current second has started (a rate with no second yet reports nothing).
    started: bool,
    finished: Quantiles,
    /// Finished seconds with a value of zero that were not stored in the sketch.
    idle_seconds: u64,
}

impl Rate {
    #[inline]
    pub fn add(&mut self, amount: u64) {
        self.current += amount;
    }

    /// Closes the current second (even at 0) and accounts for `idle` empty seconds after it.
    #[inline]
    pub fn end_second(&mut self, idle: u64) {
        self.finished.update(self.current);
        self.current = 0;
        self.idle_seconds += idle;
    }

    /// Marks that a second is under way, so that a rate whose first packets are all of another
    /// kind still reports its zeros.
    #[inline]
    pub fn start(&mut self) {
        self.started = true;
    }

    /// The value of the second in progress.
    pub fn live(&self) -> u64 {
        self.current
    }

    /// Quantile over all finished seconds and the one in progress.
    pub fn quantile(&self, rank: f64) -> Option<u64> {
        if !self.started {
            return None;
        }
        let mut all = self.finished.clone();
        all.update(self.current);
        all.quantile_with_zeros(rank, self.idle_seconds)
    }

    /// Merges another rate's seconds; the other's second in progress counts as finished.
    pub fn merge(&mut self, other: &Rate) {
        if !other.started {
            return;
        }
        self.finished.merge(&other.finished);
        self.finished.update(other.current);
        self.idle_seconds += other.idle_seconds;
        // Even if this rate saw no second of its own, it reports the merged seconds from now on.
        self.started = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds (second, amount) events through a clock into one rate, as the handlers do.
    fn feed(events: &[(u64, u64)]) -> Rate {
        let mut clock = SecondClock::default();
        let mut rate = Rate::default();
        for &(sec, amount) in events {
            if let Tick::Ended { idle } = clock.advance(sec) {
                rate.end_second(idle);
            }
            rate.start();
            rate.add(amount);
        }
        rate
    }

    #[test]
    fn per_second_values_with_idle_gaps() {
        // seconds 100..=104: values 3, 0, 0, 1, 2
        let r = feed(&[(100, 1), (100, 1), (100, 1), (103, 1), (104, 1), (104, 1)]);
        // sorted: 0 0 1 2 3
        assert_eq!(r.quantile(0.5), Some(1));
        assert_eq!(r.quantile(0.9), Some(3));
        assert_eq!(r.quantile(0.2), Some(0));
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
}
