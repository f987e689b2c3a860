//! Heavy hitters with Apache DataSketches' frequent-items sketch.
//!
//! The sketch keeps exact counts while it tracks fewer than 3/4 of `2^LG_MAX_MAP` distinct items
//! (6144 here). Beyond that it purges small counters and every reported count is an upper bound
//! within `maximum_error()` of the truth; the reported list has no false negatives.

use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use std::hash::Hash;

const LG_MAX_MAP: u32 = 13;

#[derive(Clone, Debug)]
pub struct TopN<T: Eq + Hash> {
    sketch: FrequentItemsSketch<T>,
}

impl<T: Eq + Hash + Clone + Ord> Default for TopN<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Eq + Hash + Clone + Ord> TopN<T> {
    pub fn new() -> Self {
        Self {
            sketch: FrequentItemsSketch::new(1 << LG_MAX_MAP)
                .expect("map size is a power of two in the valid range"),
        }
    }

    #[inline]
    pub fn update(&mut self, item: T) {
        self.sketch.update(item);
    }

    /// Counts an item given by reference; it is copied only when first tracked.
    #[inline]
    pub fn update_ref<Q>(&mut self, item: &Q)
    where
        Q: Eq + Hash + ToOwned<Owned = T> + ?Sized,
        T: std::borrow::Borrow<Q>,
    {
        self.sketch.update_ref(item);
    }

    /// Adds `weight` to an item given by reference; it is copied only when first tracked.
    #[inline]
    pub fn update_ref_by<Q>(&mut self, item: &Q, weight: u64)
    where
        Q: Eq + Hash + ToOwned<Owned = T> + ?Sized,
        T: std::borrow::Borrow<Q>,
    {
        self.sketch.update_with_count_ref(item, weight);
    }

    #[inline]
    pub fn update_by(&mut self, item: T, weight: u64) {
        self.sketch.update_with_count(item, weight);
    }

    pub fn merge(&mut self, other: &TopN<T>) {
        self.sketch.merge(&other.sketch);
    }

    /// The largest possible error of any reported count (0 while exact).
    pub fn maximum_error(&self) -> u64 {
        self.sketch.maximum_error()
    }

    /// The `n` most frequent items, largest first; equal counts in item order so that output is
    /// stable from run to run. `min_count` drops entries below a threshold (pktvisor's
    /// `topn_percentile_threshold` is applied by the caller through it).
    pub fn top(&self, n: usize, min_count: u64) -> Vec<(T, u64)> {
        let mut rows: Vec<(T, u64)> = self
            .sketch
            .frequent_items(ErrorType::NoFalseNegatives)
            .into_iter()
            .filter(|row| row.estimate() >= min_count.max(1))
            .map(|row| (row.item().clone(), row.estimate()))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_counts_and_stable_order() {
        let mut t = TopN::new();
        for (item, count) in [(3u32, 5u64), (1, 7), (2, 5), (9, 1)] {
            for _ in 0..count {
                t.update(item);
            }
        }
        assert_eq!(t.top(3, 0), vec![(1, 7), (2, 5), (3, 5)]);
        assert_eq!(t.maximum_error(), 0);
    }

    #[test]
    fn heavy_hitters_survive_many_distinct_items() {
        let mut t = TopN::new();
        for i in 0..200_000u32 {
            t.update(i);
            if i % 10 == 0 {
                t.update_by(u32::MAX, 2);
            }
        }
        let top = t.top(1, 0);
        assert_eq!(top[0].0, u32::MAX);
        let err = t.maximum_error();
        assert!(top[0].1 >= 40_000 && top[0].1 <= 40_000 + err);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (TopN::new(), TopN::new());
        a.update_by("x".to_string(), 3);
        b.update_by("x".to_string(), 4);
        b.update_by("y".to_string(), 1);
        a.merge(&b);
        assert_eq!(
            a.top(10, 0),
            vec![("x".to_string(), 7), ("y".to_string(), 1)]
        );
    }
}
