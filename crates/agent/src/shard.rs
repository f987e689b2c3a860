//! Which worker a packet goes to: a hash of its flow that is the same in both directions, so
//! that a worker sees both sides of a conversation (a DNS query and its reply, both halves of a
//! TCP stream) and the per-worker transaction and reassembly tables are complete.

use pv_wire::{Decoded, L3, LinkType};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The endpoints of the commonest frames read straight from the bytes: Ethernet (with at most
/// one 802.1Q tag), then IPv4 without fragmentation or IPv6 without extension headers, then
/// TCP or UDP. None for anything else (the full decoder then decides). The capture thread
/// picks a worker for every packet, so this saves it a full decode on nearly all traffic; the
/// values are those `pv_wire::decode` finds, so both paths pick the same worker for a flow.
fn ethernet_endpoints(frame: &[u8]) -> Option<((IpAddr, u16), (IpAddr, u16))> {
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
    if ethertype == 0x8100 {
        at += 4;
        ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
    }
    let ip = frame.get(at + 2..)?;
    let (src, dst, proto, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let flags_offset = u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?);
            // More fragments or an offset: leave it to the decoder.
            if ip.first()? >> 4 != 4 || ihl < 20 || flags_offset & 0x3fff != 0 {
                return None;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                *ip.get(9)?,
                ip.get(ihl..)?,
            )
        }
        0x86dd => {
            if ip.first()? >> 4 != 6 {
                return None;
            }
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                *ip.get(6)?,
                ip.get(40..)?,
            )
        }
        _ => return None,
    };
    if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
        return None;
    }
    let sport = u16::from_be_bytes(l4.get(0..2)?.try_into().ok()?);
    let dport = u16::from_be_bytes(l4.get(2..4)?.try_into().ok()?);
    Some(((src, sport), (dst, dport)))
}

/// Fixed seeds: the same flow goes to the same worker for the life of the agent.
fn hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x5be0_cd19, 0x1f83_d9ab, 0x9b05_688c, 0x510e_527f)
}

fn write_ip(h: &mut impl Hasher, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => h.write(&a.octets()),
        IpAddr::V6(a) => h.write(&a.octets()),
    }
}

pub struct Sharder {
    workers: usize,
    hasher: ahash::RandomState,
}

impl Sharder {
    pub fn new(workers: usize) -> Sharder {
        Sharder {
            workers: workers.max(1),
            hasher: hasher(),
        }
    }

    /// The worker for a captured frame of link type `link` (None: not decodable, worker 0).
    pub fn worker_for_frame(&self, link: Option<LinkType>, frame: &[u8]) -> usize {
        if self.workers == 1 {
            return 0;
        }
        let Some(link) = link else {
            return 0;
        };
        if link == LinkType::Ethernet
            && let Some((a, b)) = ethernet_endpoints(frame)
        {
            return self.worker_of(a, b);
        }
        self.worker_for(&pv_wire::decode(link, frame))
    }

    /// The worker for a decoded packet: by (lower endpoint, higher endpoint) of addresses and
    /// ports; packets without IP go to worker 0.
    pub fn worker_for(&self, d: &Decoded<'_>) -> usize {
        if self.workers == 1 || d.l3 == L3::None {
            return 0;
        }
        self.worker_of((d.src, d.src_port), (d.dst, d.dst_port))
    }

    fn worker_of(&self, a: (IpAddr, u16), b: (IpAddr, u16)) -> usize {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let mut h = self.hasher.build_hasher();
        write_ip(&mut h, &low.0);
        h.write_u16(low.1);
        write_ip(&mut h, &high.0);
        h.write_u16(high.1);
        (h.finish() % self.workers as u64) as usize
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
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures");
        let mut fast = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
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
                if link == Some(LinkType::Ethernet) && ethernet_endpoints(p.data).is_some() {
                    fast += 1;
                }
            }
        }
        assert!(fast > 20_000, "the byte path took {fast} packets");
    }
}
