//! The protobuf wire format, as far as dnstap needs it: a field is a key (field number and
//! wire type, one varint) and a value — a varint (0), 8 bytes (1), a length-delimited byte
//! string (2) or 4 bytes (5). Groups (3, 4) are not in the dnstap schema and are an error.
//! Unknown fields are skipped, as protobuf readers do.

/// Why a protobuf message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtobufError {
    /// A varint, fixed value or byte string runs past the end of the message.
    Truncated,
    /// A varint longer than 10 bytes.
    VarintTooLong,
    /// A wire type the schema never uses (groups) or that does not exist (6, 7).
    BadWireType(u8),
    /// Field number 0.
    BadFieldNumber,
}

impl std::fmt::Display for ProtobufError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtobufError::Truncated => {
                write!(f, "protobuf field runs past the end of the message")
            }
            ProtobufError::VarintTooLong => write!(f, "protobuf varint longer than 10 bytes"),
            ProtobufError::BadWireType(t) => write!(f, "protobuf wire type {t} not supported"),
            ProtobufError::BadFieldNumber => write!(f, "protobuf field number 0"),
        }
    }
}

impl std::error::Error for ProtobufError {}

/// One field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Reads a varint from the front of `buf`: its value and the bytes it took.
pub fn varint(buf: &[u8]) -> Result<(u64, usize), ProtobufError> {
    let mut v: u64 = 0;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    if buf.len() >= 10 {
        Err(ProtobufError::VarintTooLong)
    } else {
        Err(ProtobufError::Truncated)
    }
}

/// The fields of one message, in order: `(field number, value)`. After an error the iterator
/// ends.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(message: &'a [u8]) -> Self {
        Fields { rest: message }
    }

    fn read(&mut self) -> Result<(u32, Value<'a>), ProtobufError> {
        let (key, n) = varint(self.rest)?;
        let mut rest = self.rest.get(n..).ok_or(ProtobufError::Truncated)?;
        let number = u32::try_from(key >> 3).map_err(|_| ProtobufError::BadFieldNumber)?;
        if number == 0 {
            return Err(ProtobufError::BadFieldNumber);
        }
        let value = match (key & 7) as u8 {
            0 => {
                let (v, n) = varint(rest)?;
                rest = rest.get(n..).ok_or(ProtobufError::Truncated)?;
                Value::Varint(v)
            }
            1 => {
                let (b, r) = rest
                    .split_first_chunk::<8>()
                    .ok_or(ProtobufError::Truncated)?;
                rest = r;
                Value::Fixed64(u64::from_le_bytes(*b))
            }
            2 => {
                let (len, n) = varint(rest)?;
                let after = rest.get(n..).ok_or(ProtobufError::Truncated)?;
                let len = usize::try_from(len).map_err(|_| ProtobufError::Truncated)?;
                if len > after.len() {
                    return Err(ProtobufError::Truncated);
                }
                let (bytes, r) = after.split_at(len);
                rest = r;
                Value::Bytes(bytes)
            }
            5 => {
                let (b, r) = rest
                    .split_first_chunk::<4>()
                    .ok_or(ProtobufError::Truncated)?;
                rest = r;
                Value::Fixed32(u32::from_le_bytes(*b))
            }
            t => return Err(ProtobufError::BadWireType(t)),
        };
        self.rest = rest;
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), ProtobufError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        // protobuf's own documentation example: 150 is 0x96 0x01.
        assert_eq!(varint(&[0x96, 0x01]), Ok((150, 2)));
        assert_eq!(varint(&[0x01]), Ok((1, 1)));
        assert_eq!(varint(&[0x80]), Err(ProtobufError::Truncated));
        assert_eq!(varint(&[0xff; 11]), Err(ProtobufError::VarintTooLong));
        assert_eq!(varint(&[]), Err(ProtobufError::Truncated));
    }

    #[test]
    fn fields_and_errors() {
        // field 1 varint 150; field 2 bytes "ab"; field 9 fixed32 1; field 3 fixed64 2.
        let msg = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'a', b'b', 0x4d, 1, 0, 0, 0, 0x19, 2, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let f: Vec<_> = Fields::new(&msg).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            f,
            vec![
                (1, Value::Varint(150)),
                (2, Value::Bytes(b"ab")),
                (9, Value::Fixed32(1)),
                (3, Value::Fixed64(2)),
            ]
        );
        // A byte string longer than what is left.
        let bad = [0x12, 0x05, b'a'];
        assert_eq!(
            Fields::new(&bad).next(),
            Some(Err(ProtobufError::Truncated))
        );
        // A group (wire type 3).
        assert_eq!(
            Fields::new(&[0x0b]).next(),
            Some(Err(ProtobufError::BadWireType(3)))
        );
        assert_eq!(
            Fields::new(&[0x00, 0x01]).next(),
            Some(Err(ProtobufError::BadFieldNumber))
        );
    }
}
