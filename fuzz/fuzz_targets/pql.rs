//! Arbitrary text as a PQL query (what `pktvisor query` and `POST /index/net/query` take),
//! parsed, checked and answered on the index of a real capture: a query that cannot be read
//! or answered must come back as an error with a byte offset inside the text, never a panic,
//! a hang or an unbounded allocation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_search::index::{Segment, Stored};
use pv_search::pql::{Index, TimeRange, parse};
use std::sync::OnceLock;

/// The index of a small fixture, built once.
fn segment_bytes() -> &'static Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/fixtures/dns_ipv4_udp.pcap");
        let (seg, _) = Segment::build(&capture).expect("the fixture indexes");
        pv_search::index::encode_segment(&seg)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(calls) => {
            let stored = Stored::from_bytes(segment_bytes().clone()).expect("our own segment");
            let answer = Index::new(vec![stored], TimeRange::default())
                .and_then(|index| index.answer(&calls));
            if let Err(e) = answer {
                assert!(e.at <= text.len(), "{e}");
            }
        }
        Err(e) => assert!(e.at <= text.len(), "{e}"),
    }
});
