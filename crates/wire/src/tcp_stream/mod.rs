//! TCP stream reassembly for DNS over TCP (RFC 1035 §4.2.2, RFC 7766).
//!
//! Each DNS message on TCP is preceded by a 2-byte big-endian length. A
//! segment may carry several messages and a message may span several
//! segments; segments arrive out of order, twice, overlapping, or not at all,
//! and a capture may start in the middle of a connection. [`DnsTcpReassembler`]
//! follows each direction of each connection separately (a [`StreamKey`]) and
//! hands every complete message to a callback, with the timestamp of the
//! segment that completed it, in stream order.
//!
//! # Cost
//!
//! One hash lookup per segment. A message that lies entirely inside one
//! segment is handed out as a slice of that segment: no copy, no allocation.
//! Only the start of a message that continues in a later segment, and
//! segments that arrive ahead of a hole, are copied.
//!
//! # Memory
//!
//! The table holds at most `max_streams` streams; opening one more evicts
//! the least recently used. A stream buffers at most
//! `max_buffered_bytes_per_stream` bytes (partial message plus held
//! segments) and holds at most `max_out_of_order_segments` segments; a
//! stream with nothing buffered owns no heap memory. A set of recently
//! closed streams (key, time, last sequence number) is kept for
//! `closed_linger_ns`, itself bounded by `max_streams`.
//!
//! # Semantics
//!
//! - **Sequence numbers** are compared modulo 2^32: a segment starting up to
//!   2^31 - 1 bytes after the next expected byte is ahead, anything else is
//!   behind (already seen).
//! - **Stream start.** A SYN synchronises the stream: the byte after it
//!   starts a message. A stream first seen without its SYN (capture started
//!   late, or the table evicted it) starts *hunting*: each data segment is
//!   judged by [`plausible_message_start`] (prefix >= 12, known opcode, Z bit
//!   clear, at most one question, record counts that fit the length); the
//!   first segment that passes synchronises the stream at its first byte,
//!   the ones before are dropped (`bytes_dropped`). Segments without data
//!   and without SYN never open a stream (a pure ACK or FIN says nothing
//!   about the framing, and would otherwise leave an entry behind after
//!   every close).
//! - **Retransmissions and overlaps.** Bytes before the next expected byte
//!   are trimmed. A segment carrying any such byte counts one
//!   `retransmissions` (fully duplicate or overlapping alike).
//! - **Out of order.** A segment ahead of the next expected byte is copied
//!   and held (`out_of_order`), up to `max_out_of_order_segments` segments
//!   and the byte cap; a segment already covered by a held one is a
//!   retransmission. When the hole fills, the held data is consumed in
//!   order, and the messages it completes carry the timestamp of the
//!   segment that filled the hole.
//! - **Gaps.** When a segment ahead cannot be held (segment or byte cap),
//!   the hole is given up: `gaps` is counted, the partial message before it
//!   is dropped (`bytes_dropped`), and the stream hunts from the earliest
//!   data after the hole (held or new): since DNS messages are commonly
//!   written one per segment, the stream usually picks up again at the next
//!   message. A stream that times out or is closed while holding data
//!   behind a hole counts a gap too and drops what it held.
//! - **Not DNS.** A length prefix below 12 (smaller than a DNS header) on a
//!   stream synchronised by its SYN marks the stream as not DNS (`not_dns`):
//!   its data is dropped until it ends. On a stream synchronised by a guess,
//!   it only means the guess was wrong: the stream hunts again.
//! - **Oversize.** A message longer than the byte cap can allow is skipped
//!   (its bytes counted in `bytes_dropped`, `oversize` counted) and the
//!   stream stays in sync after it. Hitting the byte cap while holding
//!   segments also counts `oversize` (and usually a gap).
//! - **FIN** closes the direction once the stream reaches it in sequence
//!   (a FIN ahead of a hole is held like data): complete messages are
//!   delivered first, a partial message is dropped, the entry is removed.
//!   **RST** closes the direction at once, whatever is missing. Either way
//!   the key is remembered for `closed_linger_ns`: data arriving for it in
//!   that time is a late retransmission and is ignored (counted as
//!   retransmission), and only a SYN with a new initial sequence number
//!   opens it again. A SYN on an open stream whose sequence number is not a
//!   retransmission of the stream's own SYN starts a new connection: the
//!   old stream counts as closed, the new one as opened.
//! - **Timeouts** are in packet time: [`DnsTcpReassembler::expire`] drops
//!   the streams idle for more than `idle_timeout_ns`; the caller calls it
//!   as often as it likes (every second of packet time is plenty). Nothing
//!   expires by itself.
//!
//! At all times `streams_opened == streams_closed + streams_evicted +
//! streams_timed_out + active_streams()`.
//!
//! # Feeding it
//!
//! From a decoded frame, [`DnsTcpReassembler::segment_decoded`] takes the
//! key, sequence number ([`Decoded::tcp_seq`]), flags and payload from the
//! [`Decoded`]; [`tcp_seq`] reads the sequence number from a raw TCP header.

