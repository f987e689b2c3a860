//! The field index of one capture file (a segment): for every field, every value seen and the
//! packets (by their number in the file) that have it; each packet's time and wire length. It
//! is written beside its capture as `NAME.pvx` and answers PQL without reading the packets.
//!
//! Fields, by picap's names where picap has the field (`picap.Packet` in pilosa/picap's
//! picap.go): `netproto` (IPv4, IPv6, ARP), `netsrc`, `netdst`, `transproto` (TCP, UDP, ICMP,
//! ICMPv6, else the protocol number), `transsrc`, `transdst`, `tcp` (one value per flag set:
//! FIN SYN RST PSH ACK URG ECE CWR), `length` (wire length; an integer field), `appproto`
//! (HTTP, TLS, DNS: from the payload, see `app.rs`), `http-method`, `http-hostname`,
//! `http-useragent`; and ours: `vlan`, `flow` (a TCP or UDP packet's connection, both
//! directions one value: `TCP 8.8.8.8:53 192.168.0.189:59371`, the lower endpoint first by
//! address then port; IPv6 in brackets), `tls-sni`, `dns-qname` (lowercase), `dns-qtype`,
//! `dns-rcode` (UDP messages on the DNS ports). A field a packet does not have is not indexed
//! for it (picap indexed `""`).

mod app;
mod bloom;
pub mod catalog;
mod codec;
mod indexer;
mod open;
mod stored;

pub use codec::Damaged;
pub use indexer::{Indexer, IndexerStats};
pub use open::{Opened, load_or_build, load_or_build_with, open_segments, open_segments_where};
pub use stored::{Entry, FieldView, OpenError, Stored};

/// A segment's file form (the fuzz targets' seeds and inputs).
pub fn encode_segment(seg: &Segment) -> Vec<u8> {
    codec::encode(seg)
}

/// A segment from its file form (what `pktvisor index --check` compares).
pub fn decode_segment(bytes: &[u8]) -> Result<Segment, Damaged> {
    codec::decode(bytes)
}

