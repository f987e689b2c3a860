//! The dnstap protobuf messages (`dnstap.proto`, as pktvisor ships it in
//! `src/inputs/dnstap/pb/dnstap.proto`): the `Dnstap` envelope and the `Message` fields
//! pktvisor's dns handler reads (`DnsMetricsManager::process_dnstap`). Read by hand over
//! [`super::protobuf`]: no generated code, no build step.

use super::protobuf::{Fields, ProtobufError, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `Message.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    AuthQuery,
    AuthResponse,
    ResolverQuery,
    ResolverResponse,
    ClientQuery,
    ClientResponse,
    ForwarderQuery,
    ForwarderResponse,
    StubQuery,
    StubResponse,
    ToolQuery,
    ToolResponse,
    UpdateQuery,
    UpdateResponse,
}

impl MessageType {
    pub fn from_code(v: u64) -> Option<Self> {
        use MessageType::*;
        Some(match v {
            1 => AuthQuery,
            2 => AuthResponse,
            3 => ResolverQuery,
            4 => ResolverResponse,
            5 => ClientQuery,
            6 => ClientResponse,
            7 => ForwarderQuery,
            8 => ForwarderResponse,
            9 => StubQuery,
            10 => StubResponse,
            11 => ToolQuery,
            12 => ToolResponse,
            13 => UpdateQuery,
            14 => UpdateResponse,
            _ => return None,
        })
    }

    /// Whether this is a response (the even codes).
    pub fn is_response(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            AuthResponse
                | ResolverResponse
                | ClientResponse
                | ForwarderResponse
                | StubResponse
                | ToolResponse
                | UpdateResponse
        )
    }

    /// The server's side of the conversation: a message this server received from or sent
    /// to its clients (CLIENT, AUTH, UPDATE), as pktvisor's dns v2 handler
    /// (`DnsMetricsManager::process_dnstap`) files it under direction `in`; the others are
    /// queries this server sent (resolver, forwarder, stub, tool): `out`.
    pub fn is_inbound(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            ClientQuery | ClientResponse | AuthQuery | AuthResponse | UpdateQuery | UpdateResponse
        )
    }

    /// The type's family as pktvisor's `dnstap_msg_type` names it
    /// (`DnsStreamHandler::_dnstap_map_types`): each query type with its response type.
    pub fn family(self) -> &'static str {
        use MessageType::*;
        match self {
            AuthQuery | AuthResponse => "auth",
            ResolverQuery | ResolverResponse => "resolver",
            ClientQuery | ClientResponse => "client",
            ForwarderQuery | ForwarderResponse => "forwarder",
            StubQuery | StubResponse => "stub",
            ToolQuery | ToolResponse => "tool",
            UpdateQuery | UpdateResponse => "update",
        }
    }

    /// dnstap-ldns's two-letter name (`CQ`, `CR`, `AQ`, ...).
    pub fn short_name(self) -> &'static str {
        use MessageType::*;
        match self {
            AuthQuery => "AQ",
            AuthResponse => "AR",
            ResolverQuery => "RQ",
            ResolverResponse => "RR",
            ClientQuery => "CQ",
            ClientResponse => "CR",
            ForwarderQuery => "FQ",
            ForwarderResponse => "FR",
            StubQuery => "SQ",
            StubResponse => "SR",
            ToolQuery => "TQ",
            ToolResponse => "TR",
            UpdateQuery => "UQ",
            UpdateResponse => "UR",
        }
    }
}

/// `SocketFamily`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketFamily {
    Inet,
    Inet6,
}

/// `SocketProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketProtocol {
    Udp,
    Tcp,
    Dot,
    Doh,
    DnsCryptUdp,
    DnsCryptTcp,
    Doq,
}

impl SocketProtocol {
    fn from_code(v: u64) -> Option<Self> {
        use SocketProtocol::*;
        Some(match v {
            1 => Udp,
            2 => Tcp,
            3 => Dot,
            4 => Doh,
            5 => DnsCryptUdp,
            6 => DnsCryptTcp,
            7 => Doq,
            _ => return None,
        })
    }
}

/// Why a data frame is not a dnstap message pktvisor reads; the frame is counted and
/// skipped (pktvisor logs "skipping frame" and goes on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnstapError {
    Protobuf(ProtobufError),
    /// `Dnstap.type` missing or not MESSAGE, or no `message`.
    NotAMessage,
    /// `Message.type` missing or unknown.
    BadMessageType,
    /// An address that is neither 4 nor 16 bytes.
    BadAddress,
}

impl std::fmt::Display for DnstapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnstapError::Protobuf(e) => write!(f, "damaged dnstap protobuf: {e}"),
            DnstapError::NotAMessage => {
                write!(f, "dnstap data is not of type MESSAGE or has no message")
            }
            DnstapError::BadMessageType => write!(f, "dnstap message type missing or unknown"),
            DnstapError::BadAddress => write!(f, "dnstap address is neither 4 nor 16 bytes"),
        }
    }
}