mod stream;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::layers::Decoded;
use crate::tcp::{FLAG_FIN, FLAG_RST, FLAG_SYN};

pub use stream::plausible_message_start;
use stream::{Ctx, Outcome, SYN_RETRANSMIT_WINDOW, Stream};

/// Segments with more data than this are not TCP as captured (even a
/// jumbogram with segmentation offload stays far below): dropped whole.
pub const MAX_SEGMENT_LEN: usize = 1 << 24;

/// One direction of a TCP connection: (src ip, src port) → (dst ip, dst port).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StreamKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl StreamKey {
    /// The direction a decoded frame travels in.
    pub fn of(d: &Decoded<'_>) -> StreamKey {
        StreamKey {
            src: d.src,
            dst: d.dst,
            src_port: d.src_port,
            dst_port: d.dst_port,
        }
    }

    /// The opposite direction of the same connection.
    pub fn reversed(&self) -> StreamKey {
        StreamKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

/// Limits of a [`DnsTcpReassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Streams (directions) tracked at once; the least recently used is
    /// evicted to make room. At least 1 (0 is taken as 1).
    pub max_streams: usize,
    /// Bytes one stream may buffer: partial message plus segments held
    /// ahead of a hole. At least 2 (smaller is taken as 2). The default fits
    /// one DNS message of the largest size with its prefix.
    pub max_buffered_bytes_per_stream: usize,
    /// Segments one stream may hold ahead of a hole.
    pub max_out_of_order_segments: usize,
    /// Packet time after which a silent stream is dropped by `expire`.
    pub idle_timeout_ns: u64,
    /// Packet time during which a closed stream's key is remembered, so that
    /// late retransmissions do not reopen it. 0 disables.
    pub closed_linger_ns: u64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_streams: 65536,
            max_buffered_bytes_per_stream: 64 * 1024 + 2,
            max_out_of_order_segments: 16,
            idle_timeout_ns: 30_000_000_000,
            closed_linger_ns: 5_000_000_000,
        }
    }
}

/// Counters of a [`DnsTcpReassembler`], since it was created.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub streams_opened: u64,
    /// Closed by FIN or RST (or by a SYN starting a new connection on the
    /// same addresses and ports).
    pub streams_closed: u64,
    /// Table full: the least recently used stream was evicted.
    pub streams_evicted: u64,
    pub streams_timed_out: u64,
    /// Complete messages delivered.
    pub messages: u64,
    /// Data given up on: partial messages at gaps, closes, timeouts and
    /// evictions, held segments that did not fit, skipped oversize
    /// messages, data of streams not (yet) in sync.
    pub bytes_dropped: u64,
    /// Holes given up on.
    pub gaps: u64,
    /// Segments carrying bytes already received.
    pub retransmissions: u64,
    /// Segments held ahead of a hole.
    pub out_of_order: u64,
    /// The byte cap was hit (message too large, or no room to hold a segment).
    pub oversize: u64,
    /// Streams given up as not DNS (length prefix below 12).
    pub not_dns: u64,
}

