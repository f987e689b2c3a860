//! The set of 64-bit hashes a [`crate::Cardinality`] keeps: open addressing with linear
//! probing, indexed by the hashes' own low bits. The hashes are uniformly random already (and
//! the ones kept below theta still are in their low bits), so they need no hashing, and an
//! insert is a probe or two in a flat table: cheaper than a general hash set.

/// A slot holding this is free; the hash 0 itself is kept in `zero`.
const FREE: u64 = 0;
const MIN_SLOTS: usize = 64;

#[derive(Clone, Debug, Default)]
pub(crate) struct HashSet64 {
    /// A power of two of slots (or none yet), at most 3/4 full.
    slots: Vec<u64>,
    /// Whether the hash 0 is in the set.
    zero: bool,
    len: usize,
}

impl HashSet64 {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a hash; false if it was there.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64) -> bool {
        if hash == FREE {
            let added = !self.zero;
            self.zero = true;
            self.len += usize::from(added);
            return added;
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let added = place(&mut self.slots, hash);
        self.len += usize::from(added);
        added
    }

    #[cold]
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![FREE; slots]);
        for hash in old.into_iter().filter(|h| *h != FREE) {
            place(&mut self.slots, hash);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.zero
            .then_some(0)
            .into_iter()
            .chain(self.slots.iter().copied().filter(|h| *h != FREE))
    }

    /// Empties the set (keeping its table) and returns what it held.
    pub(crate) fn drain(&mut self) -> Vec<u64> {
        let hashes: Vec<u64> = self.iter().collect();
        self.slots.fill(FREE);
        self.zero = false;
        self.len = 0;
        hashes
    }

    pub(crate) fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let hashes = self.drain();
        self.extend(hashes.into_iter().filter(|h| keep(*h)));
    }

    pub(crate) fn extend(&mut self, hashes: impl IntoIterator<Item = u64>) {
        for hash in hashes {
            self.insert(hash);
        }
    }
}

/// Puts a non-zero hash in a table with a free slot; false if it was there.
#[inline]
fn place(slots: &mut [u64], hash: u64) -> bool {
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    while let Some(slot) = slots.get_mut(i) {
        if *slot == FREE {
            *slot = hash;
            return true;
        }
        if *slot == hash {
            return false;
        }
        i = (i + 1) & mask;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn behaves_as_a_set() {
        let mut ours = HashSet64::default();
        let mut std_set = HashSet::new();
        // Small values (as kept below a low theta) and 0 included, with repeats.
        for i in 0..50_000u64 {
            let h = ((i * 7919) % 20_011).wrapping_mul(if i % 3 == 0 {
                1
            } else {
                0x9e37_79b9_7f4a_7c15
            });
            assert_eq!(ours.insert(h), std_set.insert(h), "{h}");
        }
        assert_eq!(ours.len(), std_set.len());
        let mut listed: Vec<u64> = ours.iter().collect();
        listed.sort_unstable();
        let mut expected: Vec<u64> = std_set.iter().copied().collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        ours.retain(|h| h % 2 == 0);
        std_set.retain(|h| h % 2 == 0);
        assert_eq!(ours.len(), std_set.len());
        assert!(std_set.contains(&0));
        let drained = ours.drain();
        assert_eq!(drained.len(), std_set.len());
        assert_eq!(ours.len(), 0);
        assert_eq!(ours.iter().count(), 0);
    }
}