impl std::error::Error for DnstapError {}

impl From<ProtobufError> for DnstapError {
    fn from(e: ProtobufError) -> Self {
        DnstapError::Protobuf(e)
    }
}

/// The `Dnstap` envelope of one data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dnstap<'a> {
    pub identity: Option<&'a [u8]>,
    pub version: Option<&'a [u8]>,
    pub message: Message<'a>,
}

/// `Message`: every field pktvisor reads. Times are `(seconds, nanoseconds)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: MessageType,
    pub socket_family: Option<SocketFamily>,
    pub socket_protocol: Option<SocketProtocol>,
    pub query_address: Option<IpAddr>,
    pub response_address: Option<IpAddr>,
    pub query_port: Option<u16>,
    pub response_port: Option<u16>,
    pub query_time: Option<(u64, u32)>,
    pub response_time: Option<(u64, u32)>,
    pub query_message: Option<&'a [u8]>,
    pub response_message: Option<&'a [u8]>,
}

impl<'a> Dnstap<'a> {
    /// Reads one data frame's payload.
    pub fn parse(frame: &'a [u8]) -> Result<Self, DnstapError> {
        let (mut identity, mut version, mut is_message, mut message) = (None, None, false, None);
        for field in Fields::new(frame) {
            match field? {
                (1, Value::Bytes(b)) => identity = Some(b),
                (2, Value::Bytes(b)) => version = Some(b),
                (14, Value::Bytes(b)) => message = Some(b),
                (15, Value::Varint(t)) => is_message = t == 1,
                _ => {}
            }
        }
        match (is_message, message) {
            (true, Some(m)) => Ok(Dnstap {
                identity,
                version,
                message: Message::parse(m)?,
            }),
            _ => Err(DnstapError::NotAMessage),
        }
    }
}

fn address(b: &[u8]) -> Result<IpAddr, DnstapError> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Ok(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Ok(IpAddr::V6(Ipv6Addr::from(v6)))
    } else {
        Err(DnstapError::BadAddress)
    }
}

impl<'a> Message<'a> {
    pub fn parse(m: &'a [u8]) -> Result<Self, DnstapError> {
        let mut kind = None;
        let mut msg = Message {
            kind: MessageType::ClientQuery,
            socket_family: None,
            socket_protocol: None,
            query_address: None,
            response_address: None,
            query_port: None,
            response_port: None,
            query_time: None,
            response_time: None,
            query_message: None,
            response_message: None,
        };
        let (mut qsec, mut qnsec, mut rsec, mut rnsec) = (None, 0, None, 0);
        for field in Fields::new(m) {
            match field? {
                (1, Value::Varint(t)) => kind = MessageType::from_code(t),
                (2, Value::Varint(1)) => msg.socket_family = Some(SocketFamily::Inet),
                (2, Value::Varint(2)) => msg.socket_family = Some(SocketFamily::Inet6),
                (3, Value::Varint(p)) => msg.socket_protocol = SocketProtocol::from_code(p),
                (4, Value::Bytes(b)) => msg.query_address = Some(address(b)?),
                (5, Value::Bytes(b)) => msg.response_address = Some(address(b)?),
                // uint32 in the schema; a port above 65535 is not one.
                (6, Value::Varint(p)) => msg.query_port = u16::try_from(p).ok(),
                (7, Value::Varint(p)) => msg.response_port = u16::try_from(p).ok(),
                (8, Value::Varint(s)) => qsec = Some(s),
                (9, Value::Fixed32(n)) => qnsec = n,
                (10, Value::Bytes(b)) => msg.query_message = Some(b),
                (12, Value::Varint(s)) => rsec = Some(s),
                (13, Value::Fixed32(n)) => rnsec = n,
                (14, Value::Bytes(b)) => msg.response_message = Some(b),
                _ => {}
            }
        }
        msg.kind = kind.ok_or(DnstapError::BadMessageType)?;
        msg.query_time = qsec.map(|s| (s, qnsec));
        msg.response_time = rsec.map(|s| (s, rnsec));
        Ok(msg)
    }

    /// The DNS message this dnstap message is about: the response's for a response type,
    /// else the query's (pktvisor's `process_dnstap` reads the same one).
    pub fn dns_message(&self) -> Option<&'a [u8]> {
        if self.kind.is_response() {
            self.response_message
        } else {
            self.query_message
        }
    }

    /// The message's time in nanoseconds since the Unix epoch: the response time of a
    /// response, the query time of a query, else the other one.
    pub fn time_ns(&self) -> Option<u64> {
        let (first, second) = if self.kind.is_response() {
            (self.response_time, self.query_time)
        } else {
            (self.query_time, self.response_time)
        };
        first
            .or(second)
            .map(|(s, n)| s.saturating_mul(1_000_000_000).saturating_add(u64::from(n)))
    }
}
