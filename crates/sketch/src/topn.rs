//! Heavy hitters with Apache DataSketches' frequent-items sketch.
//!
//! The sketch keeps exact counts while it tracks fewer than 3/4 of `2^LG_MAX_MAP` distinct items
//! (6144 here). Beyond that it purges small counters and every reported count is an upper bound
//! within `maximum_error()` of the truth; the reported list has no false negatives.
//!
//! Updates first land in a small exact map (`pending`) that is flushed into the sketch as
//! weighted updates when it fills and before any read. Weighted updates carry the same
//! guarantees, so the results are those of feeding the sketch directly; but a stream dominated
//! by few items (qname suffixes, qtypes, rcodes, ports) costs one fast hash-map increment per
//! packet instead of a sketch update.

use ahash::RandomState;
use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

const LG_MAX_MAP: u32 = 13;
/// Distinct items buffered before a flush into the sketch.
const PENDING_CAP: usize = 512;

#[derive(Clone, Debug)]
pub struct TopN<T: Eq + Hash> {
    sketch: FrequentItemsSketch<T>,
    pending: HashMap<T, u64, RandomState>,
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
            pending: HashMap::with_hasher(RandomState::new()),
        }
    }

    #[inline]
    pub fn update(&mut self, item: T) {
        self.update_by(item, 1);
    }

    #[inline]
    pub fn update_by(&mut self, item: T, weight: u64) {
        if let Some(count) = self.pending.get_mut(&item) {
            *count += weight;
            return;
        }
        self.make_room();
        self.pending.insert(item, weight);
    }

    /// Counts an item given by reference; it is copied only when first buffered.
    #[inline]
    pub fn update_ref<Q>(&mut self, item: &Q)
    where
        Q: Eq + Hash + ToOwned<Owned = T> + ?Sized,
        T: Borrow<Q>,
    {
        self.update_ref_by(item, 1);
    }

    /// Adds `weight` to an item given by reference; it is copied only when first buffered.
    #[inline]
    pub fn update_ref_by<Q>(&mut self, item: &Q, weight: u64)
    where
        Q: Eq + Hash + ToOwned<Owned = T> + ?Sized,
        T: Borrow<Q>,
    {
        if let Some(count) = self.pending.get_mut(item) {
            *count += weight;
            return;
        }
        self.make_room();
        self.pending.insert(item.to_owned(), weight);
    }

    #[inline]
    fn make_room(&mut self) {
        if self.pending.len() >= PENDING_CAP {
            Self::flush_into(&mut self.sketch, self.pending.drain());
        }
    }

    fn flush_into(sketch: &mut FrequentItemsSketch<T>, items: impl Iterator<Item = (T, u64)>) {
        for (item, count) in items {
            sketch.update_with_count(item, count);
        }
    }

    /// The sketch with everything buffered applied, without changing `self`.
    fn flushed(&self) -> FrequentItemsSketch<T> {
        let mut sketch = self.sketch.clone();
        Self::flush_into(
            &mut sketch,
            self.pending.iter().map(|(k, c)| (k.clone(), *c)),
        );
        sketch
    }

    pub fn merge(&mut self, other: &TopN<T>) {
        Self::flush_into(&mut self.sketch, self.pending.drain());
        if other.pending.is_empty() {
            self.sketch.merge(&other.sketch);
        } else {
            self.sketch.merge(&other.flushed());
        }
    }

    /// The largest possible error of any reported count (0 while exact).
    pub fn maximum_error(&self) -> u64 {
        self.flushed().maximum_error()
    }

    /// The `n` most frequent items, largest first; equal counts in item order so that output is
    /// stable from run to run. `min_count` drops entries below a threshold (pktvisor's
    /// `topn_percentile_threshold` is applied by the caller through it).
    pub fn top(&self, n: usize, min_count: u64) -> Vec<(T, u64)> {
        top_rows(&self.flushed(), n, min_count)
    }
}

