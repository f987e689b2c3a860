//! The frequent-items sketch of the `datasketches` crate (`FrequentItemsSketch<u64>`, its
//! `ReversePurgeItemHashMap`), written again for 64-bit items only, state for state: the same
//! table (MurmurHash3 x64-128 of the item's 8 bytes, seed 9001, linear probing, the drift kept
//! per slot), the same growth from 8 slots, the same purge (the median of the first 1024 active
//! counts in slot order, subtracted from every slot, then the reverse deletion), the same
//! iteration order for a merge and the same serialized image. [`crate::TopNames`] updates its
//! sketch ~400 k times on the 300 k-packet benchmark slice; the generic map pays for `Option`
//! keys, a hasher that buffers bytes, bounds checks and a call per update (~170 instructions an
//! update with purges), this one ~112 with purges: 751.7 M → 732.6 M instructions on the
//! slice (see docs/performance.md, "One engine"). The tests feed both with the same streams
//! and compare the images byte for byte.

use datasketches::frequencies::FrequentItemsSketch;

const LG_MIN_MAP_SIZE: u8 = 3;
const SAMPLE_SIZE: usize = 1024;
const MAX_SAMPLE_SIZE: usize = 1024;
const SEED: u64 = 9001;
const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

// The serialized image's preamble (datasketches' frequencies/serialization.rs, family 10).
const SERIAL_VERSION: u8 = 1;
const FAMILY_FREQUENCY: u8 = 10;
const PREAMBLE_LONGS_EMPTY: u8 = 1;
const PREAMBLE_LONGS_NONEMPTY: u8 = 4;
const EMPTY_FLAG_MASK: u8 = 5;

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// MurmurHash3 x64-128 (first half) of the item's 8 little-endian bytes: what the crate's
/// `Hash` of a `u64` through its hasher gives (one 8-byte tail, no full block).
#[inline]
fn hash_item(item: u64) -> u64 {
    let mut k1 = item;
    k1 = k1.wrapping_mul(C1);
    k1 = k1.rotate_left(31);
    k1 = k1.wrapping_mul(C2);
    let mut h1 = SEED ^ k1;
    let mut h2 = SEED;
    h1 ^= 8;
    h2 ^= 8;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1.wrapping_add(h2)
}

/// One slot: the item, its count, its drift (0: free). Kept together (one cache line holds
/// two) where the crate keeps three arrays.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: u64,
    value: u64,
    state: u16,
}

#[derive(Clone, Debug)]
struct Map {
    lg_length: u8,
    load_threshold: usize,
    slots: Vec<Slot>,
    num_active: usize,
}

impl Map {
    fn new(map_size: usize) -> Self {
        debug_assert!(map_size.is_power_of_two());
        Self {
            lg_length: map_size.trailing_zeros() as u8,
            load_threshold: (map_size as f64 * 0.75) as usize,
            slots: vec![Slot::default(); map_size],
            num_active: 0,
        }
    }

    #[inline]
    fn find_probe_or_empty(&self, key: u64) -> (usize, usize) {
        let mask = self.slots.len() - 1;
        let mut probe = hash_item(key) as usize & mask;
        let mut drift = 1;
        loop {
            let slot = &self.slots[probe];
            if slot.state == 0 || slot.key == key {
                return (probe, drift);
            }
            probe = (probe + 1) & mask;
            drift += 1;
        }
    }

    fn get(&self, key: u64) -> u64 {
        let (probe, _) = self.find_probe_or_empty(key);
        let slot = &self.slots[probe];
        if slot.state > 0 { slot.value } else { 0 }
    }

    #[inline]
    fn adjust_or_put_value(&mut self, key: u64, amount: u64) {
        let (probe, drift) = self.find_probe_or_empty(key);
        let slot = &mut self.slots[probe];
        if slot.state == 0 {
            slot.key = key;
            slot.value = amount;
            slot.state = drift as u16;
            self.num_active += 1;
        } else {
            slot.value += amount;
        }
    }

