use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::tcp::{FLAG_ACK, FLAG_FIN, FLAG_PSH, FLAG_RST, FLAG_SYN};

const PSH: u8 = FLAG_PSH | FLAG_ACK;
const ISN: u32 = 1000;
/// First data byte after a SYN with sequence number ISN.
const D: u32 = ISN + 1;
const SEC: u64 = 1_000_000_000;

fn key(n: u8) -> StreamKey {
    StreamKey {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
        src_port: 40000 + u16::from(n),
        dst_port: 53,
    }
}

/// A DNS query of `len` bytes (at least 17) with id `id`, length prefix
/// included: header with RD and one question, then filler.
fn framed(id: u16, len: usize) -> Vec<u8> {
    assert!(len >= 12);
    let mut m = Vec::with_capacity(len + 2);
    m.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    while m.len() < len + 2 {
        m.push(u8::try_from(m.len() % 251).unwrap() | 0x80);
    }
    m
}

fn id_of(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[0], message[1]])
}

struct H {
    r: DnsTcpReassembler,
}

impl H {
    fn new(cfg: ReassemblyConfig) -> H {
        H {
            r: DnsTcpReassembler::new(cfg),
        }
    }

    fn default() -> H {
        H::new(ReassemblyConfig::default())
    }

    /// Feeds a segment; returns (message, ts) for each message delivered.
    fn seg(
        &mut self,
        ts: u64,
        key: StreamKey,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        self.r
            .segment(ts, key, seq, flags, payload, &mut |m: &[u8], t: u64| {
                out.push((m.to_vec(), t))
            });
        self.r.check_invariants().unwrap();
        out
    }

    /// Feeds a segment; returns the ids delivered.
    fn ids(&mut self, ts: u64, key: StreamKey, seq: u32, flags: u8, payload: &[u8]) -> Vec<u16> {
        self.seg(ts, key, seq, flags, payload)
            .iter()
            .map(|(m, _)| id_of(m))
            .collect()
    }

    fn syn(&mut self, k: StreamKey) {
        assert!(self.seg(0, k, ISN, FLAG_SYN, &[]).is_empty());
    }

    fn stats(&self) -> ReassemblyStats {
        self.r.stats()
    }
}

#[test]
fn single_message_in_one_segment_is_not_copied() {
    let mut h = H::default();
    h.syn(key(1));
    let m = framed(0x1234, 40);
    let mut seen = Vec::new();
    h.r.segment(7, key(1), D, PSH, &m, &mut |msg: &[u8], ts: u64| {
        // Zero copy: the message is a window into the payload.
        let payload = m.as_ptr_range();
        let got = msg.as_ptr_range();
        assert!(payload.start <= got.start && got.end <= payload.end);
        seen.push((msg.to_vec(), ts));
    });
    assert_eq!(seen, vec![(m[2..].to_vec(), 7)]);
    assert!(!h.r.slots[0].stream.has_buffers());
    let s = h.stats();
    assert_eq!((s.messages, s.streams_opened, s.bytes_dropped), (1, 1, 0));
    assert_eq!(h.r.active_streams(), 1);
}

#[test]
fn two_messages_in_one_segment() {
    let mut h = H::default();
    h.syn(key(1));
    let payload = [framed(1, 30), framed(2, 12)].concat();
    assert_eq!(h.ids(1, key(1), D, PSH, &payload), [1, 2]);
    assert_eq!(h.stats().messages, 2);
}

#[test]
fn every_single_split_point() {
    let stream = [framed(1, 30), framed(2, 17), framed(3, 12)].concat();
    for cut in 0..=stream.len() {
        let mut h = H::default();
        h.syn(key(1));
        let (a, b) = stream.split_at(cut);
        let mut got = h.seg(1, key(1), D, PSH, a);
        got.extend(h.seg(2, key(1), D + cut as u32, PSH, b));
        let ids: Vec<u16> = got.iter().map(|(m, _)| id_of(m)).collect();
        assert_eq!(ids, [1, 2, 3], "cut at {cut}");
        // Each message carries the time of the segment that completed it.
        let times: Vec<u64> = got.iter().map(|&(_, t)| t).collect();
        let first_end = 32;
        let expected_first = if cut >= first_end { 1 } else { 2 };
        assert_eq!(times[0], expected_first, "cut at {cut}");
        assert_eq!(got[0].0, stream[2..32].to_vec());
        assert_eq!(h.stats().bytes_dropped, 0);
        assert!(!h.r.slots[0].stream.has_buffers(), "cut at {cut}");
    }
}

