//! pktvisor's dns handler (schema key `dns`): DNS wire packets over UDP and TCP (reassembled),
//! rcodes, qtypes, qname top lists and cardinality, EDNS Client Subnet, and transactions
//! (a query matched with its reply) with their latency.

mod bucket;
mod config;
mod dnstap;
mod filter;
pub mod kind;
pub mod metrics;
pub mod psl;
pub mod qname;
pub mod settings;
mod xact;
mod xact_index;

pub use bucket::{DnsBucket, DnsCounters, DnsEvent, Transport};
pub use config::{DEFAULT_PORTS, DnsConfig, DnsGroups};
pub use filter::DnsFilters;
pub use xact::{ReplyMatch, XactKey, XactTable};

use crate::event::PacketEvent;
use crate::geo::GeoCache;
use crate::json::RenderMode;
use crate::windowed::{self, BucketWindow};
use pv_sketch::window::{TimeBucket, WindowSpec};
use pv_wire::dns::{DnsMessage, NameText, parse_with_name};
use pv_wire::tcp_stream::{DnsTcpReassembler, ReassemblyStats, StreamKey};
use pv_wire::{Fragment, L4};
use serde_json::Value;

pub const SCHEMA_KEY: &str = "dns";

type DnsWindow = BucketWindow<DnsBucket>;

/// Everything but the TCP reassembler, so that reassembled messages can be handed to it while
/// the reassembler is borrowed.
struct Core {
    config: DnsConfig,
    window: DnsWindow,
    xacts: XactTable,
    /// p90 transaction times (µs) of the last complete bucket, (in, out): the "slow" bar.
    slow_us: (u64, u64),
    /// The second of packet time of the last transaction expiry.
    expired_at: u64,
    /// Packet time of the newest DNS message (the live bucket may have been opened by the
    /// clock since, and hold none).
    last_message_ns: Option<u64>,
    /// Lookups of ECS addresses, when a database is loaded and needed.
    geo: Option<GeoCache>,
    /// [`DnsConfig::reads_records`].
    parse_records: bool,
    /// Whether any filter is set (the default is none: every message is kept, unshifted).
    filtering: bool,
}

pub struct DnsHandler {
    core: Core,
    /// Reused buffers for the lower-cased question name and its dots: outside `Core`, so that
    /// the name can be read while `Core` updates itself.
    name: NameText,
    /// One bit per port: whether it carries DNS (checked twice per packet).
    dns_ports: Box<[u64; 1024]>,
    tcp: DnsTcpReassembler,
    /// The second of packet time of the last idle-stream expiry.
    tcp_expired_at: u64,
}

impl DnsHandler {
    pub fn new(config: DnsConfig, window: WindowSpec) -> Self {
        let tcp = DnsTcpReassembler::new(config.reassembly);
        let xacts = XactTable::new(config.xact_ttl_ns, config.xact_cap);
        let geo = config.geo_cache();
        let mut dns_ports = Box::new([0u64; 1024]);
        for port in DEFAULT_PORTS.iter().chain(&config.extra_ports) {
            dns_ports[usize::from(*port) / 64] |= 1 << (port % 64);
        }
        Self {
            dns_ports,
            core: Core {
                geo,
                parse_records: config.reads_records(),
                filtering: config.filters != DnsFilters::default(),
                config,
                window: windowed::window(window),
                xacts,
                slow_us: (0, 0),
                last_message_ns: None,
                expired_at: 0,
            },
            name: NameText::new(),
            tcp,
            tcp_expired_at: 0,
        }
    }

