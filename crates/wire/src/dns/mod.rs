//! DNS messages (RFC 1035), read for traffic summaries: the header, the first
//! question, and from the records only what the DNS metrics need (whether an
//! answer is an RRSIG, and the EDNS OPT record with its Client Subnet).
//!
//! [`parse`] runs once per DNS packet, so it allocates nothing, decodes
//! nothing it does not report, and is bounded on any input: the question name
//! is checked in full (compression pointers followed, see [`name`] for the
//! rules), the other records are skipped by their RDLENGTH without following
//! their names' pointers, and only the OPT record's RDATA is read. Each
//! record costs at least 11 bytes, so lying counts end in
//! [`DnsProblem::TruncatedRecord`] after at most `len / 11` records.
//!
//! The question name stays a position in the message ([`Name`]) until a
//! caller asks for its text with [`Name::write_lowercase`] (or, without the
//! UTF-8 check a `String` costs, [`Name::write_lowercase_bytes`]); the text
//! form (escapes, no trailing dot, root ".") is described in [`name`]. The
//! per-message path writes it with [`NameText`], which also records where the
//! dots are, while the question is read ([`parse_with_name`]: one walk of the
//! name instead of one to parse it and one to write it).
//!
//! DNS over TCP: [`split_tcp_message`] takes one length-prefixed message off
//! a reassembled stream; [`parse`] wants the message without the prefix.

pub mod edns;
pub mod header;
pub mod name;
pub mod name_text;
pub mod types;

pub use edns::{ClientSubnet, Edns};
pub use header::{DnsHeader, HEADER_LEN};
pub use name::{Name, NameInfo, last_labels};
pub use name_text::NameText;
pub use types::{qtype_from_name, qtype_name, rcode_from_name, rcode_name};

use types::TYPE_RRSIG;

/// Why a message could not be fully read. [`parse`] returns it as an error
/// only for [`TooShort`](DnsProblem::TooShort); every other problem ends
/// reading and is reported in [`DnsMessage::problem`], what was read before
/// it keeping its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsProblem {
    /// Fewer than the 12 header bytes.
    TooShort,
    /// The first question's name or its type and class run past the end
    /// (also any further question, when records are walked).
    TruncatedQuestion,
    /// A name breaks the label or pointer rules: label type 0x40 or 0x80, a
    /// pointer that is not strictly backward (forward, self, loop, out of
    /// range) or more than [`name::MAX_POINTERS`] pointers.
    BadName,
    /// A name longer than 255 bytes uncompressed.
    NameTooLong,
    /// A name read on its own ([`Name`] methods) runs past the end of the
    /// message. Inside [`parse`] this is reported as `TruncatedQuestion` or
    /// `TruncatedRecord`.
    TruncatedName,
    /// An answer, authority or additional record (its name, fixed part or
    /// RDATA) runs past the end: the counts promise more than is there.
    TruncatedRecord,
    /// The OPT record's options run past its RDATA.
    BadEdns,
    /// An EDNS Client Subnet option that cannot be read (see [`edns`]).
    BadClientSubnet,
}

impl DnsProblem {
    /// Every variant, in declaration order (for counter tables).
    pub const ALL: [DnsProblem; 8] = [
        DnsProblem::TooShort,
        DnsProblem::TruncatedQuestion,
        DnsProblem::BadName,
        DnsProblem::NameTooLong,
        DnsProblem::TruncatedName,
        DnsProblem::TruncatedRecord,
        DnsProblem::BadEdns,
        DnsProblem::BadClientSubnet,
    ];

    /// Stable snake_case name, for metric labels and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            DnsProblem::TooShort => "too_short",
            DnsProblem::TruncatedQuestion => "truncated_question",
            DnsProblem::BadName => "bad_name",
            DnsProblem::NameTooLong => "name_too_long",
            DnsProblem::TruncatedName => "truncated_name",
            DnsProblem::TruncatedRecord => "truncated_record",
            DnsProblem::BadEdns => "bad_edns",
            DnsProblem::BadClientSubnet => "bad_client_subnet",
        }
    }
}

impl std::fmt::Display for DnsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for DnsProblem {}

