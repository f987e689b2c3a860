//! pv_wire::tcp_stream::DnsTcpReassembler on arbitrary segment sequences.
//!
//! The first byte picks a mode:
//!
//! - even: the rest is a list of segments (key picked from a few, flags,
//!   sequence number near the key's current position or anywhere, payload
//!   either from the input or cut from a fixed stream of framed DNS messages
//!   at the place the sequence number points to), fed to a reassembler with
//!   tiny caps, with expiry now and then. After every segment the table's invariants must hold (at most
//!   `max_streams` streams, per-stream caps, counters that add up), and every
//!   message handed out must be at least a DNS header long.
//! - odd: an oracle. The rest describes DNS messages, where the stream is cut
//!   into segments, a reordering within windows of 3 and duplicated
//!   segments; after a SYN, the reassembler (default caps) must deliver
//!   exactly those messages, in order, with nothing dropped.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_wire::tcp::{FLAG_ACK, FLAG_FIN, FLAG_PSH, FLAG_RST, FLAG_SYN};
use pv_wire::tcp_stream::{DnsTcpReassembler, ReassemblyConfig, StreamKey};

fn keys() -> [StreamKey; 5] {
    let a: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let b: std::net::IpAddr = "2001:db8::53".parse().unwrap();
    let k = |src, dst, src_port, dst_port| StreamKey {
        src,
        dst,
        src_port,
        dst_port,
    };
    [
        k(a, a, 1000, 53),
        k(a, a, 53, 1000),
        k(a, b, 1001, 53),
        k(b, a, 53, 1001),
        k(b, b, 1002, 53),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        arbitrary_segments(rest);
    } else {
        oracle(rest);
    }
});

/// Sequence number of the first data byte of every key's stream (after a
/// SYN at one less), near the top of sequence space so wraparound happens.
const FIRST: u32 = u32::MAX - 40;

/// A stream of framed DNS messages, 12 to 51 bytes long, with now and then
/// one too long for the fuzzed byte cap (64).
fn dns_stream() -> Vec<u8> {
    let mut stream = Vec::new();
    for i in 0..200u16 {
        let len = if i % 17 == 16 {
            70
        } else {
            12 + usize::from(i * 13 % 40)
        };
        let questions = u8::from(len >= 17);
        stream.extend_from_slice(&(len as u16).to_be_bytes());
        stream.extend_from_slice(&i.to_be_bytes());
        stream.extend_from_slice(&[0x01, 0x00, 0, questions, 0, 0, 0, 0, 0, 0]);
        stream.resize(stream.len() + len - 12, 0x5a);
    }
    stream
}

