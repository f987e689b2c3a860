//! The reassembly state of one direction of a TCP connection.
//!
//! A stream is in one of three modes:
//!
//! - **Synced**: `next_seq` is the sequence number of the next byte the
//!   stream expects, and that byte sits at a known place in the DNS framing:
//!   either a message boundary (nothing buffered), inside a buffered partial
//!   message (`partial`), or inside an oversize message being skipped
//!   (`skip`). `guessed` tells whether the boundary came from a SYN (known)
//!   or from [`plausible_message_start`] (guessed).
//! - **Hunting**: the position in the framing is unknown (the capture started
//!   mid-connection, or a hole was given up on). Each segment is judged on
//!   its own: one that starts with a plausible DNS message puts the stream
//!   back in sync at its first byte; the others are dropped. Nothing is held.
//! - **Ignored**: a length prefix below the DNS header size was met on a
//!   stream synchronised by its SYN: the stream is not DNS and its data is
//!   dropped until FIN, RST, timeout or eviction.

use super::ReassemblyStats;

/// Size of a DNS header: the smallest possible message.
pub(super) const DNS_HEADER_LEN: usize = 12;

/// Length of the DNS-over-TCP length prefix.
pub(super) const PREFIX_LEN: usize = 2;

/// A SYN whose first data byte lies at most this far behind what the stream
/// already has is a retransmission of the stream's own SYN; any other SYN
/// starts a new connection on the same addresses and ports.
pub(super) const SYN_RETRANSMIT_WINDOW: u32 = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Synced { guessed: bool },
    Hunting,
    Ignored,
}

/// What the table must do with the stream after a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Open,
    /// The FIN was reached in sequence: close the stream.
    Closed,
}

/// Everything a stream needs from its table while it handles one segment.
pub(super) struct Ctx<'a> {
    pub max_held: usize,
    pub cap: usize,
    pub stats: &'a mut ReassemblyStats,
    pub ts: u64,
    pub on_message: &'a mut dyn FnMut(&[u8], u64),
}

impl Ctx<'_> {
    #[inline]
    fn deliver(&mut self, message: &[u8]) {
        self.stats.messages += 1;
        (self.on_message)(message, self.ts);
    }

    #[inline]
    fn dropped(&mut self, bytes: usize) {
        self.stats.bytes_dropped += bytes as u64;
    }
}

/// Buffers exist only while something is buffered; a stream at a message
/// boundary with nothing out of order holds `None`.
#[derive(Debug, Default)]
struct Pending {
    /// The start of an incomplete message, length prefix included.
    partial: Vec<u8>,
    /// Segments ahead of `next_seq`, unordered (at most a handful).
    held: Vec<Held>,
    /// Sum of the `data` lengths in `held`.
    held_bytes: usize,
}

#[derive(Debug)]
struct Held {
    seq: u32,
    fin: bool,
    data: Vec<u8>,
}

impl Held {
    fn end(&self) -> u32 {
        self.seq.wrapping_add(seq_len(self.data.len()))
    }
}

#[derive(Debug)]
pub(super) struct Stream {
    pub next_seq: u32,
    /// Bytes still to skip of a message too large for the buffer cap.
    skip: u32,
    pub mode: Mode,
    pending: Option<Box<Pending>>,
}

