//! Domain names on the wire (RFC 1035 3.1 and 4.1.4): length-prefixed labels
//! ending in the root label, possibly ending early in a compression pointer.
//!
//! # Rules enforced on every name
//!
//! - A length byte is a label (0x00..=0x3F, 0 being the root) or a pointer
//!   (0xC0..=0xFF). The types 0x40 (extended labels, RFC 6891 deprecated the
//!   only one, binary labels) and 0x80 (reserved) give [`DnsProblem::BadName`].
//! - A pointer must point strictly before the start of the name it ends, and
//!   each further pointer strictly before the previous pointer's target. That
//!   is what every compressor does (it points to names already written), and
//!   it makes loops impossible: the targets strictly decrease. At most
//!   [`MAX_POINTERS`] pointers are followed. A pointer breaking either rule
//!   (forward, to itself, a loop, too many hops) gives `BadName`.
//! - The name as it would be written uncompressed (length bytes, labels and
//!   the root byte) is at most [`MAX_WIRE_LEN`] = 255 bytes, else
//!   [`DnsProblem::NameTooLong`]. So a name has at most 127 labels and a walk
//!   reads at most 255 bytes plus 128 pointers, whatever the message.
//! - A label or pointer running past the end of the message gives
//!   [`DnsProblem::TruncatedName`] (the message parser reports it as
//!   [`DnsProblem::TruncatedQuestion`] or [`DnsProblem::TruncatedRecord`]).
//!
//! # Text form ([`Name::write_lowercase`])
//!
//! Labels are joined by `.`, without a trailing dot; the root name is `.`.
//! ASCII letters are lower-cased, other bytes are never changed by case
//! folding (DNS compares names case-insensitively on ASCII only, RFC 4343).
//! The bytes 0x21..=0x7E are written as they are, except `.` and `\` inside a
//! label, written `\.` and `\\`; every other byte (controls, space, DEL,
//! 0x80..=0xFF) is written `\DDD` with three decimal digits. This is the
//! master-file escaping of RFC 1035 5.1 and RFC 4343 2.1 as `dig` prints it
//! (`dig` additionally escapes a few printable specials such as `;` and `"`,
//! which are kept here). The text is therefore always ASCII, different names
//! (ignoring case) give different texts, and a `.` not escaped by a `\`
//! always separates labels ([`last_labels`] relies on that). Names made only
//! of letters, digits, `-` and `_` (all the real traffic in the fixtures)
//! read exactly as tshark and pktvisor print them, lower-cased.

use super::DnsProblem;

/// The longest name, in uncompressed wire form (length bytes, labels, root).
pub const MAX_WIRE_LEN: usize = 255;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// The most compression pointers followed in one name.
pub const MAX_POINTERS: usize = 128;

/// A name inside a message: the message and where the name starts. Nothing
/// is decoded until asked, and every method walks the wire form again (a
/// walk over a typical name costs a few nanoseconds).
///
/// A name taken from a [`Question`](super::Question) of a parsed message was
/// fully checked by [`parse`](super::parse), so its methods do not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name<'a> {
    message: &'a [u8],
    start: usize,
}

/// What a full walk of a name finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameInfo {
    /// Labels, the root not counted (0 for the root name).
    pub labels: usize,
    /// Length of the uncompressed wire form, root byte included (1 for the
    /// root name, at most [`MAX_WIRE_LEN`]).
    pub wire_len: usize,
    /// Offset just past the name where it is written: past its first
    /// pointer, or past its root byte when it has no pointer.
    pub end: usize,
    /// Pointers followed.
    pub pointers: usize,
}

impl<'a> Name<'a> {
    /// The name starting at offset `start` of `message`. Offsets in
    /// compression pointers are relative to the start of `message`, so it
    /// must be the whole DNS message (without a TCP length prefix).
    #[inline]
    pub fn new(message: &'a [u8], start: usize) -> Name<'a> {
        Name { message, start }
    }

    /// Offset of the name in the message.
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// The message the name is in.
    #[inline]
    pub fn message(&self) -> &'a [u8] {
        self.message
    }

    /// Walks the whole name, following pointers, without decoding it.
    #[inline]
    pub fn info(&self) -> Result<NameInfo, DnsProblem> {
        walk(self.message, self.start, |_| {})
    }

    /// Number of labels, the root not counted (0 for the root name).
    #[inline]
    pub fn label_count(&self) -> Result<usize, DnsProblem> {
        Ok(self.info()?.labels)
    }

