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
//! packet instead of a sketch update. A run of one item (A queries, NOERROR replies) costs a
//! comparison per update: the run's weight joins the item's pending count when another item
//! comes, so `pending` holds the same items at the same times as without it.

use crate::codec::{Decode, DecodeError, Encode, Reader, put_bytes};
use crate::frequencies_wire;
use ahash::RandomState;
use datasketches::codec::{SketchBytes, SketchSlice};
use datasketches::frequencies::FrequentItemValue;
use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

const LG_MAX_MAP: u32 = 13;
/// Distinct items buffered before a flush into the sketch.
const PENDING_CAP: usize = 512;

#[derive(Clone, Debug)]
pub struct TopN<T: Eq + Hash> {
    sketch: FrequentItemsSketch<Key<T>>,
    pending: HashMap<T, u64, RandomState>,
    /// The last item updated (it is in `pending`) and the weight added to it since.
    run: Option<(T, u64)>,
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
            run: None,
        }
    }

    #[inline]
    pub fn update(&mut self, item: T) {
        self.update_by(item, 1);
    }

    #[inline]
    pub fn update_by(&mut self, item: T, weight: u64) {
        if let Some((last, count)) = &mut self.run
            && *last == item
        {
            *count += weight;
            return;
        }
        self.start_run(item, weight);
    }

    /// An item other than the run's: the run ends and this item's begins.
    #[inline(never)]
    fn start_run(&mut self, item: T, weight: u64) {
        self.end_run();
        if let Some(count) = self.pending.get_mut(&item) {
            *count += weight;
        } else {
            self.make_room();
            self.pending.insert(item.clone(), weight);
        }
        self.run = Some((item, 0));
    }

    /// Moves the run's weight into its item's pending count.
    #[inline]
    fn end_run(&mut self) {
        if let Some((item, weight)) = self.run.take()
            && weight > 0
            && let Some(count) = self.pending.get_mut(&item)
        {
            *count += weight;
        }
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
        // No run here: starting one would copy the item every time.
        self.end_run();
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

    fn flush_into(sketch: &mut FrequentItemsSketch<Key<T>>, items: impl Iterator<Item = (T, u64)>) {
        for (item, count) in items {
            sketch.update_with_count(Key(item), count);
        }
    }

    /// The sketch with everything buffered applied, without changing `self`.
    fn flushed(&self) -> FrequentItemsSketch<Key<T>> {
        let mut sketch = self.sketch.clone();
        let run = |item: &T| match &self.run {
            Some((last, weight)) if last == item => *weight,
            _ => 0,
        };
        Self::flush_into(
            &mut sketch,
            self.pending.iter().map(|(k, c)| (k.clone(), *c + run(k))),
        );
        sketch
    }

    pub fn merge(&mut self, other: &TopN<T>) {
        self.end_run();
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
        let mut rows: Vec<(T, u64)> = frequent_rows(&self.flushed(), min_count)
            .into_iter()
            .map(|(key, count)| (key.0, count))
            .collect();
        keep_candidates(&mut rows, n);
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(n);
        rows
    }
}

/// An item as the frequent-items sketch holds it: a type of ours, so that the crate's own
/// serialization (which needs its [`FrequentItemValue`] on the item type) applies to any item
/// with an [`Encode`] form. Hashes and compares exactly as the item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key<T>(T);

impl<T: Encode + Decode + Eq + Hash> FrequentItemValue for Key<T> {
    fn serialize_size(item: &Self) -> usize {
        let mut out = Vec::new();
        item.0.encode(&mut out);
        out.len()
    }

    fn serialize_value(&self, bytes: &mut SketchBytes) {
        let mut out = Vec::new();
        self.0.encode(&mut out);
        bytes.write(&out);
    }

    fn deserialize_value(cursor: &mut SketchSlice<'_>) -> Result<Self, datasketches::error::Error> {
        let mut r = Reader::new(cursor.remaining());
        let before = r.remaining();
        let item = T::decode(&mut r).map_err(|e| {
            datasketches::error::Error::new(
                datasketches::error::ErrorKind::InvalidData,
                e.to_string(),
            )
        })?;
        cursor.advance((before - r.remaining()) as u64);
        Ok(Key(item))
    }
}

/// The sketch with the buffered counts applied, as the crate serializes it (every item's
/// count, the offset, the stream weight and the map's size), made compact
/// ([`crate::frequencies_wire`]); the items as their [`Encode`] form. The buffer itself is not
/// sent: rendering and merging read the flushed sketch either way.
impl<T: Eq + Hash + Clone + Ord + Encode + Decode> Encode for TopN<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        let sketch = if self.pending.is_empty() {
            std::borrow::Cow::Borrowed(&self.sketch)
        } else {
            std::borrow::Cow::Owned(self.flushed())
        };
        let image = sketch.serialize();
        if let Some(image) = frequencies_wire::put_image(out, &image) {
            put_bytes(out, image.items);
        }
    }
}

