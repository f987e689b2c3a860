//! A checked big-endian reader over a datagram: every read names what it reads, so that a
//! short datagram is an error saying where it ended.

use super::FlowError;

#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FlowError> {
        if n > self.bytes.len() {
            return Err(FlowError::Truncated { what });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), FlowError> {
        self.take(n, what).map(|_| ())
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, FlowError> {
        let (&b, tail) = self
            .bytes
            .split_first()
            .ok_or(FlowError::Truncated { what })?;
        self.bytes = tail;
        Ok(b)
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, FlowError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, FlowError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FlowError> {
        let (head, tail) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(FlowError::Truncated { what })?;
        self.bytes = tail;
        Ok(*head)
    }
}

/// An unsigned integer of 1 to 8 big-endian bytes (NetFlow v9 / IPFIX reduced-size encoding);
/// wider fields keep their low 8 bytes.
pub fn uint_be(bytes: &[u8]) -> u64 {
    let tail = bytes.len().saturating_sub(8);
    bytes
        .get(tail..)
        .unwrap_or(&[])
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_names_what_is_missing() {
        let mut c = Cursor::new(&[0, 9, 1, 2, 3]);
        assert_eq!(c.u16("version"), Ok(9));
        assert_eq!(c.u16("count"), Ok(0x0102));
        assert_eq!(
            c.u32("uptime"),
            Err(FlowError::Truncated { what: "uptime" })
        );
        assert_eq!(c.u8("x"), Ok(3));
        assert!(c.is_empty());
    }

    #[test]
    fn uint_be_of_every_width() {
        assert_eq!(uint_be(&[]), 0);
        assert_eq!(uint_be(&[7]), 7);
        assert_eq!(uint_be(&[1, 0]), 256);
        assert_eq!(uint_be(&[0, 0, 0, 0, 0, 1, 0, 0]), 65536);
        assert_eq!(uint_be(&[9, 0, 0, 0, 0, 0, 0, 0, 5]), 5);
    }
}
