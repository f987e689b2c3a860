//! The compact binary form that buckets travel in (to a hub merging many agents' buckets).
//!
//! Little-endian fixed-width integers where values are uniformly spread (hashes), LEB128
//! varints for counts and sizes (mostly small), and byte strings prefixed by their varint
//! length. Decoding reads untrusted bytes: every read is checked and fails with a
//! [`DecodeError`] instead of panicking, and no length field is believed beyond what the
//! remaining input could hold, so a hostile length cannot make the reader allocate.

use std::fmt;

/// Why bytes did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside `what`.
    Truncated { what: &'static str },
    /// The frame's magic or format version is not one this build reads.
    BadVersion { found: u32 },
    /// An enumeration's tag (or a handler type name) this build does not know.
    BadTag { what: &'static str, tag: u64 },
    /// A value outside what the encoder can produce (overflowing, unordered, over a cap).
    OutOfRange { what: &'static str },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { what } => write!(f, "input ends inside {what}"),
            DecodeError::BadVersion { found } => write!(f, "unsupported format version {found}"),
            DecodeError::BadTag { what, tag } => write!(f, "unknown {what} tag {tag}"),
            DecodeError::OutOfRange { what } => write!(f, "{what} out of range"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Something with a binary form.
pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);
}

/// Something read back from its [`Encode`] form.
pub trait Decode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Appends a LEB128 varint (7 bits a byte, low first).
#[inline]
pub fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A byte string: its varint length, then the bytes.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_var(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// An optional varint: 0 for none, else 1 and the value.
pub fn put_opt_var(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_var(out, v);
        }
    }
}

/// Reads an encoding from the front of a byte slice.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Fails unless every byte was read (a frame followed by garbage is not a frame).
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::OutOfRange { what })
        }
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated { what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(a))
    }

    pub fn u128(&mut self, what: &'static str) -> Result<u128, DecodeError> {
        let bytes = self.take(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(bytes);
        Ok(u128::from_le_bytes(a))
    }

    /// A LEB128 varint of at most 10 bytes whose value fits 64 bits.
    pub fn var(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte holds bit 63 only.
            if i == 9 && bits > 1 {
                return Err(DecodeError::OutOfRange { what });
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::OutOfRange { what })
    }

    /// A varint no larger than `max`.
    pub fn var_at_most(&mut self, max: u64, what: &'static str) -> Result<u64, DecodeError> {
        let v = self.var(what)?;
        if v > max {
            return Err(DecodeError::OutOfRange { what });
        }
        Ok(v)
    }

    /// A count of items that each take at least `min_size` bytes: larger than the remaining
    /// input could hold is an error, so the caller may reserve that many.
    pub fn count(&mut self, min_size: usize, what: &'static str) -> Result<usize, DecodeError> {
        let n = self.var(what)?;
        let fits = self.rest.len() / min_size.max(1);
        if n > fits as u64 {
            return Err(DecodeError::Truncated { what });
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.var(what)?;
        if n > self.rest.len() as u64 {
            return Err(DecodeError::Truncated { what });
        }
        self.take(n as usize, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecodeError::OutOfRange { what })
    }

    pub fn opt_var(&mut self, what: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.var(what)?)),
            tag => Err(DecodeError::BadTag {
                what,
                tag: u64::from(tag),
            }),
        }
    }
}

/// Item types of [`crate::TopN`] that travel. Addresses are fixed-width (their bits are
/// spread); texts are byte strings.
impl Encode for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Decode for u32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = r.take(4, "u32")?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Encode for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, *self);
    }
}

impl Decode for u64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64("u64")
    }
}

impl Encode for u128 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Decode for u128 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u128("u128")
    }
}

impl Encode for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Decode for u16 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = r.take(2, "u16")?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        put_bytes(out, self.as_bytes());
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.str("string")?.to_owned())
    }
}

/// Ascending distinct values as varint gaps (the first from zero): sorted hashes, seconds,
/// table indexes cost a byte or two each instead of eight.
pub fn put_ascending(out: &mut Vec<u8>, values: &[u64]) {
    put_var(out, values.len() as u64);
    let mut prev = 0;
    for (i, &v) in values.iter().enumerate() {
        put_var(out, if i == 0 { v } else { v - prev });
        prev = v;
    }
}