    /// Length of the uncompressed wire form, root byte included.
    #[inline]
    pub fn wire_len(&self) -> Result<usize, DnsProblem> {
        Ok(self.info()?.wire_len)
    }

    /// Calls `f` with each label's raw bytes, first (leftmost) to last, the
    /// root not included. On error, `f` has seen the labels before the
    /// problem.
    #[inline]
    pub fn for_each_label(&self, f: impl FnMut(&'a [u8])) -> Result<NameInfo, DnsProblem> {
        walk(self.message, self.start, f)
    }

    /// Writes the name in lower-cased text form into `out`, which is cleared
    /// first: labels joined by `.`, no trailing dot, the root as `.`, bytes
    /// escaped as the [module documentation](self) says. Allocates only when
    /// `out` has to grow. On error `out` is left empty.
    ///
    /// [`write_lowercase_bytes`](Self::write_lowercase_bytes) writes the same
    /// text a little faster, skipping the UTF-8 check a `String` needs.
    pub fn write_lowercase(&self, out: &mut String) -> Result<(), DnsProblem> {
        // Reuse the String's buffer as bytes; the text is ASCII, so the
        // conversion back cannot fail (if it did, `out` would just be empty).
        let mut bytes = std::mem::take(out).into_bytes();
        let written = self.write_lowercase_bytes(&mut bytes);
        *out = String::from_utf8(bytes).unwrap_or_default();
        written
    }

    /// [`write_lowercase`](Self::write_lowercase) into a byte buffer: the
    /// same text, always ASCII. For the per-packet path, where the name is
    /// hashed or compared as bytes.
    pub fn write_lowercase_bytes(&self, out: &mut Vec<u8>) -> Result<(), DnsProblem> {
        out.clear();
        let info = walk(self.message, self.start, |_| {})?;
        if info.labels == 0 {
            out.push(b'.');
            return Ok(());
        }
        // The text is `wire_len - 2` bytes: labels and the dots between them.
        let len = info.wire_len - 2;
        // First the labels with their length bytes between them (where the
        // dots go), as a name without pointers is on the wire.
        let mut first_label_len = 0;
        let first = self.start + 1;
        match self.message.get(first..first + len.next_multiple_of(8)) {
            // Fast path, every question of real traffic: one copy, rounded
            // up to whole words when the message has the bytes (a question's
            // type and class follow).
            Some(words) if info.pointers == 0 => {
                out.extend_from_slice(words);
                first_label_len = self
                    .message
                    .get(self.start)
                    .map_or(len, |&n| usize::from(n));
            }
            _ => {
                walk(self.message, self.start, |label| {
                    if out.is_empty() {
                        first_label_len = label.len();
                    } else {
                        out.push(label.len() as u8);
                    }
                    out.extend_from_slice(label);
                })?;
            }
        }
        let mut flags = [0u64; MAX_WIRE_LEN.div_ceil(8)];
        lowercase_and_flag(out, len, &mut flags);
        // Length bytes become dots, and are no problem.
        let mut at = first_label_len;
        while at < len {
            let Some(length_byte) = out.get_mut(at) else {
                break;
            };
            let next = at + 1 + usize::from(*length_byte);
            *length_byte = b'.';
            if let Some(word_flags) = flags.get_mut(at / 8) {
                *word_flags &= !(0x80 << (at % 8 * 8));
            }
            at = next;
        }
        out.truncate(len);
        if flags.iter().take(len.div_ceil(8)).fold(0, |all, f| all | f) != 0 {
            self.write_escaped(out);
        }
        Ok(())
    }

    /// The text form of a name that has bytes to escape (never in real
    /// traffic), written label by label. The walk succeeded once already.
    #[cold]
    #[inline(never)]
    fn write_escaped(&self, out: &mut Vec<u8>) {
        out.clear();
        let walked = walk(self.message, self.start, |label| {
            if !out.is_empty() {
                out.push(b'.');
            }
            push_label_escaped(out, label);
        });
        if walked.is_err() {
            out.clear();
        }
    }

    /// Case-insensitive (ASCII) comparison of the two names' labels,
    /// wherever they are. Either name failing to walk compares unequal.
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        // Names are short: walk `other` once per label of `self` would be
        // quadratic, so compare the uncompressed forms label by label via a
        // small fixed buffer instead (no allocation).
        let mut mine = [0u8; MAX_WIRE_LEN];
        let mut len = 0;
        let Ok(info) = walk(self.message, self.start, |label| {
            len = append_wire_label(&mut mine, len, label);
        }) else {
            return false;
        };
        let mut at = 0;
        let mut equal = true;
        let Ok(other_info) = walk(other.message, other.start, |label| {
            let end = at + 1 + label.len();
            match mine.get(at..end) {
                Some([n, bytes @ ..])
                    if usize::from(*n) == label.len() && bytes.eq_ignore_ascii_case(label) => {}
                _ => equal = false,
            }
            at = end;
        }) else {
            return false;
        };
        equal && info.wire_len == other_info.wire_len
    }
}