/// `a - b` in sequence space, as a signed distance.
#[inline]
fn rel(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// A payload length in sequence space (payloads are capped well below
/// 2^31 by the table).
#[inline]
fn seq_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[inline]
fn from(bytes: &[u8], at: usize) -> &[u8] {
    bytes.get(at..).unwrap_or_default()
}

impl Stream {
    /// A stream whose next byte starts a message (after a SYN).
    pub fn synced(next_seq: u32) -> Self {
        Stream {
            next_seq,
            skip: 0,
            mode: Mode::Synced { guessed: false },
            pending: None,
        }
    }

    /// A stream first seen mid-connection.
    pub fn hunting(next_seq: u32) -> Self {
        Stream {
            next_seq,
            skip: 0,
            mode: Mode::Hunting,
            pending: None,
        }
    }

    /// Bytes buffered: partial message plus held segments.
    pub fn buffered_bytes(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |p| p.partial.len() + p.held_bytes)
    }

    /// Number of segments held ahead of a hole.
    pub fn held_segments(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.held.len())
    }

    /// Whether buffers are allocated.
    #[cfg(test)]
    pub fn has_buffers(&self) -> bool {
        self.pending.is_some()
    }

    /// Internal consistency of the buffers.
    pub fn check(&self, cap: usize, max_held: usize) -> Result<(), &'static str> {
        let Some(p) = &self.pending else {
            return Ok(());
        };
        if p.held_bytes != p.held.iter().map(|h| h.data.len()).sum::<usize>() {
            return Err("held byte count out of step");
        }
        if p.partial.len() + p.held_bytes > cap {
            return Err("stream buffers more than the cap");
        }
        if p.held.len() > max_held {
            return Err("stream holds more segments than allowed");
        }
        if !matches!(self.mode, Mode::Synced { .. }) && !p.held.is_empty() {
            return Err("only a synced stream holds segments");
        }
        if p.partial.is_empty() && p.held.is_empty() {
            return Err("empty buffers kept");
        }
        if self.skip > 0 && !p.partial.is_empty() {
            return Err("skipping and assembling at once");
        }
        Ok(())
    }

    /// Drops everything buffered, counting it as given up.
    pub fn discard(&mut self, stats: &mut ReassemblyStats) {
        if let Some(p) = self.pending.take() {
            stats.bytes_dropped += (p.partial.len() + p.held_bytes) as u64;
        }
        self.skip = 0;
    }

    /// Frees the buffers once they are empty.
    pub fn tidy(&mut self) {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.partial.is_empty() && p.held.is_empty())
        {
            self.pending = None;
        }
    }

    /// Handles one segment whose first data byte has sequence number
    /// `data_seq` (the SYN, if any, already stepped over).
    pub fn accept(&mut self, data_seq: u32, payload: &[u8], fin: bool, ctx: &mut Ctx) -> Outcome {
        loop {
            match self.mode {
                Mode::Ignored => {
                    ctx.dropped(payload.len());
                    return if fin { Outcome::Closed } else { Outcome::Open };
                }
                Mode::Hunting => {
                    if self.hunt(data_seq, payload, fin, ctx) == Outcome::Closed {
                        return Outcome::Closed;
                    }
                    return self.drain(ctx);
                }
                Mode::Synced { .. } => {}
            }
            if rel(data_seq, self.next_seq) <= 0 {
                if self.in_order(data_seq, payload, fin, ctx) == Outcome::Closed {
                    return Outcome::Closed;
                }
                return self.drain(ctx);
            }
            // Ahead of a hole. A bare ACK ahead says data went missing but
            // carries nothing to keep.
            if payload.is_empty() && !fin {
                return Outcome::Open;
            }
            if self.already_held(data_seq, payload.len(), fin) {
                if !payload.is_empty() {
                    ctx.stats.retransmissions += 1;
                }
                return Outcome::Open;
            }
            if self.try_hold(data_seq, payload, fin, ctx) {
                ctx.stats.out_of_order += 1;
                return Outcome::Open;
            }
            // No room to wait for the hole: give it up and retry.
            if self.skip_hole(data_seq, ctx) == Outcome::Closed {
                ctx.dropped(payload.len());
                return Outcome::Closed;
            }
        }
    }

    /// A segment that starts at or before `next_seq` in a synced stream:
    /// trims what was already received and consumes the rest.
    fn in_order(&mut self, data_seq: u32, payload: &[u8], fin: bool, ctx: &mut Ctx) -> Outcome {
        let behind = self.next_seq.wrapping_sub(data_seq) as usize;
        if behind >= payload.len() {
            // Nothing new. A FIN here is at (or, inconsistently, before)
            // the end of what was received: the stream ends.
            if !payload.is_empty() {
                ctx.stats.retransmissions += 1;
            }
        } else {
            if behind > 0 {
                ctx.stats.retransmissions += 1;
            }
            self.consume(from(payload, behind), ctx);
            self.next_seq = data_seq.wrapping_add(seq_len(payload.len()));
        }
        if fin { Outcome::Closed } else { Outcome::Open }
    }

    /// A segment in a hunting stream: the stream jumps to it and judges its
    /// first bytes. Segments behind `next_seq` are not judged (their start
    /// was already passed).
    fn hunt(&mut self, data_seq: u32, payload: &[u8], fin: bool, ctx: &mut Ctx) -> Outcome {
        let end = data_seq.wrapping_add(seq_len(payload.len()));
        if rel(data_seq, self.next_seq) < 0 {
            let behind = self.next_seq.wrapping_sub(data_seq) as usize;
            if behind >= payload.len() {
                if !payload.is_empty() {
                    ctx.stats.retransmissions += 1;
                }
            } else {
                ctx.dropped(payload.len() - behind);
                self.next_seq = end;
            }
        } else {
            self.next_seq = data_seq;
            self.consume(payload, ctx);
            self.next_seq = end;
        }
        if fin { Outcome::Closed } else { Outcome::Open }
    }

    /// Delivers held segments that the stream has caught up with.
    fn drain(&mut self, ctx: &mut Ctx) -> Outcome {
        loop {
            if self.mode == Mode::Ignored {
                self.drop_held(ctx);
                return Outcome::Open;
            }
            let Some((index, offset)) = self.earliest_held() else {
                return Outcome::Open;
            };
            let hunting = self.mode == Mode::Hunting;
            if !hunting && offset > 0 {
                return Outcome::Open;
            }
            let Some(held) = self.take_held(index) else {
                return Outcome::Open;
            };
            let outcome = if hunting {
                self.hunt(held.seq, &held.data, held.fin, ctx)
            } else {
                self.in_order(held.seq, &held.data, held.fin, ctx)
            };
            if outcome == Outcome::Closed {
                return Outcome::Closed;
            }
        }
    }

    /// Gives up the hole at `next_seq`: the partial message is dropped and
    /// the stream hunts from the earliest data after the hole, which is
    /// either a held segment (consumed here, with whatever held data follows
    /// it) or the new segment at `new_seq` (left to the caller's retry).
    fn skip_hole(&mut self, new_seq: u32, ctx: &mut Ctx) -> Outcome {
        ctx.stats.gaps += 1;
        if let Some(p) = self.pending.as_mut() {
            ctx.stats.bytes_dropped += p.partial.len() as u64;
            p.partial = Vec::new();
        }
        self.skip = 0;
        self.mode = Mode::Hunting;
        let new_offset = rel(new_seq, self.next_seq);
        match self.earliest_held() {
            Some((index, offset)) if offset < new_offset => {
                let Some(held) = self.take_held(index) else {
                    return Outcome::Open;
                };
                if self.hunt(held.seq, &held.data, held.fin, ctx) == Outcome::Closed {
                    return Outcome::Closed;
                }
                self.drain(ctx)
            }
            _ => {
                self.next_seq = new_seq;
                Outcome::Open
            }
        }
    }

    /// Whether a held segment already covers `[seq, seq + len)` (and the
    /// FIN, if this one has it).
    fn already_held(&self, seq: u32, len: usize, fin: bool) -> bool {
        let Some(p) = &self.pending else {
            return false;
        };
        let start = i64::from(rel(seq, self.next_seq));
        let end = start + len as i64;
        p.held.iter().any(|h| {
            let h_start = i64::from(rel(h.seq, self.next_seq));
            let h_end = h_start + h.data.len() as i64;
            h_start <= start && end <= h_end && (!fin || (h.fin && h_end == end))
        })
    }

    /// Copies a segment ahead of a hole, if it fits the caps.
    fn try_hold(&mut self, seq: u32, payload: &[u8], fin: bool, ctx: &mut Ctx) -> bool {
        let (held, buffered) = self
            .pending
            .as_ref()
            .map_or((0, 0), |p| (p.held.len(), p.partial.len() + p.held_bytes));
        if held >= ctx.max_held {
            return false;
        }
        if buffered + payload.len() > ctx.cap {
            ctx.stats.oversize += 1;
            return false;
        }
        let p = self.pending.get_or_insert_with(Box::default);
        p.held.push(Held {
            seq,
            fin,
            data: payload.to_vec(),
        });
        p.held_bytes += payload.len();
        true
    }

    /// The held segment nearest to `next_seq` and its offset from it
    /// (negative when the stream has moved past its start).
    fn earliest_held(&self) -> Option<(usize, i32)> {
        let p = self.pending.as_ref()?;
        p.held
            .iter()
            .enumerate()
            .map(|(i, h)| (i, rel(h.seq, self.next_seq)))
            .min_by_key(|&(_, offset)| offset)
    }

    fn take_held(&mut self, index: usize) -> Option<Held> {
        let p = self.pending.as_mut()?;
        if index >= p.held.len() {
            return None;
        }
        let held = p.held.swap_remove(index);
        p.held_bytes -= held.data.len();
        Some(held)
    }

    fn drop_held(&mut self, ctx: &mut Ctx) {
        if let Some(p) = self.pending.as_mut() {
            ctx.dropped(p.held_bytes);
            p.held = Vec::new();
            p.held_bytes = 0;
        }
    }

    /// Makes room for `extra` more bytes of partial message by dropping the
    /// held segments furthest ahead, so the stream stays within the cap.
    fn make_room(&mut self, extra: usize, ctx: &mut Ctx) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let mut counted = false;
        while p.partial.len() + extra + p.held_bytes > ctx.cap {
            let next_seq = self.next_seq;
            let furthest = p
                .held
                .iter()
                .enumerate()
                .max_by_key(|(_, h)| rel(h.end(), next_seq))
                .map(|(i, _)| i);
            let Some(index) = furthest else {
                return;
            };
            if index >= p.held.len() {
                return;
            }
            let held = p.held.swap_remove(index);
            p.held_bytes -= held.data.len();
            ctx.stats.bytes_dropped += held.data.len() as u64;
            if !counted {
                ctx.stats.oversize += 1;
                counted = true;
            }
        }
    }

    /// Appends bytes to the partial message, making room first.
    fn buffer(&mut self, bytes: &[u8], ctx: &mut Ctx) {
        if bytes.is_empty() {
            return;
        }
        self.make_room(bytes.len(), ctx);
        self.pending
            .get_or_insert_with(Box::default)
            .partial
            .extend_from_slice(bytes);
    }

    /// A length prefix below the DNS header size. On a stream synchronised
    /// by its SYN, the stream is not DNS; on a guessed synchronisation the
    /// guess was wrong and the stream hunts again.
    fn not_dns(&mut self, ctx: &mut Ctx) {
        if let Some(p) = self.pending.as_mut() {
            ctx.stats.bytes_dropped += p.partial.len() as u64;
            p.partial = Vec::new();
        }
        if self.mode == (Mode::Synced { guessed: false }) {
            ctx.stats.not_dns += 1;
            self.mode = Mode::Ignored;
            self.drop_held(ctx);
        } else {
            self.mode = Mode::Hunting;
        }
    }

    /// A message whose prefix announces more than the cap allows: it is
    /// skipped, the stream stays in sync after it.
    fn oversize(&mut self, total: usize, have: usize, ctx: &mut Ctx) {
        ctx.stats.oversize += 1;
        ctx.dropped(have);
        self.skip = seq_len(total.saturating_sub(have));
    }

    /// Consumes in-sequence bytes: completes the partial message, hands out
    /// every whole message straight from `data`, buffers the tail.
    fn consume(&mut self, data: &[u8], ctx: &mut Ctx) {
        let mut rest = data;
        loop {
            if rest.is_empty() {
                return;
            }
            match self.mode {
                Mode::Ignored => {
                    ctx.dropped(rest.len());
                    return;
                }
                Mode::Hunting => {
                    // Only ever reached at a segment start (see `hunt`).
                    if !plausible_message_start(rest) {
                        ctx.dropped(rest.len());
                        return;
                    }
                    self.mode = Mode::Synced { guessed: true };
                }
                Mode::Synced { .. } => {}
            }
            if self.skip > 0 {
                let n = rest.len().min(self.skip as usize);
                self.skip -= seq_len(n);
                ctx.dropped(n);
                rest = from(rest, n);
                continue;
            }
            let partial_len = self.pending.as_ref().map_or(0, |p| p.partial.len());
            if partial_len > 0 {
                match self.continue_partial(rest, ctx) {
                    Some(used) => {
                        rest = from(rest, used);
                        continue;
                    }
                    None => {
                        // The mode changed (not DNS): drop the rest.
                        ctx.dropped(rest.len());
                        return;
                    }
                }
            }
            // At a message boundary: the fast path, no copy.
            let Some(&prefix) = rest.first_chunk::<PREFIX_LEN>() else {
                self.buffer(rest, ctx);
                return;
            };
            let len = usize::from(u16::from_be_bytes(prefix));
            if len < DNS_HEADER_LEN {
                self.not_dns(ctx);
                ctx.dropped(rest.len());
                return;
            }
            let total = PREFIX_LEN + len;
            if let Some(message) = rest.get(PREFIX_LEN..total) {
                ctx.deliver(message);
                rest = from(rest, total);
                continue;
            }
            if total > ctx.cap {
                self.oversize(total, rest.len(), ctx);
            } else {
                self.buffer(rest, ctx);
            }
            return;
        }
    }

    /// Feeds the partial message from `rest`. Returns how many bytes of
    /// `rest` were used, or None when the stream turned out not to be DNS.
    fn continue_partial(&mut self, rest: &[u8], ctx: &mut Ctx) -> Option<usize> {
        let mut used = 0;
        let have = self.pending.as_ref().map_or(0, |p| p.partial.len());
        if have < PREFIX_LEN {
            let take = (PREFIX_LEN - have).min(rest.len());
            self.buffer(rest.get(..take).unwrap_or_default(), ctx);
            used = take;
        }
        let prefix = self
            .pending
            .as_ref()
            .and_then(|p| p.partial.first_chunk::<PREFIX_LEN>().copied());
        let Some(prefix) = prefix else {
            return Some(used);
        };
        let len = usize::from(u16::from_be_bytes(prefix));
        if len < DNS_HEADER_LEN {
            self.not_dns(ctx);
            ctx.dropped(used);
            return None;
        }
        let total = PREFIX_LEN + len;
        if total > ctx.cap {
            let have = self.pending.as_mut().map_or(0, |p| {
                let have = p.partial.len();
                p.partial = Vec::new();
                have
            });
            self.oversize(total, have, ctx);
            return Some(used);
        }
        let have = self.pending.as_ref().map_or(0, |p| p.partial.len());
        let rest = from(rest, used);
        let take = (total - have).min(rest.len());
        self.buffer(rest.get(..take).unwrap_or_default(), ctx);
        used += take;
        if let Some(p) = self.pending.as_mut()
            && p.partial.len() == total
        {
            let partial = std::mem::take(&mut p.partial);
            ctx.deliver(from(&partial, PREFIX_LEN));
        }
        Some(used)
    }
}