/// Reads [`put_ascending`]'s values, checking they strictly ascend.
pub fn read_ascending(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u64>, DecodeError> {
    let n = r.count(1, what)?;
    let mut values = Vec::with_capacity(n);
    let mut prev = 0u64;
    for i in 0..n {
        let gap = r.var(what)?;
        let v = if i == 0 {
            gap
        } else {
            if gap == 0 {
                return Err(DecodeError::OutOfRange { what });
            }
            prev.checked_add(gap)
                .ok_or(DecodeError::OutOfRange { what })?
        };
        values.push(v);
        prev = v;
    }
    Ok(values)
}

/// Key/count pairs with ascending distinct keys and non-zero counts.
pub fn put_counts(out: &mut Vec<u8>, pairs: &[(u64, u64)]) {
    put_var(out, pairs.len() as u64);
    let mut prev = 0;
    for (i, &(k, c)) in pairs.iter().enumerate() {
        put_var(out, if i == 0 { k } else { k - prev });
        put_var(out, c);
        prev = k;
    }
}

/// Reads [`put_counts`]'s pairs, checking keys ascend and counts are positive.
pub fn read_counts(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<(u64, u64)>, DecodeError> {
    let n = r.count(2, what)?;
    let mut pairs = Vec::with_capacity(n);
    let mut prev = 0u64;
    for i in 0..n {
        let gap = r.var(what)?;
        let k = if i == 0 {
            gap
        } else {
            if gap == 0 {
                return Err(DecodeError::OutOfRange { what });
            }
            prev.checked_add(gap)
                .ok_or(DecodeError::OutOfRange { what })?
        };
        let c = r.var(what)?;
        if c == 0 {
            return Err(DecodeError::OutOfRange { what });
        }
        pairs.push((k, c));
        prev = k;
    }
    Ok(pairs)
}

/// Encodes, decodes, and checks that the decoded value encodes to the same bytes (so its whole
/// encoded state came back) and that every shorter prefix is refused.
#[cfg(test)]
pub(crate) fn round_trip<T: Encode + Decode>(value: &T) -> T {
    let mut bytes = Vec::new();
    value.encode(&mut bytes);
    let mut r = Reader::new(&bytes);
    let decoded = T::decode(&mut r).expect("decodes");
    r.finish("value").expect("reads every byte");
    let mut again = Vec::new();
    decoded.encode(&mut again);
    assert_eq!(again, bytes, "decoded state encodes alike");
    for len in [0, 1, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let len = len.min(bytes.len().saturating_sub(1));
        assert!(
            T::decode(&mut Reader::new(&bytes[..len])).is_err(),
            "cut at {len}"
        );
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        let values = [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut out = Vec::new();
        for v in values {
            put_var(&mut out, v);
        }
        let mut r = Reader::new(&out);
        for v in values {
            assert_eq!(r.var("v").unwrap(), v);
        }
        r.finish("end").unwrap();
        // 11 continuation bytes, and a tenth byte above bit 63.
        assert!(Reader::new(&[0xff; 11]).var("v").is_err());
        let mut big = vec![0xff; 9];
        big.push(0x02);
        assert_eq!(
            Reader::new(&big).var("v"),
            Err(DecodeError::OutOfRange { what: "v" })
        );
        assert_eq!(
            Reader::new(&[0x80]).var("v"),
            Err(DecodeError::Truncated { what: "v" })
        );
    }

    #[test]
    fn lengths_beyond_the_input_are_errors_not_allocations() {
        let mut out = Vec::new();
        put_var(&mut out, u64::MAX / 2);
        out.extend_from_slice(b"abc");
        assert!(Reader::new(&out).bytes("b").is_err());
        assert!(Reader::new(&out).count(1, "n").is_err());
        assert!(read_ascending(&mut Reader::new(&out), "a").is_err());
        let mut ok = Vec::new();
        put_bytes(&mut ok, b"abc");
        put_ascending(&mut ok, &[3, 9, 1 << 40]);
        put_counts(&mut ok, &[(0, 1), (5, 7)]);
        let mut r = Reader::new(&ok);
        assert_eq!(r.bytes("b").unwrap(), b"abc");
        assert_eq!(read_ascending(&mut r, "a").unwrap(), vec![3, 9, 1 << 40]);
        assert_eq!(read_counts(&mut r, "c").unwrap(), vec![(0, 1), (5, 7)]);
        r.finish("end").unwrap();
        // A repeated key and a zero count are not what the encoder writes.
        let mut dup = Vec::new();
        put_var(&mut dup, 2);
        dup.extend_from_slice(&[1, 1, 0, 1]);
        assert!(read_counts(&mut Reader::new(&dup), "c").is_err());
        let mut zero = Vec::new();
        put_counts(&mut zero, &[(4, 1)]);
        *zero.last_mut().unwrap() = 0;
        assert!(read_counts(&mut Reader::new(&zero), "c").is_err());
    }
}