/// Appends one label (length byte and bytes) to an uncompressed name buffer.
/// `walk` guarantees the total fits in [`MAX_WIRE_LEN`]; the `get_mut` keeps
/// that assumption panic-free anyway.
#[inline]
fn append_wire_label(buffer: &mut [u8; MAX_WIRE_LEN], at: usize, label: &[u8]) -> usize {
    let end = at + 1 + label.len();
    if let Some([n, bytes @ ..]) = buffer.get_mut(at..end) {
        *n = label.len() as u8;
        bytes.copy_from_slice(label);
    }
    end
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// Lower-cases ASCII letters in the first `len` bytes of `text` in place, 8
/// bytes at a time, and flags (bit 7 of the byte in `flags[word]`) each
/// byte that is not printable ASCII or is `.` or `\`. Bytes past `len`, up
/// to the next multiple of 8, may be there and are not flagged; `text` is
/// padded when they are not. Names are short, so a word at a time beats
/// both a byte loop and the vectorised one.
#[inline]
fn lowercase_and_flag(text: &mut Vec<u8>, len: usize, flags: &mut [u64]) {
    let words = len.next_multiple_of(8);
    if text.len() < words {
        text.resize(words, b'a');
    }
    let mut remaining = len;
    for (chunk, word_flags) in text.chunks_exact_mut(8).zip(flags.iter_mut()) {
        if remaining == 0 {
            break;
        }
        let Ok(word) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        // Bytes of this word inside the text (little-endian: the low ones).
        let valid = if remaining >= 8 {
            u64::MAX
        } else {
            (1u64 << (remaining * 8)) - 1
        };
        remaining = remaining.saturating_sub(8);
        let (lower, flagged) = lowercase_and_flag_word(u64::from_le_bytes(*word));
        *word_flags = flagged & valid;
        *word = lower.to_le_bytes();
    }
}

/// One word of [`lowercase_and_flag`]: the 8 bytes with ASCII letters
/// lower-cased, and bit 7 of each byte set in the second value when that
/// byte needs an escape (not printable ASCII, `.` or `\`).
#[inline(always)]
pub(crate) fn lowercase_and_flag_word(w: u64) -> (u64, u64) {
    // Per byte, on the low 7 bits (no carry can cross a byte): the high
    // bit of `low + (0x80 - c)` is set when the byte is >= c.
    let low = w & !HIGH;
    let ascii = !w & HIGH;
    let mut flagged = w & HIGH; // not ASCII
    flagged |= !(low + 0x5f5f_5f5f_5f5f_5f5f) & HIGH; // below 0x21
    flagged |= (low + ONES) & HIGH; // 0x7f
    flagged |= zero_bytes(w ^ 0x5c5c_5c5c_5c5c_5c5c); // '\\'
    flagged |= zero_bytes(w ^ 0x2e2e_2e2e_2e2e_2e2e); // '.'
    let upper = (low + 0x3f3f_3f3f_3f3f_3f3f) & !(low + 0x2525_2525_2525_2525) & ascii;
    (w | (upper >> 2), flagged)
}

/// ASCII lower case without a branch.
#[inline(always)]
fn to_ascii_lower(b: u8) -> u8 {
    b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)
}

/// Appends one label in text form, escaped and lower-cased.
fn push_label_escaped(out: &mut Vec<u8>, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0x21..=0x7e => out.push(to_ascii_lower(b)),
            _ => out.extend_from_slice(&[b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10]),
        }
    }
}