/// A question: name, type, class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// Where the name is in the message, decoded on demand. Already checked
    /// by [`parse`]: its methods do not fail.
    pub name: Name<'a>,
    pub qtype: u16,
    pub qclass: u16,
}

/// A parsed message: the header always; the first question, EDNS and answer
/// facts if they could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsMessage<'a> {
    pub header: DnsHeader,
    /// The first question, when `qdcount` > 0 and it could be read.
    pub question: Option<Question<'a>>,
    /// From the first OPT record of the additional section (records walked
    /// only when asked).
    pub edns: Option<Edns>,
    /// An answer record has type RRSIG (46).
    pub has_rrsig_answer: bool,
    /// The first problem met; reading stopped there.
    pub problem: Option<DnsProblem>,
    bytes: &'a [u8],
}

impl<'a> DnsMessage<'a> {
    /// The whole message the fields were read from.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The full rcode: the header's 4 bits, extended by EDNS's upper 8 bits
    /// when there is an OPT record (RFC 6891 6.1.3).
    #[inline]
    pub fn rcode(&self) -> u16 {
        let upper = self.edns.map_or(0, |e| u16::from(e.extended_rcode));
        (upper << 4) | u16::from(self.header.rcode)
    }

    /// QR set.
    #[inline]
    pub fn is_response(&self) -> bool {
        self.header.qr
    }
}

/// Reads the header and the first question and, when `parse_records`, walks
/// every later record: the other questions, then answer, authority and
/// additional records, skipped by RDLENGTH, noting RRSIG answers and reading
/// the first OPT record of the additional section (EDNS, Client Subnet).
///
/// Err only when the 12-byte header is not there; any later problem is in
/// [`DnsMessage::problem`] and ends reading, keeping what was read before.
/// Bytes past the last counted record are ignored.
// Inlined: the message is then built in the caller's frame instead of copied out twice.
#[inline]
pub fn parse(bytes: &[u8], parse_records: bool) -> Result<DnsMessage<'_>, DnsProblem> {
    parse_message(bytes, parse_records, None)
}

/// [`parse`], writing the question name's text into `name` as it reads the
/// question (as [`NameText::write`] would write it afterwards, but the name
/// is walked once instead of twice). `name` is empty unless the message has
/// a question whose name reads.
#[inline]
pub fn parse_with_name<'a>(
    bytes: &'a [u8],
    parse_records: bool,
    name: &mut NameText,
) -> Result<DnsMessage<'a>, DnsProblem> {
    name.clear();
    let message = parse_message(bytes, parse_records, Some(&mut *name))?;
    match &message.question {
        // A name that does not take the fast path was walked by the parser only.
        Some(question) if name.is_empty() => {
            if name.write(&question.name).is_err() {
                name.clear();
            }
        }
        Some(_) => {}
        None => name.clear(),
    }
    Ok(message)
}

#[inline(always)]
fn parse_message<'a>(
    bytes: &'a [u8],
    parse_records: bool,
    name: Option<&mut NameText>,
) -> Result<DnsMessage<'a>, DnsProblem> {
    let header = DnsHeader::parse(bytes).ok_or(DnsProblem::TooShort)?;
    let mut message = DnsMessage {
        header,
        question: None,
        edns: None,
        has_rrsig_answer: false,
        problem: None,
        bytes,
    };
    let mut pos = HEADER_LEN;
    if header.qdcount > 0 {
        match read_question(bytes, pos, name) {
            Ok((question, next)) => {
                message.question = Some(question);
                pos = next;
            }
            Err(problem) => {
                message.problem = Some(problem);
                return Ok(message);
            }
        }
    }
    if parse_records && let Err(problem) = walk_records(&mut message, pos) {
        message.problem = Some(problem);
    }
    Ok(message)
}

