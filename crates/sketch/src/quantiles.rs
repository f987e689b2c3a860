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
mod tests;
