//! Rows as bitmaps of one segment's packets, and the time ranges that mask them.

use crate::index::{Damaged, Stored};

/// Packets of one segment, a bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Bits(pub(super) Vec<u64>);

impl Bits {
    pub(super) fn none(packets: u32) -> Bits {
        Bits(vec![0; (packets as usize).div_ceil(64)])
    }

    pub(super) fn all(packets: u32) -> Bits {
        let mut b = Bits::none(packets);
        for i in 0..packets {
            b.set(i);
        }
        b
    }

    pub(super) fn set(&mut self, i: u32) {
        self.0[i as usize / 64] |= 1 << (i % 64);
    }

    pub(super) fn has(&self, i: u32) -> bool {
        self.0[i as usize / 64] & (1 << (i % 64)) != 0
    }

    pub(super) fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub(super) fn zip(&mut self, other: &Bits, f: impl Fn(u64, u64) -> u64) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = f(*a, *b);
        }
    }

    pub(super) fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| (w * 64 + b) as u32)
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
