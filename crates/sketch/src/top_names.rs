//! Heavy hitters among names (qnames), for the per-message path of the dns handler.
//!
//! The frequent-items sketch tracks a 64-bit hash of each name instead of the name: the sketch
//! then compares and stores integers, never allocates per item, and a purge frees nothing. A
//! side dictionary maps every hash the sketch tracks back to its name; names live in one arena.
//! The dictionary grows with new names and, when it reaches [`DICT_CAP`], drops every name the
//! sketch no longer tracks (at most 6144 stay), so it stays bounded whatever the traffic.
//!
//! Results are those of a sketch of the names themselves while it is exact (fewer than 6144
//! distinct names); past that the same guarantees hold (no false negatives, counts within
//! `maximum_error()`), only which small counters a purge removes may differ. Two names with
//! the same 64-bit hash would count as one: with a few million distinct names in a bucket the
//! chance of that is below 1e-6.
//!
//! The hash has fixed seeds, so that sketches built by different workers of one agent merge.
//! The binary form, with names in place of hashes, is in `wire.rs`.

use crate::frequent_hashes::FrequentHashes;
use crate::topn::keep_candidates;
use ahash::RandomState;

const LG_MAX_MAP: u8 = 13;
/// Distinct names a list counts exactly before the sketch takes over: the sketch's capacity
/// at its largest table (3/4 of 2^13), past which its next new item purges.
const EXACT_CAP: usize = 6144;
/// Names kept in the dictionary before the ones the sketch dropped are removed: well above the
/// 6144 the sketch tracks at most, so that a collection frees at least 10 000 names and its cost
/// (a scan of the table, re-inserting the survivors) is spread thin.
const DICT_CAP: usize = 16_384;
/// Slots of the dictionary's table at its largest: a power of two, at most half full at the
/// cap (short probes).
const DICT_MAX_SLOTS: usize = 32_768;
/// The first allocation: most top lists see few names.
const DICT_MIN_SLOTS: usize = 64;
/// A slot whose hash is this is free; the hash of a name is never 0 (see `name_hash`).
const FREE: u64 = 0;

fn hasher() -> RandomState {
    // Arbitrary fixed seeds (digits of pi): every TopNames hashes a name to the same value.
    RandomState::with_seeds(
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    )
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    off: u32,
    len: u32,
}

const FREE_SLOT: Slot = Slot {
    hash: FREE,
    off: 0,
    len: 0,
};

/// hash → name, open addressing with linear probing; names in one arena.
#[derive(Clone, Debug, Default)]
struct NameDict {
    slots: Vec<Slot>,
    /// Names as bytes: they are text (UTF-8) when given, and become strings again when reported.
    arena: Vec<u8>,
    len: usize,
    /// While the list counts exactly ([`TopNames`]'s `exact`), each slot's name's count, by
    /// slot (kept apart so that the table stays 16 bytes a slot, for its growth, collections
    /// and clones); empty after.
    counts: Vec<u64>,
    counting: bool,
}

