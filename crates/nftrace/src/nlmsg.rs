//! Netlink message header (`struct nlmsghdr`, linux/netlink.h) and the walk over the
//! messages of one datagram.
//!
//! Netlink headers are in the host's byte order (the kernel and the reader share a
//! machine); the nftables attributes inside are big-endian, see [`crate::attr`].

/// `sizeof(struct nlmsghdr)`.
pub const HEADER_LEN: usize = 16;
/// Messages and attributes start on 4-byte boundaries (`NLMSG_ALIGNTO`, `NLA_ALIGNTO`).
pub const ALIGN: usize = 4;

/// Control message types (linux/netlink.h).
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`, `NLM_F_ACK`: flags of the one request we send (the generation).
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;

/// Rounds up to the netlink alignment; None on overflow (hostile lengths).
#[inline]
pub fn align(len: usize) -> Option<usize> {
    len.checked_add(ALIGN - 1).map(|n| n & !(ALIGN - 1))
}

/// Why a datagram could not be split into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NlmsgError {
    #[error("netlink message header cut short ({0} bytes left)")]
    Truncated(usize),
    #[error(
        "netlink message length {len} is below the header or past the datagram ({left} bytes left)"
    )]
    BadLength { len: u32, left: usize },
}

/// Checked view over one netlink message: exists only when the header is there and its
/// length field fits the datagram.
#[derive(Clone, Copy, Debug)]
pub struct NlMsg<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// The message at the start of `bytes` and what follows it (aligned).
    pub fn split(bytes: &'a [u8]) -> Result<(NlMsg<'a>, &'a [u8]), NlmsgError> {
        let header = bytes
            .first_chunk::<HEADER_LEN>()
            .ok_or(NlmsgError::Truncated(bytes.len()))?;
        let len32 = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
        let bad = NlmsgError::BadLength {
            len: len32,
            left: bytes.len(),
        };
        let len = usize::try_from(len32).map_err(|_| bad)?;
        if len < HEADER_LEN {
            return Err(bad);
        }
        let payload = bytes.get(HEADER_LEN..len).ok_or(bad)?;
        // The last message may end without its padding.
        let next = align(len)
            .and_then(|end| bytes.get(end..))
            .unwrap_or_default();
        Ok((NlMsg { header, payload }, next))
    }

    /// The length field: header and payload, without the padding after it.
    #[inline]
    pub fn length(&self) -> u32 {
        let h = self.header;
        u32::from_ne_bytes([h[0], h[1], h[2], h[3]])
    }

    #[inline]
    pub fn msg_type(&self) -> u16 {
        u16::from_ne_bytes([self.header[4], self.header[5]])
    }

    #[inline]
    pub fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.header[6], self.header[7]])
    }

    #[inline]
    pub fn seq(&self) -> u32 {
        let h = self.header;
        u32::from_ne_bytes([h[8], h[9], h[10], h[11]])
    }

    #[inline]
    pub fn port_id(&self) -> u32 {
        let h = self.header;
        u32::from_ne_bytes([h[12], h[13], h[14], h[15]])
    }

    /// Bytes after the header, up to the message's length.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// For `NLMSG_ERROR`: the (negative) errno, 0 for an acknowledgement.
    pub fn error_code(&self) -> Option<i32> {
        (self.msg_type() == NLMSG_ERROR)
            .then(|| {
                self.payload
                    .first_chunk::<4>()
                    .map(|b| i32::from_ne_bytes(*b))
            })
            .flatten()
    }
}

/// The messages of one datagram in order; stops at the first broken header (and yields
/// its error once).
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    pub fn new(datagram: &'a [u8]) -> Self {
        Messages { rest: datagram }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>, NlmsgError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match NlMsg::split(self.rest) {
            Ok((msg, next)) => {
                self.rest = next;
                Some(Ok(msg))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Writes a request header for a payload of `payload_len` bytes (host byte order).
pub fn request_header(msg_type: u16, flags: u16, seq: u32, payload_len: usize) -> [u8; HEADER_LEN] {
    let len = u32::try_from(HEADER_LEN + payload_len).unwrap_or(u32::MAX);
    let mut out = [0u8; HEADER_LEN];
    out[0..4].copy_from_slice(&len.to_ne_bytes());
    out[4..6].copy_from_slice(&msg_type.to_ne_bytes());
    out[6..8].copy_from_slice(&flags.to_ne_bytes());
    out[8..12].copy_from_slice(&seq.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two hand-made messages back to back as the kernel packs them: an NFT_MSG_NEWGEN
    // (type 0x0a0f, 36 bytes) and an NLMSG_DONE with a 4-byte payload.
    fn two_messages() -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&request_header(0x0a0f, 0, 7, 20));
        d.extend_from_slice(&[0u8; 20]);
        d.extend_from_slice(&request_header(NLMSG_DONE, 2, 8, 4));
        d.extend_from_slice(&[0u8; 4]);
        d
    }

    #[test]
    fn walks_messages() {
        let d = two_messages();
        let msgs: Vec<_> = Messages::new(&d).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            (msgs[0].msg_type(), msgs[0].length(), msgs[0].seq()),
            (0x0a0f, 36, 7)
        );
        assert_eq!(msgs[0].payload().len(), 20);
        assert_eq!((msgs[1].msg_type(), msgs[1].flags()), (NLMSG_DONE, 2));
    }

    #[test]
    fn hostile_lengths() {
        let mut d = two_messages();
        // Length below the header.
        d[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(matches!(
            Messages::new(&d).next(),
            Some(Err(NlmsgError::BadLength { len: 3, .. }))
        ));
        // Length past the datagram, and u32::MAX (alignment overflow on 32-bit).
        for len in [1000u32, u32::MAX] {
            d[0..4].copy_from_slice(&len.to_ne_bytes());
            let mut it = Messages::new(&d);
            assert!(matches!(it.next(), Some(Err(NlmsgError::BadLength { .. }))));
            assert!(it.next().is_none());
        }
        for cut in 0..HEADER_LEN {
            assert_eq!(
                NlMsg::split(&d[..cut]).err(),
                Some(NlmsgError::Truncated(cut))
            );
        }
    }

    #[test]
    fn error_message() {
        let mut d = request_header(NLMSG_ERROR, 0, 1, 4).to_vec();
        d.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        let (m, rest) = NlMsg::split(&d).unwrap();
        assert_eq!(m.error_code(), Some(-libc::EPERM));
        assert!(rest.is_empty());
    }
}
