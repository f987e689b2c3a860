//! The Bloom filters of a catalogue record: one per field, sized to that field's distinct
//! values (10 bits a value, 7 hashes: about 1 % false positives), within a budget per record.
//!
//! One filter for all fields (`PVC2`) had to leave out the fields with many values
//! (`dns-qname`, `http-useragent`): the benchmark capture's 10-second files hold ~100 000 names
//! each, which filled all of a shared 8 KiB filter, so that nothing was pruned at all. Sized
//! per field, a field too large for what is left of the budget is kept as "any value" (its
//! filter has no bits) while the smaller fields keep their 1 %.

use super::codec::checksum;

/// Bits per value: 10 with 7 hashes gives about 1 % false positives.
const BITS_PER_KEY: usize = 10;
const HASHES: u8 = 7;

/// The filters' bits a record may hold at most (8 KiB). A catalogue is read whole by every
/// search of its directory, and a day of 10-second files is 8 640 records. The benchmark
/// recording's records: see docs/performance.md ("The catalogue").
pub(super) const MAX_RECORD_BITS: usize = 1 << 16;

/// One field's filter; no bits: the field has values the filter does not hold (any value may
/// be there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldFilter {
    pub(super) field: String,
    pub(super) bits: Vec<u64>,
    pub(super) hashes: u8,
}

fn key_hash(field: &str, value: &str) -> (u64, u64) {
    let mut key = Vec::with_capacity(field.len() + 1 + value.len());
    key.extend_from_slice(field.as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    let h = checksum(&key);
    // Double hashing (Kirsch–Mitzenmacher): the k probes from two halves of one hash.
    (h, h.rotate_left(32) | 1)
}

/// The bits probed for `value` in a filter of `bits` bits.
fn probes(field: &str, value: &str, bits: u64, hashes: u8) -> impl Iterator<Item = u64> {
    let (h1, h2) = key_hash(field, value);
    (0..u64::from(hashes)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

impl FieldFilter {
    /// Whether the field may have `value` (false: certainly not).
    pub(super) fn may_hold(&self, value: &str) -> bool {
        let bits = self.bits.len() as u64 * 64;
        if bits == 0 {
            return true;
        }
        probes(&self.field, value, bits, self.hashes)
            .all(|b| self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }

    fn build(field: &str, values: &[&str], bits: usize) -> FieldFilter {
        let mut words = vec![0u64; bits / 64];
        for v in values {
            for b in probes(field, v, bits as u64, HASHES) {
                words[(b / 64) as usize] |= 1 << (b % 64);
            }
        }
        FieldFilter {
            field: field.to_string(),
            bits: words,
            hashes: HASHES,
        }
    }
}

/// The filters of a segment's fields (each with its distinct values), within
/// `MAX_RECORD_BITS`: the fields with fewest values first, so that a large field does not
/// crowd out the small ones; a field that does not fit any more is kept without bits.
pub(super) fn filters(fields: &[(&str, Vec<&str>)]) -> Vec<FieldFilter> {
    let mut order: Vec<&(&str, Vec<&str>)> = fields.iter().filter(|(_, v)| !v.is_empty()).collect();
    order.sort_by_key(|(f, v)| (v.len(), *f));
    let mut left = MAX_RECORD_BITS;
    let mut out: Vec<FieldFilter> = order
        .into_iter()
        .map(|(field, values)| {
            let bits = (values.len() * BITS_PER_KEY).next_multiple_of(64);
            if bits <= left {
                left -= bits;
                FieldFilter::build(field, values, bits)
            } else {
                FieldFilter {
                    field: field.to_string(),
                    bits: Vec::new(),
                    hashes: HASHES,
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_gets_its_size_and_the_largest_go_without() {
        let many: Vec<String> = (0..20_000).map(|i| format!("n{i}.example")).collect();
        let few: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}")).collect();
        let fields = [
            ("dns-qname", many.iter().map(String::as_str).collect()),
            ("netsrc", few.iter().map(String::as_str).collect()),
            ("transproto", vec!["UDP"]),
        ];
        let f = filters(&fields);
        let names: Vec<&str> = f.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["dns-qname", "netsrc", "transproto"]);
        // 20 000 names need 200 000 bits, more than a record holds (65 536): any name may be
        // there.
        assert!(f[0].bits.is_empty());
        assert!(f[0].may_hold("anything.at.all"));
        // 100 addresses: 1 000 bits, rounded to whole words.
        assert_eq!(f[1].bits.len() * 64, 1024);
        assert_eq!(f[2].bits.len() * 64, 64);
        for a in &few {
            assert!(f[1].may_hold(a));
        }
        let false_hits = (0..10_000)
            .filter(|i| f[1].may_hold(&format!("10.9.{}.{}", i / 250, i % 250)))
            .count();
        // ~1 % expected; 2 % allows for chance.
        assert!(false_hits < 200, "{false_hits} false positives of 10 000");
        assert!(f[2].may_hold("UDP"));
        assert!(!f[2].may_hold("TCP"));
        // Fewer names fit: 5 000 take 50 000 bits of the 65 536.
        let some = [(
            "dns-qname",
            many[..5_000].iter().map(String::as_str).collect(),
        )];
        let f = filters(&some);
        assert_eq!(f[0].bits.len() * 64, 50_048);
        assert!(many[..5_000].iter().all(|n| f[0].may_hold(n)));
    }
}