impl NameDict {
    fn get(&self, hash: u64) -> Option<&[u8]> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.hash == FREE {
                return None;
            }
            if slot.hash == hash {
                let off = slot.off as usize;
                return Some(&self.arena[off..off + slot.len as usize]);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds a name unless its hash is there already.
    #[inline]
    fn insert(&mut self, hash: u64, name: &[u8]) {
        self.slot_of(hash, name, usize::MAX);
    }

    /// The slot of a name's hash, the name added if it is new and fewer than `cap` names are
    /// kept; `None` if it is new and `cap` are kept (nothing added). A slot's index holds
    /// until the next name is added.
    #[inline]
    fn slot_of(&mut self, hash: u64, name: &[u8], cap: usize) -> Option<usize> {
        if (self.len + 1) * 2 > self.slots.len() && self.slots.len() < DICT_MAX_SLOTS {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.hash == hash {
                return Some(i);
            }
            if slot.hash == FREE {
                break;
            }
            i = (i + 1) & mask;
        }
        if self.len >= cap {
            return None;
        }
        // The arena is bounded by DICT_CAP names of at most 255 bytes (DNS text names are
        // longer only when escaped: 4 bytes per byte, still far below u32::MAX).
        self.slots[i] = Slot {
            hash,
            off: self.arena.len() as u32,
            len: name.len() as u32,
        };
        self.arena.extend_from_slice(name);
        self.len += 1;
        Some(i)
    }

    /// A name's exact count (0 if the name is not kept).
    fn count(&self, hash: u64) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.hash == FREE {
                return 0;
            }
            if slot.hash == hash {
                return self.counts.get(i).copied().unwrap_or(0);
            }
            i = (i + 1) & mask;
        }
    }

    /// Twice the slots, the same arena (names and counts stay).
    #[cold]
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).clamp(DICT_MIN_SLOTS, DICT_MAX_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![FREE_SLOT; slots]);
        let old_counts = if self.counting {
            std::mem::replace(&mut self.counts, vec![0; slots])
        } else {
            Vec::new()
        };
        let mask = slots - 1;
        for (j, slot) in old.into_iter().enumerate().filter(|(_, s)| s.hash != FREE) {
            let mut i = slot.hash as usize & mask;
            while self.slots[i].hash != FREE {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
            if let Some(&count) = old_counts.get(j) {
                self.counts[i] = count;
            }
        }
    }

    /// Keeps only the names of `hashes` (those it has), in a table of the same size and a fresh
    /// arena (counts are not kept: the list no longer counts exactly when it collects).
    fn retain_hashes(&mut self, hashes: impl IntoIterator<Item = u64>) {
        debug_assert!(!self.counting, "a list that counts exactly never collects");
        let old = std::mem::replace(
            self,
            NameDict {
                slots: vec![FREE_SLOT; self.slots.len()],
                arena: Vec::with_capacity(self.arena.len()),
                len: 0,
                counts: Vec::new(),
                counting: false,
            },
        );
        for hash in hashes {
            if let Some(name) = old.get(hash) {
                self.insert(hash, name);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.slots.iter().filter(|s| s.hash != FREE).map(|s| {
            let off = s.off as usize;
            (s.hash, &self.arena[off..off + s.len as usize])
        })
    }
}

/// The most frequent names, as [`crate::TopN`] gives them, at a fraction of the cost per update.
///
/// While a list has seen no more distinct names than the sketch holds without a purge
/// ([`EXACT_CAP`]), it counts them exactly in its dictionary's slots and leaves the sketch
/// empty: an update is then a probe of the dictionary (which finds or adds the name anyway)
/// instead of a sketch update (a second hash, MurmurHash3 of the 64-bit one, a probe, the
/// resize check). When a new name would go past that, [`TopNames::spill`] hands the sketch the
/// counts in the order the names first came. That leaves the sketch exactly as the updates one
/// by one would have: until its first purge the sketch's table places a name when it first
/// comes (linear probing from its hash), a resize re-inserts in slot order, and values,
/// total weight and placement do not depend on how a name's weight was split; its first purge
/// comes with the 6145th distinct name, which arrives after the spill. Reading a list that
/// is still exact (its rows, its binary form, a merge) builds that sketch, or its rows, from the
/// counts. On the benchmark slice (300 k packets, one bucket) 70 k of the 385 k sketch updates
/// become slot additions (qname2 and NODATA stay exact; qname3 and NXDOMAIN spill early):
/// 753.9 M → 751.7 M instructions (see docs/performance.md, "One engine").
#[derive(Clone, Debug)]
pub struct TopNames {
    sketch: FrequentHashes,
    names: NameDict,
    hasher: RandomState,
    /// The last name's hash and its count not yet in the sketch (or, while exact, in its
    /// slot's count): runs of one name (a zone that dominates qname2) cost a comparison each
    /// instead of a sketch update.
    run: (u64, u64),
    /// The run's slot in the dictionary while exact (slots stay until a name is added, and a
    /// run ends before one is).
    run_slot: usize,
    /// Counting exactly in the dictionary; the sketch is empty.
    exact: bool,
    /// While exact, the names' hashes in the order they first came (the sketch's order).
    order: Vec<u64>,
}

impl Default for TopNames {
    fn default() -> Self {
        Self::new()
    }
}

impl TopNames {
    pub fn new() -> Self {
        Self {
            sketch: FrequentHashes::new(LG_MAX_MAP),
            names: NameDict {
                counting: true,
                ..NameDict::default()
            },
            hasher: hasher(),
            run: (FREE, 0),
            run_slot: 0,
            exact: true,
            order: Vec::new(),
        }
    }

    #[inline]
    fn name_hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name).max(1)
    }

    /// Counts a name, given as text or as the bytes of a text (UTF-8).
    #[inline]
    pub fn update_ref<N: AsRef<[u8]> + ?Sized>(&mut self, name: &N) {
        self.update_ref_by(name, 1);
    }

    /// Adds `weight` to a name, given as text or as the bytes of a text (UTF-8).
    #[inline]
    pub fn update_ref_by<N: AsRef<[u8]> + ?Sized>(&mut self, name: &N, weight: u64) {
        if weight == 0 {
            return;
        }
        let name = name.as_ref();
        let hash = self.name_hash(name);
        if hash == self.run.0 {
            self.run.1 += weight;
            return;
        }
        self.end_run();
        if self.exact {
            let before = self.names.len;
            if let Some(slot) = self.names.slot_of(hash, name, EXACT_CAP) {
                if self.names.len > before {
                    self.order.push(hash);
                }
                self.run = (hash, weight);
                self.run_slot = slot;
                return;
            }
            self.spill();
        }
        self.run = (hash, weight);
        if self.names.len >= DICT_CAP {
            self.collect();
        }
        self.names.insert(hash, name);
    }

    /// Moves the current run's count into the sketch (while exact, into its slot).
    fn end_run(&mut self) {
        let (hash, count) = std::mem::replace(&mut self.run, (FREE, 0));
        if count > 0 {
            if self.exact {
                self.names.counts[self.run_slot] += count;
            } else {
                self.sketch.update_with_count(hash, count);
            }
        }
    }

    /// A name's exact count, the run under way included (while exact).
    fn exact_count(&self, hash: u64) -> u64 {
        let run = if hash == self.run.0 { self.run.1 } else { 0 };
        self.names.count(hash) + run
    }

    /// The sketch the exact counts stand for: their names in the order they first came.
    fn exact_sketch(&self) -> FrequentHashes {
        let mut sketch = FrequentHashes::new(LG_MAX_MAP);
        for &hash in &self.order {
            sketch.update_with_count(hash, self.exact_count(hash));
        }
        sketch
    }

    /// Ends exact counting: the sketch takes the counts (see the type's notes).
    #[cold]
    fn spill(&mut self) {
        if !self.exact {
            return;
        }
        self.end_run();
        self.sketch = self.exact_sketch();
        self.exact = false;
        self.order = Vec::new();
        self.names.counting = false;
        self.names.counts = Vec::new();
    }

    /// The sketch with the current run applied.
    fn sketch_now(&self) -> std::borrow::Cow<'_, FrequentHashes> {
        if self.exact {
            return std::borrow::Cow::Owned(self.exact_sketch());
        }
        if self.run.1 == 0 {
            return std::borrow::Cow::Borrowed(&self.sketch);
        }
        let mut sketch = self.sketch.clone();
        sketch.update_with_count(self.run.0, self.run.1);
        std::borrow::Cow::Owned(sketch)
    }

    /// Drops the names the sketch no longer tracks (the current run's stays).
    /// The sketch's items (at most 6144) are looked up in the dictionary, rather than each of
    /// its 16 384 names in the sketch: 12.7 M → 6.1 M instructions for the slice's 5 collections
    /// (732.6 M → 726.0 M in all). Which names stay is the same set as before.
    fn collect(&mut self) {
        let run = (self.run.0 != FREE).then_some(self.run.0);
        let tracked = self.sketch.rows().map(|(hash, _)| hash);
        self.names.retain_hashes(tracked.chain(run));
    }

    pub fn merge(&mut self, other: &TopNames) {
        self.spill();
        self.end_run();
        self.sketch.merge(&other.sketch_now());
        for (hash, name) in other.names.iter() {
            if self.sketch.lower_bound(hash) > 0 {
                if self.names.len >= DICT_CAP {
                    self.collect();
                }
                self.names.insert(hash, name);
            }
        }
    }

    /// The largest possible error of any reported count (0 while exact).
    pub fn maximum_error(&self) -> u64 {
        if self.exact {
            return 0;
        }
        self.sketch_now().maximum_error()
    }

    /// Names kept for the hashes (bounded by the dictionary's cap).
    pub fn dictionary_len(&self) -> usize {
        self.names.len
    }

    /// As [`crate::TopN::top`].
    pub fn top(&self, n: usize, min_count: u64) -> Vec<(String, u64)> {
        // Byte order is the order of the texts (UTF-8 sorts as its code points).
        let mut rows: Vec<(&[u8], u64)> = if self.exact {
            // The sketch's rows while exact (no offset): every name counted, at its count.
            self.order
                .iter()
                .map(|&hash| (hash, self.exact_count(hash)))
                .filter(|&(_, count)| count >= min_count.max(1))
                .filter_map(|(hash, count)| Some((self.names.get(hash)?, count)))
                .collect()
        } else {
            self.sketch_now()
                .rows()
                .filter(|&(_, count)| count >= min_count.max(1))
                .filter_map(|(hash, count)| Some((self.names.get(hash)?, count)))
                .collect()
        };
        keep_candidates(&mut rows, n);
        // Ties in name order.
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        rows.truncate(n);
        rows.into_iter()
            .map(|(name, count)| (String::from_utf8_lossy(name).into_owned(), count))
            .collect()
    }
}

mod wire;

#[cfg(test)]
mod tests;