use crate::error::SearchError;
use pv_capture::FileReader;
use pv_record::CutPackets;
use pv_wire::dns::{NameText, parse_with_name, qtype_name, rcode_name};
use pv_wire::{L3, L4, LinkType, decode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every field with values, in the order `Rows` and error messages list them; `length` is the
/// integer field.
pub const FIELDS: [&str; 17] = [
    "netproto",
    "netsrc",
    "netdst",
    "transproto",
    "transsrc",
    "transdst",
    "tcp",
    "vlan",
    "flow",
    "appproto",
    "http-method",
    "http-hostname",
    "http-useragent",
    "tls-sni",
    "dns-qname",
    "dns-qtype",
    "dns-rcode",
];

/// Not a field of queries (PQL cannot name it): for `netproto` and `transproto`, the packets
/// that have no value — a search narrowing by address or protocol must keep them (libpcap may
/// match the address of a frame the index could not read), and listing them is what spares it
/// decoding the 2.16 M packets that are IPv4 to find the few that are not; and `bytes`, the packets past their
/// flow's cutoff, indexed but not in the file.
pub const WITHOUT: &str = "_without";

/// The integer field (conditions `<`, `>`, ranges; `Sum`, `Min`, `Max`).
pub const LENGTH: &str = "length";

/// UDP ports whose payloads are read as DNS: pktvisor's (`DnsLayer::isDnsPort`).
const DNS_PORTS: [u16; 4] = [53, 5353, 5355, 53000];

/// TCP flag bits and their names, as tcpdump and picap name them.
pub const TCP_FLAGS: [(u8, &str); 8] = [
    (0x01, "FIN"),
    (0x02, "SYN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
    (0x40, "ECE"),
    (0x80, "CWR"),
];

/// A field's values and their packets. ahash: indexing looks up ~8 values a packet, and
/// SipHash made that the largest cost of building a segment.
pub type Values = HashMap<String, Vec<u32>, ahash::RandomState>;

/// One capture file's index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// The capture's size when indexed: a file that grew (the recorder's open `.tmp`) or was
    /// replaced is indexed again.
    pub source_len: u64,
    pub packets: u32,
    pub ts_ns: Vec<u64>,
    pub length: Vec<u32>,
    /// Where each packet's record starts in the (decompressed) capture: a plain pcap's packets
    /// are read there without reading the rest (`pv_capture::PcapAt`).
    pub at: Vec<u64>,
    /// Field → value → packet numbers, ascending.
    pub fields: HashMap<String, Values>,
}

/// A segment built from its capture.
pub struct Built {
    pub segment: Segment,
    /// Damage that ended the capture (the packets before it are indexed).
    pub damage: Option<String>,
    /// The capture's pcap header (None for pcapng, which is not catalogued).
    pub facts: Option<catalog::CaptureFacts>,
}

impl Segment {
    /// Indexes every packet of `path`. Damage ends the file: what came before is indexed, and
    /// the damage returned beside.
    pub fn build(path: &Path) -> Result<(Segment, Option<String>), SearchError> {
        Segment::build_with(path, &CutPackets::default()).map(|b| (b.segment, b.damage))
    }

    /// As `build`, with the packets past their flow's cutoff that came while the recorder wrote
    /// `path` (not in it): each takes its place in arrival order, with its fields, and is listed
    /// as `WITHOUT` "bytes" (its record offset is the next stored packet's). The capture's
    /// header facts come with it, from the reader that read the packets.
    pub fn build_with(path: &Path, cut: &CutPackets) -> Result<Built, SearchError> {
        let source_len = std::fs::metadata(path)
            .map_err(|e| SearchError::List {
                path: path.to_path_buf(),
                source: e,
            })?
            .len();
        let mut reader = FileReader::open(path)?;
        let facts = catalog::CaptureFacts::of_reader(&reader);
        let mut seg = Segment {
            source_len,
            ..Segment::default()
        };
        let mut name = NameText::new();
        // Per field (in FIELDS' order), each distinct value's packets, the value not yet text.
        let mut building: Vec<HashMap<FieldValue, Vec<u32>, ahash::RandomState>> =
            vec![HashMap::default(); FIELDS.len()];
        let (mut without_ip, mut without_transport, mut without_bytes) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut add =
            |seg: &mut Segment, at: u64, ts_ns: u64, orig_len: u32, linktype: u32, data: &[u8]| {
                let n = seg.packets;
                seg.packets += 1;
                seg.at.push(at);
                seg.ts_ns.push(ts_ns);
                seg.length.push(orig_len);
                let (mut ip, mut transport) = (false, false);
                packet_fields(linktype, data, &mut name, &mut |field, value| {
                    ip |= field == "netproto";
                    transport |= field == "transproto";
                    if let Some(i) = FIELDS.iter().position(|f| *f == field) {
                        building[i].entry(value).or_default().push(n);
                    }
                });
                if !ip {
                    without_ip.push(n);
                }
                if !transport {
                    without_transport.push(n);
                }
                n
            };
        let mut cuts = cut.iter().peekable();
        let mut stored = 0u64;
        let damage = loop {
            let at = reader.position();
            // The cut packets that came before this stored one.
            while let Some((c, head)) = cuts.next_if(|(c, _)| c.after <= stored) {
                let n = add(&mut seg, at, c.ts_ns, c.orig_len, c.linktype, head);
                without_bytes.push(n);
            }
            match reader.next_packet() {
                Ok(Some(p)) => {
                    stored += 1;
                    add(&mut seg, at, p.ts_ns, p.orig_len, p.linktype, p.data);
                }
                Ok(None) => break None,
                Err(e) if e.is_damage() => break Some(e.to_string()),
                Err(e) => return Err(e.into()),
            }
        };
        // Cut after the last stored packet (or past the damage).
        let end = reader.position();
        for (c, head) in cuts {
            let n = add(&mut seg, end, c.ts_ns, c.orig_len, c.linktype, head);
            without_bytes.push(n);
        }
        for (field, values) in FIELDS.iter().zip(building) {
            if values.is_empty() {
                continue;
            }
            let mut texts = Values::default();
            for (value, packets) in values {
                let list = texts.entry(value.to_text()).or_default();
                if list.is_empty() {
                    *list = packets;
                } else {
                    // Two forms of one text (a number and a name that reads the same).
                    list.extend(packets);
                    list.sort_unstable();
                    list.dedup();
                }
            }
            seg.fields.insert(field.to_string(), texts);
        }
        let mut without = Values::default();
        for (field, list) in [
            ("netproto", without_ip),
            ("transproto", without_transport),
            ("bytes", without_bytes),
        ] {
            if !list.is_empty() {
                without.insert(field.to_string(), list);
            }
        }
        if !without.is_empty() {
            seg.fields.insert(WITHOUT.to_string(), without);
        }
        Ok(Built {
            segment: seg,
            damage,
            facts,
        })
    }

    /// The segment of the packets its file holds (those past their flow's cutoff left out,
    /// the rest numbered again): what indexing the file alone gives (`pktvisor index --check`).
    pub fn only_stored(&self) -> Segment {
        let cut: std::collections::HashSet<u32> = self
            .fields
            .get(WITHOUT)
            .and_then(|w| w.get("bytes"))
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default();
        if cut.is_empty() {
            return self.clone();
        }
        // Old number → new, for the stored packets.
        let mut renumber = vec![None; self.packets as usize];
        let mut out = Segment {
            source_len: self.source_len,
            ..Segment::default()
        };
        for n in 0..self.packets {
            if !cut.contains(&n) {
                renumber[n as usize] = Some(out.packets);
                out.packets += 1;
                out.ts_ns.push(self.ts_ns[n as usize]);
                out.length.push(self.length[n as usize]);
                out.at.push(self.at[n as usize]);
            }
        }
        for (field, values) in &self.fields {
            let mut kept = Values::default();
            for (value, packets) in values {
                if field == WITHOUT && value == "bytes" {
                    continue;
                }
                let list: Vec<u32> = packets
                    .iter()
                    .filter_map(|&p| renumber.get(p as usize).copied().flatten())
                    .collect();
                if !list.is_empty() {
                    kept.insert(value.clone(), list);
                }
            }
            if !kept.is_empty() {
                out.fields.insert(field.clone(), kept);
            }
        }
        out
    }

    /// The packets having `value` in `field` (empty when none has).
    pub fn row(&self, field: &str, value: &str) -> &[u32] {
        self.fields
            .get(field)
            .and_then(|f| f.get(value))
            .map_or(&[], Vec::as_slice)
    }
}

/// A field's value as a packet gives it, before it is text: addresses and numbers are kept as
/// they are, so that building a segment formats each distinct value once, not each packet's
/// (formatting two addresses a packet was a quarter of the cost of indexing).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldValue {
    Addr(std::net::IpAddr),
    /// A TCP or UDP packet's connection, both ways: its endpoints in order.
    Flow(
        &'static str,
        (std::net::IpAddr, u16),
        (std::net::IpAddr, u16),
    ),
    Num(u64),
    Static(&'static str),
    Text(String),
}

impl FieldValue {
    /// The value as the index and queries show it.
    pub fn to_text(&self) -> String {
        match self {
            FieldValue::Addr(a) => a.to_string(),
            FieldValue::Flow(proto, a, b) => {
                let end = |(ip, port): &(std::net::IpAddr, u16)| match ip {
                    std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
                    std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                };
                format!("{proto} {} {}", end(a), end(b))
            }
            FieldValue::Num(n) => n.to_string(),
            FieldValue::Static(s) => (*s).to_string(),
            FieldValue::Text(s) => s.clone(),
        }
    }
}

/// Every field of one packet, as the index keeps them: `put(field, value)` for each (a field
/// may come more than once: TCP flags). Shared by the index and the filters of `pktvisor
/// packets`, so that a filter on a field matches what a query on it counts.
pub fn packet_fields(
    linktype: u32,
    data: &[u8],
    name: &mut NameText,
    put: &mut dyn FnMut(&'static str, FieldValue),
) {
    let Some(link) = LinkType::from_linktype(linktype) else {
        return;
    };
    let d = decode(link, data);
    if let Some(vlan) = d.vlan {
        put("vlan", FieldValue::Num(u64::from(vlan)));
    }
    match d.l3 {
        L3::Ipv4 => put("netproto", FieldValue::Static("IPv4")),
        L3::Ipv6 => put("netproto", FieldValue::Static("IPv6")),
        L3::None => {
            if is_arp(link, data) {
                put("netproto", FieldValue::Static("ARP"));
            }
            return;
        }
    }
    put("netsrc", FieldValue::Addr(d.src));
    put("netdst", FieldValue::Addr(d.dst));
    let transproto = match d.l4 {
        L4::Tcp => FieldValue::Static("TCP"),
        L4::Udp => FieldValue::Static("UDP"),
        L4::Other(1) => FieldValue::Static("ICMP"),
        L4::Other(58) => FieldValue::Static("ICMPv6"),
        L4::Other(p) => FieldValue::Num(u64::from(p)),
        L4::None => return,
    };
    put("transproto", transproto);
    let ports = matches!(d.l4, L4::Tcp | L4::Udp) && (d.src_port != 0 || d.dst_port != 0);
    if ports {
        put("transsrc", FieldValue::Num(u64::from(d.src_port)));
        put("transdst", FieldValue::Num(u64::from(d.dst_port)));
        // Both directions of a connection are one flow: the lower endpoint first.
        let (src, dst) = ((d.src, d.src_port), (d.dst, d.dst_port));
        let (a, b) = if src <= dst { (src, dst) } else { (dst, src) };
        let proto = if d.l4 == L4::Tcp { "TCP" } else { "UDP" };
        put("flow", FieldValue::Flow(proto, a, b));
    }
    if d.l4 == L4::Tcp {
        for (bit, flag) in TCP_FLAGS {
            if d.tcp_flags & bit != 0 {
                put("tcp", FieldValue::Static(flag));
            }
        }
    }
    app::app_fields(&d, &mut |field, value| put(field, FieldValue::Text(value)));
    if d.l4 == L4::Udp
        && ports
        && (DNS_PORTS.contains(&d.src_port) || DNS_PORTS.contains(&d.dst_port))
        && let Ok(msg) = parse_with_name(d.l4_payload, false, name)
    {
        if let Some(q) = msg.question {
            if !name.is_empty() {
                put("dns-qname", FieldValue::Text(name.as_str().to_string()));
            }
            put(
                "dns-qtype",
                qtype_name(q.qtype).map_or(FieldValue::Num(u64::from(q.qtype)), FieldValue::Static),
            );
        }
        if msg.header.qr {
            let rcode = u16::from(msg.header.rcode);
            put(
                "dns-rcode",
                rcode_name(rcode).map_or(FieldValue::Num(u64::from(rcode)), FieldValue::Static),
            );
        }
    }
}

/// EtherType of ARP (RFC 826), as picap's `netproto` names it (gopacket's `LayerTypeARP`).
const ETHERTYPE_ARP: u16 = 0x0806;

/// Whether a frame the decoder left without IP is ARP (through VLAN tags; Ethernet and Linux
/// cooked captures, where an EtherType says so).
fn is_arp(link: LinkType, frame: &[u8]) -> bool {
    use pv_wire::ethernet::EthernetFrame;
    use pv_wire::sll::SllHeader;
    use pv_wire::sll2::Sll2Header;
    let (ethertype, payload) = match link {
        LinkType::Ethernet => match EthernetFrame::new(frame) {
            Some(eth) => (eth.ethertype(), eth.payload()),
            None => return false,
        },
        LinkType::LinuxSll => match SllHeader::new(frame) {
            Some(h) if h.protocol_is_ethertype() => (h.protocol(), h.payload()),
            _ => return false,
        },
        LinkType::LinuxSll2 => match Sll2Header::new(frame) {
            Some(h) if h.protocol_is_ethertype() => (h.protocol(), h.payload()),
            _ => return false,
        },
        _ => return false,
    };
    pv_wire::vlan::strip_tags(ethertype, payload).is_ok_and(|u| u.ethertype == ETHERTYPE_ARP)
}

/// Where the index of `capture` is kept.
pub fn segment_path(capture: &Path) -> PathBuf {
    let mut s = capture.as_os_str().to_os_string();
    s.push(".pvx");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_round_trips_through_its_file_form() {
        let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fixtures/dns_udp_tcp_random.pcap");
        let (seg, damage) = Segment::build(&capture).unwrap();
        assert!(damage.is_none());
        assert_eq!(seg.packets, 16147);
        let bytes = codec::encode(&seg);
        assert_eq!(codec::decode(&bytes).unwrap(), seg);
        // Field by field, on demand.
        let stored = Stored::from_bytes(bytes.clone()).unwrap();
        let udp = stored.field("transproto").unwrap().unwrap();
        let entry = udp.get("UDP").unwrap();
        assert_eq!(entry.count as usize, seg.row("transproto", "UDP").len());
        assert_eq!(udp.packets(entry).unwrap(), seg.row("transproto", "UDP"));
        // Every cut of the form is refused, never a panic; a flipped byte anywhere never
        // gives the segment back as if it were whole.
        for cut in (0..bytes.len()).step_by(97) {
            assert!(codec::decode(&bytes[..cut]).is_err(), "{cut}");
        }
        for at in (0..bytes.len()).step_by(89) {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert_ne!(codec::decode(&flipped).ok().as_ref(), Some(&seg), "{at}");
        }
        // Offsets of a few packets, read block by block, are those of the whole list.
        let stored = Stored::from_bytes(bytes.clone()).unwrap();
        for wanted in [
            vec![],
            vec![0],
            vec![255, 256, 257, 16146],
            (0..16147).step_by(37).collect(),
        ] {
            let expected: Vec<u64> = wanted.iter().map(|&n| seg.at[n as usize]).collect();
            assert_eq!(stored.offsets_of(&wanted).unwrap(), expected);
        }
        assert!(stored.offsets_of(&[16147]).is_err());
        // Rows of one field partition the packets that have it.
        let tcp_or_udp: usize = ["TCP", "UDP"]
            .iter()
            .map(|p| seg.row("transproto", p).len())
            .sum();
        assert_eq!(tcp_or_udp, 16147);
    }
}
