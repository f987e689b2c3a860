//! The index of open transactions: for each, its key's hash and its query's sequence number in
//! the arrival queue of [`super::XactTable`], which holds the key itself.
//!
//! A general hash map stored the 48-byte key a second time and moved it on every insert; here a
//! slot is 16 bytes and a key is compared, in the queue, only when the 64-bit hashes are equal.
//! Open addressing with linear probing, at most half full; a removal shifts the rest of its
//! cluster back, so there are no tombstones and probes stay short under constant insert/remove.

/// `seq` of a free slot: sequence numbers count queries and never get there.
const FREE: u64 = u64::MAX;
const MIN_SLOTS: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: u64,
    seq: u64,
}

const FREE_SLOT: Slot = Slot { hash: 0, seq: FREE };

#[derive(Debug, Default)]
pub(super) struct XactIndex {
    /// A power of two long (or empty before the first insert).
    slots: Vec<Slot>,
    len: usize,
}

impl XactIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slot of the entry with `hash` whose sequence number `is_key` accepts.
    #[inline]
    pub fn find(&self, hash: u64, is_key: impl Fn(u64) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.seq == FREE {
                return None;
            }
            if slot.hash == hash && is_key(slot.seq) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub fn seq(&self, slot: usize) -> u64 {
        self.slots[slot].seq
    }

    #[inline]
    pub fn set_seq(&mut self, slot: usize, seq: u64) {
        self.slots[slot].seq = seq;
    }

    /// Adds an entry; the caller has checked that its key is not there.
    #[inline]
    pub fn insert(&mut self, hash: u64, seq: u64) {
        debug_assert_ne!(seq, FREE);
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].seq != FREE {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { hash, seq };
        self.len += 1;
    }

    /// Removes the entry in `slot` (from [`find`](Self::find)) and returns its sequence number.
    #[inline]
    pub fn remove(&mut self, slot: usize) -> u64 {
        let mask = self.slots.len() - 1;
        let seq = self.slots[slot].seq;
        // Backward shift: an entry after the hole moves into it unless its home slot lies
        // between the hole and itself (then probes from its home still reach it).
        let mut hole = slot;
        let mut i = (slot + 1) & mask;
        loop {
            let next = self.slots[i];
            if next.seq == FREE {
                break;
            }
            let home = next.hash as usize & mask;
            if i.wrapping_sub(home) & mask >= i.wrapping_sub(hole) & mask {
                self.slots[hole] = next;
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.slots[hole] = FREE_SLOT;
        self.len -= 1;
        seq
    }

    pub fn clear(&mut self) {
        self.slots.fill(FREE_SLOT);
        self.len = 0;
    }

    #[cold]
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![FREE_SLOT; size]);
        self.len = 0;
        for slot in old.into_iter().filter(|s| s.seq != FREE) {
            self.insert(slot.hash, slot.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_map_under_inserts_and_removals_that_collide() {
        // Hashes from a small range, so that clusters form, wrap around and shift back.
        let mut index = XactIndex::default();
        let mut model: HashMap<u64, u64> = HashMap::new();
        let hash_of =
            |seq: u64| seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 97 + (seq % 3) * 0x1_0000_003f;
        let mut state = 1u64;
        for seq in 0..20_000u64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let present: Vec<u64> = model.keys().copied().collect();
            if !present.is_empty() && state >> 63 != 0 {
                let victim = present[(state >> 20) as usize % present.len()];
                let slot = index.find(hash_of(victim), |s| s == victim).unwrap();
                assert_eq!(index.remove(slot), victim);
                model.remove(&victim);
            } else {
                index.insert(hash_of(seq), seq);
                model.insert(seq, hash_of(seq));
            }
            assert_eq!(index.len(), model.len());
        }
        for (&seq, &hash) in &model {
            let slot = index.find(hash, |s| s == seq).unwrap();
            assert_eq!(index.seq(slot), seq);
        }
        assert_eq!(index.find(hash_of(20_001), |s| s == 20_001), None);
        index.clear();
        assert_eq!((index.len(), index.find(hash_of(1), |_| true)), (0, None));
    }
}
