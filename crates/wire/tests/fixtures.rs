//! Decodes every frame of the capture fixtures and checks the totals against
//! what tshark 4.0 reports for the same files, with IP reassembly off
//! (`-o ip.defragment:FALSE -o ipv6.defragment:FALSE`).
//!
//! Later fragments are counted under the protocol in their IP header (where
//! tshark shows only "data"), since that is what `decode` reports for them.

mod common;
use common::{fixture, read_frames};

use pv_wire::{Fragment, L3, L4, LinkType, decode};

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    file: &'static str,
    frames: u64,
    ipv4: u64,
    ipv6: u64,
    tcp: u64,
    udp: u64,
    other_l4: u64,
    first_fragments: u64,
    later_fragments: u64,
    syn: u64,
    syn_ack: u64,
    port_sum: u64,
    payload_bytes: u64,
    ttl_sum: u64,
}

const EXPECTED: &[Expected] = &[
    Expected {
        file: "bgp.pcap",
        frames: 22,
        ipv4: 22,
        ipv6: 0,
        tcp: 22,
        udp: 0,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 2,
        syn_ack: 1,
        port_sum: 768146,
        payload_bytes: 342,
        ttl_sum: 3318,
    },
    Expected {
        file: "dhcp-flow.pcap",
        frames: 8,
        ipv4: 8,
        ipv6: 0,
        tcp: 0,
        udp: 8,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 1080,
        payload_bytes: 2406,
        ttl_sum: 1085,
    },
    Expected {
        file: "dhcpv6.pcap",
        frames: 12,
        ipv4: 0,
        ipv6: 12,
        tcp: 0,
        udp: 6,
        other_l4: 6,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 6558,
        payload_bytes: 483,
        ttl_sum: 1408,
    },
    Expected {
        file: "dns_ipv4_tcp.pcap",
        frames: 2100,
        ipv4: 2100,
        ipv6: 0,
        tcp: 2100,
        udp: 0,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 210,
        syn_ack: 210,
        port_sum: 195643380,
        payload_bytes: 22448,
        ttl_sum: 134400,
    },
    Expected {
        file: "dns_ipv4_udp.pcap",
        frames: 140,
        ipv4: 140,
        ipv6: 0,
        tcp: 0,
        udp: 140,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 13748798,
        payload_bytes: 7440,
        ttl_sum: 8960,
    },
    Expected {
        file: "dns_ipv6_tcp.pcap",
        frames: 1800,
        ipv4: 0,
        ipv6: 1800,
        tcp: 1800,
        udp: 0,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 180,
        syn_ack: 180,
        port_sum: 167322320,
        payload_bytes: 20000,
        ttl_sum: 115200,
    },
    Expected {
        file: "dns_ipv6_udp.pcap",
        frames: 140,
        ipv4: 0,
        ipv6: 140,
        tcp: 0,
        udp: 140,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 14139272,
        payload_bytes: 7060,
        ttl_sum: 8960,
    },
    Expected {
        file: "dns_udp_mixed_rcode.pcap",
        frames: 24,
        ipv4: 24,
        ipv6: 0,
        tcp: 0,
        udp: 24,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 914310,
        payload_bytes: 1805,
        ttl_sum: 1913,
    },
    Expected {
        file: "dns_udp_tcp_random.pcap",
        frames: 16147,
        ipv4: 16147,
        ipv6: 0,
        tcp: 13176,
        udp: 2971,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 1423,
        syn_ack: 1423,
        port_sum: 934072732,
        payload_bytes: 492166,
        ttl_sum: 1398840,
    },
    Expected {
        file: "dnssec.pcap",
        frames: 14,
        ipv4: 14,
        ipv6: 0,
        tcp: 0,
        udp: 14,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 707368,
        payload_bytes: 4841,
        ttl_sum: 805,
    },
    Expected {
        file: "ecs.pcap",
        frames: 66,
        ipv4: 22,
        ipv6: 44,
        tcp: 20,
        udp: 46,
        other_l4: 0,
        first_fragments: 7,
        later_fragments: 7,
        syn: 2,
        syn_ack: 2,
        port_sum: 2943630,
        payload_bytes: 17861,
        ttl_sum: 4483,
    },
    Expected {
        file: "ipfix.pcap",
        frames: 43,
        ipv4: 43,
        ipv6: 0,
        tcp: 0,
        udp: 43,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 2223745,
        payload_bytes: 28262,
        ttl_sum: 2752,
    },
    Expected {
        file: "nf9.pcap",
        frames: 5,
        ipv4: 5,
        ipv6: 0,
        tcp: 0,
        udp: 5,
        other_l4: 0,
        first_fragments: 0,
        later_fragments: 0,
        syn: 0,
        syn_ack: 0,
        port_sum: 175737,
        payload_bytes: 1697,
        ttl_sum: 315,
    },
];

fn tally(file: &'static str) -> Expected {
    let path = fixture(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (linktype, frames) = read_frames(&bytes);
    let link = LinkType::from_linktype(linktype).expect("fixture link type is supported");
    let mut got = Expected {
        file,
        ..Expected::default()
    };
    for frame in frames {
        let d = decode(link, frame);
        assert_eq!(d.problem, None, "{file}: frame {}", got.frames + 1);
        got.frames += 1;
        match d.l3 {
            L3::Ipv4 => got.ipv4 += 1,
            L3::Ipv6 => got.ipv6 += 1,
            L3::None => {}
        }
        match d.l4 {
            L4::Tcp => got.tcp += 1,
            L4::Udp => got.udp += 1,
            L4::Other(_) => got.other_l4 += 1,
            L4::None => {}
        }
        match d.fragment {
            Fragment::First => got.first_fragments += 1,
            Fragment::Later => got.later_fragments += 1,
            Fragment::None => {}
        }
        if d.l4 == L4::Tcp && d.tcp_flags & 0x12 == 0x02 {
            got.syn += 1;
        }
        if d.l4 == L4::Tcp && d.tcp_flags & 0x12 == 0x12 {
            got.syn_ack += 1;
        }
        got.port_sum += u64::from(d.src_port) + u64::from(d.dst_port);
        got.payload_bytes += d.l4_payload.len() as u64;
        got.ttl_sum += u64::from(d.ip_ttl);
    }
    got
}

#[test]
fn fixtures_match_tshark() {
    for expected in EXPECTED {
        assert_eq!(&tally(expected.file), expected);
    }
}
