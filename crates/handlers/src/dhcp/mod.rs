//! pktvisor's dhcp handler (schema key `dhcp`, src/handlers/dhcp/DhcpStreamHandler.cpp): DHCPv4
//! packets by message type (DISCOVER, OFFER, REQUEST, ACK) and DHCPv6 ones (SOLICIT, ADVERTISE,
//! REQUEST, REPLY), the servers that answer (`top_servers`) and the clients that got a lease
//! (`top_clients`, from REQUEST/ACK transactions).
//!
//! A UDP packet to or from port 67 or 68 is DHCPv4, else one to or from 546 or 547 is DHCPv6
//! (`process_udp_packet_cb`); it counts in `events` and `total` whether or not it parses, its
//! message type only when it does.

mod bucket;
pub mod kind;
pub mod metrics;
pub mod settings;
pub mod xact;

pub use bucket::{DhcpBucket, DhcpCounters};

use crate::event::PacketEvent;
use crate::windowed::{self, BucketWindow};
use pv_sketch::window::WindowSpec;
use pv_wire::dhcp::{self, DhcpMessage};
use pv_wire::dhcpv6::{self, Dhcpv6Message};
use pv_wire::ethernet::MacAddr;
use pv_wire::{L3, L4};
use std::fmt::Write as _;
use std::net::IpAddr;
use xact::{Request, Transactions};

pub const SCHEMA_KEY: &str = "dhcp";

/// pktvisor's default transaction TTL (`TransactionManager(uint32_t ttl_ms = 5000)`).
pub const DEFAULT_XACT_TTL_NS: u64 = 5_000_000_000;

#[derive(Clone, Debug)]
pub struct DhcpConfig {
    /// Entries per top list (pktvisor's `topn_count`, default 10).
    pub topn_count: usize,
    /// pktvisor's `topn_percentile_threshold` (0..=100): see [`crate::top_threshold`].
    pub topn_percentile_threshold: u8,
    /// How long a REQUEST waits for its ACK (`xact_ttl_ms` / `xact_ttl_secs`).
    pub xact_ttl_ns: u64,
}

impl Default for DhcpConfig {
    fn default() -> Self {
        Self {
            topn_count: 10,
            topn_percentile_threshold: 0,
            xact_ttl_ns: DEFAULT_XACT_TTL_NS,
        }
    }
}

pub struct DhcpHandler {
    config: DhcpConfig,
    window: BucketWindow<DhcpBucket>,
    requests: Transactions,
}

/// `aa:bb:cc:dd:ee:ff`, as pcpp's `MacAddress::toString`.
fn mac_text(mac: &MacAddr) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl DhcpHandler {
    pub fn new(config: DhcpConfig, window: WindowSpec) -> Self {
        let requests = Transactions::new(config.xact_ttl_ns);
        Self {
            config,
            window: windowed::window(window),
            requests,
        }
    }

    /// Transactions evicted from the full REQUEST table (see [`xact::CAP`]).
    pub fn evicted(&self) -> u64 {
        self.requests.evicted
    }

    #[inline]
    pub fn process(&mut self, ev: &PacketEvent<'_>) {
        let d = ev.decoded;
        if d.l4 != L4::Udp {
            return;
        }
        let is = |port: u16| d.src_port == port || d.dst_port == port;
        if is(dhcp::SERVER_PORT) || is(dhcp::CLIENT_PORT) {
            self.v4(ev);
        } else if is(dhcpv6::CLIENT_PORT) || is(dhcpv6::SERVER_PORT) {
            self.v6(ev);
        }
    }

    /// `DhcpMetricsManager::process_dhcp_layer` and the bucket's.
    fn v4(&mut self, ev: &PacketEvent<'_>) {
        let d = ev.decoded;
        let bucket = self.window.bucket_at(ev.ts_ns);
        bucket.packet(ev.ts_ns, ev.deep);
        let Some(msg) = DhcpMessage::new(d.l4_payload) else {
            return;
        };
        let kind = msg.message_type();
        let c = bucket.counters_mut();
        match kind {
            Some(dhcp::MessageType::Discover) => c.discover += 1,
            Some(dhcp::MessageType::Offer) => c.offer += 1,
            Some(dhcp::MessageType::Request) => c.request += 1,
            Some(dhcp::MessageType::Ack) => c.ack += 1,
            _ => {}
        }
        if ev.deep
            && kind == Some(dhcp::MessageType::Offer)
            && let (Some(server), Some(mac)) = (msg.server_identifier(), d.src_mac)
        {
            bucket.server(format!("{}/{server}", mac_text(&mac)));
        }
        match kind {
            Some(dhcp::MessageType::Request) => {
                let host = match msg.host_name() {
                    Some(raw) => String::from_utf8_lossy(raw)
                        .trim_end_matches('\0')
                        .to_string(),
                    None => "Unknown".to_string(),
                };
                // pcpp's getClientHardwareAddress: MacAddress::Zero unless Ethernet.
                let mac = mac_text(&msg.client_mac().unwrap_or_default());
                self.requests.start(
                    msg.xid(),
                    Request {
                        start_ns: ev.ts_ns,
                        client: format!("{mac}/{host}"),
                    },
                );
            }
            Some(dhcp::MessageType::Ack) => {
                if let Some(request) = self.requests.end(msg.xid(), ev.ts_ns) {
                    let yours = msg.your_ip();
                    // `new_dhcp_transaction`: deep packets, a valid (non-zero) yiaddr.
                    if ev.deep && !yours.is_unspecified() {
                        self.window
                            .bucket_at(ev.ts_ns)
                            .client(format!("{}/{yours}", request.client));
                    }
                }
            }
            _ => {}
        }
    }

    /// `DhcpMetricsManager::process_dhcp_v6_layer` and the bucket's.
    fn v6(&mut self, ev: &PacketEvent<'_>) {
        let d = ev.decoded;
        let bucket = self.window.bucket_at(ev.ts_ns);
        bucket.packet(ev.ts_ns, ev.deep);
        let Some(msg) = Dhcpv6Message::new(d.l4_payload) else {
            return;
        };
        let kind = msg.message_type();
        let c = bucket.counters_mut();
        match kind {
            dhcpv6::MessageType::Solicit => c.solicit += 1,
            dhcpv6::MessageType::Advertise => c.advertise += 1,
            dhcpv6::MessageType::Request => c.request_v6 += 1,
            dhcpv6::MessageType::Reply => c.reply += 1,
            _ => {}
        }
        let answers = matches!(
            kind,
            dhcpv6::MessageType::Reply | dhcpv6::MessageType::Advertise
        );
        if ev.deep
            && answers
            && d.l3 == L3::Ipv6
            && msg.option(dhcpv6::OPTION_SERVERID).is_some()
            && let (Some(mac), IpAddr::V6(src)) = (d.src_mac, d.src)
        {
            bucket.server(format!("{}/{src}", mac_text(&mac)));
        }
    }

    /// The stream's packet time reached `sec`: the window rotates, and REQUESTs older than the
    /// TTL are dropped (pktvisor purges them at each period shift; here at each second, so
    /// the table never holds the expired ones for a whole period).
    pub fn clock(&mut self, sec: u64) {
        self.window.advance_to(sec);
        if !self.requests.is_empty() {
            self.requests.purge(sec.saturating_mul(1_000_000_000));
        }
    }
}
