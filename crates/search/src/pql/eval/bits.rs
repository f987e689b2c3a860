//! Rows as bitmaps of one segment's packets, and the time ranges that mask them.

use crate::index::{Damaged, Stored};

/// Packets of one segment, a bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bits(pub(crate) Vec<u64>);

impl Bits {
    pub(crate) fn none(packets: u32) -> Bits {
        Bits(vec![0; (packets as usize).div_ceil(64)])
    }

    /// Every packet: whole words, the last cut to `packets` (bit by bit, this was 24 M of the
    /// 27 M instructions of a `Count` over the 2.4 M-packet benchmark recording).
    pub(crate) fn all(packets: u32) -> Bits {
        let mut b = Bits(vec![!0u64; (packets as usize).div_ceil(64)]);
        b.trim(packets);
        b
    }

    /// Clears the bits past the last packet (a complement sets them).
    pub(crate) fn trim(&mut self, packets: u32) {
        let used = packets as usize % 64;
        if used != 0
            && let Some(last) = self.0.last_mut()
        {
            *last &= (1u64 << used) - 1;
        }
    }

    pub(crate) fn set(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }

    pub(crate) fn has(&self, i: u32) -> bool {
        self.0[i as usize / 64] & (1 << (i % 64)) != 0
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub(crate) fn zip(&mut self, other: &Bits, f: impl Fn(u64, u64) -> u64) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = f(*a, *b);
        }
    }

    /// The set bits, ascending: a step per set bit, not per bit.
    pub(crate) fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut left = word;
            std::iter::from_fn(move || {
                if left == 0 {
                    return None;
                }
                let b = left.trailing_zeros();
                left &= left - 1;
                Some((w * 64) as u32 + b)
            })
        })
    }
}

/// A time range, ns since the epoch: `[from, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

impl TimeRange {
    pub(super) fn holds(&self, ts: u64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }

    pub(super) fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

pub(super) fn mask(seg: &Stored, range: TimeRange) -> Result<Bits, Damaged> {
    if range.is_all() {
        return Ok(Bits::all(seg.packets));
    }
    let mut b = Bits::none(seg.packets);
    for (i, &ts) in seg.ts()?.iter().enumerate() {
        if range.holds(ts) {
            b.set(i as u32);
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_packet_and_no_more() {
        for n in [0u32, 1, 63, 64, 65, 127, 128, 1000] {
            let b = Bits::all(n);
            assert_eq!(b.count(), u64::from(n));
            assert_eq!(b.ones().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
        }
    }
}