    fn keep_only_positive_counts(&mut self) {
        let len = self.slots.len();
        let mut first_probe = len - 1;
        while self.slots[first_probe].state > 0 {
            first_probe -= 1;
        }
        for probe in (0..first_probe).rev().chain((first_probe..len).rev()) {
            let slot = self.slots[probe];
            if slot.state > 0 && slot.value == 0 {
                self.hash_delete(probe);
                self.num_active -= 1;
            }
        }
    }

    fn purge(&mut self, sample_size: usize) -> u64 {
        let limit = sample_size.min(self.num_active).min(MAX_SAMPLE_SIZE);
        let mut samples = Vec::with_capacity(limit);
        let mut i = 0;
        while samples.len() < limit {
            if self.slots[i].state > 0 {
                samples.push(self.slots[i].value);
            }
            i += 1;
        }
        let mid = samples.len() / 2;
        samples.select_nth_unstable(mid);
        let median = samples[mid];
        // Every slot, free ones too (their stale counts are never read, as in the crate).
        for slot in &mut self.slots {
            slot.value = slot.value.saturating_sub(median);
        }
        self.keep_only_positive_counts();
        median
    }

    fn resize(&mut self, new_size: usize) {
        let old = std::mem::replace(self, Map::new(new_size));
        for slot in old.slots.iter().filter(|s| s.state > 0) {
            self.adjust_or_put_value(slot.key, slot.value);
        }
    }

    /// As the crate's: the key leaves (its key cleared), later keys of the cluster move back.
    fn hash_delete(&mut self, mut delete_probe: usize) {
        self.slots[delete_probe].state = 0;
        self.slots[delete_probe].key = 0;
        let mut drift: usize = 1;
        let mask = self.slots.len() - 1;
        let mut probe = (delete_probe + drift) & mask;
        while self.slots[probe].state != 0 {
            if self.slots[probe].state as usize > drift {
                let moved = self.slots[probe];
                let d = &mut self.slots[delete_probe];
                d.key = moved.key;
                d.value = moved.value;
                d.state = moved.state - drift as u16;
                self.slots[probe].state = 0;
                self.slots[probe].key = 0;
                drift = 0;
                delete_probe = probe;
            }
            probe = (probe + 1) & mask;
            drift += 1;
        }
    }

    /// Active entries in the crate's iteration order (a golden-ratio stride), as its merge
    /// takes them.
    fn stride_iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let size = self.slots.len();
        let stride = ((size as f64 * 0.618_033_988_749_894_9) as usize) | 1;
        let mask = size - 1;
        let mut index = 0usize.wrapping_sub(stride);
        (0..self.num_active).map(move |_| {
            loop {
                index = index.wrapping_add(stride) & mask;
                let slot = &self.slots[index];
                if slot.state > 0 {
                    return (slot.key, slot.value);
                }
            }
        })
    }
}

/// `FrequentItemsSketch<u64>` of the `datasketches` crate, the same state after the same calls.
#[derive(Clone, Debug)]
pub(crate) struct FrequentHashes {
    lg_max_map_size: u8,
    cur_map_cap: usize,
    offset: u64,
    stream_weight: u64,
    sample_size: usize,
    map: Map,
}

impl FrequentHashes {
    pub(crate) fn new(lg_max_map_size: u8) -> Self {
        Self::with_lg_map_sizes(lg_max_map_size, LG_MIN_MAP_SIZE)
    }