/// Names (text items) buffered before a flush into a [`TopNames`] sketch.
const NAMES_PENDING_CAP: usize = 1024;
/// Slots of the pending table: a power of two, at most half full.
const NAMES_TABLE_LEN: usize = 2 * NAMES_PENDING_CAP;
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct NameSlot {
    hash: u64,
    count: u64,
    /// Where the name is in the arena; `len` is [`EMPTY`] for a free slot.
    off: u32,
    len: u32,
}

const FREE_SLOT: NameSlot = NameSlot {
    hash: 0,
    count: 0,
    off: 0,
    len: EMPTY,
};

/// [`TopN`] for text items (qnames), with a pending buffer that costs no allocation.
///
/// The same frequent-items sketch of `String`s, with the same guarantees and results, behind
/// an exact pre-aggregation buffer whose names live in one arena (`String`) and are found
/// through an open-addressing table keyed by one hash of the name. A name is copied into the
/// sketch only when the sketch does not track it yet (`update_with_count_ref`), so streams of
/// a few thousand distinct names (more than the buffer holds) flush without allocating.
#[derive(Clone, Debug)]
pub struct TopNames {
    sketch: FrequentItemsSketch<String>,
    hasher: RandomState,
    pending: NamesPending,
}

/// Pending (name, count) pairs of a [`TopNames`].
#[derive(Clone, Debug, Default)]
struct NamesPending {
    /// A linear-probing table of [`NAMES_TABLE_LEN`] slots, allocated on first use.
    table: Vec<NameSlot>,
    /// Indexes of the used slots, in insertion order.
    used: Vec<u32>,
    arena: String,
}

impl NamesPending {
    fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.used.iter().map(|&i| {
            let slot = &self.table[i as usize];
            let off = slot.off as usize;
            (&self.arena[off..off + slot.len as usize], slot.count)
        })
    }

    fn apply_to(&self, sketch: &mut FrequentItemsSketch<String>) {
        for (name, count) in self.iter() {
            sketch.update_with_count_ref(name, count);
        }
    }

    fn clear(&mut self) {
        for &i in &self.used {
            self.table[i as usize] = FREE_SLOT;
        }
        self.used.clear();
        self.arena.clear();
    }
}

impl Default for TopNames {
    fn default() -> Self {
        Self::new()
    }
}

impl TopNames {
    pub fn new() -> Self {
        Self {
            sketch: FrequentItemsSketch::new(1 << LG_MAX_MAP)
                .expect("map size is a power of two in the valid range"),
            hasher: RandomState::new(),
            pending: NamesPending::default(),
        }
    }

    #[inline]
    pub fn update_ref(&mut self, item: &str) {
        self.update_ref_by(item, 1);
    }

    /// Adds `weight` to a name.
    #[inline]
    pub fn update_ref_by(&mut self, item: &str, weight: u64) {
        let p = &mut self.pending;
        if p.table.is_empty() {
            p.table = vec![FREE_SLOT; NAMES_TABLE_LEN];
        }
        let hash = self.hasher.hash_one(item.as_bytes());
        let mask = NAMES_TABLE_LEN - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = &p.table[i];
            if slot.len == EMPTY {
                break;
            }
            if slot.hash == hash
                && p.arena.as_bytes()[slot.off as usize..][..slot.len as usize] == *item.as_bytes()
            {
                p.table[i].count += weight;
                return;
            }
            i = (i + 1) & mask;
        }
        if p.used.len() >= NAMES_PENDING_CAP || p.arena.len() + item.len() > EMPTY as usize {
            p.apply_to(&mut self.sketch);
            p.clear();
            i = hash as usize & mask;
        }
        p.table[i] = NameSlot {
            hash,
            count: weight,
            off: p.arena.len() as u32,
            len: item.len() as u32,
        };
        p.arena.push_str(item);
        p.used.push(i as u32);
    }

    fn flush(&mut self) {
        self.pending.apply_to(&mut self.sketch);
        self.pending.clear();
    }

    /// The sketch with everything buffered applied, without changing `self`.
    fn flushed(&self) -> FrequentItemsSketch<String> {
        let mut sketch = self.sketch.clone();
        self.pending.apply_to(&mut sketch);
        sketch
    }

    pub fn merge(&mut self, other: &TopNames) {
        self.flush();
        if other.pending.used.is_empty() {
            self.sketch.merge(&other.sketch);
        } else {
            self.sketch.merge(&other.flushed());
        }
    }

    /// The largest possible error of any reported count (0 while exact).
    pub fn maximum_error(&self) -> u64 {
        self.flushed().maximum_error()
    }

    /// As [`TopN::top`].
    pub fn top(&self, n: usize, min_count: u64) -> Vec<(String, u64)> {
        top_rows(&self.flushed(), n, min_count)
    }
}

