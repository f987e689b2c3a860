//! DHCPv4 (RFC 2131) over BOOTP (RFC 951): the fixed 236-byte header, the magic cookie and
//! the options (RFC 2132) that follow it.
//!
//! The view exists once the fixed header is captured; the options are read lazily and every
//! read is bounds-checked, so a truncated or hostile option list ends the walk instead of
//! reading past the datagram.

use crate::ethernet::MacAddr;
use std::net::Ipv4Addr;

/// op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr (16),
/// sname (64), file (128).
pub const HEADER_LEN: usize = 236;

/// RFC 2131 section 3: the first four bytes of the options field.
pub const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];

/// UDP ports: server and client.
pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

pub const OPTION_PAD: u8 = 0;
pub const OPTION_HOST_NAME: u8 = 12;
pub const OPTION_MESSAGE_TYPE: u8 = 53;
pub const OPTION_SERVER_IDENTIFIER: u8 = 54;
pub const OPTION_END: u8 = 255;

/// The DHCP message types (option 53, RFC 2132 section 9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
    /// A value RFC 2132 does not define (later RFCs add lease query types 10..).
    Other(u8),
}

impl MessageType {
    pub fn from_u8(v: u8) -> MessageType {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            n => MessageType::Other(n),
        }
    }
}

/// Checked view over a DHCPv4 message (the UDP payload).
#[derive(Clone, Copy, Debug)]
pub struct DhcpMessage<'a> {
    header: &'a [u8; HEADER_LEN],
    rest: &'a [u8],
}

impl<'a> DhcpMessage<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    pub fn new(payload: &'a [u8]) -> Option<Self> {
        let (header, rest) = payload.split_first_chunk::<HEADER_LEN>()?;
        Some(DhcpMessage { header, rest })
    }

    /// 1 BOOTREQUEST, 2 BOOTREPLY.
    pub fn op(&self) -> u8 {
        self.header[0]
    }

    pub fn htype(&self) -> u8 {
        self.header[1]
    }

    pub fn hlen(&self) -> u8 {
        self.header[2]
    }

    pub fn xid(&self) -> u32 {
        u32::from_be_bytes([
            self.header[4],
            self.header[5],
            self.header[6],
            self.header[7],
        ])
    }

    /// `ciaddr`: the client's address when it already has one.
    pub fn client_ip(&self) -> Ipv4Addr {
        let h = self.header;
        Ipv4Addr::new(h[12], h[13], h[14], h[15])
    }

    /// `yiaddr`: the address the server gives the client.
    pub fn your_ip(&self) -> Ipv4Addr {
        let h = self.header;
        Ipv4Addr::new(h[16], h[17], h[18], h[19])
    }

    /// The client's MAC address from `chaddr`, when the hardware is Ethernet (htype 1, hlen
    /// 6); other hardware types carry something else there.
    pub fn client_mac(&self) -> Option<MacAddr> {
        if self.htype() != 1 || self.hlen() != 6 {
            return None;
        }
        let h = self.header;
        Some([h[28], h[29], h[30], h[31], h[32], h[33]])
    }

    /// The options after a valid magic cookie (empty without one: a plain BOOTP message).
    pub fn options(&self) -> Options<'a> {
        match self.rest.split_first_chunk::<4>() {
            Some((cookie, opts)) if *cookie == MAGIC_COOKIE => Options { rest: opts },
            _ => Options { rest: &[] },
        }
    }

    /// The first option of `code`, its value bytes.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        self.options().find(|o| o.code == code).map(|o| o.data)
    }

    /// Option 53, when present with its one byte.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(OPTION_MESSAGE_TYPE)? {
            [t, ..] => Some(MessageType::from_u8(*t)),
            [] => None,
        }
    }

    /// Option 54 (the server's address), when four bytes long.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        match self.option(OPTION_SERVER_IDENTIFIER)? {
            [a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
            _ => None,
        }
    }

    /// Option 12 (the client's host name), raw.
    pub fn host_name(&self) -> Option<&'a [u8]> {
        self.option(OPTION_HOST_NAME)
    }
}

/// One option: its code and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    pub code: u8,
    pub data: &'a [u8],
}

