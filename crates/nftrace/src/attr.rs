//! Netlink attributes (`struct nlattr`): a 4-byte header (length and type in host byte
//! order), the value, padding to 4 bytes. nftables puts its numbers big-endian inside.

use crate::nlmsg::align;

/// `sizeof(struct nlattr)`.
pub const HEADER_LEN: usize = 4;
/// Flag bits of the type field (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`), masked off.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// Why an attribute could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    #[error("attribute header cut short")]
    Truncated,
    #[error("attribute length {0} is below its header or past the message")]
    BadLength(u16),
    #[error("attribute {kind} holds {len} bytes, expected {expected}")]
    BadSize {
        kind: u16,
        len: usize,
        expected: usize,
    },
    #[error("attribute {0} is not a NUL-terminated UTF-8 string")]
    BadString(u16),
    #[error("nested attribute {outer} lacks its attribute {inner}")]
    Missing { outer: u16, inner: u16 },
}

/// Checked view over one attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    kind: u16,
    value: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The type without its flag bits.
    #[inline]
    pub fn kind(&self) -> u16 {
        self.kind
    }

    #[inline]
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    fn exact<const N: usize>(&self) -> Result<[u8; N], AttrError> {
        self.value.try_into().map_err(|_| AttrError::BadSize {
            kind: self.kind,
            len: self.value.len(),
            expected: N,
        })
    }

    pub fn u8(&self) -> Result<u8, AttrError> {
        self.exact::<1>().map(|b| b[0])
    }

    pub fn be16(&self) -> Result<u16, AttrError> {
        self.exact::<2>().map(u16::from_be_bytes)
    }

    pub fn be32(&self) -> Result<u32, AttrError> {
        self.exact::<4>().map(u32::from_be_bytes)
    }

    pub fn be64(&self) -> Result<u64, AttrError> {
        self.exact::<8>().map(u64::from_be_bytes)
    }

    /// An `NLA_STRING`: up to its first NUL (the kernel always sends one).
    pub fn string(&self) -> Result<&'a str, AttrError> {
        let bytes = match self.value.iter().position(|&b| b == 0) {
            Some(end) => self.value.get(..end).unwrap_or_default(),
            None => return Err(AttrError::BadString(self.kind)),
        };
        std::str::from_utf8(bytes).map_err(|_| AttrError::BadString(self.kind))
    }

    /// The attributes nested inside this one.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.value)
    }
}

/// The attributes of a message (or of a nested attribute) in order; stops at the first
/// broken header and yields its error once.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Attrs { rest: bytes }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, AttrError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = (|| {
            let h = self
                .rest
                .first_chunk::<HEADER_LEN>()
                .ok_or(AttrError::Truncated)?;
            let len16 = u16::from_ne_bytes([h[0], h[1]]);
            let len = usize::from(len16);
            if len < HEADER_LEN {
                return Err(AttrError::BadLength(len16));
            }
            let value = self
                .rest
                .get(HEADER_LEN..len)
                .ok_or(AttrError::BadLength(len16))?;
            let kind = u16::from_ne_bytes([h[2], h[3]]) & NLA_TYPE_MASK;
            let next = align(len)
                .and_then(|end| self.rest.get(end..))
                .unwrap_or_default();
            Ok((Attr { kind, value }, next))
        })();
        match item {
            Ok((attr, next)) => {
                self.rest = next;
                Some(Ok(attr))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Appends one attribute (host-order header, padded) to `out`: for the tests' hand-made
/// messages and for requests.
pub fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(HEADER_LEN + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(crate::nlmsg::ALIGN) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_values() {
        let mut b = Vec::new();
        put(&mut b, 1, b"filter\0");
        put(&mut b, 6, &0x1a2b_3c4du32.to_be_bytes());
        put(&mut b, 0x8000 | 5, &[8, 0, 1, 0, 0, 0, 0, 1]); // nested, NLA_F_NESTED set
        put(&mut b, 19, &[1]);
        let attrs: Vec<_> = Attrs::new(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs.len(), 4);
        assert_eq!(attrs[0].string(), Ok("filter"));
        assert_eq!(attrs[1].be32(), Ok(0x1a2b_3c4d));
        assert_eq!(attrs[2].kind(), 5);
        let inner: Vec<_> = attrs[2].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!((inner[0].kind(), inner[0].be32()), (1, Ok(1)));
        assert_eq!(attrs[3].u8(), Ok(1));
        assert_eq!(
            attrs[3].be32(),
            Err(AttrError::BadSize {
                kind: 19,
                len: 1,
                expected: 4
            })
        );
    }

    #[test]
    fn hostile_bytes() {
        assert_eq!(Attrs::new(&[5, 0]).next(), Some(Err(AttrError::Truncated)));
        assert_eq!(
            Attrs::new(&[2, 0, 1, 0]).next(),
            Some(Err(AttrError::BadLength(2)))
        );
        let mut it = Attrs::new(&[200, 0, 1, 0, 0]);
        assert_eq!(it.next(), Some(Err(AttrError::BadLength(200))));
        assert_eq!(it.next(), None);
        let mut b = Vec::new();
        put(&mut b, 1, b"no-nul");
        let a = Attrs::new(&b).next().unwrap().unwrap();
        assert_eq!(a.string(), Err(AttrError::BadString(1)));
    }
}