/// Whether `data` plausibly starts a length-prefixed DNS message: used to
/// pick up a stream whose start was not seen. Needs the prefix and the
/// whole 12-byte header in `data`, and checks that the length is at least a
/// header, the opcode is assigned (QUERY, IQUERY, STATUS, NOTIFY, UPDATE,
/// DSO), the Z bit is clear, there is at most one question, and the record
/// counts fit in the announced length (5 bytes per question, 11 per record
/// at least).
pub fn plausible_message_start(data: &[u8]) -> bool {
    let Some(&[l0, l1, _, _, f0, f1, q0, q1, an0, an1, ns0, ns1, ar0, ar1]) =
        data.first_chunk::<{ PREFIX_LEN + DNS_HEADER_LEN }>()
    else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < DNS_HEADER_LEN {
        return false;
    }
    let opcode = (f0 >> 3) & 0x0f;
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6) || f1 & 0x40 != 0 {
        return false;
    }
    let questions = usize::from(u16::from_be_bytes([q0, q1]));
    if questions > 1 {
        return false;
    }
    let records = usize::from(u16::from_be_bytes([an0, an1]))
        + usize::from(u16::from_be_bytes([ns0, ns1]))
        + usize::from(u16::from_be_bytes([ar0, ar1]));
    questions * 5 + records * 11 <= len - DNS_HEADER_LEN
}
