//! Distinct counts with a theta sketch (the KMV / QuickSelect family of Apache DataSketches).
//!
//! Theta is chosen over HLL because it is *exact* until it holds more than `2 * K` distinct
//! items (32 768 here) and degrades to a known relative standard error (~0.8 %, 1/sqrt(K))
//! beyond, while HLL's small-range estimator is already approximate at a few hundred items.
//!
//! The sketch keeps the 64-bit hashes of the items below a threshold `theta` (all of them at
//! first). When more than `2 * K` are kept, theta drops to the K-th smallest and the hashes at
//! or above it are forgotten; the estimate is then `kept / (theta / 2^64)`. Merging is a theta
//! union: the smaller theta wins and the kept hashes below it are pooled, so sketches of
//! several workers (or agents) merge exactly like one sketch fed everything.
//!
//! This is our implementation rather than datasketches' `ThetaSketch`: the per-item cost was a
//! Murmur3 hash plus the crate's table insert, and its updatable sketch cannot absorb another
//! one. Item hashes use fixed seeds so that every sketch hashes an item alike.

use crate::codec::{Decode, DecodeError, Encode, Reader, put_ascending, put_u64, read_ascending};
use crate::hash_set::HashSet64;
use ahash::RandomState;
use std::hash::{Hash, Hasher};

/// Nominal number of retained hashes.
const K: usize = 1 << 14;

fn item_hasher() -> RandomState {
    // Arbitrary fixed seeds (digits of e).
    RandomState::with_seeds(
        0x2b7e_1516_28ae_d2a6,
        0xabf7_1588_09cf_4f3c,
        0x7624_1b5e_6e36_35a2,
        0x0e2c_b4a8_5a37_9a7c,
    )
}

/// The bytes of a text, hashed as the `str` they spell: `str`'s `Hash` writes its bytes and then
/// 0xff (so that a text is never a prefix of the next one in a hashed tuple).
struct TextBytes<'a>(&'a [u8]);

impl Hash for TextBytes<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
        state.write_u8(0xff);
    }
}

/// A distinct counter.
#[derive(Clone)]
pub struct Cardinality {
    kept: HashSet64,
    /// Hashes at or above this are not kept; `u64::MAX` while exact.
    theta: u64,
    hasher: RandomState,
}

impl std::fmt::Debug for Cardinality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cardinality({})", self.estimate())
    }
}

impl Default for Cardinality {
    fn default() -> Self {
        Self::new()
    }
}

impl Cardinality {
    pub fn new() -> Self {
        Self {
            kept: HashSet64::default(),
            theta: u64::MAX,
            hasher: item_hasher(),
        }
    }

    #[inline]
    pub fn update<T: Hash>(&mut self, item: T) {
        self.update_hash(self.hasher.hash_one(item));
    }

    /// Counts a text given as its UTF-8 bytes: the same item as that `&str` (hashed alike), for
    /// callers that hold bytes known to be text and would otherwise pay for a UTF-8 check.
    #[inline]
    pub fn update_text(&mut self, text: &[u8]) {
        self.update_hash(self.hasher.hash_one(TextBytes(text)));
    }

    #[inline]
    fn update_hash(&mut self, hash: u64) {
        if hash >= self.theta {
            return;
        }
        if self.kept.insert(hash) && self.kept.len() > 2 * K {
            self.shrink();
        }
    }

    /// Keeps the K smallest hashes; theta becomes the (K+1)-th smallest.
    #[cold]
    fn shrink(&mut self) {
        let mut hashes = self.kept.drain();
        if hashes.len() <= K {
            self.kept.extend(hashes);
            return;
        }
        let (_, &mut kth, _) = hashes.select_nth_unstable(K);
        self.theta = kth;
        self.kept.extend(hashes.into_iter().filter(|h| *h < kth));
    }

    /// Rounded estimate, as pktvisor reports it (`lround`). Past the exact range it is the
    /// K-minimum-values estimator `(K - 1) / u` with `u` the K-th smallest kept hash as a
    /// fraction of 2^64: every sketch that saw the same items (one fed everything, or several
    /// merged) keeps those K smallest hashes, so they all give the same estimate.
    pub fn estimate(&self) -> u64 {
        if self.theta == u64::MAX {
            return self.kept.len() as u64;
        }
        let mut hashes: Vec<u64> = self.kept.iter().collect();
        // A shrink leaves K hashes and merges only add: at least K are kept here.
        if hashes.len() < K {
            return hashes.len() as u64;
        }
        let (_, kth, _) = hashes.select_nth_unstable(K - 1);
        let fraction = *kth as f64 / 2f64.powi(64);
        ((K - 1) as f64 / fraction).round() as u64
    }

    /// True while the estimate is an exact count.
    pub fn is_exact(&self) -> bool {
        self.theta == u64::MAX
    }

