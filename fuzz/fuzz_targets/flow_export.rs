//! pv_wire's flow export decoders (NetFlow v5/v9, IPFIX, sFlow v5) on arbitrary bytes: the
//! input is split into datagrams (a 2-byte length before each), decoded in order through one
//! small template cache (so that templates learnt from one datagram read the next one's data,
//! and the cap evicts), each from one of two exporters. Any panic is a bug (the datagrams come
//! from whoever can send to the listener's port).

#![no_main]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use pv_wire::flow_export::{TemplateCache, decode_datagram};

fuzz_target!(|data: &[u8]| {
    let mut cache = TemplateCache::new(8);
    let mut out = Vec::new();
    // The whole input as one datagram too (the seeds are single datagrams).
    let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    black_box(decode_datagram(data, exporter, &mut cache, &mut out).ok());
    let mut rest = data;
    let mut n = 0u8;
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (datagram, after) = tail.split_at(len);
        n = n.wrapping_add(1);
        let exporter = IpAddr::V4(Ipv4Addr::new(192, 0, 2, n % 2));
        out.clear();
        if let Ok(info) = decode_datagram(datagram, exporter, &mut cache, &mut out) {
            assert_eq!(info.records, out.len());
        }
        rest = after;
    }
    black_box(cache.evicted());
});