/// Walks a name, calling `on_label` for each label, and checks every rule in
/// the module documentation. Bounded: at most 127 labels and
/// [`MAX_POINTERS`] pointers.
#[inline(always)]
pub(crate) fn walk<'a>(
    message: &'a [u8],
    start: usize,
    mut on_label: impl FnMut(&'a [u8]),
) -> Result<NameInfo, DnsProblem> {
    let mut pos = start;
    // Offset past the first pointer; 0 until one is met (a pointer is at
    // least 2 bytes into the message, so 0 is never a real end).
    let mut end = 0;
    // Pointers must target strictly below this.
    let mut limit = start;
    let mut pointers = 0;
    // Uncompressed length so far, root byte not included.
    let mut wire = 0;
    let mut labels = 0;
    loop {
        let Some(&len) = message.get(pos) else {
            return Err(DnsProblem::TruncatedName);
        };
        match len {
            0 => {
                return Ok(NameInfo {
                    labels,
                    wire_len: wire + 1,
                    end: if end == 0 { pos + 1 } else { end },
                    pointers,
                });
            }
            1..=0x3f => {
                let len = usize::from(len);
                let Some(label) = message.get(pos + 1..pos + 1 + len) else {
                    return Err(DnsProblem::TruncatedName);
                };
                wire += 1 + len;
                // The root byte still has to fit.
                if wire >= MAX_WIRE_LEN {
                    return Err(DnsProblem::NameTooLong);
                }
                on_label(label);
                labels += 1;
                pos += 1 + len;
            }
            0xc0..=0xff => {
                let Some(&low) = message.get(pos + 1) else {
                    return Err(DnsProblem::TruncatedName);
                };
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= limit || pointers == MAX_POINTERS {
                    return Err(DnsProblem::BadName);
                }
                pointers += 1;
                if end == 0 {
                    end = pos + 2;
                }
                limit = target;
                pos = target;
            }
            // 0x40 extended label types, 0x80 reserved.
            _ => return Err(DnsProblem::BadName),
        }
    }
}

/// Skips the name at `start` without following its pointer, for records
/// that are walked but not decoded: checks label types, that the part
/// written here fits in [`MAX_WIRE_LEN`], and that a final pointer points
/// before `start`. Returns the offset past the name.
#[inline]
pub(crate) fn skip(message: &[u8], start: usize) -> Result<usize, DnsProblem> {
    let mut pos = start;
    loop {
        let Some(&len) = message.get(pos) else {
            return Err(DnsProblem::TruncatedName);
        };
        match len {
            0 => return Ok(pos + 1),
            1..=0x3f => {
                pos += 1 + usize::from(len);
                // Same bound as `walk`: the labels plus the root byte.
                if pos - start >= MAX_WIRE_LEN {
                    return Err(DnsProblem::NameTooLong);
                }
            }
            0xc0..=0xff => {
                let Some(&low) = message.get(pos + 1) else {
                    return Err(DnsProblem::TruncatedName);
                };
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                if target >= start {
                    return Err(DnsProblem::BadName);
                }
                return Ok(pos + 2);
            }
            _ => return Err(DnsProblem::BadName),
        }
    }
}