    /// Folds another sketch in (a theta union).
    pub fn merge(&mut self, other: &Cardinality) {
        if other.theta < self.theta {
            self.theta = other.theta;
            let theta = self.theta;
            self.kept.retain(|h| h < theta);
        }
        let theta = self.theta;
        self.kept.extend(other.kept.iter().filter(|h| *h < theta));
        if self.kept.len() > 2 * K {
            self.shrink();
        }
    }
}

/// theta, then the kept hashes ascending as gaps (a few bytes each rather than eight). The
/// item hasher has fixed seeds, so it is not sent.
impl Encode for Cardinality {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.theta);
        let mut hashes: Vec<u64> = self.kept.iter().collect();
        hashes.sort_unstable();
        put_ascending(out, &hashes);
    }
}

impl Decode for Cardinality {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let theta = r.u64("theta")?;
        let hashes = read_ascending(r, "theta hashes")?;
        // A sketch keeps at most 2K hashes, all below theta.
        if hashes.len() > 2 * K || hashes.last().is_some_and(|h| *h >= theta) {
            return Err(DecodeError::OutOfRange {
                what: "theta hashes",
            });
        }
        let mut c = Cardinality::new();
        c.theta = theta;
        c.kept.extend(hashes);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn texts_given_as_bytes_count_as_the_strs() {
        let hasher = item_hasher();
        for text in ["", "a", "h04207.bench.test", &"x".repeat(300)] {
            assert_eq!(
                hasher.hash_one(TextBytes(text.as_bytes())),
                hasher.hash_one(text)
            );
        }
        let (mut strs, mut bytes) = (Cardinality::new(), Cardinality::new());
        for i in 0..100_000u32 {
            let name = format!("n{}.example", i % 60_000);
            strs.update(name.as_str());
            bytes.update_text(name.as_bytes());
        }
        assert!(!strs.is_exact());
        assert_eq!(strs.estimate(), bytes.estimate());
    }

    #[test]
    fn exact_below_capacity() {
        let mut c = Cardinality::new();
        for i in 0..5000u32 {
            c.update(Ipv4Addr::from(i).octets());
            c.update(Ipv4Addr::from(i).octets());
        }
        assert!(c.is_exact());
        assert_eq!(c.estimate(), 5000);
    }

    #[test]
    fn within_two_percent_far_beyond_capacity() {
        let mut c = Cardinality::new();
        for i in 0..1_000_000u32 {
            c.update(i);
        }
        let e = c.estimate() as f64;
        assert!((e - 1_000_000.0).abs() / 1_000_000.0 < 0.02, "estimate {e}");
    }

    #[test]
    fn exact_up_to_twice_k_then_estimates_and_merges_like_one_sketch() {
        let mut c = Cardinality::new();
        for i in 0..(2 * K) as u32 {
            c.update(i);
        }
        assert!(c.is_exact());
        assert_eq!(c.estimate(), 2 * K as u64);
        // Two halves merged equal one sketch fed all (theta unions are exact set operations on
        // the kept hashes).
        let (mut a, mut b, mut all) = (Cardinality::new(), Cardinality::new(), Cardinality::new());
        for i in 0..300_000u32 {
            if i % 2 == 0 {
                a.update(i)
            } else {
                b.update(i)
            }
            all.update(i);
            // duplicates change nothing
            all.update(i / 2);
        }
        a.merge(&b);
        assert!(!a.is_exact());
        let e = a.estimate() as f64;
        assert!((e - 300_000.0).abs() / 300_000.0 < 0.02, "estimate {e}");
        assert_eq!(a.estimate(), all.estimate());
        let mut empty = Cardinality::new();
        empty.merge(&a);
        assert_eq!(empty.estimate(), a.estimate());
    }

    #[test]
    fn merge_is_a_union() {
        let (mut a, mut b) = (Cardinality::new(), Cardinality::new());
        for i in 0..3000u32 {
            a.update(i);
        }
        for i in 2000..6000u32 {
            b.update(i);
        }
        a.merge(&b);
        assert_eq!(a.estimate(), 6000);
        let mut empty = Cardinality::new();
        empty.merge(&a);
        assert_eq!(empty.estimate(), 6000);
    }

    #[test]
    fn travels_exact_and_past_capacity() {
        use crate::codec::round_trip;
        let (mut a, mut b) = (Cardinality::new(), Cardinality::new());
        for i in 0..1000u32 {
            a.update(i);
        }
        let da = round_trip(&a);
        assert!(da.is_exact());
        assert_eq!(da.estimate(), 1000);
        for i in 0..200_000u32 {
            b.update(i.wrapping_mul(7));
        }
        let db = round_trip(&b);
        assert!(!db.is_exact());
        assert_eq!(db.estimate(), b.estimate());
        let (mut m, mut dm) = (a.clone(), da);
        m.merge(&b);
        dm.merge(&db);
        assert_eq!(dm.estimate(), m.estimate());
        // A hash at or above theta is not something a sketch keeps.
        let mut bytes = Vec::new();
        put_u64(&mut bytes, 10);
        put_ascending(&mut bytes, &[3, 10]);
        assert!(Cardinality::decode(&mut Reader::new(&bytes)).is_err());
    }
}