    #[inline]
    fn is_dns_port(&self, port: u16) -> bool {
        self.dns_ports[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }

    #[inline]
    pub fn process(&mut self, ev: &PacketEvent<'_>) {
        let d = ev.decoded;
        let transport = match d.l4 {
            L4::Udp => Transport::Udp,
            L4::Tcp => Transport::Tcp,
            _ => return,
        };
        // A fragmented datagram's DNS message is incomplete in every fragment; pktvisor
        // (PcapPlusPlus) does not reassemble IP either, so none of them counts as DNS.
        if d.fragment != Fragment::None {
            return;
        }
        // Metrics count the port that is not the DNS port (the client's), as pktvisor does.
        let port = if self.is_dns_port(d.dst_port) {
            d.src_port
        } else if self.is_dns_port(d.src_port) {
            d.dst_port
        } else {
            return;
        };
        match transport {
            // No payload (an empty datagram, or a UDP header too broken to find one) is no
            // DNS message, not even a malformed one: tshark and PcapPlusPlus see none.
            Transport::Udp if d.l4_payload.is_empty() => {}
            Transport::Udp => {
                let name = &mut self.name;
                self.core
                    .message(ev, ev.ts_ns, d.l4_payload, transport, port, name);
            }
            Transport::Tcp => {
                let key = StreamKey {
                    src: d.src,
                    dst: d.dst,
                    src_port: d.src_port,
                    dst_port: d.dst_port,
                };
                let (core, name) = (&mut self.core, &mut self.name);
                self.tcp.segment(
                    ev.ts_ns,
                    key,
                    d.tcp_seq,
                    d.tcp_flags,
                    d.l4_payload,
                    &mut |msg, ts| core.message(ev, ts, msg, transport, port, name),
                );
                let second = ev.ts_ns / 1_000_000_000;
                if second != self.tcp_expired_at {
                    self.tcp_expired_at = second;
                    self.tcp.expire(ev.ts_ns);
                }
            }
        }
    }

    /// Ends the input: queries unanswered for longer than the TTL at the last message count as
    /// timed out in the live bucket; younger ones are forgotten.
    pub fn finish(&mut self) {
        self.finish_at(self.last_message_ns());
    }

    /// The time of the newest message seen (the end of the input, for this handler).
    pub fn last_message_ns(&self) -> Option<u64> {
        self.core.last_message_ns
    }

    /// Ends the input at `end_ns`, the last message of the whole input (several workers each
    /// see a part of it, and must expire their queries at the same time to add up).
    pub fn finish_at(&mut self, end_ns: Option<u64>) {
        if let Some(ts) = end_ns {
            let expired = self.core.xacts.expire(ts);
            if expired > 0 {
                self.core.window.bucket_at(ts).timed_out(expired);
            }
        }
        // The rest were open for less than the TTL when the input ended: their replies could
        // have come after it, so they are not timeouts (nor does pktvisor count them).
        self.core.xacts.drain();
    }

    /// Whether a chain passes this packet on (see [`settings::chain_keeps`]).
    pub fn chain_keeps(&mut self, ev: &PacketEvent<'_>) -> bool {
        settings::chain_keeps(&self.core.config, ev, self.core.geo.as_mut())
    }

    pub fn reassembly_stats(&self) -> ReassemblyStats {
        self.tcp.stats()
    }

    /// The stream's packet time reached `sec` (another handler's or worker's packet): the
    /// window rotates with the others, the closing bucket setting the `top_slow` bar.
    pub fn clock(&mut self, sec: u64) {
        self.core.rotate_to(sec);
    }

    /// A tick of wall time (live capture), doing what a rotation by a message does: the
    /// closing bucket's latencies set the `top_slow` bar, and queries unanswered for longer
    /// than the TTL count as timed out in the live bucket. (pktvisor's
    /// `DnsMetricsManager::on_period_shift` runs both on every shift, whether a packet or the
    /// input's heartbeat caused it; without this a live agent's `top_slow` stayed empty, since
    /// the clock always rotated first, and a quiet link never counted its timeouts.)
    pub fn tick(&mut self, sec: u64) {
        self.core.rotate_to(sec);
        self.core.expire_at(sec);
    }

    /// Buckets newest first; index 0 is the live bucket.
    pub fn buckets(&self) -> impl Iterator<Item = &TimeBucket<DnsBucket>> {
        self.core.window.buckets()
    }

    /// The `dns` object of a bucket (or of a merged window).
    pub fn to_json(&self, bucket: &DnsBucket, mode: RenderMode) -> Value {
        bucket.to_json(&self.core.config, mode)
    }
}

impl Core {
    /// One DNS message (a UDP payload or a reassembled TCP message) completed at `ts_ns`.
    fn message(
        &mut self,
        ev: &PacketEvent<'_>,
        ts_ns: u64,
        payload: &[u8],
        transport: Transport,
        port: u16,
        name: &mut NameText,
    ) {
        self.advance(ts_ns);
        let Ok(msg) = parse_with_name(payload, self.parse_records, name) else {
            self.window.current().malformed();
            return;
        };
        let has_name = !name.is_empty();
        self.message_with_name(
            ev,
            ts_ns,
            payload,
            transport,
            port,
            &msg,
            has_name.then_some(name),
        );
    }

