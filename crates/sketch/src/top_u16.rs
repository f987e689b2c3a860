//! Top lists of 16-bit values (qtypes, rcodes, ports): an exact count per value.
//!
//! There are only 65 536 values, so every one can have its own counter: an update is an
//! index and an add, where [`crate::TopN`] hashes into a map and, past 512 distinct values,
//! into its frequent-items sketch. The counters live in pages of 256 values allocated on first
//! use, so a list of a few qtypes holds one 2 KB page and the largest possible list 512 KB.
//!
//! Counts are exact, so the list is what [`crate::TopN`] reports while its sketch is exact
//! (fewer than 6144 distinct values), and exact where that sketch would be approximate.

use crate::codec::{Decode, DecodeError, Encode, Reader, put_counts, read_counts};
use crate::topn::keep_candidates;

/// Values per page: the low byte of a value indexes its page.
const PAGE: usize = 256;

#[derive(Clone, Debug, Default)]
pub struct TopU16 {
    /// Indexed by the high byte of a value; `None` until a value of that page is counted.
    pages: Vec<Option<Box<[u64; PAGE]>>>,
}

impl TopU16 {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn update(&mut self, value: u16) {
        self.update_by(value, 1);
    }

    #[inline]
    pub fn update_by(&mut self, value: u16, weight: u64) {
        let [high, low] = value.to_be_bytes();
        if let Some(Some(page)) = self.pages.get_mut(usize::from(high)) {
            page[usize::from(low)] += weight;
            return;
        }
        self.page_mut(high)[usize::from(low)] += weight;
    }

    /// The page of values whose high byte is `high`, allocated if it is not yet.
    #[cold]
    #[inline(never)]
    fn page_mut(&mut self, high: u8) -> &mut [u64; PAGE] {
        let i = usize::from(high);
        if self.pages.len() <= i {
            self.pages.resize(i + 1, None);
        }
        self.pages[i].get_or_insert_with(|| Box::new([0; PAGE]))
    }

    /// Every counted value with its count, ascending by value.
    fn counts(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.pages.iter().enumerate().flat_map(|(high, page)| {
            page.iter().flat_map(move |page| {
                page.iter()
                    .enumerate()
                    .filter(|(_, count)| **count > 0)
                    .map(move |(low, count)| ((high * PAGE + low) as u16, *count))
            })
        })
    }

    pub fn merge(&mut self, other: &TopU16) {
        for (value, count) in other.counts() {
            self.update_by(value, count);
        }
    }

    /// As [`crate::TopN::top`]: the `n` largest counts of at least `min_count` (and 1), largest
    /// first, equal counts by value.
    pub fn top(&self, n: usize, min_count: u64) -> Vec<(u16, u64)> {
        let mut rows: Vec<(u16, u64)> = self
            .counts()
            .filter(|(_, count)| *count >= min_count)
            .collect();
        keep_candidates(&mut rows, n);
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }
}

/// The non-zero counts by ascending value: the table is exact, so this is its whole state.
impl Encode for TopU16 {
    fn encode(&self, out: &mut Vec<u8>) {
        let pairs: Vec<(u64, u64)> = self.counts().map(|(v, c)| (u64::from(v), c)).collect();
        put_counts(out, &pairs);
    }
}

impl Decode for TopU16 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut t = TopU16::new();
        for (value, count) in read_counts(r, "u16 counts")? {
            let value =
                u16::try_from(value).map_err(|_| DecodeError::OutOfRange { what: "u16 counts" })?;
            t.update_by(value, count);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopN;

    #[test]
    fn same_rows_as_the_generic_list_while_it_is_exact() {
        let (mut dense, mut generic) = (TopU16::new(), TopN::<u16>::new());
        let (mut other, mut generic_other) = (TopU16::new(), TopN::<u16>::new());
        for i in 0..60_000u32 {
            // 3000 distinct values spread over every page, uneven counts, runs and weights.
            let value = ((i * 7919) % 3000 * 21 + i % 7 / 6) as u16;
            let weight = u64::from(i % 3);
            if i % 5 == 0 {
                other.update_by(value, weight);
                generic_other.update_by(value, weight);
            } else {
                dense.update(value);
                generic.update(value);
            }
        }
        for n in [0, 1, 10, 100, 5000] {
            for min in [0, 20, 25] {
                assert_eq!(dense.top(n, min), generic.top(n, min), "n {n} min {min}");
            }
        }
        dense.merge(&other);
        generic.merge(&generic_other);
        assert_eq!(dense.top(5000, 0), generic.top(5000, 0));
    }

    #[test]
    fn pages_are_allocated_on_use_only() {
        let mut t = TopU16::new();
        assert!(t.top(10, 0).is_empty());
        t.update(1);
        t.update(28);
        t.update(u16::MAX);
        t.update_by(28, 0);
        assert_eq!(t.pages.iter().flatten().count(), 2);
        assert_eq!(t.top(10, 0), vec![(1, 1), (28, 1), (u16::MAX, 1)]);
    }

    #[test]
    fn travels_whole() {
        use crate::codec::{Decode, Reader, round_trip};
        let mut t = TopU16::new();
        for i in 0..5000u32 {
            t.update_by((i * 13) as u16, u64::from(i % 4));
        }
        t.update(u16::MAX);
        assert_eq!(round_trip(&t).top(70_000, 0), t.top(70_000, 0));
        assert_eq!(round_trip(&TopU16::new()).top(5, 0), vec![]);
        // A value past u16 is refused.
        let bytes = [1, 0x80, 0x80, 0x04, 1];
        assert!(TopU16::decode(&mut Reader::new(&bytes)).is_err());
    }
}