    fn with_lg_map_sizes(lg_max: u8, lg_cur: u8) -> Self {
        let lg_max = lg_max.max(LG_MIN_MAP_SIZE);
        let lg_cur = lg_cur.max(LG_MIN_MAP_SIZE);
        let map = Map::new(1 << lg_cur);
        let max_map_cap = (1usize << lg_max) * 3 / 4;
        Self {
            lg_max_map_size: lg_max,
            cur_map_cap: map.load_threshold,
            offset: 0,
            stream_weight: 0,
            sample_size: SAMPLE_SIZE.min(max_map_cap),
            map,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stream_weight == 0
    }

    pub(crate) fn maximum_error(&self) -> u64 {
        self.offset
    }

    /// The item's count without the offset (0: not tracked).
    pub(crate) fn lower_bound(&self, item: u64) -> u64 {
        self.map.get(item)
    }

    /// As `estimate`: count plus offset if tracked, else 0.
    #[cfg(test)]
    pub(crate) fn estimate(&self, item: u64) -> u64 {
        let v = self.map.get(item);
        if v > 0 { v + self.offset } else { 0 }
    }

    #[inline]
    pub(crate) fn update_with_count(&mut self, item: u64, count: u64) {
        if count == 0 {
            return;
        }
        self.stream_weight = self
            .stream_weight
            .checked_add(count)
            .expect("total stream weight overflow");
        self.map.adjust_or_put_value(item, count);
        if self.map.num_active > self.cur_map_cap {
            self.resize_or_purge();
        }
    }

    #[cold]
    fn resize_or_purge(&mut self) {
        if self.map.lg_length < self.lg_max_map_size {
            self.map.resize(self.map.slots.len() * 2);
            self.cur_map_cap = self.map.load_threshold;
        } else {
            self.offset += self.map.purge(self.sample_size);
            assert!(
                self.map.num_active <= (1usize << self.lg_max_map_size) * 3 / 4,
                "purge did not reduce number of active items"
            );
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        if other.is_empty() {
            return;
        }
        let merged_total = self
            .stream_weight
            .checked_add(other.stream_weight)
            .expect("total stream weight overflow");
        for (item, count) in other.map.stride_iter() {
            self.update_with_count(item, count);
        }
        self.offset += other.offset;
        self.stream_weight = merged_total;
    }

    /// Active items with their estimates (count plus offset), in slot order: the crate's
    /// `frequent_items(NoFalseNegatives)` rows (every tracked item), unsorted.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let offset = self.offset;
        self.map
            .slots
            .iter()
            .filter(|s| s.state > 0 && s.value > 0)
            .map(move |s| (s.key, s.value + offset))
    }

    /// The crate's `serialize()`, byte for byte.
    pub(crate) fn serialize(&self) -> Vec<u8> {
        if self.is_empty() {
            return vec![
                PREAMBLE_LONGS_EMPTY,
                SERIAL_VERSION,
                FAMILY_FREQUENCY,
                self.lg_max_map_size,
                self.map.lg_length,
                EMPTY_FLAG_MASK,
                0,
                0,
            ];
        }
        let active = self.map.num_active;
        let mut out = Vec::with_capacity(32 + active * 16);
        out.extend_from_slice(&[
            PREAMBLE_LONGS_NONEMPTY,
            SERIAL_VERSION,
            FAMILY_FREQUENCY,
            self.lg_max_map_size,
            self.map.lg_length,
            0,
            0,
            0,
        ]);
        out.extend_from_slice(&(active as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.stream_weight.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        let live = || self.map.slots.iter().filter(|s| s.state > 0);
        for s in live() {
            out.extend_from_slice(&s.value.to_le_bytes());
        }
        for s in live() {
            out.extend_from_slice(&s.key.to_le_bytes());
        }
        out
    }

    /// The crate's `deserialize()`: its checks (by the crate itself), then the same rebuild
    /// (a table of the image's size, the items inserted in the image's order).
    pub(crate) fn deserialize(image: &[u8]) -> Option<Self> {
        FrequentItemsSketch::<u64>::deserialize(image).ok()?;
        let (lg_max, lg_cur) = (image[3], image[4]);
        if image[0] & 0x3f == PREAMBLE_LONGS_EMPTY {
            return Some(Self::with_lg_map_sizes(lg_max, LG_MIN_MAP_SIZE));
        }
        let u32_at = |i: usize| u32::from_le_bytes(image[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(image[i..i + 8].try_into().unwrap());
        let active = u32_at(8) as usize;
        let stream_weight = u64_at(16);
        let offset = u64_at(24);
        let mut s = Self::with_lg_map_sizes(lg_max, lg_cur);
        for i in 0..active {
            let value = u64_at(32 + i * 8);
            let item = u64_at(32 + active * 8 + i * 8);
            s.update_with_count(item, value);
        }
        s.stream_weight = stream_weight;
        s.offset = offset;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Same streams into both: the images equal at every check, through resizes, many purges
    /// and merges; and an image read back by either gives the same sketch.
    #[test]
    fn the_same_state_as_the_crates_sketch() {
        for (lg, distinct, updates, seed) in [
            (13u8, 100u64, 5_000u32, 1u64),
            (13, 6_000, 50_000, 2),
            (13, 30_000, 200_000, 3),
            (13, 1_000_000, 100_000, 4),
            (4, 40, 3_000, 5),
            (6, 500, 20_000, 6),
        ] {
            let mut next = xorshift(0x9e37_79b9_7f4a_7c15 ^ seed);
            let mut ours = FrequentHashes::new(lg);
            let mut theirs = FrequentItemsSketch::<u64>::new(1 << lg).unwrap();
            let (mut ours2, mut theirs2) = (ours.clone(), theirs.clone());
            assert_eq!(ours.serialize(), theirs.serialize());
            for i in 0..updates {
                let r = next();
                let item = if r.is_multiple_of(3) {
                    (r >> 10) % 50
                } else {
                    (r >> 10) % distinct
                };
                let item = item.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let w = 1 + (r >> 50) % 4;
                if i % 2 == 0 {
                    ours.update_with_count(item, w);
                    theirs.update_with_count(item, w);
                } else {
                    ours2.update_with_count(item, w);
                    theirs2.update_with_count(item, w);
                }
                if i % 4_999 == 0 {
                    assert_eq!(ours.serialize(), theirs.serialize(), "{lg} {distinct} {i}");
                    assert_eq!(ours.maximum_error(), theirs.maximum_error());
                    assert_eq!(ours.lower_bound(item), theirs.lower_bound(&item));
                    assert_eq!(ours.estimate(item), theirs.estimate(&item));
                }
            }
            assert_eq!(ours.serialize(), theirs.serialize());
            assert_eq!(ours2.serialize(), theirs2.serialize());
            if distinct >= 30_000 {
                assert!(ours.maximum_error() > 0, "purged");
            }
            let mut rows: Vec<(u64, u64)> = ours.rows().collect();
            rows.sort_unstable();
            let mut crate_rows: Vec<(u64, u64)> = theirs
                .frequent_items(datasketches::frequencies::ErrorType::NoFalseNegatives)
                .iter()
                .map(|r| (*r.item(), r.estimate()))
                .collect();
            crate_rows.sort_unstable();
            assert_eq!(rows, crate_rows);
            ours.merge(&ours2);
            theirs.merge(&theirs2);
            assert_eq!(
                ours.serialize(),
                theirs.serialize(),
                "merge {lg} {distinct}"
            );
            let image = theirs.serialize();
            let back = FrequentHashes::deserialize(&image).unwrap();
            let crate_back = FrequentItemsSketch::<u64>::deserialize(&image).unwrap();
            assert_eq!(back.serialize(), crate_back.serialize());
            let empty = FrequentHashes::new(lg);
            let back = FrequentHashes::deserialize(&empty.serialize()).unwrap();
            assert!(back.is_empty());
            assert_eq!(back.serialize(), empty.serialize());
        }
        assert!(FrequentHashes::deserialize(&[1, 2, 3]).is_none());
    }
}
