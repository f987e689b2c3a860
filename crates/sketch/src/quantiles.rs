//! Quantiles of a stream of non-negative integers (sizes, per-second rates, latencies).
//!
//! Exact where that is cheap, Apache DataSketches' KLL sketch where it is not:
//! - values below [`SMALL`] (packet sizes, sub-2 ms DNS transactions in µs, most per-second
//!   rates) are counted in a dense array: one increment per value, exact;
//! - larger values are counted exactly per distinct value until [`EXACT_CAP`] distinct values,
//!   then all of them go to a KLL sketch (`K = 200`, normalized rank error about 1.65 % at 99 %
//!   confidence, a few kilobytes), which is what pktvisor uses for every quantile.
//!
//! Every small value is below every large one, so a rank splits cleanly between the two parts:
//! the answer is exact while the stream stays in the exact parts, and carries KLL's error only
//! within the large values otherwise. Memory is bounded: 16 KiB for the array (allocated on the
//! first small value), at most `EXACT_CAP` map entries, and the sketch.

use crate::codec::{
    Decode, DecodeError, Encode, Reader, put_bytes, put_counts, put_u8, put_var, read_counts,
};
use ahash::RandomState;
use datasketches::codec::{SketchBytes, SketchSlice};
use datasketches::common::SearchCriteria;
use datasketches::kll::{KllSketch, KllValue};
use std::collections::HashMap;

const K: u16 = 200;
/// Values below this are counted in the dense array.
const SMALL: u64 = 2048;
/// Distinct large values counted exactly before the sketch takes over.
const EXACT_CAP: usize = 4096;
/// Values buffered before they are fed to the sketch, sorted (see [`Large::update`]).
const BATCH: usize = 2048;

#[derive(Clone, Debug)]
enum Large {
    Exact(HashMap<u64, u64, RandomState>),
    Sketch {
        sketch: Box<KllSketch<Sample>>,
        /// Values not yet in the sketch.
        batch: Vec<u64>,
    },
}

impl Large {
    /// Values are fed to the sketch in sorted batches: KLL sorts its level 0 at every
    /// compaction, which is nearly free on sorted runs. Its error guarantee holds for any
    /// order of the stream.
    #[inline]
    fn update(&mut self, value: u64) {
        match self {
            Large::Exact(counts) => {
                *counts.entry(value).or_insert(0) += 1;
                if counts.len() > EXACT_CAP {
                    self.switch_to_sketch();
                }
            }
            Large::Sketch { sketch, batch } => {
                if batch.len() >= BATCH {
                    feed(sketch, batch);
                }
                batch.push(value);
            }
        }
    }

    /// Moves the exact counts into a sketch, in value order. Each value is fed once in its
    /// life, so this costs as much as having fed them as they came.
    fn switch_to_sketch(&mut self) {
        let Large::Exact(counts) = self else {
            return;
        };
        let mut values: Vec<(u64, u64)> = counts.drain().collect();
        values.sort_unstable();
        let mut sketch = Box::new(KllSketch::new(K).expect("K is a valid KLL parameter"));
        for (value, count) in values {
            for _ in 0..count {
                sketch.update(Sample(value));
            }
        }
        *self = Large::Sketch {
            sketch,
            batch: Vec::new(),
        };
    }

    fn count(&self) -> u64 {
        match self {
            Large::Exact(counts) => counts.values().sum(),
            Large::Sketch { sketch, batch } => sketch.n() + batch.len() as u64,
        }
    }