#[test]
fn every_pair_of_split_points() {
    let stream = [framed(1, 20), framed(2, 13)].concat();
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let mut h = H::default();
            h.syn(key(1));
            let mut ids = Vec::new();
            for (start, end) in [(0, i), (i, j), (j, stream.len())] {
                ids.extend(h.ids(1, key(1), D + start as u32, PSH, &stream[start..end]));
            }
            assert_eq!(ids, [1, 2], "cuts {i} {j}");
        }
    }
}

#[test]
fn byte_by_byte() {
    let stream = [framed(1, 300), framed(2, 12), framed(3, 1000)].concat();
    let mut h = H::default();
    h.syn(key(1));
    let mut ids = Vec::new();
    for (i, b) in stream.iter().enumerate() {
        ids.extend(h.ids(i as u64, key(1), D + i as u32, PSH, &[*b]));
    }
    assert_eq!(ids, [1, 2, 3]);
    let s = h.stats();
    assert_eq!((s.messages, s.bytes_dropped, s.retransmissions), (3, 0, 0));
}

#[test]
fn prefix_split_from_its_message() {
    // Some stacks write the prefix and the message separately.
    let m = framed(9, 50);
    let mut h = H::default();
    h.syn(key(1));
    assert!(h.ids(1, key(1), D, PSH, &m[..1]).is_empty());
    assert!(h.ids(2, key(1), D + 1, PSH, &m[1..2]).is_empty());
    assert_eq!(h.ids(3, key(1), D + 2, PSH, &m[2..]), [9]);
}

#[test]
fn out_of_order_delivery() {
    let stream = [framed(1, 40), framed(2, 40), framed(3, 40)].concat();
    let parts: Vec<(u32, &[u8])> = stream
        .chunks(25)
        .enumerate()
        .map(|(i, c)| (D + 25 * i as u32, c))
        .collect();
    let mut h = H::default();
    h.syn(key(1));
    let mut got = Vec::new();
    for (n, &(seq, part)) in parts.iter().enumerate().rev() {
        got.extend(h.seg(10 + n as u64, key(1), seq, PSH, part));
    }
    // Everything is completed by the first segment, delivered last.
    assert_eq!(
        got.iter().map(|(m, t)| (id_of(m), *t)).collect::<Vec<_>>(),
        [(1, 10), (2, 10), (3, 10)]
    );
    let s = h.stats();
    assert_eq!(s.out_of_order, parts.len() as u64 - 1);
    assert_eq!((s.gaps, s.bytes_dropped), (0, 0));
    assert!(!h.r.slots[0].stream.has_buffers());
}

