//! Deep sampling: pktvisor's `--max-deep-sample N` inspects N % of packets in depth.
//!
//! pktvisor draws a random number per packet; we spread the sampled packets evenly with an
//! accumulator instead, so that the same input always gives the same output (and exactly N %).

#[derive(Clone, Copy, Debug)]
pub struct DeepSampler {
    percent: u8,
    accumulator: u32,
}

impl DeepSampler {
    /// `percent` is clamped to 0..=100.
    pub fn new(percent: u8) -> Self {
        Self {
            percent: percent.min(100),
            accumulator: 0,
        }
    }

    #[inline]
    pub fn sample(&mut self) -> bool {
        if self.percent == 100 {
            return true;
        }
        self.accumulator += u32::from(self.percent);
        if self.accumulator >= 100 {
            self.accumulator -= 100;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_exactly_the_percentage() {
        for percent in [0u8, 1, 33, 50, 99, 100] {
            let mut s = DeepSampler::new(percent);
            let sampled = (0..10_000).filter(|_| s.sample()).count();
            assert_eq!(sampled, 100 * percent as usize, "percent {percent}");
        }
        let mut s = DeepSampler::new(50);
        let pattern: Vec<bool> = (0..4).map(|_| s.sample()).collect();
        assert_eq!(pattern, vec![false, true, false, true]);
    }
}
