//! Which worker a packet goes to: a hash of its flow that is the same in both directions, so
//! that a worker sees both sides of a conversation (a DNS query and its reply, both halves of a
//! TCP stream) and the per-worker transaction and reassembly tables are complete.

use pv_wire::{Decoded, L3};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

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

    /// The worker for a decoded packet: by (lower endpoint, higher endpoint) of addresses and
    /// ports; packets without IP go to worker 0.
    pub fn worker_for(&self, d: &Decoded<'_>) -> usize {
        if self.workers == 1 || d.l3 == L3::None {
            return 0;
        }
        let a = (d.src, d.src_port);
        let b = (d.dst, d.dst_port);
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
}