#[test]
fn held_segment_delivered_when_the_hole_fills() {
    let (a, b) = (framed(1, 30), framed(2, 30));
    let mut h = H::default();
    h.syn(key(1));
    assert!(h.ids(1, key(1), D + 32, PSH, &b).is_empty());
    assert_eq!(h.r.buffered_bytes(), 32);
    // The held segment again: a retransmission.
    assert!(h.ids(2, key(1), D + 32, PSH, &b).is_empty());
    assert_eq!(h.ids(3, key(1), D, PSH, &a), [1, 2]);
    let s = h.stats();
    assert_eq!((s.out_of_order, s.retransmissions), (1, 1));
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn retransmission_of_delivered_data() {
    let (a, b) = (framed(1, 30), framed(2, 30));
    let mut h = H::default();
    h.syn(key(1));
    assert_eq!(h.ids(1, key(1), D, PSH, &a), [1]);
    assert!(h.ids(2, key(1), D, PSH, &a).is_empty());
    assert_eq!(h.ids(3, key(1), D + 32, PSH, &b), [2]);
    assert!(
        h.ids(4, key(1), D, PSH, &[a.clone(), b.clone()].concat())
            .is_empty()
    );
    let s = h.stats();
    assert_eq!((s.messages, s.retransmissions, s.bytes_dropped), (2, 2, 0));
}

#[test]
fn overlapping_segments_are_trimmed() {
    let stream = [framed(1, 30), framed(2, 30), framed(3, 30)].concat();
    let mut h = H::default();
    h.syn(key(1));
    let mut ids = Vec::new();
    ids.extend(h.ids(1, key(1), D, PSH, &stream[..20]));
    // Overlaps the first by 10 bytes, ends inside message 2.
    ids.extend(h.ids(2, key(1), D + 10, PSH, &stream[10..50]));
    // Ahead, overlapping the next in-order one.
    ids.extend(h.ids(3, key(1), D + 60, PSH, &stream[60..]));
    ids.extend(h.ids(4, key(1), D + 40, PSH, &stream[40..70]));
    assert_eq!(ids, [1, 2, 3]);
    let s = h.stats();
    // Segments 2 and 4 overlap delivered data, and the held one overlaps
    // segment 4.
    assert_eq!(
        (s.retransmissions, s.out_of_order, s.bytes_dropped),
        (3, 1, 0)
    );
}

#[test]
fn overlapping_held_segments() {
    let stream = [framed(1, 30), framed(2, 30), framed(3, 30)].concat();
    let mut h = H::default();
    h.syn(key(1));
    assert!(h.ids(1, key(1), D + 50, PSH, &stream[50..80]).is_empty());
    assert!(h.ids(2, key(1), D + 40, PSH, &stream[40..]).is_empty());
    assert!(h.ids(3, key(1), D + 55, PSH, &stream[55..60]).is_empty());
    assert_eq!(h.ids(4, key(1), D, PSH, &stream[..40]), [1, 2, 3]);
    assert_eq!(h.stats().bytes_dropped, 0);
}

#[test]
fn sequence_wraparound() {
    let stream = [framed(1, 30), framed(2, 30), framed(3, 30)].concat();
    for isn in [u32::MAX - 40, u32::MAX - 1, u32::MAX, 0x7fff_fff0] {
        let first = isn.wrapping_add(1);
        let at = |off: usize| first.wrapping_add(off as u32);
        let mut h = H::default();
        h.seg(0, key(1), isn, FLAG_SYN, &[]);
        let mut ids = Vec::new();
        ids.extend(h.ids(1, key(1), at(0), PSH, &stream[..25]));
        ids.extend(h.ids(2, key(1), at(50), PSH, &stream[50..]));
        ids.extend(h.ids(3, key(1), at(20), PSH, &stream[20..55]));
        ids.extend(h.ids(4, key(1), at(0), PSH, &stream[..10]));
        assert_eq!(ids, [1, 2, 3], "isn {isn:#x}");
        let s = h.stats();
        // Overlaps: segment 3 with 1, the held segment 2 with 3; segment 4
        // is a duplicate.
        assert_eq!((s.out_of_order, s.retransmissions, s.gaps), (1, 3, 0));
        assert!(
            h.seg(5, key(1), at(stream.len()), FLAG_FIN | FLAG_ACK, &[])
                .is_empty()
        );
        assert_eq!(h.r.active_streams(), 0);
    }
}

#[test]
fn mid_stream_start_on_a_message_boundary() {
    let mut h = H::default();
    let stream = [framed(1, 30), framed(2, 30)].concat();
    // No SYN seen: the first segment starts a plausible message.
    assert_eq!(h.ids(1, key(1), 77_777, PSH, &stream[..40]), [1]);
    assert_eq!(h.ids(2, key(1), 77_817, PSH, &stream[40..]), [2]);
    assert_eq!(h.stats().bytes_dropped, 0);
}

#[test]
fn mid_stream_start_inside_a_message() {
    let mut h = H::default();
    let stream = [framed(1, 60), framed(2, 30), framed(3, 30)].concat();
    let s0 = 5_000u32;
    // The capture starts inside message 1 and the prefix of message 2 is in
    // the same segment: nothing can be trusted there.
    assert!(h.ids(1, key(1), s0 + 20, PSH, &stream[20..70]).is_empty());
    assert_eq!(h.stats().bytes_dropped, 50);
    assert!(h.ids(2, key(1), s0 + 70, PSH, &stream[70..94]).is_empty());
    // A segment that starts a message: back in sync.
    assert_eq!(h.ids(3, key(1), s0 + 94, PSH, &stream[94..]), [3]);
    assert_eq!(h.stats().bytes_dropped, 74);
}

#[test]
fn mid_stream_segment_that_does_not_start_a_message_is_judged_whole() {
    // Starts with a plausible prefix value but a header that is not DNS.
    let mut junk = framed(1, 30);
    junk[6] = 0x12; // qdcount 0x1201
    let mut h = H::default();
    assert!(h.ids(1, key(1), 10, PSH, &junk).is_empty());
    assert_eq!(h.stats().bytes_dropped, 32);
    assert_eq!(h.ids(2, key(1), 42, PSH, &framed(2, 30)), [2]);
}

#[test]
fn pure_acks_and_fins_do_not_open_streams() {
    let mut h = H::default();
    h.seg(1, key(1), 5, FLAG_ACK, &[]);
    h.seg(1, key(1), 5, FLAG_FIN | FLAG_ACK, &[]);
    h.seg(1, key(1), 5, FLAG_RST, &[]);
    assert_eq!(h.r.active_streams(), 0);
    assert_eq!(h.stats(), ReassemblyStats::default());
}

#[test]
fn fin_closes_after_delivering() {
    let mut h = H::default();
    h.syn(key(1));
    let m = framed(1, 30);
    let partial = framed(2, 30);
    let payload = [m.clone(), partial[..10].to_vec()].concat();
    assert_eq!(h.ids(1, key(1), D, PSH | FLAG_FIN, &payload), [1]);
    assert_eq!(h.r.active_streams(), 0);
    let s = h.stats();
    assert_eq!((s.streams_opened, s.streams_closed), (1, 1));
    // The partial message is given up.
    assert_eq!(s.bytes_dropped, 10);
}

#[test]
fn fin_ahead_of_a_hole_waits_for_it() {
    let mut h = H::default();
    h.syn(key(1));
    let (a, b) = (framed(1, 30), framed(2, 30));
    assert!(
        h.ids(1, key(1), D + 64, FLAG_FIN | FLAG_ACK, &[])
            .is_empty()
    );
    assert!(h.ids(2, key(1), D + 32, PSH, &b).is_empty());
    assert_eq!(h.r.active_streams(), 1);
    assert_eq!(h.ids(3, key(1), D, PSH, &a), [1, 2]);
    assert_eq!(h.r.active_streams(), 0);
    assert_eq!(h.stats().streams_closed, 1);
}

#[test]
fn late_retransmission_after_close_is_ignored() {
    let mut h = H::default();
    h.syn(key(1));
    let m = framed(1, 30);
    assert_eq!(h.ids(1, key(1), D, PSH, &m), [1]);
    h.seg(2, key(1), D + 32, FLAG_FIN | FLAG_ACK, &[]);
    assert_eq!(h.r.active_streams(), 0);
    // The data again, and the SYN again: neither reopens the stream.
    assert!(h.ids(3, key(1), D, PSH, &m).is_empty());
    assert!(h.ids(3, key(1), ISN, FLAG_SYN, &[]).is_empty());
    assert_eq!(h.r.active_streams(), 0);
    assert_eq!(h.stats().retransmissions, 1);
    // After the linger time the key is forgotten; data opens a hunting
    // stream again.
    h.r.expire(10 * SEC);
    assert_eq!(h.ids(10 * SEC, key(1), D, PSH, &m), [1]);
    // A new connection (new ISN) reopens at once.
    let mut h2 = H::default();
    h2.syn(key(1));
    h2.seg(1, key(1), D, FLAG_RST, &[]);
    h2.seg(2, key(1), 9_000_000, FLAG_SYN, &[]);
    assert_eq!(h2.ids(3, key(1), 9_000_001, PSH, &m), [1]);
    assert_eq!(h2.stats().streams_opened, 2);
}

#[test]
fn rst_closes_at_once() {
    let mut h = H::default();
    h.syn(key(1));
    let stream = [framed(1, 30), framed(2, 30)].concat();
    assert_eq!(h.ids(1, key(1), D, PSH, &stream[..40]), [1]);
    assert!(h.ids(2, key(1), D + 50, PSH, &stream[50..]).is_empty());
    h.seg(3, key(1), D + 64, FLAG_RST | FLAG_ACK, &[]);
    assert_eq!(h.r.active_streams(), 0);
    let s = h.stats();
    assert_eq!(s.streams_closed, 1);
    // The 8 partial bytes and the 14 held ones; the hole counts as a gap.
    assert_eq!((s.bytes_dropped, s.gaps), (22, 1));
}

#[test]
fn syn_retransmission_and_new_connection() {
    let mut h = H::default();
    h.syn(key(1));
    let m = framed(1, 30);
    assert_eq!(h.ids(1, key(1), D, PSH, &m[..10]), Vec::<u16>::new());
    // Same SYN again: nothing changes.
    h.seg(2, key(1), ISN, FLAG_SYN, &[]);
    assert_eq!(h.ids(3, key(1), D + 10, PSH, &m[10..]), [1]);
    // A SYN with another ISN: the port pair is reused by a new connection.
    h.seg(4, key(1), 500_000_000, FLAG_SYN, &[]);
    assert_eq!(h.ids(5, key(1), 500_000_001, PSH, &m), [1]);
    let s = h.stats();
    assert_eq!((s.streams_opened, s.streams_closed, s.messages), (2, 1, 2));
    assert_eq!(h.r.active_streams(), 1);
}

#[test]
fn syn_with_data() {
    // TCP Fast Open: the data follows the SYN's sequence number.
    let mut h = H::default();
    assert_eq!(h.ids(1, key(1), ISN, FLAG_SYN, &framed(4, 20)), [4]);
}

#[test]
fn idle_expiry() {
    let mut h = H::default();
    for n in 1..=3 {
        h.seg(u64::from(n) * SEC, key(n), ISN, FLAG_SYN, &[]);
    }
    let m = framed(1, 30);
    // Stream 3 holds data behind a hole.
    h.seg(3 * SEC, key(3), D + 5, PSH, &m);
    h.seg(20 * SEC, key(1), D, PSH, &m);
    h.r.expire(31 * SEC);
    assert_eq!(h.r.active_streams(), 3);
    h.r.expire(33 * SEC + 1);
    assert_eq!(h.r.active_streams(), 1);
    let s = h.stats();
    assert_eq!(s.streams_timed_out, 2);
    assert_eq!((s.gaps, s.bytes_dropped), (1, 32));
    h.r.expire(50 * SEC + 1);
    assert_eq!(h.r.active_streams(), 0);
    h.r.check_invariants().unwrap();
}

#[test]
fn table_cap_evicts_least_recently_used() {
    let mut h = H::new(ReassemblyConfig {
        max_streams: 3,
        ..ReassemblyConfig::default()
    });
    for n in 1..=3 {
        h.syn(key(n));
    }
    let m = framed(1, 30);
    // Use stream 1, so that stream 2 is the least recently used.
    h.seg(1, key(1), D, PSH, &m[..5]);
    h.syn(key(4));
    assert_eq!(h.r.active_streams(), 3);
    assert_eq!(h.stats().streams_evicted, 1);
    assert!(h.r.index.contains_key(&key(1)));
    assert!(!h.r.index.contains_key(&key(2)));
    // Stream 1 is intact.
    assert_eq!(h.ids(2, key(1), D + 5, PSH, &m[5..]), [1]);
    for n in 5..=40 {
        h.syn(key(n));
        assert_eq!(h.r.active_streams(), 3);
    }
    assert_eq!(h.stats().streams_evicted, 37);
}

#[test]
fn oversize_message_is_skipped_in_sync() {
    let mut h = H::new(ReassemblyConfig {
        max_buffered_bytes_per_stream: 100,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let stream = [framed(1, 500), framed(2, 30), framed(3, 98)].concat();
    let mut ids = Vec::new();
    for (i, part) in stream.chunks(64).enumerate() {
        ids.extend(h.ids(1, key(1), D + 64 * i as u32, PSH, part));
        assert!(h.r.buffered_bytes() <= 100);
    }
    assert_eq!(ids, [2, 3]);
    let s = h.stats();
    assert_eq!((s.oversize, s.bytes_dropped, s.gaps), (1, 502, 0));
}

#[test]
fn oversize_detected_on_a_split_prefix() {
    let mut h = H::new(ReassemblyConfig {
        max_buffered_bytes_per_stream: 50,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let stream = [framed(1, 200), framed(2, 30)].concat();
    let mut ids = Vec::new();
    ids.extend(h.ids(1, key(1), D, PSH, &stream[..1]));
    ids.extend(h.ids(1, key(1), D + 1, PSH, &stream[1..150]));
    ids.extend(h.ids(1, key(1), D + 150, PSH, &stream[150..]));
    assert_eq!(ids, [2]);
    assert_eq!(h.stats().oversize, 1);
}

#[test]
fn byte_cap_on_held_segments() {
    let mut h = H::new(ReassemblyConfig {
        max_buffered_bytes_per_stream: 70,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let stream: Vec<u8> = (1..=4).flat_map(|id| framed(id, 30)).collect();
    // Message 1 is lost; 2 and 3 are held (64 bytes); 4 does not fit: the
    // hole is given up and the stream picks up at message 2.
    assert!(h.ids(1, key(1), D + 32, PSH, &stream[32..64]).is_empty());
    assert!(h.ids(2, key(1), D + 64, PSH, &stream[64..96]).is_empty());
    assert_eq!(h.ids(3, key(1), D + 96, PSH, &stream[96..]), [2, 3, 4]);
    let s = h.stats();
    assert_eq!((s.gaps, s.oversize, s.bytes_dropped), (1, 1, 0));
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn partial_message_growth_drops_held_segments_beyond_the_cap() {
    let mut h = H::new(ReassemblyConfig {
        max_buffered_bytes_per_stream: 120,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let stream = [framed(1, 100), framed(2, 30), framed(3, 30)].concat();
    // Hold message 3 (32 bytes) while message 1 (102 bytes) comes in pieces.
    assert!(h.ids(1, key(1), D + 134, PSH, &stream[134..]).is_empty());
    assert!(h.ids(2, key(1), D, PSH, &stream[..50]).is_empty());
    assert!(h.ids(3, key(1), D + 50, PSH, &stream[50..100]).is_empty());
    assert!(h.r.buffered_bytes() <= 120);
    assert_eq!(h.stats().oversize, 1);
    assert_eq!(h.ids(4, key(1), D + 100, PSH, &stream[100..134]), [1, 2]);
    // Message 3 was dropped to make room; it never comes again.
    assert_eq!(h.stats().bytes_dropped, 32);
}

#[test]
fn invalid_length_marks_stream_not_dns() {
    let mut h = H::default();
    h.syn(key(1));
    assert!(h.ids(1, key(1), D, PSH, b"\x00\x05hello").is_empty());
    assert_eq!(h.stats().not_dns, 1);
    // Even a real message afterwards is ignored.
    assert!(h.ids(2, key(1), D + 7, PSH, &framed(1, 30)).is_empty());
    assert_eq!(h.r.active_streams(), 1);
    let s = h.stats();
    assert_eq!((s.messages, s.bytes_dropped), (0, 39));
    // FIN still closes it.
    h.seg(3, key(1), D + 39, FLAG_FIN | FLAG_ACK, &[]);
    assert_eq!(h.r.active_streams(), 0);
}

#[test]
fn invalid_length_after_valid_messages_and_split_prefix() {
    let mut h = H::default();
    h.syn(key(1));
    let payload = [framed(1, 30), vec![0x00]].concat();
    assert_eq!(h.ids(1, key(1), D, PSH, &payload), [1]);
    assert!(h.ids(2, key(1), D + 33, PSH, b"\x0b12345678901").is_empty());
    assert_eq!(h.stats().not_dns, 1);
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn gap_when_too_many_segments_are_held() {
    let mut h = H::new(ReassemblyConfig {
        max_out_of_order_segments: 2,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let msgs: Vec<Vec<u8>> = (1..=6).map(|id| framed(id, 30)).collect();
    let at = |i: usize| D + 32 * i as u32;
    // Message 1 arrives, message 2 is half lost, 3 and 4 are held, 5
    // overflows: the hole is given up and the stream resumes at message 3.
    assert_eq!(h.ids(1, key(1), at(0), PSH, &msgs[0]), [1]);
    assert!(h.ids(2, key(1), at(1), PSH, &msgs[1][..10]).is_empty());
    assert!(h.ids(3, key(1), at(2), PSH, &msgs[2]).is_empty());
    assert!(h.ids(4, key(1), at(3), PSH, &msgs[3]).is_empty());
    assert_eq!(h.ids(5, key(1), at(4), PSH, &msgs[4]), [3, 4, 5]);
    assert_eq!(h.ids(6, key(1), at(5), PSH, &msgs[5]), [6]);
    let s = h.stats();
    assert_eq!((s.gaps, s.out_of_order, s.bytes_dropped), (1, 2, 10));
    // The lost half arrives late: behind the stream, ignored.
    assert!(h.ids(7, key(1), at(1) + 10, PSH, &msgs[1][10..]).is_empty());
}

#[test]
fn gap_resync_after_held_data_that_does_not_start_a_message() {
    let mut h = H::new(ReassemblyConfig {
        max_out_of_order_segments: 1,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let stream: Vec<u8> = (1..=4).flat_map(|id| framed(id, 30)).collect();
    // Bytes 0..10 lost; 10..40 held (starts mid-message); 40..64 overflows.
    assert!(h.ids(1, key(1), D + 10, PSH, &stream[10..40]).is_empty());
    assert!(h.ids(2, key(1), D + 40, PSH, &stream[40..64]).is_empty());
    // Neither started a message; the stream hunts and catches message 3.
    assert_eq!(h.ids(3, key(1), D + 64, PSH, &stream[64..96]), [3]);
    assert_eq!(h.ids(4, key(1), D + 96, PSH, &stream[96..]), [4]);
    let s = h.stats();
    assert_eq!((s.gaps, s.bytes_dropped), (1, 54));
}

#[test]
fn no_holding_at_all() {
    let mut h = H::new(ReassemblyConfig {
        max_out_of_order_segments: 0,
        ..ReassemblyConfig::default()
    });
    h.syn(key(1));
    let (a, b) = (framed(1, 30), framed(2, 30));
    assert_eq!(h.ids(1, key(1), D + 32, PSH, &b), [2]);
    assert!(h.ids(2, key(1), D, PSH, &a).is_empty());
    assert_eq!(h.stats().gaps, 1);
}

#[test]
fn plausibility() {
    assert!(plausible_message_start(&framed(1, 17)));
    assert!(
        !plausible_message_start(&framed(1, 16)),
        "question needs 5 bytes"
    );
    assert!(!plausible_message_start(&framed(1, 30)[..13]), "header cut");
    let mut m = framed(1, 30);
    m[4] = 0x18; // opcode 3
    assert!(!plausible_message_start(&m));
    let mut m = framed(1, 30);
    m[5] = 0x40; // Z
    assert!(!plausible_message_start(&m));
    let mut m = framed(1, 30);
    m[9] = 2; // one answer: 5 + 11 > 18
    assert!(!plausible_message_start(&m));
    m[1] = 60;
    assert!(plausible_message_start(&m));
    let mut m = framed(1, 30);
    m[0] = 0;
    m[1] = 11;
    assert!(!plausible_message_start(&m));
}

#[test]
fn directions_are_independent() {
    let mut h = H::default();
    let q = key(1);
    let r = q.reversed();
    h.seg(0, q, ISN, FLAG_SYN, &[]);
    h.seg(0, r, 7, FLAG_SYN | FLAG_ACK, &[]);
    let (m1, m2) = (framed(1, 30), framed(0x8001, 40));
    assert!(h.ids(1, q, D, PSH, &m1[..5]).is_empty());
    assert!(h.ids(2, r, 8, PSH, &m2[..5]).is_empty());
    assert_eq!(h.ids(3, r, 13, PSH, &m2[5..]), [0x8001]);
    assert_eq!(h.ids(4, q, D + 5, PSH, &m1[5..]), [1]);
    assert_eq!(h.r.active_streams(), 2);
}

#[test]
fn ipv6_keys() {
    let k = StreamKey {
        src: IpAddr::V6(Ipv6Addr::LOCALHOST),
        dst: IpAddr::V6(Ipv6Addr::LOCALHOST),
        src_port: 40027,
        dst_port: 53000,
    };
    let mut h = H::default();
    h.syn(k);
    assert_eq!(h.ids(1, k, D, PSH, &framed(3, 12)), [3]);
}

#[test]
fn tiny_caps_are_raised() {
    let h = H::new(ReassemblyConfig {
        max_streams: 0,
        max_buffered_bytes_per_stream: 0,
        ..ReassemblyConfig::default()
    });
    assert_eq!(h.r.config().max_streams, 1);
    assert_eq!(h.r.config().max_buffered_bytes_per_stream, 2);
}

#[test]
fn huge_payload_is_dropped() {
    let mut h = H::default();
    h.syn(key(1));
    let big = vec![0u8; MAX_SEGMENT_LEN + 1];
    assert!(h.ids(1, key(1), D, PSH, &big).is_empty());
    assert_eq!(h.stats().bytes_dropped, big.len() as u64);
}

/// splitmix64: a deterministic source of test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random messages, cut at random points, reordered within small windows,
/// with duplicates and overlapping retransmissions: every message comes out
/// once, in order, whatever the ISN.
#[test]
fn random_segmentation_reordering_and_duplication() {
    let mut rng = Rng(42);
    for round in 0..300 {
        let count = 1 + rng.below(8);
        let ids: Vec<u16> = (0..count).map(|i| (round * 16 + i) as u16).collect();
        let stream: Vec<u8> = ids
            .iter()
            .flat_map(|&id| framed(id, 12 + rng.below(300)))
            .collect();
        let mut cuts = vec![0, stream.len()];
        for _ in 0..rng.below(12) {
            cuts.push(rng.below(stream.len()));
        }
        cuts.sort_unstable();
        cuts.dedup();
        let base: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let mut segments = base.clone();
        // Duplicates, and retransmissions that span two segments.
        for _ in 0..rng.below(4) {
            let i = rng.below(base.len());
            let (a, _) = base[i];
            let (_, b) = base[(i + rng.below(2)).min(base.len() - 1)];
            segments.insert((i + 1 + rng.below(3)).min(segments.len()), (a, b));
        }
        // Reorder within windows of 4.
        for chunk in segments.chunks_mut(4) {
            for i in (1..chunk.len()).rev() {
                chunk.swap(i, rng.below(i + 1));
            }
        }
        let isn = rng.next() as u32;
        let mut h = H::default();
        h.seg(0, key(1), isn, FLAG_SYN, &[]);
        let mut got = Vec::new();
        for &(a, b) in &segments {
            let seq = isn.wrapping_add(1).wrapping_add(a as u32);
            got.extend(h.ids(1, key(1), seq, PSH, &stream[a..b]));
        }
        assert_eq!(got, ids, "round {round}: segments {segments:?}");
        let s = h.stats();
        assert_eq!((s.gaps, s.bytes_dropped), (0, 0), "round {round}");
        assert_eq!(h.r.buffered_bytes(), 0, "round {round}");
    }
}

#[test]
fn tcp_seq_from_header_and_decoded_frame() {
    // dns_ipv4_tcp.pcap frame 1: SYN 127.0.0.1:42033 -> 127.0.0.1:53000.
    let frame: [u8; 74] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x3c, 0x47, 0x5b, 0x40, 0x00, 0x40, 0x06, 0xf5, 0x5e, 0x7f, 0x00, 0x00, 0x01,
        0x7f, 0x00, 0x00, 0x01, 0xa4, 0x31, 0xcf, 0x08, 0xd0, 0xde, 0x12, 0x5f, 0x00, 0x00, 0x00,
        0x00, 0xa0, 0x02, 0xaa, 0xaa, 0xfe, 0x30, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02,
        0x08, 0x0a, 0x34, 0x1b, 0xc6, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0b,
    ];
    assert_eq!(tcp_seq(&frame[34..]), Some(0xd0de_125f));
    assert_eq!(tcp_seq(&frame[34..41]), None);
    let d = crate::decode(crate::LinkType::Ethernet, &frame);
    assert_eq!(d.tcp_seq, 0xd0de_125f);
    let k = StreamKey::of(&d);
    assert_eq!((k.src_port, k.dst_port), (42033, 53000));
    assert_eq!(k.reversed().reversed(), k);
    let mut h = H::default();
    h.r.segment_decoded(1, &d, &mut |_: &[u8], _: u64| {});
    assert_eq!(h.r.active_streams(), 1);
    // The stream expects the byte after the SYN.
    assert_eq!(h.r.slots[0].stream.next_seq, 0xd0de_1260);
}

#[test]
fn per_stream_state_is_small() {
    // Key, recency links, time, sequence state and one pointer for buffers.
    assert!(
        std::mem::size_of::<Slot>() <= 96,
        "{}",
        std::mem::size_of::<Slot>()
    );
    assert!(
        std::mem::size_of::<Stream>() <= 24,
        "{}",
        std::mem::size_of::<Stream>()
    );
}
