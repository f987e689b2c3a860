//! pv_wire::dns::parse on arbitrary bytes, with and without the record
//! walk, and the question name's text. Any panic is a bug (parse promises to
//! be total), and so is a broken promise checked below.

#![no_main]

use std::cell::RefCell;
use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use pv_wire::dns::{self, DnsProblem, HEADER_LEN, name};

thread_local! {
    // Reused across inputs, as the DNS handler reuses its buffers.
    static TEXT: RefCell<(String, Vec<u8>)> = RefCell::new((String::new(), Vec::new()));
}

fuzz_target!(|data: &[u8]| {
    let Ok(m) = dns::parse(data, true) else {
        assert!(data.len() < HEADER_LEN);
        assert_eq!(dns::parse(data, false), Err(DnsProblem::TooShort));
        return;
    };
    assert!(data.len() >= HEADER_LEN);
    black_box((m.header, m.header.flags(), m.rcode(), m.is_response()));
    black_box((m.has_rrsig_answer, m.problem.map(|p| p.as_str())));
    if let Some(edns) = m.edns {
        black_box((
            edns.udp_payload_size,
            edns.extended_rcode,
            edns.version,
            edns.dnssec_ok,
        ));
        if let Some(ecs) = edns.client_subnet {
            black_box((ecs.family, ecs.source_prefix, ecs.scope_prefix, ecs.address));
            let bits = if ecs.address.is_ipv4() { 32 } else { 128 };
            assert!(ecs.source_prefix <= bits && ecs.scope_prefix <= bits);
        }
    }
    assert_eq!(m.bytes(), data);

    // Without the record walk: the same header and question, no EDNS.
    let quick = dns::parse(data, false).expect("header is there");
    assert_eq!(quick.header, m.header);
    assert_eq!(quick.question, m.question);
    assert_eq!(quick.edns, None);
    assert!(!quick.has_rrsig_answer);

    let Some(q) = m.question else {
        return;
    };
    black_box((
        q.qtype,
        q.qclass,
        dns::qtype_name(q.qtype),
        dns::rcode_name(m.rcode()),
    ));
    // A question from parse was checked: its name's methods do not fail.
    let info = q.name.info().expect("question name was checked");
    assert!(info.wire_len <= name::MAX_WIRE_LEN && info.labels <= 127);
    assert!(info.pointers <= name::MAX_POINTERS);
    assert_eq!(q.name.label_count(), Ok(info.labels));
    TEXT.with_borrow_mut(|(text, bytes)| {
        q.name
            .write_lowercase(text)
            .expect("question name was checked");
        q.name
            .write_lowercase_bytes(bytes)
            .expect("question name was checked");
        assert_eq!(text.as_bytes(), bytes.as_slice());
        assert!(text.is_ascii() && !text.is_empty());
        assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
        // Every byte is at most 4 characters (\DDD), plus the dots.
        assert!(text.len() <= 4 * info.wire_len);
        if info.labels == 0 {
            assert_eq!(text, ".");
        }
        black_box(name::last_labels(text, 2));
        black_box(name::last_labels(text, 3));
        assert!(q.name.eq_ignore_case(&q.name));
    });
});
