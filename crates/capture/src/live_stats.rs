//! A live capture's kernel counters, kept as 64-bit totals although libpcap reports them in
//! 32 bits (which a busy 10 Gb/s link wraps in minutes).

/// Counters since the capture was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets the kernel handed to the capture (that passed the filter), dropped ones included.
    pub received: u64,
    /// Packets dropped because the ring was full: the reader did not keep up.
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub if_dropped: u64,
}

/// Accumulates successive 32-bit readings into 64-bit totals; exact as long as no counter
/// advances by 2^32 or more between two readings.
#[derive(Debug, Default)]
pub(crate) struct StatsWidener {
    last: [u32; 3],
    totals: LiveStats,
}

impl StatsWidener {
    pub(crate) fn update(&mut self, received: u32, dropped: u32, if_dropped: u32) -> LiveStats {
        let now = [received, dropped, if_dropped];
        let step = |i: usize| u64::from(now[i].wrapping_sub(self.last[i]));
        self.totals.received += step(0);
        self.totals.dropped += step(1);
        self.totals.if_dropped += step(2);
        self.last = now;
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_counters_keep_counting() {
        let mut w = StatsWidener::default();
        assert_eq!(w.update(10, 1, 0).received, 10);
        w.update(u32::MAX - 5, 2, 0);
        let s = w.update(20, 2, 7);
        assert_eq!(
            s,
            LiveStats {
                received: u64::from(u32::MAX) + 21,
                dropped: 2,
                if_dropped: 7
            }
        );
    }
}
