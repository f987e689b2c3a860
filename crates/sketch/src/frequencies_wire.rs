//! Frequent-items sketches on the wire: the crate's own serialized image, made compact.
//!
//! The image (datasketches' format) holds what an exact copy needs: the map's current size,
//! the stream weight, the offset (the error bound), and every item with its count, in the
//! map's slot order. It spends 8 bytes on each count and a 32-byte preamble; here the counts,
//! weight and offset are varints, and the items are whatever the caller makes of the image's
//! item bytes (a name list sends names instead of their hashes). The reader rebuilds the
//! image and lets the crate deserialize it, so the crate's own checks apply, after ours: the
//! maximum map size must be ours (the crate accepts up to 2^30 slots and allocates the
//! current size up front) and nothing is built larger than a small multiple of the input.

use crate::codec::{DecodeError, Reader, put_u8, put_var};
use datasketches::frequencies::FrequentItemsSketch;

/// The preamble of a non-empty image: 8 bytes of sizes and flags, the item count (u32) and
/// an unused u32, the stream weight and the offset (u64 each).
const PREAMBLE: usize = 32;
const PREAMBLE_LONGS_NONEMPTY: u8 = 4;

/// What is left of a non-empty image once its header and counts are written.
pub(crate) struct Image<'a> {
    /// The items, as the item type serializes them, in the counts' order.
    pub(crate) items: &'a [u8],
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Writes an image's header fields and counts compactly and returns its item bytes (None for
/// an empty sketch, which is a single zero: its stream weight). The image is the crate's
/// `serialize` output, whose layout this follows.
pub(crate) fn put_image<'a>(out: &mut Vec<u8>, image: &'a [u8]) -> Option<Image<'a>> {
    // The crate writes a 8-byte preamble for an empty sketch, 32 bytes otherwise.
    if image.len() < PREAMBLE || image[0] & 0x3f != PREAMBLE_LONGS_NONEMPTY {
        put_var(out, 0);
        return None;
    }
    let n = u32::from_le_bytes([image[8], image[9], image[10], image[11]]) as usize;
    let (weight, offset) = (le_u64(image, 16), le_u64(image, 24));
    put_var(out, weight);
    put_u8(out, image[4]);
    put_var(out, offset);
    put_var(out, n as u64);
    for i in 0..n {
        put_var(out, le_u64(image, PREAMBLE + 8 * i));
    }
    Some(Image {
        items: &image[PREAMBLE + 8 * n..],
    })
}

/// What [`put_image`] wrote, as far as the items: (lg_cur, weight, offset, counts); None for
/// an empty sketch.
pub(crate) struct Header {
    lg_cur: u8,
    weight: u64,
    offset: u64,
    pub(crate) counts: Vec<u64>,
}

pub(crate) fn read_header(r: &mut Reader<'_>, lg_max: u8) -> Result<Option<Header>, DecodeError> {
    let what = "frequent items";
    let weight = r.var(what)?;
    if weight == 0 {
        return Ok(None);
    }
    let lg_cur = r.u8(what)?;
    if lg_cur > lg_max {
        return Err(DecodeError::OutOfRange { what });
    }
    let offset = r.var(what)?;
    // Each item takes at least a count byte and an item byte.
    let n = r.count(2, what)?;
    let counts = (0..n)
        .map(|_| r.var(what))
        .collect::<Result<Vec<u64>, _>>()?;
    Ok(Some(Header {
        lg_cur,
        weight,
        offset,
        counts,
    }))
}

/// The crate's image of a header and its items' bytes (as the item type serializes them), for
/// the crate to deserialize: at most 40 bytes more than 8 per count plus the items, all read
/// from the input.
pub(crate) fn rebuild(header: &Header, items: &[u8], lg_max: u8) -> Vec<u8> {
    // The serial version and family bytes, as the crate writes them (an empty sketch's
    // preamble has them too, whatever its item type).
    let probe = FrequentItemsSketch::<u64>::new(8)
        .expect("8 is a valid map size")
        .serialize();
    let mut image = Vec::with_capacity(PREAMBLE + 8 * header.counts.len() + items.len());
    image.extend_from_slice(&[
        PREAMBLE_LONGS_NONEMPTY,
        probe[1],
        probe[2],
        lg_max,
        header.lg_cur,
        0,
        0,
        0,
    ]);
    image.extend_from_slice(&(header.counts.len() as u32).to_le_bytes());
    image.extend_from_slice(&[0; 4]);
    image.extend_from_slice(&header.weight.to_le_bytes());
    image.extend_from_slice(&header.offset.to_le_bytes());
    for c in &header.counts {
        image.extend_from_slice(&c.to_le_bytes());
    }
    image.extend_from_slice(items);
    image
}
