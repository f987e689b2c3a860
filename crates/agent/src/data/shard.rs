//! Which worker a packet goes to: a hash of its flow that is the same in both directions, so
//! that a worker sees both sides of a conversation (a DNS query and its reply, both halves of a
//! TCP stream) and the per-worker transaction and reassembly tables are complete.
//!
//! UDP datagrams also hash their first two payload bytes (a DNS message's id): no handler keeps
//! state per UDP flow, DNS transactions are keyed by flow and id, and a query and its reply carry
//! the same id, so they still meet on one worker, while a few busy flows (a resolver talking to
//! a handful of upstreams, dnsperf's sockets) spread over every worker instead of landing
//! wherever their few hashes fall.

use pv_wire::flow::{FlowEnds, ethernet_flow, flow_of};
use pv_wire::{Decoded, LinkType};

/// splitmix64's finalizer: every input bit reaches every output bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// DHCPv4 server/client, DHCPv6 client/server ports (the dhcp handler's).
fn is_dhcp_port(port: u16) -> bool {
    matches!(port, 67 | 68 | 546 | 547)
}

pub struct Sharder {
    workers: usize,
}

impl Sharder {
    pub fn new(workers: usize) -> Sharder {
        Sharder {
            workers: workers.max(1),
        }
    }

    /// The worker for a captured frame of link type `link` (None: not decodable, worker 0).
    #[inline]
    pub fn worker_for_frame(&self, link: Option<LinkType>, frame: &[u8]) -> usize {
        if self.workers == 1 {
            return 0;
        }
        let Some(link) = link else {
            return 0;
        };
        if link == LinkType::Ethernet
            && let Some(flow) = ethernet_flow(frame)
        {
            return self.worker_of(&flow);
        }
        self.worker_for(&pv_wire::decode(link, frame))
    }

    /// The worker for a decoded packet: by its endpoints (addresses and ports) and, for UDP,
    /// its first two payload bytes; packets without IP go to worker 0.
    pub fn worker_for(&self, d: &Decoded<'_>) -> usize {
        if self.workers == 1 {
            return 0;
        }
        flow_of(d).map_or(0, |f| self.worker_of(&f))
    }

    /// Sums of the two ends' addresses and ports are the same in both directions without
    /// ordering the endpoints; one mix spreads them (a path every packet takes, so cheap).
    #[inline]
    fn worker_of(&self, f: &FlowEnds) -> usize {
        // DHCP: a REQUEST (0.0.0.0:68 -> 255.255.255.255:67) and its ACK (server:67 ->
        // client:68) are different flows, and the dhcp handler pairs them by xid: all DHCP
        // goes to worker 0 (a few packets per client per lease).
        if is_dhcp_port(f.a.1) || is_dhcp_port(f.b.1) {
            return 0;
        }
        let addrs = f.a.0.wrapping_add(f.b.0);
        let ports = u64::from(f.a.1) + u64::from(f.b.1);
        let head = f.udp_head.map_or(0, |h| u64::from(h) + 1);
        // An IPv4 sum takes 33 bits; ports and head go above it (overlap for IPv6 only costs
        // a little spread, never symmetry).
        let flow = mix(addrs ^ (ports << 33) ^ (head << 47));
        (flow % self.workers as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_wire::LinkType;

    /// An Ethernet + IPv4 + UDP frame from `src:sport` to `dst:dport`.
    fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        f.extend([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend(src);
        f.extend(dst);
        f.extend(sport.to_be_bytes());
        f.extend(dport.to_be_bytes());
        f.extend([0, 8, 0, 0]);
        f
    }

    /// As `udp`, carrying the two bytes of a DNS id as payload.
    fn udp_with_id(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, id: u16) -> Vec<u8> {
        let mut f = udp(src, sport, dst, dport);
        f[17] = 30; // IPv4 total length
        f[39] = 10; // UDP length
        f.extend(id.to_be_bytes());
        f
    }

    #[test]
    fn a_query_meets_its_reply_and_one_busy_flow_spreads() {
        let s = Sharder::new(4);
        let mut used = [0usize; 4];
        for id in 0..400u16 {
            let q = udp_with_id([198, 51, 100, 1], 40000, [198, 51, 100, 2], 53, id);
            let r = udp_with_id([198, 51, 100, 2], 53, [198, 51, 100, 1], 40000, id);
            let wq = s.worker_for_frame(Some(LinkType::Ethernet), &q);
            assert_eq!(wq, s.worker_for_frame(Some(LinkType::Ethernet), &r));
            assert_eq!(wq, s.worker_for(&pv_wire::decode(LinkType::Ethernet, &q)));
            used[wq] += 1;
        }
        assert!(used.iter().all(|n| *n > 60), "{used:?}");
    }

    #[test]
    fn a_dhcp_request_meets_its_ack() {
        // dhcp-flow.pcap frames 5 and 6: 0.0.0.0:68 -> 255.255.255.255:67, then
        // 192.168.2.1:67 -> 192.168.2.205:68; and DHCPv6 546 -> 547.
        let s = Sharder::new(4);
        let request = udp([0, 0, 0, 0], 68, [255, 255, 255, 255], 67);
        let ack = udp([192, 168, 2, 1], 67, [192, 168, 2, 205], 68);
        let v6ish = udp([10, 0, 0, 1], 546, [10, 0, 0, 2], 547);
        for f in [request, ack, v6ish] {
            assert_eq!(s.worker_for_frame(Some(LinkType::Ethernet), &f), 0);
        }
    }

    #[test]
    fn both_directions_of_a_flow_share_a_worker_and_flows_spread() {
        let s = Sharder::new(4);
        let mut used = [0usize; 4];
        for i in 0..200u16 {
            let q = udp([198, 51, 100, 1], 1024 + i, [198, 51, 100, 2], 53);
            let r = udp([198, 51, 100, 2], 53, [198, 51, 100, 1], 1024 + i);
            let wq = s.worker_for(&pv_wire::decode(LinkType::Ethernet, &q));
            let wr = s.worker_for(&pv_wire::decode(LinkType::Ethernet, &r));
            assert_eq!(wq, wr);
            used[wq] += 1;
        }
        assert!(used.iter().all(|n| *n > 20), "{used:?}");
        assert_eq!(
            s.worker_for(&pv_wire::decode(LinkType::Ethernet, &[0u8; 20])),
            0
        );
    }

    #[test]
    fn the_byte_path_picks_the_decoders_worker_on_every_fixture_packet() {
        let s = Sharder::new(3);
        let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let mut fast = 0;
        let files = ["fixtures", "edge"]
            .iter()
            .flat_map(|d| std::fs::read_dir(testdata.join(d)).unwrap());
        for entry in files {
            let path = entry.unwrap().path();
            let Ok(mut reader) = pv_capture::FileReader::open(&path) else {
                continue;
            };
            while let Ok(Some(p)) = reader.next_packet() {
                let link = LinkType::from_linktype(p.linktype);
                let by_decoder = link.map_or(0, |l| s.worker_for(&pv_wire::decode(l, p.data)));
                assert_eq!(
                    s.worker_for_frame(link, p.data),
                    by_decoder,
                    "{}",
                    path.display()
                );
                if link == Some(LinkType::Ethernet) && ethernet_flow(p.data).is_some() {
                    fast += 1;
                }
            }
        }
        assert!(fast > 20_000, "the byte path took {fast} packets");
    }
}
