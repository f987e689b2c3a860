//! Arbitrary text as a `pktvisor packets` filter (tcpdump's words mixed with application
//! fields and and/or/not), compiled and run on the packets of a real capture: a filter that
//! cannot be read must be an error value with a message, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_capture::FileReader;
use pv_search::OwnedPacket;
use pv_search::filter::Filter;
use std::sync::OnceLock;

/// The first packets of a DNS fixture, read once.
fn packets() -> &'static Vec<OwnedPacket> {
    static PACKETS: OnceLock<Vec<OwnedPacket>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/fixtures/dns_udp_tcp_random.pcap");
        let mut reader = FileReader::open(&path).expect("the fixture opens");
        let mut out = Vec::new();
        while let Ok(Some(p)) = reader.next_packet() {
            out.push(OwnedPacket {
                ts_ns: p.ts_ns,
                orig_len: p.orig_len,
                linktype: p.linktype,
                data: p.data.to_vec(),
            });
            if out.len() == 64 {
                break;
            }
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Filter::new(text) {
        Ok(Some(mut filter)) => {
            for p in packets() {
                let _ = filter.matches(p);
            }
        }
        Ok(None) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