/// Table slot: a stream and its place in the recency list.
#[derive(Debug)]
struct Slot {
    key: StreamKey,
    last_seen: u64,
    /// Towards the most recently used end ([`NIL`] at the head).
    prev: usize,
    /// Towards the least recently used end ([`NIL`] at the tail).
    next: usize,
    stream: Stream,
}

const NIL: usize = usize::MAX;

/// Reassembles DNS messages from the TCP segments of many connections.
#[derive(Debug)]
pub struct DnsTcpReassembler {
    cfg: ReassemblyConfig,
    index: HashMap<StreamKey, usize>,
    /// Dense: removing a slot moves the last one into its place.
    slots: Vec<Slot>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    /// Recently closed streams: time of close and the stream's next
    /// sequence number at that time.
    closed: HashMap<StreamKey, (u64, u32)>,
    /// The same, in order of closing (may hold stale entries for keys
    /// closed again or reopened since).
    closed_order: VecDeque<(StreamKey, u64)>,
    stats: ReassemblyStats,
}

impl DnsTcpReassembler {
    pub fn new(cfg: ReassemblyConfig) -> Self {
        let cfg = ReassemblyConfig {
            max_streams: cfg.max_streams.max(1),
            max_buffered_bytes_per_stream: cfg.max_buffered_bytes_per_stream.max(2),
            ..cfg
        };
        DnsTcpReassembler {
            cfg,
            index: HashMap::new(),
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            closed: HashMap::new(),
            closed_order: VecDeque::new(),
            stats: ReassemblyStats::default(),
        }
    }