/// The question at `pos` and the offset past it. With `text`, a name that
/// takes [`NameText`]'s fast path is written there on the way (the other
/// names are only walked).
#[inline]
fn read_question<'a>(
    bytes: &'a [u8],
    pos: usize,
    text: Option<&mut NameText>,
) -> Result<(Question<'a>, usize), DnsProblem> {
    let written_end = text.and_then(|t| t.write_if_plain(bytes, pos));
    let end = match written_end {
        Some(end) => end,
        None => {
            name::walk(bytes, pos, |_| {})
                .map_err(|p| in_context(p, DnsProblem::TruncatedQuestion))?
                .end
        }
    };
    let Some(fixed) = bytes.get(end..).and_then(<[u8]>::first_chunk::<4>) else {
        return Err(DnsProblem::TruncatedQuestion);
    };
    Ok((
        Question {
            name: Name::new(bytes, pos),
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        },
        end + 4,
    ))
}

/// A name walk's "ran past the end" in the terms of what is being read.
#[inline]
fn in_context(problem: DnsProblem, truncated: DnsProblem) -> DnsProblem {
    if problem == DnsProblem::TruncatedName {
        truncated
    } else {
        problem
    }
}

/// Length of an RR's fixed part after its name: type, class, TTL, RDLENGTH.
const RR_FIXED_LEN: usize = 10;