/// The last `n` labels of a name in the text form written by
/// [`Name::write_lowercase`] (escaped dots are not separators): for
/// "a.b.example.com", 2 gives "example.com" and 3 "b.example.com". A name
/// with `n` labels or fewer is returned whole; `n == 0` gives "".
pub fn last_labels(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let bytes = text.as_bytes();
    // Separators are unescaped dots; scan forward since an escape is only
    // recognisable from its start.
    let mut separators = 0usize;
    let mut escaped = false;
    for &b in bytes {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'.') => separators += 1,
            _ => {}
        }
    }
    // "." (the root) has a dot but no label.
    if separators < n || text == "." {
        return text;
    }
    let mut skip = separators + 1 - n;
    escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'.') => {
                skip -= 1;
                if skip == 0 {
                    return text.get(i + 1..).unwrap_or(text);
                }
            }
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12-byte header of zeros followed by `body`.
    fn message(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(body);
        m
    }

    fn text(message: &[u8], start: usize) -> Result<String, DnsProblem> {
        let mut out = String::from("left over");
        Name::new(message, start)
            .write_lowercase(&mut out)
            .map(|()| out)
    }

    // dns_ipv4_udp.pcap frame 1, question name at 12.
    const MIXED_CASE: &[u8] = b"\x08utadwnME\x08POJwOc9R\x04KtfO\x04test\x03com\x00";

    #[test]
    fn plain_name() {
        let m = message(MIXED_CASE);
        assert_eq!(text(&m, 12).unwrap(), "utadwnme.pojwoc9r.ktfo.test.com");
        let info = Name::new(&m, 12).info().unwrap();
        assert_eq!(
            info,
            NameInfo {
                labels: 5,
                wire_len: MIXED_CASE.len(),
                end: 12 + MIXED_CASE.len(),
                pointers: 0
            }
        );
        assert_eq!(Name::new(&m, 12).label_count(), Ok(5));
        assert_eq!(Name::new(&m, 12).wire_len(), Ok(33));
        assert_eq!(skip(&m, 12), Ok(12 + MIXED_CASE.len()));
        let mut labels = Vec::new();
        Name::new(&m, 12)
            .for_each_label(|l| labels.push(l.to_vec()))
            .unwrap();
        assert_eq!(labels[2], b"KtfO");
    }

    #[test]
    fn root() {
        let m = message(&[0]);
        assert_eq!(text(&m, 12).unwrap(), ".");
        assert_eq!(Name::new(&m, 12).label_count(), Ok(0));
        assert_eq!(Name::new(&m, 12).wire_len(), Ok(1));
    }

    #[test]
    fn compressed() {
        // dns_udp_mixed_rcode.pcap frame 2: the SOA owner "google.com" is
        // c0 18 into the question "nonexistent.google.com"; its rdata names
        // "ns1" c0 18 and "dns-admin" c0 18.
        let m = message(
            b"\x0bnonexistent\x06google\x03com\x00\x00\x01\x00\x01\
              \xc0\x18\x00\x06\x00\x01\x00\x00\x00\x3c\x00\x26\
              \x03ns1\xc0\x18\x09dns-admin\xc0\x18",
        );
        assert_eq!(text(&m, 40).unwrap(), "google.com");
        assert_eq!(text(&m, 52).unwrap(), "ns1.google.com");
        assert_eq!(text(&m, 58).unwrap(), "dns-admin.google.com");
        let info = Name::new(&m, 52).info().unwrap();
        assert_eq!((info.labels, info.wire_len, info.end), (3, 16, 58));
        assert_eq!(info.pointers, 1);
        assert_eq!(skip(&m, 52), Ok(58));
        // Pointer to a pointer (both backward) is fine.
        let mut m2 = m.clone();
        m2.extend_from_slice(b"\x03www\xc0\x34");
        let at = m.len();
        assert_eq!(text(&m2, at).unwrap(), "www.ns1.google.com");
        assert_eq!(Name::new(&m2, at).info().unwrap().pointers, 2);
        assert!(Name::new(&m, 40).eq_ignore_case(&Name::new(&m, 24)));
        assert!(!Name::new(&m, 40).eq_ignore_case(&Name::new(&m, 52)));
    }

    #[test]
    fn escapes() {
        let m = message(b"\x05A.b\\c\x04\x00 \x7f\xff\x02-_\x00");
        assert_eq!(text(&m, 12).unwrap(), "a\\.b\\\\c.\\000\\032\\127\\255.-_");
        assert_eq!(Name::new(&m, 12).label_count(), Ok(3));
    }

    #[test]
    fn pointer_loops() {
        // a -> b -> a: the second hop goes forward again.
        let m = message(b"\xc0\x0e\xc0\x0c");
        assert_eq!(text(&m, 12), Err(DnsProblem::BadName));
        assert_eq!(text(&m, 14), Err(DnsProblem::BadName));
        // Self pointer.
        let m = message(b"\xc0\x0c");
        assert_eq!(text(&m, 12), Err(DnsProblem::BadName));
        assert_eq!(skip(&m, 12), Err(DnsProblem::BadName));
        // Into the labels of the same name: "a" then back to "a".
        let m = message(b"\x01a\xc0\x0c");
        assert_eq!(text(&m, 12), Err(DnsProblem::BadName));
        assert_eq!(skip(&m, 12), Err(DnsProblem::BadName));
        // Backward jumps that go round: the name at 22 points back to 16,
        // whose label runs to a pointer at 20 back to 16 again.
        let m = message(b"\x01x\x00\x00\x03abc\xc0\x10\xc0\x10");
        assert_eq!(text(&m, 22), Err(DnsProblem::BadName));
        assert_eq!(text(&m, 16), Err(DnsProblem::BadName));
        assert_eq!(skip(&m, 22), Ok(24));
        // Forward pointer and pointer past the end.
        let m = message(b"\xc0\x0e\x00");
        assert_eq!(text(&m, 12), Err(DnsProblem::BadName));
        assert_eq!(skip(&m, 12), Err(DnsProblem::BadName));
        let m = message(b"\xff\xff");
        assert_eq!(text(&m, 12), Err(DnsProblem::BadName));
        assert_eq!(skip(&m, 12), Err(DnsProblem::BadName));
    }

    #[test]
    fn pointer_chain_limit() {
        // Root at 12, then pointers each to the previous one.
        let mut m = message(&[0]);
        for i in 0..(MAX_POINTERS + 5) {
            let target = if i == 0 { 12 } else { 13 + 2 * (i - 1) };
            m.extend_from_slice(&(0xc000 | target as u16).to_be_bytes());
        }
        let start_of = |hops: usize| 13 + 2 * (hops - 1);
        assert_eq!(text(&m, start_of(1)).unwrap(), ".");
        let ok = Name::new(&m, start_of(MAX_POINTERS)).info().unwrap();
        assert_eq!(ok.pointers, MAX_POINTERS);
        assert_eq!(
            Name::new(&m, start_of(MAX_POINTERS + 1)).info(),
            Err(DnsProblem::BadName)
        );
    }

    #[test]
    fn bad_label_types() {
        for first in [0x40u8, 0x41, 0x7f, 0x80, 0xbf] {
            let m = message(&[first, 0x01, b'a', 0]);
            assert_eq!(text(&m, 12), Err(DnsProblem::BadName), "{first:#x}");
            assert_eq!(skip(&m, 12), Err(DnsProblem::BadName));
        }
    }

    #[test]
    fn truncated() {
        let full = message(MIXED_CASE);
        for len in 12..full.len() {
            assert_eq!(text(&full[..len], 12), Err(DnsProblem::TruncatedName));
            assert_eq!(skip(&full[..len], 12), Err(DnsProblem::TruncatedName));
        }
        // Pointer with its second byte missing.
        let m = message(b"\x01a\xc0");
        assert_eq!(text(&m, 12), Err(DnsProblem::TruncatedName));
        assert_eq!(skip(&m, 12), Err(DnsProblem::TruncatedName));
        // Start past the end.
        assert_eq!(text(&m, 100), Err(DnsProblem::TruncatedName));
    }

    #[test]
    fn length_limits() {
        // 127 labels of 1 byte: 255 bytes, the longest name.
        let mut body = b"\x01a".repeat(127);
        body.push(0);
        let m = message(&body);
        let info = Name::new(&m, 12).info().unwrap();
        assert_eq!((info.labels, info.wire_len), (127, 255));
        assert_eq!(skip(&m, 12), Ok(12 + 255));
        assert_eq!(text(&m, 12).unwrap().len(), 253);
        // 128 labels: 257 bytes.
        let mut body = b"\x01a".repeat(128);
        body.push(0);
        let m = message(&body);
        assert_eq!(text(&m, 12), Err(DnsProblem::NameTooLong));
        assert_eq!(skip(&m, 12), Err(DnsProblem::NameTooLong));
        // Four 63-byte labels: 4 * 64 + 1 = 257.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(63);
            body.extend_from_slice(&[b'x'; 63]);
        }
        body.push(0);
        let m = message(&body);
        assert_eq!(text(&m, 12), Err(DnsProblem::NameTooLong));
        // Three 63-byte labels and one of 61: exactly 255.
        let mut body = body[..3 * 64].to_vec();
        body.push(61);
        body.extend_from_slice(&[b'y'; 61]);
        body.push(0);
        let m = message(&body);
        assert_eq!(Name::new(&m, 12).wire_len(), Ok(255));
        // The length limit applies across pointers: 100 labels here plus 100
        // behind a pointer.
        let mut body = b"\x01b".repeat(100);
        body.push(0);
        let suffix_at = 12;
        let start = 12 + body.len();
        body.extend_from_slice(&b"\x01c".repeat(100));
        body.extend_from_slice(&(0xc000u16 | suffix_at).to_be_bytes());
        let m = message(&body);
        assert_eq!(text(&m, start), Err(DnsProblem::NameTooLong));
        // A 64k-label name is cut at the limit, not walked to its end.
        let body = b"\x01z".repeat(65536);
        let m = message(&body);
        assert_eq!(text(&m, 12), Err(DnsProblem::NameTooLong));
        assert_eq!(skip(&m, 12), Err(DnsProblem::NameTooLong));
    }

    /// The text form, written the obvious way, byte by byte.
    fn reference_text(labels: &[Vec<u8>]) -> String {
        if labels.is_empty() {
            return ".".to_string();
        }
        let mut out = String::new();
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            for &b in label {
                match b {
                    b'.' | b'\\' => {
                        out.push('\\');
                        out.push(char::from(b));
                    }
                    0x21..=0x7e => out.push(char::from(b.to_ascii_lowercase())),
                    _ => out.push_str(&format!("\\{b:03}")),
                }
            }
        }
        out
    }

    #[test]
    fn matches_reference_text() {
        // Deterministic pseudo-random names: label lengths 1..=63, bytes
        // mostly letters, digits and '-', sometimes anything; written plain,
        // behind a pointer, and at the very end of the message.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"abcXYZ019-_";
        let mut out = String::new();
        let mut bytes_out = Vec::new();
        for round in 0..3000 {
            let label_count = (next() % 8) as usize;
            let mut labels = Vec::new();
            let mut wire = 1;
            for _ in 0..label_count {
                let len = 1 + (next() % if round % 3 == 0 { 63 } else { 12 }) as usize;
                if wire + 1 + len > MAX_WIRE_LEN {
                    break;
                }
                wire += 1 + len;
                let label: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = next();
                        if round % 5 == 0 && r % 7 == 0 {
                            (r >> 8) as u8
                        } else {
                            alphabet[(r >> 8) as usize % alphabet.len()]
                        }
                    })
                    .collect();
                labels.push(label);
            }
            let expected = reference_text(&labels);
            // In place, followed by a question's type and class.
            let mut body = Vec::new();
            for label in &labels {
                body.push(label.len() as u8);
                body.extend_from_slice(label);
            }
            body.push(0);
            let plain_end = 12 + body.len();
            body.extend_from_slice(&[0, 1, 0, 1]);
            // The last labels again behind a pointer to the first name's
            // second label, when it has one.
            let compressed_at = 12 + body.len();
            if let Some(first) = labels.first() {
                body.push(first.len() as u8);
                body.extend_from_slice(first);
                if labels.len() > 1 {
                    let second = 12 + 1 + first.len();
                    body.extend_from_slice(&(0xc000u16 | second as u16).to_be_bytes());
                } else {
                    body.push(0);
                }
            }
            let m = message(&body);
            for start in [12, compressed_at] {
                if start == compressed_at && labels.is_empty() {
                    continue;
                }
                let name = Name::new(&m, start);
                name.write_lowercase(&mut out).unwrap();
                assert_eq!(out, expected, "round {round} start {start}: {labels:02x?}");
                name.write_lowercase_bytes(&mut bytes_out).unwrap();
                assert_eq!(bytes_out, expected.as_bytes());
                assert_eq!(name.label_count(), Ok(labels.len()));
            }
            // At the very end of the message: no bytes to round up into.
            let at_end = message(&body[..plain_end - 12]);
            Name::new(&at_end, 12).write_lowercase(&mut out).unwrap();
            assert_eq!(out, expected, "round {round} at end");
        }
    }

    #[test]
    fn reuses_buffer() {
        let m = message(MIXED_CASE);
        let mut out = String::with_capacity(64);
        let capacity = out.capacity();
        for _ in 0..3 {
            Name::new(&m, 12).write_lowercase(&mut out).unwrap();
            assert_eq!(out, "utadwnme.pojwoc9r.ktfo.test.com");
        }
        assert_eq!(out.capacity(), capacity);
    }

    #[test]
    fn last_labels_of_text() {
        assert_eq!(last_labels("a.b.example.com", 2), "example.com");
        assert_eq!(last_labels("a.b.example.com", 3), "b.example.com");
        assert_eq!(last_labels("a.b.example.com", 4), "a.b.example.com");
        assert_eq!(last_labels("a.b.example.com", 9), "a.b.example.com");
        assert_eq!(last_labels("example.com", 2), "example.com");
        assert_eq!(last_labels("com", 2), "com");
        assert_eq!(last_labels(".", 2), ".");
        assert_eq!(last_labels("a.b", 0), "");
        assert_eq!(last_labels("x.a\\.b.com", 2), "a\\.b.com");
        assert_eq!(last_labels("x.a\\\\.b.com", 2), "b.com");
    }
}