    /// The sketch with the buffered values applied (None in exact mode).
    fn flushed(&self) -> Option<std::borrow::Cow<'_, KllSketch<Sample>>> {
        let Large::Sketch { sketch, batch } = self else {
            return None;
        };
        if batch.is_empty() {
            return Some(std::borrow::Cow::Borrowed(sketch.as_ref()));
        }
        let mut sketch = sketch.as_ref().clone();
        feed(&mut sketch, &mut batch.clone());
        Some(std::borrow::Cow::Owned(sketch))
    }

    fn merge(&mut self, other: &Large) {
        match (&mut *self, other) {
            (Large::Exact(mine), Large::Exact(theirs)) => {
                for (value, count) in theirs {
                    *mine.entry(*value).or_insert(0) += count;
                }
                if mine.len() > EXACT_CAP {
                    self.switch_to_sketch();
                }
            }
            (Large::Sketch { sketch, batch }, Large::Exact(theirs)) => {
                let mut values: Vec<(u64, u64)> = theirs.iter().map(|(v, c)| (*v, *c)).collect();
                values.sort_unstable();
                feed(sketch, batch);
                for (value, count) in values {
                    for _ in 0..count {
                        sketch.update(Sample(value));
                    }
                }
            }
            (Large::Exact(_), Large::Sketch { .. }) => {
                self.switch_to_sketch();
                self.merge(other);
            }
            (Large::Sketch { sketch, batch }, Large::Sketch { .. }) => {
                feed(sketch, batch);
                if let Some(theirs) = other.flushed() {
                    sketch
                        .merge(&theirs)
                        .expect("KLL sketches of one item type always merge");
                }
            }
        }
    }

    /// The value at 1-based `position` among the large values (nearest rank).
    fn at_position(&self, position: u64) -> Option<u64> {
        match self {
            Large::Exact(counts) => {
                let mut values: Vec<(u64, u64)> = counts.iter().map(|(v, c)| (*v, *c)).collect();
                values.sort_unstable();
                let mut seen = 0;
                values.into_iter().find_map(|(value, count)| {
                    seen += count;
                    (seen >= position).then_some(value)
                })
            }
            Large::Sketch { .. } => {
                let n = self.count();
                let sketch = self.flushed()?;
                sketch
                    .quantile(
                        (position as f64 / n as f64).clamp(0.0, 1.0),
                        SearchCriteria::Inclusive,
                    )
                    .ok()
                    .flatten()
                    .map(|s| s.0)
            }
        }
    }

    /// How many large values are at most `value` (estimated in sketch mode).
    fn count_at_most(&self, value: u64) -> u64 {
        match self {
            Large::Exact(counts) => counts
                .iter()
                .filter(|(v, _)| **v <= value)
                .map(|(_, c)| c)
                .sum(),
            Large::Sketch { .. } => {
                let n = self.count();
                self.flushed()
                    .and_then(|s| s.rank(&Sample(value), SearchCriteria::Inclusive))
                    .map_or(0, |r| (r * n as f64).round() as u64)
            }
        }
    }
}

/// A value in the KLL sketch. A type of ours because the crate serializes only the item types
/// it implements [`KllValue`] for (not `u64`), and a sketch that travels must serialize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample(u64);

impl KllValue for Sample {
    const MIN_SERIALIZED_SIZE: usize = 8;

    fn serialized_size(_value: &Self) -> usize {
        8
    }

    fn serialize(value: &Self, bytes: &mut SketchBytes) {
        bytes.write_u64_le(value.0);
    }

    fn deserialize(input: &mut SketchSlice<'_>) -> Result<Self, datasketches::error::Error> {
        input.read_u64_le().map(Sample).map_err(|e| {
            datasketches::error::Error::new(
                datasketches::error::ErrorKind::InvalidData,
                format!("KLL item: {e}"),
            )
        })
    }
}

fn feed(sketch: &mut KllSketch<Sample>, batch: &mut Vec<u64>) {
    batch.sort_unstable();
    for v in batch.drain(..) {
        sketch.update(Sample(v));
    }
}

#[derive(Clone, Debug)]
pub struct Quantiles {
    /// Counts of the values below [`SMALL`], indexed by value; empty until the first one.
    small: Vec<u64>,
    small_count: u64,
    large: Large,
}

impl Default for Quantiles {
    fn default() -> Self {
        Self::new()
    }
}

impl Quantiles {
    pub fn new() -> Self {
        Self {
            small: Vec::new(),
            small_count: 0,
            large: Large::Exact(HashMap::with_hasher(RandomState::new())),
        }
    }

    #[inline]
    pub fn update(&mut self, value: u64) {
        if value < SMALL {
            if self.small.is_empty() {
                self.small = vec![0; SMALL as usize];
            }
            self.small[value as usize] += 1;
            self.small_count += 1;
        } else {
            self.large.update(value);
        }
    }

    pub fn merge(&mut self, other: &Quantiles) {
        if !other.small.is_empty() {
            if self.small.is_empty() {
                self.small = vec![0; SMALL as usize];
            }
            for (mine, theirs) in self.small.iter_mut().zip(&other.small) {
                *mine += theirs;
            }
            self.small_count += other.small_count;
        }
        self.large.merge(&other.large);
    }