/// Walks the questions after the first one and every record, from `pos`.
fn walk_records(message: &mut DnsMessage<'_>, mut pos: usize) -> Result<(), DnsProblem> {
    let bytes = message.bytes;
    let header = message.header;
    for _ in 1..header.qdcount {
        pos = name::skip(bytes, pos).map_err(|p| in_context(p, DnsProblem::TruncatedQuestion))?;
        pos += 4;
        if pos > bytes.len() {
            return Err(DnsProblem::TruncatedQuestion);
        }
    }
    let answers = usize::from(header.ancount);
    let before_additional = answers + usize::from(header.nscount);
    let total = before_additional + usize::from(header.arcount);
    for index in 0..total {
        pos = name::skip(bytes, pos).map_err(|p| in_context(p, DnsProblem::TruncatedRecord))?;
        let Some(fixed) = bytes
            .get(pos..)
            .and_then(<[u8]>::first_chunk::<RR_FIXED_LEN>)
        else {
            return Err(DnsProblem::TruncatedRecord);
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata_start = pos + RR_FIXED_LEN;
        let rdata_end = rdata_start + rdlength;
        let Some(rdata) = bytes.get(rdata_start..rdata_end) else {
            return Err(DnsProblem::TruncatedRecord);
        };
        if index < answers {
            message.has_rrsig_answer |= rtype == TYPE_RRSIG;
        } else if index >= before_additional && rtype == edns::TYPE_OPT && message.edns.is_none() {
            let class = u16::from_be_bytes([fixed[2], fixed[3]]);
            let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
            let (found, problem) = Edns::from_opt(class, ttl, rdata);
            message.edns = Some(found);
            if let Some(problem) = problem {
                return Err(problem);
            }
        }
        pos = rdata_end;
    }
    Ok(())
}

/// Length of the DNS-over-TCP length prefix (RFC 1035 4.2.2, RFC 7766).
pub const TCP_LENGTH_PREFIX_LEN: usize = 2;

/// The message length announced by the 2-byte prefix at the start of a
/// DNS-over-TCP byte stream; None when fewer than 2 bytes are there.
#[inline]
pub fn tcp_message_len(stream: &[u8]) -> Option<usize> {
    stream
        .first_chunk::<TCP_LENGTH_PREFIX_LEN>()
        .map(|&prefix| usize::from(u16::from_be_bytes(prefix)))
}

/// Splits the first length-prefixed message off a DNS-over-TCP byte stream:
/// Some((message, rest)) once the prefix and the whole message are there,
/// None while more bytes are needed. A zero-length message is returned as
/// an empty slice (which [`parse`] rejects as too short).
#[inline]
pub fn split_tcp_message(stream: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = tcp_message_len(stream)?;
    stream.get(TCP_LENGTH_PREFIX_LEN..)?.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn qname(message: &DnsMessage<'_>) -> String {
        let mut out = String::new();
        message
            .question
            .unwrap()
            .name
            .write_lowercase(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_name_written_while_parsing_is_the_name_written_after() {
        let header = |qdcount: u8| [0x12, 0x34, 1, 0, 0, qdcount, 0, 0, 0, 0, 0, 0];
        let long = [&[63u8][..], &[b'x'; 63]].concat().repeat(5);
        let bodies: [&[u8]; 9] = [
            b"\x03WwW\x07Example\x03COM\x00\x00\x01\x00\x01",
            b"\x00\x00\x01\x00\x01",
            b"\x03a.b\x04c\\D\xff\x00\x00\x10\x00\x01",
            b"\x03www\xc0\x02\x00\x01\x00\x01",
            b"\x03abc\x00\x00\x01",
            b"\x03abc",
            b"\x40abc\x00\x00\x01\x00\x01",
            b"\x01a\x00\x00\x01\x00\x01\x00\x00\x00",
            &long,
        ];
        let mut text = NameText::new();
        for body in bodies {
            for qdcount in [0, 1] {
                let m = [&header(qdcount)[..], body].concat();
                let parsed = parse(&m, true).unwrap();
                let with_name = parse_with_name(&m, true, &mut text).unwrap();
                assert_eq!(format!("{parsed:?}"), format!("{with_name:?}"));
                let mut expected = NameText::new();
                match &parsed.question {
                    Some(q) if expected.write(&q.name).is_ok() => {}
                    _ => expected.clear(),
                }
                assert_eq!(
                    (text.as_bytes(), text.dots()),
                    (expected.as_bytes(), expected.dots()),
                    "{body:?} qdcount {qdcount}"
                );
            }
        }
    }

    // dns_ipv4_udp.pcap frame 1: AAAA query for utadwnME.POJwOc9R.KtfO.test.com
    // with an OPT record (payload size 1232, no options).
    const QUERY: &str = "c6d6010000010000000000010875746164776e4d4508504f4a774f633952044b74664f
        047465737403636f6d00001c000100002904d0000000000000";

    // dnssec.pcap frame 2: A response for www.ietf.org, answers A + RRSIG,
    // OPT with DO and payload size 4000.
    const DNSSEC_RESPONSE: &str = "501281a00001000200000001037777770469657466036f72670000010001c00c
        00010001000004d8000440aa621ec00c002e0001000004d8011c000105030000070852d071c750ef30af9e04
        0469657466036f72670088303c6c99eb004cf78e0627c85466e7aedaefaaa5bf55740aac4e49dfe8f67be737
        41a564b695a039ae5e96886a8ca96c6c70cf080afcb63a095da4e9258ac227019a910d2f6ea1c328e41733c3
        5bc917de26c586d7ec39bf2961eee7063df6e9a72da7fee21be0d1b8398f9e46018dafb00d893ad5da13b64a
        99839edf9f7892f7bb6334f082f42f649d102e0d8506f9d5716a56b34b062ba6f63dedd502d47daca43d20e1
        4743c826c6038ea6a2e67818fccd31ec207fde3cab1ae753ca563e4de7416e5380b5641a85a0728da8c1f2c4
        941a9feab2782ceb30ba16b0f08a53b66c3716c8b1c532d0bca384e677ed7759cc85041df426878e828d0141
        33e50000290fa0000080000000";

    // dnssec.pcap frame 11: DNSKEY query for the root, OPT with DO.
    const ROOT_QUERY: &str = "94700100000100000000000100003000010000291000000080000000";

    // ecs.pcap frame 4: AAAA query for pa.weberlab.de with ECS
    // 2001:470:1f0b:1600::/56.
    const ECS_QUERY: &str = "e9c4001000010000000000010270610877656265726c616202646500001c00010000
        29100000008000000f0008000b00023800200104701f0b16";

    // dns_udp_mixed_rcode.pcap frame 2: NXDOMAIN for nonexistent.google.com,
    // SOA in authority, OPT in additional.
    const NXDOMAIN: &str = "0606840300010000000100010b6e6f6e6578697374656e7406676f6f676c6503636f
        6d0000010001c018000600010000003c0026036e7331c01809646e732d61646d696ec018169ac6b100000384
        00000384000007080000003c0000290200000080000000";

    // dns_udp_mixed_rcode.pcap frame 20: REFUSED for refused.com.
    const REFUSED: &str = "d33081050001000000000001077265667573656403636f6d000001000100002904d0
        000000000000";

    #[test]
    fn query_with_opt() {
        let bytes = hex(QUERY);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.header.id, 0xc6d6);
        assert!(!m.is_response() && m.header.rd);
        assert_eq!(qname(&m), "utadwnme.pojwoc9r.ktfo.test.com");
        let q = m.question.unwrap();
        assert_eq!((q.qtype, q.qclass), (28, 1));
        assert_eq!(q.name.label_count(), Ok(5));
        let edns = m.edns.unwrap();
        assert_eq!(edns.udp_payload_size, 1232);
        assert!(!edns.dnssec_ok && edns.client_subnet.is_none());
        assert!(!m.has_rrsig_answer);
        assert_eq!(m.problem, None);
        assert_eq!(m.rcode(), 0);
        assert_eq!(m.bytes().len(), bytes.len());

        // Without the record walk: no EDNS.
        let m = parse(&bytes, false).unwrap();
        assert_eq!(m.edns, None);
        assert_eq!(qname(&m), "utadwnme.pojwoc9r.ktfo.test.com");
    }

    #[test]
    fn dnssec_response() {
        let bytes = hex(DNSSEC_RESPONSE);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, None);
        assert!(m.is_response() && m.header.ad);
        assert_eq!(qname(&m), "www.ietf.org");
        assert_eq!(m.header.ancount, 2);
        assert!(m.has_rrsig_answer);
        let edns = m.edns.unwrap();
        assert_eq!(edns.udp_payload_size, 4000);
        assert!(edns.dnssec_ok);
        // The same answers moved to the authority section: no RRSIG answer.
        let mut moved = bytes.clone();
        moved[6..10].copy_from_slice(&[0, 0, 0, 2]);
        let m = parse(&moved, true).unwrap();
        assert!(!m.has_rrsig_answer);
        assert!(m.edns.is_some());
    }

    #[test]
    fn root_question() {
        let bytes = hex(ROOT_QUERY);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(qname(&m), ".");
        assert_eq!(m.question.unwrap().qtype, 48);
        assert_eq!(m.question.unwrap().name.label_count(), Ok(0));
        assert!(m.edns.unwrap().dnssec_ok);
    }

    #[test]
    fn client_subnet() {
        let bytes = hex(ECS_QUERY);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(qname(&m), "pa.weberlab.de");
        let ecs = m.edns.unwrap().client_subnet.unwrap();
        assert_eq!(ecs.family, 2);
        assert_eq!((ecs.source_prefix, ecs.scope_prefix), (56, 0));
        assert_eq!(
            ecs.address,
            "2001:470:1f0b:1600::".parse::<IpAddr>().unwrap()
        );
        // ECS family 3: the EDNS facts stay, the subnet does not.
        let mut family3 = bytes.clone();
        let at = family3.len() - 11;
        family3[at + 1] = 3;
        let m = parse(&family3, true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::BadClientSubnet));
        assert_eq!(m.edns.unwrap().udp_payload_size, 4096);
        assert_eq!(m.edns.unwrap().client_subnet, None);
        assert!(m.question.is_some());
        // ECS prefix /128 with 7 bytes: accepted, zero-filled.
        let mut long_prefix = bytes.clone();
        long_prefix[at + 2] = 128;
        let m = parse(&long_prefix, true).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(m.edns.unwrap().client_subnet.unwrap().source_prefix, 128);
        // Prefix /129: unreadable.
        long_prefix[at + 2] = 129;
        let m = parse(&long_prefix, true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::BadClientSubnet));
    }

    #[test]
    fn opt_with_truncated_options() {
        // Cut the ECS query's options while keeping RDLENGTH consistent with
        // the bytes: RDLENGTH 15 -> 6 leaves a 4-byte option header promising
        // 11 bytes and 2 of them.
        let mut bytes = hex(ECS_QUERY);
        let rdlength_at = bytes.len() - 17;
        assert_eq!(&bytes[rdlength_at..rdlength_at + 2], &[0x00, 0x0f]);
        bytes[rdlength_at + 1] = 6;
        bytes.truncate(rdlength_at + 2 + 6);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::BadEdns));
        assert!(m.edns.unwrap().dnssec_ok);
        assert_eq!(m.edns.unwrap().client_subnet, None);
    }

    #[test]
    fn rcodes() {
        let bytes = hex(NXDOMAIN);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(m.rcode(), 3);
        assert_eq!(rcode_name(m.rcode()), Some("NXDOMAIN"));
        assert_eq!(qname(&m), "nonexistent.google.com");
        assert_eq!((m.header.ancount, m.header.nscount), (0, 1));
        assert_eq!(m.edns.unwrap().udp_payload_size, 512);
        let bytes = hex(REFUSED);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(rcode_name(m.rcode()), Some("REFUSED"));
        assert_eq!(qname(&m), "refused.com");
        // Extended rcode: BADVERS is 16 = header 0, EDNS 1.
        let mut badvers = bytes.clone();
        badvers[3] = 0x80;
        let ttl_at = badvers.len() - 6;
        badvers[ttl_at] = 1;
        let m = parse(&badvers, true).unwrap();
        assert_eq!(m.rcode(), 16);
        assert_eq!(rcode_name(m.rcode()), Some("BADVERS"));
    }

    #[test]
    fn too_short() {
        let bytes = hex(QUERY);
        for len in 0..HEADER_LEN {
            assert_eq!(parse(&bytes[..len], true), Err(DnsProblem::TooShort));
        }
        // Header only, counts lying.
        let m = parse(&bytes[..HEADER_LEN], true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::TruncatedQuestion));
        assert_eq!(m.question, None);
        assert_eq!(m.header.id, 0xc6d6);
    }

    #[test]
    fn truncated_anywhere() {
        // Every prefix of real messages: no panic, and the problem tells
        // which part was cut.
        for text in [
            QUERY,
            DNSSEC_RESPONSE,
            ECS_QUERY,
            NXDOMAIN,
            REFUSED,
            ROOT_QUERY,
        ] {
            let bytes = hex(text);
            let full = parse(&bytes, true).unwrap();
            assert_eq!(full.problem, None);
            let question_end = {
                let q = full.question.unwrap();
                q.name.info().unwrap().end + 4
            };
            for len in HEADER_LEN..bytes.len() {
                let m = parse(&bytes[..len], true).unwrap();
                if len < question_end {
                    assert_eq!(m.problem, Some(DnsProblem::TruncatedQuestion), "{len}");
                    assert_eq!(m.question, None);
                } else {
                    assert_eq!(m.problem, Some(DnsProblem::TruncatedRecord), "{len}");
                    assert_eq!(
                        m.question,
                        full.question.map(|q| Question {
                            name: Name::new(&bytes[..len], q.name.start()),
                            ..q
                        })
                    );
                }
            }
        }
    }

    #[test]
    fn counts_that_lie() {
        // More answers than there are: stops at the end.
        let mut bytes = hex(REFUSED);
        bytes[6] = 0xff;
        bytes[7] = 0xff;
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::TruncatedRecord));
        assert_eq!(qname(&m), "refused.com");
        // The OPT record is then read as an answer: no EDNS.
        assert_eq!(m.edns, None);
        // Fewer: trailing bytes are ignored.
        let mut bytes = hex(NXDOMAIN);
        bytes[11] = 0;
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(m.edns, None);
        // Several questions: the second one is skipped.
        let mut two = hex(REFUSED);
        two[5] = 2;
        two.splice(29..29, b"\x03www\xc0\x0c\x00\x1c\x00\x01".iter().copied());
        let m = parse(&two, true).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(m.edns.unwrap().udp_payload_size, 1232);
        // No question at all.
        let mut none = hex(ROOT_QUERY);
        none[5] = 0;
        none.drain(12..17);
        let m = parse(&none, true).unwrap();
        assert_eq!(m.question, None);
        assert_eq!(m.problem, None);
        assert!(m.edns.unwrap().dnssec_ok);
    }

    #[test]
    fn hostile_question_names() {
        let header = &hex(QUERY)[..HEADER_LEN];
        let with = |body: &[u8]| {
            let mut m = header.to_vec();
            m.extend_from_slice(body);
            m
        };
        let cases: [(&[u8], DnsProblem); 7] = [
            (b"\xc0\x0c\x00\x01\x00\x01", DnsProblem::BadName),
            (b"\xc0\x0e\xc0\x0c\x00\x01\x00\x01", DnsProblem::BadName),
            (b"\x01a\xc0\x20\x00\x01\x00\x01", DnsProblem::BadName),
            (b"\x40abc\x00\x00\x01\x00\x01", DnsProblem::BadName),
            (b"\x80abc\x00\x00\x01\x00\x01", DnsProblem::BadName),
            (b"\x3fabc", DnsProblem::TruncatedQuestion),
            (b"\x03abc\x00\x00\x01\x00", DnsProblem::TruncatedQuestion),
        ];
        for (body, problem) in cases {
            let bytes = with(body);
            let m = parse(&bytes, true).unwrap();
            assert_eq!(m.problem, Some(problem), "{body:02x?}");
            assert_eq!(m.question, None);
            assert_eq!(m.edns, None);
        }
        let mut long = b"\x01a".repeat(128);
        long.extend_from_slice(b"\x00\x00\x01\x00\x01");
        let bytes = with(&long);
        let m = parse(&bytes, true).unwrap();
        assert_eq!(m.problem, Some(DnsProblem::NameTooLong));
        // A pointer into the header is backward and allowed: header bytes
        // read as labels (here 0x00 at offset 10 is the root).
        let bytes = with(b"\xc0\x0a\x00\x01\x00\x01");
        let m = parse(&bytes, false).unwrap();
        assert_eq!(m.problem, None);
        assert_eq!(qname(&m), ".");
    }

    #[test]
    fn hostile_records() {
        // REFUSED's OPT owner name replaced by a forward pointer, a bad label
        // type, and a self pointer.
        let bytes = hex(REFUSED);
        let opt_at = bytes.len() - 11;
        assert_eq!(bytes[opt_at], 0);
        for (owner, problem) in [
            (&b"\xc0\xff"[..], DnsProblem::BadName),
            (b"\x41", DnsProblem::BadName),
            (b"\x01a\xc0\x1d", DnsProblem::BadName),
            (b"\x01", DnsProblem::TruncatedRecord),
        ] {
            let mut m = bytes[..opt_at].to_vec();
            m.extend_from_slice(owner);
            if problem != DnsProblem::TruncatedRecord {
                m.extend_from_slice(&bytes[opt_at + 1..]);
            }
            let parsed = parse(&m, true).unwrap();
            assert_eq!(parsed.problem, Some(problem), "{owner:02x?}");
            assert_eq!(parsed.edns, None);
            assert!(parsed.question.is_some());
        }
        // RDLENGTH past the end.
        let mut m = bytes.clone();
        let rdlength_at = m.len() - 2;
        m[rdlength_at + 1] = 1;
        assert_eq!(
            parse(&m, true).unwrap().problem,
            Some(DnsProblem::TruncatedRecord)
        );
    }

    #[test]
    fn tcp_framing() {
        let message = hex(REFUSED);
        let mut stream = (message.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&message);
        stream.extend_from_slice(&[0x00, 0x05, 1, 2]);
        assert_eq!(tcp_message_len(&stream), Some(message.len()));
        let (first, rest) = split_tcp_message(&stream).unwrap();
        assert_eq!(first, &message[..]);
        assert_eq!(rest, &[0x00, 0x05, 1, 2]);
        assert_eq!(split_tcp_message(rest), None);
        assert_eq!(tcp_message_len(&[0x01]), None);
        assert_eq!(
            split_tcp_message(&[0x00, 0x00, 9]),
            Some((&[][..], &[9][..]))
        );
        assert_eq!(parse(first, true).unwrap().header.id, 0xd330);
    }

    #[test]
    fn problem_names() {
        let names: Vec<&str> = DnsProblem::ALL.iter().map(DnsProblem::as_str).collect();
        assert_eq!(names.len(), 8);
        assert_eq!(DnsProblem::BadName.to_string(), "bad_name");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
