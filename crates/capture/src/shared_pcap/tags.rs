//! Packet tags shared between the cursors of one file, by blocks of records.
//!
//! The first cursor to reach a block claims it and tags its records in one pass, publishing
//! them as it goes (every [`PUBLISH`] records); the others read the tags published so far and
//! tag a record themselves only when its tag is not out yet. Blocks live in a ring: a cursor
//! more than the ring behind finds its block's slot taken by a later block and tags for
//! itself (correct, only slower).
//!
//! Measured on the 2.4 M-packet benchmark capture with 2 workers: a tag shared per record (a
//! ring of single tags) cost more than it saved, every cache line of tags moving between the
//! two cores while both touched it (401 ms against 378 ms tagging alone); whole blocks
//! published only when complete left the worker walking beside the filler to tag a third to
//! two thirds of the blocks again (194-391 of 586); published as they are made, the filler,
//! which only hashes, soon runs ahead of the worker that also summarizes.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Records a block holds: one claim for every 4 096 records.
pub(super) const BLOCK: usize = 4096;

/// Tags published at a time by the filler (one release store, and about 4 cache lines of tags
/// for a reader to fetch).
pub(super) const PUBLISH: usize = 256;

/// Blocks the ring holds (256 KiB of tags).
const BLOCKS: usize = 64;

/// `filled` lives in the low 16 bits of a slot's state, the block number + 1 above them.
const FILLED_BITS: u32 = 16;

pub(super) struct TagRing {
    slots: Box<[Slot]>,
}

pub(super) struct Slot {
    /// `(block + 1) << 16 | filled`: the block whose tags the slot holds and how many of them
    /// (from the block's first record) are published; 0 before any block.
    state: AtomicU64,
    tags: Box<[AtomicU8]>,
}

/// What a cursor does with the block it enters.
pub(super) enum Entry<'a> {
    /// This cursor claimed the block: it tags the records and publishes them.
    Fill(&'a Slot),
    /// Another cursor claimed it: read its tags as they come out.
    Follow(&'a Slot),
    /// The slot holds a later block: tag for yourself.
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
        let state = slot.state.load(Ordering::Acquire);
        let held = state >> FILLED_BITS;
        if held == block + 1 {
            return Entry::Follow(slot);
        }
        // Only a slot holding an earlier block may be taken: one holding a later block is
        // still read by cursors ahead.
        if held < block + 1
            && slot
                .state
                .compare_exchange(
                    state,
                    (block + 1) << FILLED_BITS,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            return Entry::Fill(slot);
        }
        match slot.state.load(Ordering::Acquire) >> FILLED_BITS {
            // Another cursor claimed it first.
            h if h == block + 1 => Entry::Follow(slot),
            _ => Entry::Own,
        }
    }
}

impl Slot {
    pub(super) fn set(&self, i: usize, tag: u8) {
        // Release, with `get`'s Acquire: a cursor that sees a tag of a later block sees that
        // block's claim too, and refuses the tag.
        self.tags[i].store(tag, Ordering::Release);
    }

    /// Makes the first `filled` tags of `block` readable (by its filler only).
    pub(super) fn publish(&self, block: u64, filled: usize) {
        self.state.store(
            ((block + 1) << FILLED_BITS) | filled as u64,
            Ordering::Release,
        );
    }

    /// Tag `i` of `block`, if it is published and the slot still holds that block. The state
    /// is read before the tag (the publish that covers `i` came after `i` was set) and again
    /// after it (a later block's claim may have overwritten the tag meanwhile: that claim
    /// happened before the overwrite, so the second read sees it).
    #[inline(always)]
    pub(super) fn get(&self, block: u64, i: usize) -> Option<u8> {
        let before = self.state.load(Ordering::Acquire);
        if before >> FILLED_BITS != block + 1 || (before & 0xffff) as usize <= i {
            return None;
        }
        let tag = self.tags[i].load(Ordering::Acquire);
        let after = self.state.load(Ordering::Acquire);
        (after >> FILLED_BITS == block + 1).then_some(tag)
    }
}
