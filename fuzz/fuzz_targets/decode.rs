//! pv_wire::decode on arbitrary bytes: the first byte picks the link type,
//! the rest is the frame. Any panic is a bug (decode promises to be total).

#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use pv_wire::{Fragment, L3, L4, LinkType, decode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType::ALL[usize::from(selector) % LinkType::ALL.len()];
    let d = decode(link, frame);

    // Touch every field so nothing is optimised away, and check the promises
    // the rest of the workspace relies on.
    black_box((
        d.src,
        d.dst,
        d.src_port,
        d.dst_port,
        d.tcp_flags,
        d.ip_ttl,
        d.vlan,
    ));
    black_box(d.problem.map(|p| p.as_str()));
    if d.l3 == L3::None {
        assert_eq!(d.l4, L4::None);
        assert!(d.src.is_unspecified() && d.dst.is_unspecified());
        assert_eq!(d.ip_ttl, 0);
        assert_eq!(d.fragment, Fragment::None);
    }
    if !matches!(d.l4, L4::Tcp | L4::Udp) || d.fragment == Fragment::Later {
        assert_eq!((d.src_port, d.dst_port), (0, 0));
        assert!(d.l4_payload.is_empty());
    }
    if d.l4 != L4::Tcp {
        assert_eq!(d.tcp_flags, 0);
    }
    // The payload is a window into the frame, never past its end.
    if !d.l4_payload.is_empty() {
        let frame_range = frame.as_ptr_range();
        let payload_range = d.l4_payload.as_ptr_range();
        assert!(frame_range.start <= payload_range.start && payload_range.end <= frame_range.end);
    }
    black_box(d.l4_payload.iter().fold(0u8, |acc, b| acc ^ b));
});