    /// Number of values seen.
    pub fn count(&self) -> u64 {
        self.small_count + self.large.count()
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Whether every answer is exact (no value went to the sketch).
    pub fn is_exact(&self) -> bool {
        matches!(self.large, Large::Exact(_))
    }

    /// The value at 1-based `position` of the sorted stream.
    fn at_position(&self, position: u64) -> Option<u64> {
        if position <= self.small_count {
            let mut seen = 0;
            return self
                .small
                .iter()
                .position(|c| {
                    seen += c;
                    seen >= position
                })
                .map(|v| v as u64);
        }
        self.large.at_position(position - self.small_count)
    }

    /// The smallest value whose inclusive rank reaches `rank` (the nearest-rank definition, as
    /// DataSketches' C++ `get_quantile` used by pktvisor), or None when empty.
    pub fn quantile(&self, rank: f64) -> Option<u64> {
        self.quantile_with_zeros(rank, 0)
    }

    /// Quantile of this stream extended by `zeros` extra zero values, without storing them:
    /// idle seconds inside a long capture would otherwise cost one update each.
    pub fn quantile_with_zeros(&self, rank: f64, zeros: u64) -> Option<u64> {
        let n = self.count();
        let total = n + zeros;
        if total == 0 {
            return None;
        }
        let position = ((rank.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        if position <= zeros {
            return Some(0);
        }
        self.at_position(position - zeros)
    }

    /// How many values are at most `value` (exact unless the sketch holds large values).
    pub fn count_at_most(&self, value: u64) -> u64 {
        let small: u64 = self
            .small
            .iter()
            .take(value.saturating_add(1).min(SMALL) as usize)
            .sum();
        if value < SMALL {
            return small;
        }
        small + self.large.count_at_most(value)
    }

    /// The largest value seen (exact in every mode), or None when empty.
    pub fn max(&self) -> Option<u64> {
        let large = match &self.large {
            Large::Exact(counts) => counts.keys().max().copied(),
            Large::Sketch { .. } => self.large.flushed().and_then(|s| s.max_item().map(|m| m.0)),
        };
        large.or_else(|| self.small.iter().rposition(|c| *c > 0).map(|v| v as u64))
    }
}

/// The small table's non-zero counts (plus whether it exists: an empty table is not
/// allocated), then the large values: exact counts, or the KLL sketch in the crate's own
/// serialized form (which restores its levels exactly) and the values still batched (not
/// flushed here: feeding the sketch draws random bits, so it is left to the reader, as it
/// would have been to the writer).
impl Encode for Quantiles {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u8(out, u8::from(!self.small.is_empty()));
        let small: Vec<(u64, u64)> = (0u64..)
            .zip(self.small.iter().copied())
            .filter(|(_, c)| *c > 0)
            .collect();
        put_counts(out, &small);
        match &self.large {
            Large::Exact(counts) => {
                put_u8(out, 0);
                let mut pairs: Vec<(u64, u64)> = counts.iter().map(|(v, c)| (*v, *c)).collect();
                pairs.sort_unstable();
                put_counts(out, &pairs);
            }
            Large::Sketch { sketch, batch } => {
                put_u8(out, 1);
                put_bytes(out, &sketch.serialize());
                put_var(out, batch.len() as u64);
                for v in batch {
                    put_var(out, *v);
                }
            }
        }
    }
}

fn out_of_range(what: &'static str) -> DecodeError {
    DecodeError::OutOfRange { what }
}

impl Decode for Quantiles {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut q = Quantiles::new();
        let allocated = r.u8("small table flag")?;
        if allocated > 1 {
            return Err(DecodeError::BadTag {
                what: "small table flag",
                tag: u64::from(allocated),
            });
        }
        let small = read_counts(r, "small values")?;
        if allocated == 1 {
            q.small = vec![0; SMALL as usize];
        } else if !small.is_empty() {
            return Err(out_of_range("small values"));
        }
        for (value, count) in small {
            let slot = q
                .small
                .get_mut(value as usize)
                .ok_or(out_of_range("small values"))?;
            *slot = count;
            q.small_count = q
                .small_count
                .checked_add(count)
                .ok_or(out_of_range("small values"))?;
        }
        match r.u8("large values tag")? {
            0 => {
                let pairs = read_counts(r, "large values")?;
                if pairs.len() > EXACT_CAP || pairs.first().is_some_and(|(v, _)| *v < SMALL) {
                    return Err(out_of_range("large values"));
                }
                let Large::Exact(counts) = &mut q.large else {
                    unreachable!("a new Quantiles starts exact");
                };
                counts.extend(pairs);
            }
            1 => {
                let image = r.bytes("KLL sketch")?;
                let sketch = KllSketch::<Sample>::deserialize(image)
                    .map_err(|_| out_of_range("KLL sketch"))?;
                // Sketches of another K would not merge with ours.
                if sketch.k() != K {
                    return Err(out_of_range("KLL sketch"));
                }
                let n = r.count(1, "KLL batch")?;
                if n > BATCH {
                    return Err(out_of_range("KLL batch"));
                }
                let batch = (0..n)
                    .map(|_| r.var("KLL batch"))
                    .collect::<Result<Vec<u64>, _>>()?;
                q.large = Large::Sketch {
                    sketch: Box::new(sketch),
                    batch,
                };
            }
            tag => {
                return Err(DecodeError::BadTag {
                    what: "large values",
                    tag: u64::from(tag),
                });
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank quantile of a sorted slice: the reference definition.
    fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
        let pos = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[pos - 1]
    }

    fn check_exact(values: &[u64]) {
        let mut q = Quantiles::new();
        values.iter().for_each(|v| q.update(*v));
        let mut sorted = values.to_vec();
        sorted.sort();
        assert!(q.is_exact());
        for rank in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
            assert_eq!(
                q.quantile(rank),
                Some(nearest_rank(&sorted, rank)),
                "rank {rank}"
            );
        }
        for probe in [0, 1, 100, 2047, 2048, 5000, 1 << 40] {
            let expected = sorted.iter().filter(|v| **v <= probe).count() as u64;
            assert_eq!(q.count_at_most(probe), expected, "at most {probe}");
        }
        assert_eq!(q.max(), sorted.last().copied());
    }

    #[test]
    fn exact_for_small_values_and_few_distinct_large_ones() {
        check_exact(&(0..150).map(|i| (i * 37) % 101).collect::<Vec<_>>());
        // Sizes of real traffic: many repeats, both sides of the array's bound.
        check_exact(
            &(0..100_000u64)
                .map(|i| [60, 1514, 74, 9000, 2048, 65535][(i % 6) as usize] + i % 3)
                .collect::<Vec<_>>(),
        );
        // Latencies in µs: up to 4096 distinct values above 2 ms stay exact.
        check_exact(
            &(0..50_000u64)
                .map(|i| (i * 7919) % 6000)
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn zeros_shift_the_ranks() {
        let mut q = Quantiles::new();
        for v in [5, 6, 7, 8] {
            q.update(v);
        }
        // combined stream: 0 0 0 0 0 0 5 6 7 8
        let mut combined = vec![0u64; 6];
        combined.extend([5, 6, 7, 8]);
        for rank in [0.5, 0.6, 0.7, 0.9, 0.99] {
            assert_eq!(
                q.quantile_with_zeros(rank, 6),
                Some(nearest_rank(&combined, rank))
            );
        }
        assert_eq!(Quantiles::new().quantile_with_zeros(0.5, 0), None);
        assert_eq!(Quantiles::new().quantile_with_zeros(0.5, 3), Some(0));
    }

    #[test]
    fn rank_error_is_bounded_on_long_streams() {
        let mut q = Quantiles::new();
        let n = 200_000u64;
        for i in 0..n {
            q.update((i * 7919) % n);
        }
        assert!(!q.is_exact());
        for rank in [0.005, 0.5, 0.9, 0.99] {
            let got = q.quantile(rank).unwrap() as f64 / n as f64;
            assert!((got - rank).abs() < 0.02, "rank {rank} got {got}");
        }
        let below = q.count_at_most(n / 2) as f64 / n as f64;
        assert!((below - 0.5).abs() < 0.02, "{below}");
        assert_eq!(q.max(), Some(n - 1));
    }

    #[test]
    fn merge_combines_streams_in_every_mode() {
        let (mut a, mut b) = (Quantiles::new(), Quantiles::new());
        (0..50).for_each(|v| a.update(v));
        (50..100).for_each(|v| b.update(v));
        a.merge(&b);
        assert_eq!(a.count(), 100);
        assert_eq!(a.quantile(0.5), Some(49));

        // exact + exact past the cap, sketch + exact, exact + sketch, sketch + sketch
        let make = |range: std::ops::Range<u64>| {
            let mut q = Quantiles::new();
            range.for_each(|v| q.update(v * 3));
            q
        };
        for (x, y) in [
            (0..3000, 3000..6000),
            (0..20_000, 20_000..21_000),
            (0..1000, 1000..20_000),
            (0..20_000, 20_000..40_000),
        ] {
            let total = y.end;
            let (mut p, q) = (make(x), make(y));
            p.merge(&q);
            assert_eq!(p.count(), total);
            let median = p.quantile(0.5).unwrap() as f64 / (3 * total) as f64;
            assert!((median - 0.5).abs() < 0.02, "{median}");
            assert_eq!(p.max(), Some(3 * (total - 1)));
        }
    }

    #[test]
    fn travels_small_exact_and_sketched() {
        use crate::codec::round_trip;
        let mut q = Quantiles::new();
        assert!(round_trip(&q).is_empty());
        for v in 0..3000u64 {
            q.update(v % 2500);
        }
        let d = round_trip(&q);
        assert!(d.is_exact());
        assert_eq!(d.count(), q.count());
        for rank in [0.5, 0.9, 0.99] {
            assert_eq!(d.quantile(rank), q.quantile(rank));
        }
        // Past the exact cap: the KLL sketch and its batch travel as they are (the re-encoding
        // check in round_trip compares the sketch's own image).
        for v in 0..20_000u64 {
            q.update(SMALL + v * 3);
        }
        assert!(!q.is_exact());
        let d = round_trip(&q);
        assert!(!d.is_exact());
        assert_eq!(d.count(), q.count());
    }
}