fn top_rows<T: Eq + Hash + Clone + Ord>(
    sketch: &FrequentItemsSketch<T>,
    n: usize,
    min_count: u64,
) -> Vec<(T, u64)> {
    let mut rows: Vec<(T, u64)> = sketch
        .frequent_items(ErrorType::NoFalseNegatives)
        .into_iter()
        .filter(|row| row.estimate() >= min_count.max(1))
        .map(|row| (row.item().clone(), row.estimate()))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(n);
    rows
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
        assert!(err > 0, "200k distinct items cannot be exact");
        assert!(top[0].1 >= 40_000 && top[0].1 <= 40_000 + err);
    }

    #[test]
    fn merge_adds_counts_including_buffered_ones() {
        let (mut a, mut b) = (TopN::new(), TopN::new());
        a.update_ref_by("x", 3);
        b.update_ref_by("x", 4);
        b.update_ref("y");
        a.merge(&b);
        assert_eq!(
            a.top(10, 0),
            vec![("x".to_string(), 7), ("y".to_string(), 1)]
        );
        // Past the buffer's capacity the counts stay exact while the sketch is exact.
        let mut c: TopN<u32> = TopN::new();
        for round in 0..3 {
            for i in 0..(PENDING_CAP as u32 * 4) {
                c.update(i % 1000 + round);
            }
        }
        let total: u64 = c.top(5000, 0).iter().map(|(_, n)| n).sum();
        assert_eq!(total, 3 * PENDING_CAP as u64 * 4);
        assert_eq!(c.maximum_error(), 0);
    }

    #[test]
    fn names_match_the_generic_top_list() {
        // Exact while fewer than 6144 distinct names: the same rows as TopN<String>, well past
        // the pending buffer's capacity, with weights, and through a merge of buffered names.
        let (mut a, mut b) = (TopNames::new(), TopNames::new());
        let (mut ga, mut gb) = (TopN::<String>::new(), TopN::<String>::new());
        for i in 0..40_000u32 {
            let name = format!("h{:05}.example.com", (i * 7919) % 5000);
            let weight = u64::from(i % 3);
            if i % 2 == 0 {
                a.update_ref_by(&name, weight);
                ga.update_ref_by(name.as_str(), weight);
            } else {
                b.update_ref(&name);
                gb.update_ref(name.as_str());
            }
        }
        assert_eq!(a.top(50, 0), ga.top(50, 0));
        a.merge(&b);
        ga.merge(&gb);
        assert_eq!(a.top(6000, 0), ga.top(6000, 0));
        assert_eq!(a.top(6000, 9), ga.top(6000, 9));
        assert_eq!(a.maximum_error(), 0);
        assert_eq!(a.clone().top(3, 0), ga.top(3, 0));
    }

    #[test]
    fn names_heavy_hitters_survive_many_distinct_names() {
        let mut t = TopNames::new();
        for i in 0..200_000u32 {
            t.update_ref(&format!("n{i}"));
            if i % 10 == 0 {
                t.update_ref_by("heavy", 2);
            }
        }
        let top = t.top(1, 0);
        assert_eq!(top[0].0, "heavy");
        let err = t.maximum_error();
        assert!(err > 0, "200k distinct names cannot be exact");
        assert!(top[0].1 >= 40_000 && top[0].1 <= 40_000 + err);
    }
}
