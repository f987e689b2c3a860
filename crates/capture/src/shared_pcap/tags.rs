//! Packet tags shared between the cursors of one file, by blocks of records.
//!
//! The first cursor to reach a block claims it, tags all of its records in one pass and
//! publishes them; a cursor reaching a published block reads them; one that arrives while the
//! block is being tagged tags its records itself instead of waiting. Blocks live in a ring:
//! a cursor more than the ring behind finds its block's slot taken by a later block and tags
//! for itself (correct, only slower). A tag shared per record (a ring of single tags) cost
//! more than it saved: the two workers walk side by side, and every cache line of tags moved
//! between their cores while both touched it (2 workers 401 ms against 378 ms tagging alone).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Records a block holds: one claim, and one cache line of tags moved to the other cursor, for
/// every 64 records.
pub(super) const BLOCK: usize = 4096;

/// Blocks the ring holds (256 KiB of tags).
const BLOCKS: usize = 64;

pub(super) struct TagRing {
    slots: Box<[Slot]>,
}

pub(super) struct Slot {
    /// `(block + 1) << 1`, plus 1 once the block's tags are published; 0 before any block.
    state: AtomicU64,
    tags: Box<[AtomicU8]>,
}

/// What a cursor does with the block it enters.
pub(super) enum Entry<'a> {
    /// The block's tags are published in this slot.
    Ready(&'a Slot),
    /// This cursor claimed the block: it fills the slot and publishes it.
    Fill(&'a Slot),
    /// Another cursor is tagging it, or the slot is held by another block: tag for yourself.
    Own,
}

impl TagRing {
    pub(super) fn new() -> TagRing {
        TagRing {
            slots: (0..BLOCKS)
                .map(|_| Slot {
                    state: AtomicU64::new(0),
                    tags: (0..BLOCK).map(|_| AtomicU8::new(0)).collect(),
                })
                .collect(),
        }
    }

    /// A cursor at the first record of `block`.
    pub(super) fn enter(&self, block: u64) -> Entry<'_> {
        let slot = &self.slots[block as usize % BLOCKS];
        let claimed = (block + 1) << 1;
        let state = slot.state.load(Ordering::Acquire);
        if state == claimed | 1 {
            return Entry::Ready(slot);
        }
        // Only a slot holding an earlier block may be taken: one holding this block is being
        // filled by another cursor, one holding a later block is still read by cursors ahead.
        if state >> 1 < block + 1
            && slot
                .state
                .compare_exchange(state, claimed, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Entry::Fill(slot);
        }
        Entry::Own
    }
}

impl Slot {
    pub(super) fn set(&self, i: usize, tag: u8) {
        // Release, with `get`'s Acquire: a cursor that sees a tag of a later block sees that
        // block's claim too, and refuses the tag.
        self.tags[i].store(tag, Ordering::Release);
    }

    /// Makes the tags set so far readable as those of `block`.
    pub(super) fn publish(&self, block: u64) {
        self.state.store(((block + 1) << 1) | 1, Ordering::Release);
    }

    /// Tag `i` of `block`, if the slot still holds that block's tags (a cursor further behind
    /// than the ring may find it taken by a later block).
    #[inline(always)]
    pub(super) fn get(&self, block: u64, i: usize) -> Option<u8> {
        let tag = self.tags[i].load(Ordering::Acquire);
        (self.state.load(Ordering::Acquire) == ((block + 1) << 1) | 1).then_some(tag)
    }
}