/// Walks the options: pad bytes are skipped, the end option or an option whose length runs
/// past the captured bytes ends the walk.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = DhcpOption<'a>;

    fn next(&mut self) -> Option<DhcpOption<'a>> {
        loop {
            let (&code, after) = self.rest.split_first()?;
            match code {
                OPTION_PAD => self.rest = after,
                OPTION_END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let Some((&len, body)) = after.split_first() else {
                        self.rest = &[];
                        return None;
                    };
                    let Some((data, next)) = body.split_at_checked(usize::from(len)) else {
                        self.rest = &[];
                        return None;
                    };
                    self.rest = next;
                    return Some(DhcpOption { code, data });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;

    /// dhcp-flow.pcap (pktvisor's fixture) frame 4, UDP payload: the server 192.168.2.1's
    /// OFFER of 192.168.2.205 to 78:4f:43:78:19:bc, xid 0x978a1b11 (as tshark shows it).
    const OFFER: &str = concat!(
        "02010600978a1b110002000000000000c0a802cdc0a8020100000000784f437819bc000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000063825363",
        "3501023604c0a8020133040000a8c03a04000054603b04000093a80104ffffff001c04c0a802ff03",
        "04c0a802010604c0a80201ff0000000000000000",
    );

    /// dhcp-flow.pcap frame 5: the client's REQUEST with host name "Shannons-MBP".
    const REQUEST: &str = concat!(
        "01010600978a1b110003000000000000000000000000000000000000784f437819bc000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000063825363",
        "350103370b017903060f7277fc5f2c2e390205dc3d0701784f437819bc3204c0a802cd3604c0a802",
        "010c0c5368616e6e6f6e732d4d4250ff00000000",
    );

    #[test]
    fn offer_from_the_fixture() {
        let bytes = hex(OFFER);
        let m = DhcpMessage::new(&bytes).unwrap();
        assert_eq!(m.op(), 2);
        assert_eq!(m.xid(), 0x978a_1b11);
        assert_eq!(m.message_type(), Some(MessageType::Offer));
        assert_eq!(m.your_ip(), Ipv4Addr::new(192, 168, 2, 205));
        assert_eq!(m.client_mac(), Some([0x78, 0x4f, 0x43, 0x78, 0x19, 0xbc]));
        assert_eq!(m.server_identifier(), Some(Ipv4Addr::new(192, 168, 2, 1)));
        assert_eq!(m.host_name(), None);
        // tshark lists 9 options before End: 53, 54, 51, 58, 59, 1, 28, 3, 6.
        assert_eq!(m.options().count(), 9);
    }

    #[test]
    fn request_from_the_fixture() {
        let bytes = hex(REQUEST);
        let m = DhcpMessage::new(&bytes).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Request));
        assert_eq!(m.host_name(), Some(&b"Shannons-MBP"[..]));
        assert_eq!(m.your_ip(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(m.server_identifier(), Some(Ipv4Addr::new(192, 168, 2, 1)));
    }

    #[test]
    fn truncated_and_hostile_options_end_the_walk() {
        let full = hex(REQUEST);
        // Every cut of the message: a view or None, and never a panic.
        for cut in 0..full.len() {
            if let Some(m) = DhcpMessage::new(&full[..cut]) {
                let _ = m.message_type();
                let _ = m.options().count();
            } else {
                assert!(cut < HEADER_LEN);
            }
        }
        // Option 53 cut to its length byte: no message type.
        let mut short = full[..HEADER_LEN + 4].to_vec();
        short.extend([OPTION_MESSAGE_TYPE, 5, 1]);
        assert_eq!(DhcpMessage::new(&short).unwrap().message_type(), None);
        // No magic cookie: no options at all.
        let mut bootp = full.clone();
        bootp[HEADER_LEN] = 0;
        assert_eq!(DhcpMessage::new(&bootp).unwrap().options().count(), 0);
        // A zero-length option 53 is skipped over, not read.
        let mut empty = full[..HEADER_LEN + 4].to_vec();
        empty.extend([OPTION_MESSAGE_TYPE, 0, OPTION_PAD, OPTION_END]);
        assert_eq!(DhcpMessage::new(&empty).unwrap().message_type(), None);
    }
}