fn arbitrary_segments(mut data: &[u8]) {
    let dns = dns_stream();
    let cfg = ReassemblyConfig {
        max_streams: 3,
        max_buffered_bytes_per_stream: 64,
        max_out_of_order_segments: 3,
        idle_timeout_ns: 1000,
        closed_linger_ns: 300,
    };
    let mut r = DnsTcpReassembler::new(cfg);
    let keys = keys();
    let mut base = [FIRST; 5];
    let mut ts = 0u64;
    let mut delivered = 0u64;
    while let Some((&[op, step, len, dt], tail)) = data.split_first_chunk::<4>() {
        data = tail;
        let k = usize::from(op & 7) % keys.len();
        let mut flags = FLAG_ACK;
        if op & 0x08 != 0 {
            flags |= FLAG_SYN;
        }
        if op & 0x10 != 0 {
            flags |= FLAG_FIN;
        }
        if op & 0x60 == 0x60 {
            flags |= FLAG_RST;
        }
        let seq = if step & 0x80 != 0 {
            let Some((&raw, tail)) = data.split_first_chunk::<4>() else {
                return;
            };
            data = tail;
            u32::from_be_bytes(raw)
        } else {
            // -32..=31 from the key's position.
            base[k].wrapping_add_signed(i32::from(step & 0x3f) - 32)
        };
        let data_seq = seq.wrapping_add(u32::from(flags & FLAG_SYN != 0));
        let payload = if len & 0x80 == 0 {
            let len = usize::from(len).min(data.len());
            let (payload, tail) = data.split_at(len);
            data = tail;
            payload
        } else {
            let at = data_seq.wrapping_sub(FIRST) as usize % dns.len();
            let end = (at + usize::from(len & 0x7f)).min(dns.len());
            &dns[at..end]
        };
        let len = payload.len();
        ts += u64::from(dt);
        let mut count = 0u64;
        r.segment(ts, keys[k], seq, flags, payload, &mut |m: &[u8], t: u64| {
            assert!(m.len() >= 12 && m.len() <= 65535);
            assert_eq!(t, ts);
            count += 1;
        });
        delivered += count;
        if step & 0x40 != 0 {
            base[k] = data_seq.wrapping_add(len as u32);
        }
        if op & 0x80 != 0 {
            r.expire(ts);
        }
        assert!(r.active_streams() <= cfg.max_streams);
        assert!(r.buffered_bytes() <= r.active_streams() * cfg.max_buffered_bytes_per_stream);
        assert_eq!(r.stats().messages, delivered);
        if let Err(e) = r.check_invariants() {
            panic!("invariant broken: {e}");
        }
    }
    r.expire(u64::MAX);
    assert_eq!(r.active_streams(), 0);
    assert_eq!(r.buffered_bytes(), 0);
    if let Err(e) = r.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

fn oracle(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    // Messages.
    let count = 1 + usize::from(next() % 8);
    let mut stream = Vec::new();
    let mut ids = Vec::new();
    for i in 0..count {
        let len = 12 + usize::from(next()) * 2;
        let id = i as u16;
        ids.push(id);
        stream.extend_from_slice(&(len as u16).to_be_bytes());
        stream.extend_from_slice(&id.to_be_bytes());
        stream.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        stream.resize(stream.len() + len - 12, 0xab);
    }
    // Segments: cut points.
    let mut cuts = vec![0, stream.len()];
    for _ in 0..next() % 16 {
        let at = usize::from(u16::from_be_bytes([next(), next()])) % stream.len();
        cuts.push(at);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let base: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let mut segments = base.clone();
    // Duplicates (possibly spanning two segments), a little later.
    for _ in 0..next() % 4 {
        let i = usize::from(next()) % base.len();
        let j = (i + usize::from(next() % 2)).min(base.len() - 1);
        let at = (i + 1 + usize::from(next() % 3)).min(segments.len());
        segments.insert(at, (base[i].0, base[j].1));
    }
    // Reorder within windows of 3.
    for chunk in segments.chunks_mut(3) {
        for i in (1..chunk.len()).rev() {
            chunk.swap(i, usize::from(next()) % (i + 1));
        }
    }
    let isn = u32::from_be_bytes([next(), next(), next(), next()]);
    let key = keys()[0];
    let mut r = DnsTcpReassembler::new(ReassemblyConfig::default());
    let mut got = Vec::new();
    let mut on_message = |m: &[u8], _: u64| got.push(u16::from_be_bytes([m[0], m[1]]));
    r.segment(0, key, isn, FLAG_SYN, &[], &mut on_message);
    for &(a, b) in &segments {
        let seq = isn.wrapping_add(1).wrapping_add(a as u32);
        r.segment(
            1,
            key,
            seq,
            FLAG_PSH | FLAG_ACK,
            &stream[a..b],
            &mut on_message,
        );
    }
    let end = isn.wrapping_add(1).wrapping_add(stream.len() as u32);
    r.segment(2, key, end, FLAG_FIN | FLAG_ACK, &[], &mut on_message);
    assert_eq!(got, ids, "segments {segments:?}");
    let s = r.stats();
    assert_eq!((s.gaps, s.bytes_dropped, s.not_dns), (0, 0, 0));
    assert_eq!((s.streams_opened, s.streams_closed), (1, 1));
    assert_eq!(r.active_streams(), 0);
    if let Err(e) = r.check_invariants() {
        panic!("invariant broken: {e}");
    }
}
