//! A name's text form (as [`Name::write_lowercase`] writes it) together with
//! the offsets of its dots, written once per message into buffers that are
//! reused from one message to the next.
//!
//! The DNS handler needs the lower-cased question name, then cuts it at its
//! last dots (qname2, qname3). Writing the text label by label gives the
//! separators' offsets for free, so the cuts need no scan of the text.
//!
//! Fast path (every question of real traffic): a name without pointers
//! whose labels are printable ASCII without `.` or `\`. Its labels are copied
//! from the message in one piece, the length bytes between them (the future
//! dots) are blanked, and the text is lower-cased and checked a word at a
//! time. Other names go label by label through the walk, and a name with a
//! byte to escape is written by [`Name::write_lowercase_bytes`] with its dots
//! found by a scan, so the text is always that method's.

use super::DnsProblem;
use super::name::{MAX_WIRE_LEN, Name, lowercase_and_flag_word, walk};

/// Written between labels before the check; any byte the check lets through
/// would do.
const PLACEHOLDER: u8 = b'a';

/// The text of one name and where its dots are.
#[derive(Clone, Debug, Default)]
pub struct NameText {
    /// Printable ASCII only (see the module documentation).
    text: Vec<u8>,
    /// Offsets in `text` of every `.`, ascending: the separators and, in an
    /// escaped name, the escaped dots too (as a byte search would find them).
    dots: Vec<u16>,
}

impl NameText {
    pub fn new() -> Self {
        Self {
            text: Vec::with_capacity(256),
            dots: Vec::with_capacity(128),
        }
    }

    /// Writes `name`'s text, replacing the previous one. On error the text is
    /// empty.
    pub fn write(&mut self, name: &Name<'_>) -> Result<(), DnsProblem> {
        self.text.clear();
        self.dots.clear();
        if self.write_plain(name.message(), name.start()).is_some() {
            return Ok(());
        }
        self.write_walked(name)
    }

    /// Writes the name at `start` if it takes the fast path (see the module
    /// documentation) and returns the offset past it, so that a parser that
    /// reads the name needs no walk of its own. None, with no text, for any
    /// other name: the caller walks it and writes it with [`write`](Self::write).
    #[inline]
    pub(crate) fn write_if_plain(&mut self, message: &[u8], start: usize) -> Option<usize> {
        self.text.clear();
        self.dots.clear();
        let end = self.write_plain(message, start);
        if end.is_none() {
            self.clear();
        }
        end
    }

    /// No name: an empty text.
    #[inline]
    pub fn clear(&mut self) {
        self.text.clear();
        self.dots.clear();
    }

