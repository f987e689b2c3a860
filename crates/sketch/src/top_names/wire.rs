//! A name list's binary form: the frequent-items image with names in place of hashes.

use super::{FREE, LG_MAX_MAP, TopNames};
use crate::codec::{Decode, DecodeError, Encode, Reader, put_bytes, put_u64, put_var};
use crate::frequencies_wire;
use crate::frequent_hashes::FrequentHashes;

/// The sketch (the run under way applied) as the crate serializes it, made compact
/// ([`crate::frequencies_wire`]), with each item's name in place of its hash: the reader hashes
/// the names again (fixed seeds). A hash without a name (which the dictionary's rules should
/// not leave) travels as itself, listed after the names. Names of hashes the sketch no longer
/// holds are not sent: nothing renders them, and a merge takes names only for hashes its
/// sketch holds.
impl Encode for TopNames {
    fn encode(&self, out: &mut Vec<u8>) {
        let image = self.sketch_now().serialize();
        let Some(image) = frequencies_wire::put_image(out, &image) else {
            return;
        };
        let mut nameless = Vec::new();
        for (i, item) in image.items.chunks_exact(8).enumerate() {
            let mut a = [0u8; 8];
            a.copy_from_slice(item);
            let hash = u64::from_le_bytes(a);
            match self.names.get(hash) {
                Some(name) => put_bytes(out, name),
                None => {
                    put_bytes(out, &[]);
                    nameless.push((i, hash));
                }
            }
        }
        put_var(out, nameless.len() as u64);
        for (i, hash) in nameless {
            put_var(out, i as u64);
            put_u64(out, hash);
        }
    }
}

impl Decode for TopNames {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let what = "name sketch";
        let mut t = TopNames::new();
        let Some(header) = frequencies_wire::read_header(r, LG_MAX_MAP)? else {
            return Ok(t);
        };
        let n = header.counts.len();
        let mut names: Vec<Option<&[u8]>> = Vec::with_capacity(n);
        for _ in 0..n {
            names.push(Some(r.bytes(what)?));
        }
        let mut hashes: Vec<u64> = names
            .iter()
            .map(|name| name.map_or(FREE, |name| t.name_hash(name)))
            .collect();
        for _ in 0..r.count(9, what)? {
            let i = r.var_at_most(n.saturating_sub(1) as u64, what)? as usize;
            let slot = names.get_mut(i).ok_or(DecodeError::OutOfRange { what })?;
            *slot = None;
            // Name hashes are never 0 (the dictionary's free slot).
            hashes[i] = match r.u64(what)? {
                FREE => return Err(DecodeError::OutOfRange { what }),
                hash => hash,
            };
        }
        let items: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
        let image = frequencies_wire::rebuild(&header, &items, LG_MAX_MAP);
        t.sketch = FrequentHashes::deserialize(&image).ok_or(DecodeError::OutOfRange { what })?;
        t.exact = false;
        t.names.counting = false;
        for (name, hash) in names.iter().zip(&hashes) {
            if let Some(name) = name {
                t.names.insert(*hash, name);
            }
        }
        Ok(t)
    }
}
