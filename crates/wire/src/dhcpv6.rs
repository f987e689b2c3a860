//! DHCPv6 (RFC 8415) client/server messages: message type, transaction id and the options
//! (2-byte code, 2-byte length) that follow. Relay messages (RELAY-FORW/REPL) have another
//! header; their type is read, their options are not walked.

/// UDP ports: client and server/relay.
pub const CLIENT_PORT: u16 = 546;
pub const SERVER_PORT: u16 = 547;

/// msg-type and transaction-id.
pub const HEADER_LEN: usize = 4;

pub const OPTION_CLIENTID: u16 = 1;
pub const OPTION_SERVERID: u16 = 2;

/// The message types (RFC 8415 section 7.3) pktvisor counts, and the rest by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Solicit,
    Advertise,
    Request,
    Confirm,
    Renew,
    Rebind,
    Reply,
    Release,
    Decline,
    Reconfigure,
    InformationRequest,
    RelayForw,
    RelayRepl,
    Other(u8),
}

impl MessageType {
    pub fn from_u8(v: u8) -> MessageType {
        match v {
            1 => MessageType::Solicit,
            2 => MessageType::Advertise,
            3 => MessageType::Request,
            4 => MessageType::Confirm,
            5 => MessageType::Renew,
            6 => MessageType::Rebind,
            7 => MessageType::Reply,
            8 => MessageType::Release,
            9 => MessageType::Decline,
            10 => MessageType::Reconfigure,
            11 => MessageType::InformationRequest,
            12 => MessageType::RelayForw,
            13 => MessageType::RelayRepl,
            n => MessageType::Other(n),
        }
    }

    fn is_relay(self) -> bool {
        matches!(self, MessageType::RelayForw | MessageType::RelayRepl)
    }
}

/// Checked view over a DHCPv6 message (the UDP payload).
#[derive(Clone, Copy, Debug)]
pub struct Dhcpv6Message<'a> {
    header: &'a [u8; HEADER_LEN],
    options: &'a [u8],
}

impl<'a> Dhcpv6Message<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    pub fn new(payload: &'a [u8]) -> Option<Self> {
        let (header, options) = payload.split_first_chunk::<HEADER_LEN>()?;
        Some(Dhcpv6Message { header, options })
    }

    pub fn message_type(&self) -> MessageType {
        MessageType::from_u8(self.header[0])
    }

    /// The 24-bit transaction id (0 for relay messages, whose header differs).
    pub fn transaction_id(&self) -> u32 {
        if self.message_type().is_relay() {
            return 0;
        }
        u32::from_be_bytes([0, self.header[1], self.header[2], self.header[3]])
    }

    /// The options of a client/server message (none for relay messages).
    pub fn options(&self) -> Options<'a> {
        let rest = if self.message_type().is_relay() {
            &[]
        } else {
            self.options
        };
        Options { rest }
    }

    /// The first option of `code`, its value bytes.
    pub fn option(&self, code: u16) -> Option<&'a [u8]> {
        self.options().find(|o| o.code == code).map(|o| o.data)
    }
}

/// One option: its code and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dhcpv6Option<'a> {
    pub code: u16,
    pub data: &'a [u8],
}

/// Walks the options; an option whose length runs past the captured bytes ends the walk.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = Dhcpv6Option<'a>;

    fn next(&mut self) -> Option<Dhcpv6Option<'a>> {
        let Some((head, body)) = self.rest.split_first_chunk::<4>() else {
            self.rest = &[];
            return None;
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some((data, next)) = body.split_at_checked(len) else {
            self.rest = &[];
            return None;
        };
        self.rest = next;
        Some(Dhcpv6Option { code, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;

    /// dhcpv6.pcap (pktvisor's fixture) frame 5, UDP payload: the server
    /// fe80::a00:27ff:fed4:10bb's ADVERTISE, XID 0x100874, options 25, 26 (inside 25), 1, 2
    /// as tshark shows them.
    const ADVERTISE: &str = concat!(
        "021008740019002927fe8f950000000000000000001a00190000119400001c2040200100000000fe",
        "0000000000000000000001000e000100011c39cf88080027fe8f950002000e000100011c3825e808",
        "0027d410bb",
    );

    #[test]
    fn advertise_from_the_fixture() {
        let bytes = hex(ADVERTISE);
        let m = Dhcpv6Message::new(&bytes).unwrap();
        assert_eq!(m.message_type(), MessageType::Advertise);
        assert_eq!(m.transaction_id(), 0x10_0874);
        let codes: Vec<u16> = m.options().map(|o| o.code).collect();
        assert_eq!(codes, [25, 1, 2]);
        // tshark: Server Identifier DUID 000100011c3825e8080027d410bb.
        assert_eq!(
            m.option(OPTION_SERVERID),
            Some(&hex("000100011c3825e8080027d410bb")[..])
        );
    }

    #[test]
    fn truncated_options_end_the_walk() {
        let full = hex(ADVERTISE);
        for cut in 0..=full.len() {
            match Dhcpv6Message::new(&full[..cut]) {
                Some(m) => {
                    let n = m.options().count();
                    // The server id is last: whole only in the whole message.
                    assert_eq!(m.option(OPTION_SERVERID).is_some(), cut == full.len());
                    assert!(n <= 3);
                }
                None => assert!(cut < HEADER_LEN),
            }
        }
    }
}