    /// Whether there is no text (no name, or one that did not read): a
    /// written name is never empty (the root is ".").
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The fast path: a name without pointers whose labels need no escape,
    /// copied in one piece from the message; returns the offset past the
    /// name. None (with anything written) when the name is not such a name;
    /// the caller starts over.
    #[inline]
    fn write_plain(&mut self, message: &[u8], start: usize) -> Option<usize> {
        // Find the labels, recording where the length bytes between them are
        // in the text (they become the dots).
        let first = start + 1;
        let mut pos = start;
        loop {
            let &len = message.get(pos)?;
            match len {
                0 => break,
                1..=0x3f => {
                    if pos != start {
                        // Below 255 (checked next round): fits in u16.
                        self.dots.push((pos - first) as u16);
                    }
                    pos += 1 + usize::from(len);
                    // The root byte must still fit in MAX_WIRE_LEN.
                    if pos - start >= MAX_WIRE_LEN {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        if pos == start {
            self.text.push(b'.');
            self.dots.push(0);
            return Some(pos + 1);
        }
        // Whole words: the bytes after the name (root, type, class) when the
        // message has them, else padding. Bytes past `len` are not checked.
        let len = pos - first;
        let padded = len.next_multiple_of(8);
        match message.get(first..first + padded) {
            Some(words) => self.text.extend_from_slice(words),
            None => {
                let labels = message.get(first..pos)?;
                self.text.extend_from_slice(labels);
                // Fewer than 8 bytes of padding: one 8-byte write and a truncation instead
                // of `resize`'s loop (54 instructions a name; a third of the benchmark's
                // messages end before a whole word past their name).
                self.text.extend_from_slice(&[PLACEHOLDER; 8]);
                self.text.truncate(padded);
            }
        }
        for &dot in &self.dots {
            if let Some(byte) = self.text.get_mut(usize::from(dot)) {
                *byte = PLACEHOLDER;
            }
        }
        let tail_mask = match len % 8 {
            0 => u64::MAX,
            tail => (1u64 << (tail * 8)) - 1,
        };
        if !lowercase_printable(&mut self.text, tail_mask) {
            return None;
        }
        self.text.truncate(len);
        for &dot in &self.dots {
            if let Some(byte) = self.text.get_mut(usize::from(dot)) {
                *byte = b'.';
            }
        }
        Some(pos + 1)
    }

    /// Names with pointers (never in a question of real traffic), names
    /// with a byte to escape, and names that do not walk.
    #[cold]
    #[inline(never)]
    fn write_walked(&mut self, name: &Name<'_>) -> Result<(), DnsProblem> {
        self.text.clear();
        self.dots.clear();
        let (text, dots) = (&mut self.text, &mut self.dots);
        let walked = walk(name.message(), name.start(), |label| {
            if !text.is_empty() {
                // A text is at most 253 bytes on this path (the walk checks the wire length).
                dots.push(text.len() as u16);
                text.push(PLACEHOLDER);
            }
            text.extend_from_slice(label);
        });
        if let Err(problem) = walked {
            self.text.clear();
            self.dots.clear();
            return Err(problem);
        }
        if self.text.is_empty() {
            self.text.push(b'.');
            self.dots.push(0);
            return Ok(());
        }
        let len = self.text.len();
        self.text.resize(len.next_multiple_of(8), PLACEHOLDER);
        if lowercase_printable(&mut self.text, u64::MAX) {
            self.text.truncate(len);
            for &dot in &self.dots {
                if let Some(byte) = self.text.get_mut(usize::from(dot)) {
                    *byte = b'.';
                }
            }
            return Ok(());
        }
        self.write_escaped(name)
    }

    /// The rare name with a byte to escape.
    #[cold]
    #[inline(never)]
    fn write_escaped(&mut self, name: &Name<'_>) -> Result<(), DnsProblem> {
        self.dots.clear();
        name.write_lowercase_bytes(&mut self.text)?;
        // An escaped text is at most 4 * 253 bytes: offsets fit in u16.
        self.dots.extend(
            self.text
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'.')
                .map(|(i, _)| i as u16),
        );
        Ok(())
    }

    /// The text ("" after an error).
    #[inline]
    pub fn as_str(&self) -> &str {
        // Always ASCII, so this never fails; an empty text would only hide a bug.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The text's bytes ("" after an error): printable ASCII, so the `&str` of
    /// [`as_str`](Self::as_str) without its UTF-8 check, for callers that only
    /// hash, compare or store the name.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// Offsets of the `.` bytes of [`as_str`](Self::as_str), ascending.
    #[inline]
    pub fn dots(&self) -> &[u16] {
        &self.dots
    }
}

/// Lower-cases `text` (whole words) in place, a word at a time; false if a
/// byte needs an escape (then `text` must be rewritten). Bytes of the last
/// word outside `tail_mask` (little-endian: the high ones) are not checked.
#[inline]
fn lowercase_printable(text: &mut [u8], tail_mask: u64) -> bool {
    let mut flagged = 0;
    let mut last = 0;
    for chunk in text.chunks_exact_mut(8) {
        let Ok(word) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        flagged |= last;
        let (lower, flags) = lowercase_and_flag_word(u64::from_le_bytes(*word));
        last = flags;
        *word = lower.to_le_bytes();
    }
    flagged | (last & tail_mask) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(body);
        m
    }

    /// The text and dots of the name at 12, checked against `write_lowercase`.
    fn check(m: &[u8]) -> (String, Vec<u16>) {
        let name = Name::new(m, 12);
        let mut t = NameText::new();
        let mut expected = String::new();
        match name.write_lowercase(&mut expected) {
            Ok(()) => t.write(&name).unwrap(),
            Err(e) => {
                assert_eq!(t.write(&name), Err(e));
                assert_eq!(t.as_str(), "");
                return (String::new(), Vec::new());
            }
        }
        assert_eq!(t.as_str(), expected);
        let scanned: Vec<u16> = expected
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'.')
            .map(|(i, _)| i as u16)
            .collect();
        assert_eq!(t.dots(), scanned);
        (expected, scanned)
    }

    #[test]
    fn plain_root_compressed_escaped() {
        let (text, dots) = check(&message(b"\x08utadwnME\x08POJwOc9R\x04KtfO\x03com\x00"));
        assert_eq!(text, "utadwnme.pojwoc9r.ktfo.com");
        assert_eq!(dots, [8, 17, 22]);
        assert_eq!(check(&message(b"\x00")).0, ".");
        // "WWW" + pointer to "example.COM" written before it.
        let mut m = message(b"\x07example\x03COM\x00");
        m.extend_from_slice(b"\x03WWW\xc0\x0c");
        let name = Name::new(&m, 25);
        let mut t = NameText::new();
        t.write(&name).unwrap();
        assert_eq!(t.as_str(), "www.example.com");
        assert_eq!(t.dots(), [3, 11]);
        let (text, dots) = check(&message(b"\x03a.b\x04c\\D\xff\x00"));
        assert_eq!(text, "a\\.b.c\\\\d\\255");
        assert_eq!(dots, [2, 4]);
    }

    #[test]
    fn hostile_names_fail_and_leave_no_text() {
        for body in [
            &b"\x03abc"[..], // truncated
            b"\xc0\x0c",     // pointer to itself
            b"\x40abc\x00",  // extended label type
            b"\x05ab",       // label past the end
        ] {
            check(&message(body));
        }
        let mut t = NameText::new();
        t.write(&Name::new(&message(b"\x01a\x00"), 12)).unwrap();
        let long = message(&[&[63u8][..], &[b'x'; 63]].concat().repeat(5));
        assert!(t.write(&Name::new(&long, 12)).is_err());
        assert_eq!((t.as_str(), t.dots()), ("", &[][..]));
    }

    #[test]
    fn every_byte_in_every_position() {
        // Each byte value at each offset of a word, in names of 1 to 3 labels.
        for b in 0..=255u8 {
            for at in 0..10 {
                let mut label = vec![b'Q'; 10];
                label[at] = b;
                let mut body = vec![10u8];
                body.extend_from_slice(&label);
                body.extend_from_slice(b"\x02Xy\x00");
                check(&message(&body));
                body.insert(0, b'-');
                body.insert(0, 1);
                check(&message(&body));
            }
        }
    }
}