    /// The limits in force (after the minimums were applied).
    pub fn config(&self) -> &ReassemblyConfig {
        &self.cfg
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    pub fn active_streams(&self) -> usize {
        self.index.len()
    }

    /// Bytes buffered over all streams.
    pub fn buffered_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.stream.buffered_bytes()).sum()
    }

    /// Feed one TCP segment (after the caller decided it is on a DNS port).
    /// `seq` is the TCP sequence number, `flags` the TCP flags byte,
    /// `payload` the segment data (may be empty: SYN/FIN/ACK). Calls
    /// `on_message(message_bytes, ts_ns)` for each complete DNS message
    /// (without the 2-byte prefix) that this segment completes, in stream
    /// order. A message lying entirely inside `payload` is handed out as a
    /// slice of it.
    pub fn segment(
        &mut self,
        ts_ns: u64,
        key: StreamKey,
        seq: u32,
        flags: u8,
        payload: &[u8],
        on_message: &mut dyn FnMut(&[u8], u64),
    ) {
        if payload.len() > MAX_SEGMENT_LEN {
            self.stats.bytes_dropped += payload.len() as u64;
            return;
        }
        let syn = flags & FLAG_SYN != 0;
        let fin = flags & FLAG_FIN != 0;
        let rst = flags & FLAG_RST != 0;
        let index = match self.index.get(&key).copied() {
            Some(index) => {
                if syn && !rst {
                    self.maybe_new_connection(index, seq);
                }
                index
            }
            None => {
                if rst || (!syn && payload.is_empty()) {
                    return;
                }
                if let Some(end_seq) = self.recently_closed(&key, ts_ns) {
                    let stale_syn =
                        syn && end_seq.wrapping_sub(seq.wrapping_add(1)) <= SYN_RETRANSMIT_WINDOW;
                    if !syn || stale_syn {
                        if !payload.is_empty() {
                            self.stats.retransmissions += 1;
                        }
                        return;
                    }
                    self.closed.remove(&key);
                }
                let stream = if syn {
                    Stream::synced(seq.wrapping_add(1))
                } else {
                    Stream::hunting(seq)
                };
                self.open(key, ts_ns, stream)
            }
        };
        self.touch(index, ts_ns);
        if rst {
            self.close(index, ts_ns);
            return;
        }
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let mut ctx = Ctx {
            max_held: self.cfg.max_out_of_order_segments,
            cap: self.cfg.max_buffered_bytes_per_stream,
            stats: &mut self.stats,
            ts: ts_ns,
            on_message,
        };
        let outcome = slot.stream.accept(data_seq, payload, fin, &mut ctx);
        slot.stream.tidy();
        if outcome == Outcome::Closed {
            self.close(index, ts_ns);
        }
    }

    /// [`segment`](Self::segment) for a decoded TCP frame: key, sequence
    /// number, flags and payload come from `d`. The caller still checks that
    /// `d` is TCP on a DNS port, without a decoding problem.
    #[inline]
    pub fn segment_decoded(
        &mut self,
        ts_ns: u64,
        d: &Decoded<'_>,
        on_message: &mut dyn FnMut(&[u8], u64),
    ) {
        self.segment(
            ts_ns,
            StreamKey::of(d),
            d.tcp_seq,
            d.tcp_flags,
            d.l4_payload,
            on_message,
        );
    }

    /// Drops streams idle for longer than the timeout (packet time),
    /// counting them, and forgets closed streams past their linger time.
    pub fn expire(&mut self, now_ns: u64) {
        // The recency list is in order of last use, which is packet time
        // order as long as packets come in time order; the walk stops at the
        // first stream still alive.
        while let Some(slot) = self.slots.get(self.tail) {
            if now_ns.saturating_sub(slot.last_seen) <= self.cfg.idle_timeout_ns {
                break;
            }
            let tail = self.tail;
            let Some(mut slot) = self.remove(tail) else {
                break;
            };
            self.stats.streams_timed_out += 1;
            if slot.stream.held_segments() > 0 {
                self.stats.gaps += 1;
            }
            slot.stream.discard(&mut self.stats);
        }
        self.forget_closed(now_ns);
    }

    /// Checks the table's internal invariants (for tests and fuzzing).
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        if self.index.len() != self.slots.len() {
            return Err("index and slots disagree");
        }
        if self.index.len() > self.cfg.max_streams {
            return Err("more streams than max_streams");
        }
        if self.closed.len() > self.cfg.max_streams
            || self.closed_order.len() > self.cfg.max_streams
        {
            return Err("closed set over its bound");
        }
        let s = self.stats;
        if s.streams_opened
            != s.streams_closed + s.streams_evicted + s.streams_timed_out + self.index.len() as u64
        {
            return Err("stream counters do not add up");
        }
        for (i, slot) in self.slots.iter().enumerate() {
            if self.index.get(&slot.key) != Some(&i) {
                return Err("slot not indexed under its key");
            }
            slot.stream.check(
                self.cfg.max_buffered_bytes_per_stream,
                self.cfg.max_out_of_order_segments,
            )?;
        }
        // Walk the recency list both ways.
        let mut seen = 0;
        let mut at = self.head;
        let mut prev = NIL;
        while let Some(slot) = self.slots.get(at) {
            if slot.prev != prev {
                return Err("recency list links disagree");
            }
            seen += 1;
            if seen > self.slots.len() {
                return Err("recency list loops");
            }
            prev = at;
            at = slot.next;
        }
        if seen != self.slots.len() || prev != self.tail {
            return Err("recency list does not cover the table");
        }
        Ok(())
    }

    /// A SYN on an open stream: a retransmission of its own SYN is handled
    /// as an ordinary segment; any other SYN starts a new connection.
    fn maybe_new_connection(&mut self, index: usize, seq: u32) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let first = seq.wrapping_add(1);
        if slot.stream.next_seq.wrapping_sub(first) <= SYN_RETRANSMIT_WINDOW {
            return;
        }
        if slot.stream.held_segments() > 0 {
            self.stats.gaps += 1;
        }
        slot.stream.discard(&mut self.stats);
        slot.stream = Stream::synced(first);
        self.stats.streams_closed += 1;
        self.stats.streams_opened += 1;
    }

    fn open(&mut self, key: StreamKey, ts: u64, stream: Stream) -> usize {
        if self.index.len() >= self.cfg.max_streams {
            let tail = self.tail;
            if let Some(mut evicted) = self.remove(tail) {
                self.stats.streams_evicted += 1;
                if evicted.stream.held_segments() > 0 {
                    self.stats.gaps += 1;
                }
                evicted.stream.discard(&mut self.stats);
            }
        }
        let index = self.slots.len();
        self.slots.push(Slot {
            key,
            last_seen: ts,
            prev: NIL,
            next: NIL,
            stream,
        });
        self.index.insert(key, index);
        self.push_front(index);
        self.stats.streams_opened += 1;
        index
    }

    /// FIN reached or RST: remove the stream, remember its key a while.
    fn close(&mut self, index: usize, ts: u64) {
        let Some(mut slot) = self.remove(index) else {
            return;
        };
        self.stats.streams_closed += 1;
        if slot.stream.held_segments() > 0 {
            self.stats.gaps += 1;
        }
        slot.stream.discard(&mut self.stats);
        self.remember_closed(slot.key, ts, slot.stream.next_seq);
    }

    fn remember_closed(&mut self, key: StreamKey, ts: u64, end_seq: u32) {
        if self.cfg.closed_linger_ns == 0 {
            return;
        }
        self.forget_closed(ts);
        while self.closed_order.len() >= self.cfg.max_streams {
            let Some((old, at)) = self.closed_order.pop_front() else {
                break;
            };
            if self.closed.get(&old).is_some_and(|&(t, _)| t == at) {
                self.closed.remove(&old);
            }
        }
        self.closed.insert(key, (ts, end_seq));
        self.closed_order.push_back((key, ts));
    }

    /// The end sequence number of a stream closed less than the linger time
    /// before `ts`.
    fn recently_closed(&mut self, key: &StreamKey, ts: u64) -> Option<u32> {
        let &(at, end_seq) = self.closed.get(key)?;
        if ts.saturating_sub(at) <= self.cfg.closed_linger_ns {
            Some(end_seq)
        } else {
            self.closed.remove(key);
            None
        }
    }

    fn forget_closed(&mut self, now: u64) {
        while let Some(&(key, at)) = self.closed_order.front() {
            if now.saturating_sub(at) <= self.cfg.closed_linger_ns {
                break;
            }
            self.closed_order.pop_front();
            if self.closed.get(&key).is_some_and(|&(t, _)| t == at) {
                self.closed.remove(&key);
            }
        }
    }

    /// Marks a stream as just used.
    fn touch(&mut self, index: usize, ts: u64) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.last_seen = ts;
        }
        if self.head != index {
            self.unlink(index);
            self.push_front(index);
        }
    }

    fn unlink(&mut self, index: usize) {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        let (prev, next) = (slot.prev, slot.next);
        match self.slots.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.slots.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, index: usize) {
        let old_head = self.head;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        slot.prev = NIL;
        slot.next = old_head;
        match self.slots.get_mut(old_head) {
            Some(h) => h.prev = index,
            None => self.tail = index,
        }
        self.head = index;
    }

    /// Takes a slot out of the table, keeping the slot vector dense.
    fn remove(&mut self, index: usize) -> Option<Slot> {
        if index >= self.slots.len() {
            return None;
        }
        self.unlink(index);
        let slot = self.slots.swap_remove(index);
        self.index.remove(&slot.key);
        // The former last slot now lives at `index`: repoint its neighbours
        // and its index entry.
        if let Some(moved) = self.slots.get(index) {
            let (key, prev, next) = (moved.key, moved.prev, moved.next);
            match self.slots.get_mut(prev) {
                Some(p) => p.next = index,
                None => self.head = index,
            }
            match self.slots.get_mut(next) {
                Some(n) => n.prev = index,
                None => self.tail = index,
            }
            self.index.insert(key, index);
        }
        Some(slot)
    }
}

/// The sequence number of a TCP header (bytes starting at the TCP header).
#[inline]
pub fn tcp_seq(tcp_header: &[u8]) -> Option<u32> {
    let &[_, _, _, _, a, b, c, d] = tcp_header.first_chunk::<8>()?;
    Some(u32::from_be_bytes([a, b, c, d]))
}