impl<T: Eq + Hash + Clone + Ord + Encode + Decode> Decode for TopN<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut t = TopN::new();
        let Some(header) = frequencies_wire::read_header(r, LG_MAX_MAP as u8)? else {
            return Ok(t);
        };
        let items = r.bytes("frequent items")?;
        let image = frequencies_wire::rebuild(&header, items, LG_MAX_MAP as u8);
        t.sketch =
            FrequentItemsSketch::deserialize(&image).map_err(|_| DecodeError::OutOfRange {
                what: "frequent items",
            })?;
        Ok(t)
    }
}

/// The sketch's items with an estimate of at least `min_count` (and 1), in no order.
pub(crate) fn frequent_rows<T: Eq + Hash + Clone>(
    sketch: &FrequentItemsSketch<T>,
    min_count: u64,
) -> Vec<(T, u64)> {
    sketch
        .frequent_items(ErrorType::NoFalseNegatives)
        .into_iter()
        .filter(|row| row.estimate() >= min_count.max(1))
        .map(|row| (row.item().clone(), row.estimate()))
        .collect()
}

/// Drops the rows that cannot be among the `n` largest counts, keeping every row tied with the
/// n-th so that the caller's tie order still decides. A top-10 of 16 k tracked names then sorts
/// a handful of rows instead of all of them (this runs on every API answer).
pub(crate) fn keep_candidates<T>(rows: &mut Vec<(T, u64)>, n: usize) {
    if rows.len() <= n {
        return;
    }
    if n == 0 {
        rows.clear();
        return;
    }
    let mut counts: Vec<u64> = rows.iter().map(|r| r.1).collect();
    let (_, nth, _) = counts.select_nth_unstable_by(n - 1, |a, b| b.cmp(a));
    let threshold = *nth;
    rows.retain(|r| r.1 >= threshold);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_every_row_tied_with_the_nth() {
        let mut rows: Vec<(u32, u64)> = vec![(1, 5), (2, 9), (3, 5), (4, 1), (5, 7), (6, 5)];
        keep_candidates(&mut rows, 3);
        rows.sort();
        assert_eq!(rows, vec![(1, 5), (2, 9), (3, 5), (5, 7), (6, 5)]);
        let mut few = vec![(1u32, 1u64)];
        keep_candidates(&mut few, 5);
        assert_eq!(few, vec![(1, 1)]);
        keep_candidates(&mut few, 0);
        assert!(few.is_empty());
    }

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
    fn runs_count_as_single_updates() {
        let (mut runs, mut single) = (TopN::new(), TopN::new());
        for (i, item) in [1u16, 1, 1, 2, 1, 2, 2, 3, 3, 3].into_iter().enumerate() {
            runs.update_by(item, 1 + i as u64 % 2);
            single.update_by(item, 1 + i as u64 % 2);
            single.end_run();
            // Reads in the middle of a run see it.
            assert_eq!(runs.top(3, 0), single.top(3, 0));
        }
        runs.update_ref(&4);
        let mut merged = TopN::new();
        merged.update(3u16);
        merged.merge(&runs);
        merged.update(3);
        merged.merge(&runs);
        // 1, 2 and 3 weigh 5 each in `runs`.
        assert_eq!(merged.top(2, 0), vec![(3, 2 + 2 * 5), (1, 2 * 5)]);
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
    fn travels_buffered_exact_and_purged() {
        use crate::codec::round_trip;
        let mut t: TopN<u32> = TopN::new();
        for i in 0..300u32 {
            t.update(i % 17);
        }
        // Counts still buffered (and a run under way) travel flushed.
        let d = round_trip(&t);
        assert_eq!(d.top(100, 0), t.top(100, 0));
        let mut big: TopN<u128> = TopN::new();
        for i in 0..100_000u128 {
            big.update(i % 20_000);
            if i % 7 == 0 {
                big.update(u128::MAX);
            }
        }
        assert!(big.maximum_error() > 0);
        let dbig = round_trip(&big);
        assert_eq!(dbig.maximum_error(), big.maximum_error());
        assert_eq!(dbig.top(50, 0), big.top(50, 0));
        let mut names: TopN<String> = TopN::new();
        names.update_ref("a.example");
        names.update_ref_by("b.example", 3);
        assert_eq!(round_trip(&names).top(5, 0), names.top(5, 0));
    }

    #[test]
    fn maps_larger_than_ours_are_refused() {
        let mut t: TopN<u32> = TopN::new();
        t.update(5);
        let mut bytes = Vec::new();
        t.encode(&mut bytes);
        // Stream weight 1 (one byte), then lg_cur_map_size: past our maximum.
        assert_eq!(bytes[0], 1);
        bytes[1] = LG_MAX_MAP as u8 + 1;
        assert_eq!(
            TopN::<u32>::decode(&mut Reader::new(&bytes)).err(),
            Some(DecodeError::OutOfRange {
                what: "frequent items"
            })
        );
        // Counts adding up to more than the stream weight: the crate's own check.
        let mut t: TopN<u32> = TopN::new();
        t.update(5);
        t.update(6);
        let mut bytes = Vec::new();
        t.encode(&mut bytes);
        bytes[0] = 1;
        assert!(TopN::<u32>::decode(&mut Reader::new(&bytes)).is_err());
    }
}