    /// A message at `ts_ns`: the window moves there and queries older than the TTL expire.
    fn advance(&mut self, ts_ns: u64) {
        // Rotate first, so a closing bucket's latencies set the slow bar for this message. The
        // rest of the message uses this bucket (`current`).
        let closed_before = self.window.closed_buckets();
        self.window.bucket_at(ts_ns);
        if self.window.closed_buckets() != closed_before {
            self.rotated();
        }
        self.last_message_ns = Some(self.last_message_ns.map_or(ts_ns, |l| l.max(ts_ns)));
        let second = ts_ns / 1_000_000_000;
        if second != self.expired_at {
            self.expired_at = second;
            let expired = self.xacts.expire(ts_ns);
            if expired > 0 {
                self.window.current().timed_out(expired);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn message_with_name(
        &mut self,
        ev: &PacketEvent<'_>,
        ts_ns: u64,
        payload: &[u8],
        transport: Transport,
        port: u16,
        msg: &DnsMessage<'_>,
        name: Option<&NameText>,
    ) {
        let qname = name.map(NameText::as_bytes);
        let suffix_len = if self.filtering {
            let filters = &self.config.filters;
            let text = name.map(NameText::as_str);
            let Some(suffix_len) = filters.check(msg, text, self.geo.as_mut()) else {
                self.window.current().filtered(ts_ns);
                return;
            };
            suffix_len
        } else {
            0
        };
        let suffix_len = match (suffix_len, name) {
            (0, Some(name)) if self.config.public_suffix_list => psl::suffix_len(name.as_str()),
            (s, _) => s,
        };
        let ecs_text;
        let ecs = match msg.edns.as_ref().and_then(|e| e.client_subnet.as_ref()) {
            Some(cs) if !msg.header.qr && self.config.groups.top_ecs => {
                ecs_text = cs.address.to_string();
                Some(ecs_text.as_str())
            }
            _ => None,
        };
        let dev = DnsEvent {
            ts_ns,
            l3: ev.decoded.l3,
            transport,
            deep: ev.deep,
            response: msg.header.qr,
            rcode: msg.header.rcode,
            answers: msg.header.ancount,
            qtype: msg.question.as_ref().map(|q| q.qtype),
            qname,
            qname_dots: name.map_or(&[], NameText::dots),
            suffix_len,
            port,
            size: payload.len(),
            ecs,
        };
        let groups = self.config.groups;
        self.window.current().process(&dev, &groups);
        if groups.top_ecs && dev.deep && !msg.header.qr {
            self.ecs_geo(msg);
        }
        if groups.dns_transaction {
            self.transaction(ev, msg, &dev);
        }
        if self.xacts.evicted > 0 {
            let evicted = std::mem::take(&mut self.xacts.evicted);
            self.window.current().evicted(evicted);
        }
    }

    /// Location and ASN of a query's ECS address (pktvisor counts non-empty addresses only).
    fn ecs_geo(&mut self, msg: &DnsMessage<'_>) {
        let Some(geo) = &mut self.geo else {
            return;
        };
        if let Some(cs) = msg.edns.as_ref().and_then(|e| e.client_subnet.as_ref())
            && cs.address_len > 0
        {
            let (loc, asn) = geo.lookup(cs.address);
            self.window.current().ecs_geo(loc, asn);
        }
    }

    fn transaction(&mut self, ev: &PacketEvent<'_>, msg: &DnsMessage<'_>, dev: &DnsEvent<'_>) {
        let d = ev.decoded;
        // The query goes client → server; its reply server → client.
        let (client, server) = if msg.header.qr {
            ((d.dst, d.dst_port), (d.src, d.src_port))
        } else {
            ((d.src, d.src_port), (d.dst, d.dst_port))
        };
        let key = XactKey {
            client: client.0,
            server: server.0,
            client_port: client.1,
            server_port: server.1,
            id: msg.header.id,
            tcp: dev.transport == Transport::Tcp,
        };
        if !msg.header.qr {
            self.xacts.query(key, dev.ts_ns, dev.size as u32);
            return;
        }
        let bucket = self.window.current();
        match self.xacts.reply(key, dev.ts_ns) {
            ReplyMatch::Matched {
                query_size,
                elapsed_ns,
            } => bucket.transaction(
                ev.deep,
                ev.dir,
                elapsed_ns,
                query_size,
                dev.size,
                dev.qname,
                self.slow_us,
            ),
            ReplyMatch::TimedOut => bucket.timed_out(1),
            ReplyMatch::Unmatched => {}
        }
    }

    /// Moves the window to `sec`, setting the slow bar if a bucket closed.
    fn rotate_to(&mut self, sec: u64) {
        let closed_before = self.window.closed_buckets();
        self.window.advance_to(sec);
        if self.window.closed_buckets() != closed_before {
            self.rotated();
        }
    }

    /// Queries open for longer than the TTL at `sec` time out, in the live bucket.
    fn expire_at(&mut self, sec: u64) {
        if sec != self.expired_at {
            self.expired_at = sec;
            let expired = self.xacts.expire(sec.saturating_mul(1_000_000_000));
            if expired > 0
                && let Some(live) = self.window.live_mut()
            {
                live.timed_out(expired);
            }
        }
    }

    /// A bucket just closed: its p90 transaction times become the bar for `top_slow`.
    fn rotated(&mut self) {
        if let Some(previous) = self.window.buckets().nth(1) {
            let p90 = |q: &pv_sketch::Quantiles| q.quantile(0.9).unwrap_or(0);
            let (in_us, out_us) = (
                p90(&previous.data.xact_in_us),
                p90(&previous.data.xact_out_us),
            );
            if in_us > 0 {
                self.slow_us.0 = in_us;
            }
            if out_us > 0 {
                self.slow_us.1 = out_us;
            }
        }
    }
}
