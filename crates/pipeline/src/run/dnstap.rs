//! What a policy does with one dnstap message before its handlers: pktvisor's `only_hosts`
//! filter (`DnstapInputEventProxy::dnstap_cb`, src/inputs/dnstap/DnstapInputStream.h), the
//! message's time and direction, and the event the dns handler reads
//! ([`pv_handlers::Handler::dns_message`]).

use pv_handlers::{Direction, HostSpec};
use pv_wire::dnstap::{Message, SocketFamily, SocketProtocol};
use pv_wire::{Decoded, L3, L4};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// pktvisor's `only_hosts`: a message is kept when its query or its response address is in
/// one of the CIDRs; a message with neither address is dropped.
pub(crate) fn only_hosts_keeps(spec: &HostSpec, m: &Message<'_>) -> bool {
    match (m.query_address, m.response_address) {
        (Some(q), Some(r)) => spec.contains(&q) || spec.contains(&r),
        (Some(a), None) | (None, Some(a)) => spec.contains(&a),
        (None, None) => false,
    }
}

/// The message's time: the response time of a response, the query time of a query (as
/// pktvisor's `DnsMetricsManager::process_dnstap`), else the other one, else now (pktvisor
/// takes now for the types it does not read a time from).
pub(crate) fn time_ns(m: &Message<'_>) -> u64 {
    m.time_ns().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

/// The message's direction as a packet's would be, seen from the server that tapped it: a
/// query from its clients (CLIENT, AUTH, UPDATE) comes in and the response goes out, so that
/// the transaction counts as `in`, as pktvisor's dns v2 (`DnsMetricsManager::process_dnstap`)
/// files them; a query it sent itself (resolver, forwarder, stub, tool) goes out and its
/// response comes in: an `out` transaction.
pub(crate) fn direction(m: &Message<'_>) -> Direction {
    if m.kind.is_inbound() != m.kind.is_response() {
        Direction::In
    } else {
        Direction::Out
    }
}

/// The message as the dns handler's event reads it: addresses and ports in the message's own
/// direction (a query from `query_address`, a response to it), its transport, and the DNS
/// message as the payload. None when the dnstap message carries no DNS message.
pub(crate) fn decoded<'a>(m: &Message<'a>) -> Option<Decoded<'a>> {
    let payload = m.dns_message()?;
    let l3 = match (m.socket_family, m.query_address.or(m.response_address)) {
        (Some(SocketFamily::Inet), _) => L3::Ipv4,
        (Some(SocketFamily::Inet6), _) => L3::Ipv6,
        (None, Some(IpAddr::V4(_))) => L3::Ipv4,
        (None, Some(IpAddr::V6(_))) => L3::Ipv6,
        (None, None) => L3::None,
    };
    // DNS over TLS, HTTPS and DNSCrypt over TCP ride on TCP; the rest (and a message without
    // a protocol) on UDP.
    let l4 = match m.socket_protocol {
        Some(
            SocketProtocol::Tcp
            | SocketProtocol::Dot
            | SocketProtocol::Doh
            | SocketProtocol::DnsCryptTcp,
        ) => L4::Tcp,
        _ => L4::Udp,
    };
    let none = match l3 {
        L3::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let client = (m.query_address.unwrap_or(none), m.query_port.unwrap_or(0));
    let server = (
        m.response_address.unwrap_or(none),
        m.response_port.unwrap_or(0),
    );
    let (from, to) = if m.kind.is_response() {
        (server, client)
    } else {
        (client, server)
    };
    Some(Decoded {
        l3,
        l4,
        src: from.0,
        dst: to.0,
        src_port: from.1,
        dst_port: to.1,
        l4_payload: payload,
        ..Decoded::EMPTY
    })
}
