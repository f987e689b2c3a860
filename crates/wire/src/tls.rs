//! TLS records (RFC 8446 5.1, RFC 5246 6.2) and the server name a ClientHello asks for (the
//! `server_name` extension, RFC 6066 3), read from the payload of one TCP segment for the
//! field index.
//!
//! Nothing is reassembled, and the choice for a ClientHello that does not fit in its segment
//! (a large hello, a small MSS, a cut capture) is: its SNI is given when every byte of the
//! name is in this segment and inside every length that encloses it (record, handshake
//! message, extensions, extension, name list); otherwise nothing. A name is never cut short
//! and never read past a length that bounds it. A hello fragmented over several records is
//! read within its first record only, as the bytes after that record are the next record's
//! header and not the hello.
//!
//! [`is_record`] answers whether a payload starts with a TLS record header: a content type
//! of 20 to 23, a version from SSL 3.0 to TLS 1.3 and a length within the limit of RFC 5246.
//! A segment that continues a record started in an earlier one does not start with a header
//! and is not recognized.

/// Record content types.
pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CONTENT_ALERT: u8 = 21;
pub const CONTENT_HANDSHAKE: u8 = 22;
pub const CONTENT_APPLICATION_DATA: u8 = 23;

/// Type, version and length.
pub const RECORD_HEADER_LEN: usize = 5;

/// The largest record length allowed (RFC 5246 6.2.3: 2^14 plus 2048 of expansion).
pub const MAX_RECORD_LEN: u16 = (1 << 14) + 2048;

const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXTENSION_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST_NAME: u8 = 0;
/// Before a ClientHello's session id: legacy_version (2) and random (32).
const HELLO_FIXED_LEN: usize = 34;

/// SSL 3.0 to TLS 1.3 (TLS 1.3 records carry 0x0303, or 0x0301 in a first ClientHello).
const RECORD_VERSIONS: std::ops::RangeInclusive<u16> = 0x0300..=0x0304;
/// The record versions a ClientHello with extensions can be sent in.
const HELLO_RECORD_VERSIONS: std::ops::RangeInclusive<u16> = 0x0301..=0x0304;

/// A plausible record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    /// The length of the record's body, which may go on past this segment.
    pub length: u16,
}

impl RecordHeader {
    /// The header at the start of `payload`; None unless all 5 bytes are there, the content
    /// type is 20 to 23, the version in [0x0300, 0x0304], and the length at most
    /// [`MAX_RECORD_LEN`] and above zero (only application data may be empty, RFC 8446 5.1).
    pub fn parse(payload: &[u8]) -> Option<RecordHeader> {
        let &[content_type, v0, v1, l0, l1] = payload.first_chunk::<RECORD_HEADER_LEN>()?;
        let header = RecordHeader {
            content_type,
            version: u16::from_be_bytes([v0, v1]),
            length: u16::from_be_bytes([l0, l1]),
        };
        let may_be_empty = content_type == CONTENT_APPLICATION_DATA;
        let plausible = (CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_APPLICATION_DATA)
            .contains(&content_type)
            && RECORD_VERSIONS.contains(&header.version)
            && header.length <= MAX_RECORD_LEN
            && (header.length > 0 || may_be_empty);
        plausible.then_some(header)
    }
}

/// Whether `payload` starts with a TLS record header (see [`RecordHeader::parse`]).
pub fn is_record(payload: &[u8]) -> bool {
    RecordHeader::parse(payload).is_some()
}

/// The first host_name of the server_name extension of the ClientHello that starts
/// `payload`, with the rules of the module documentation. Change-cipher-spec records before
/// the hello are stepped over (TLS 1.3's compatibility record can precede a second hello
/// after a HelloRetryRequest). None for an empty name or one that is not UTF-8.
pub fn client_hello_sni(payload: &[u8]) -> Option<&str> {
    let mut rest = payload;
    // Each turn consumes at least a record header: bounded by the payload's length.
    loop {
        let header = RecordHeader::parse(rest)?;
        let (_, body) = rest.split_at_checked(RECORD_HEADER_LEN)?;
        let length = usize::from(header.length);
        match header.content_type {
            CONTENT_CHANGE_CIPHER_SPEC => rest = body.get(length..)?,
            CONTENT_HANDSHAKE if HELLO_RECORD_VERSIONS.contains(&header.version) => {
                return hello_sni(captured(body, length));
            }
            _ => return None,
        }
    }
}

fn hello_sni(fragment: &[u8]) -> Option<&str> {
    let (&[msg_type, ..], body) = fragment.split_first_chunk::<1>()?;
    if msg_type != HANDSHAKE_CLIENT_HELLO {
        return None;
    }
    let hello = opened::<3>(body)?;
    let rest = hello.get(HELLO_FIXED_LEN..)?;
    let (_session_id, rest) = vector::<1>(rest)?;
    let (_cipher_suites, rest) = vector::<2>(rest)?;
    let (_compression, rest) = vector::<1>(rest)?;
    let mut extensions = opened::<2>(rest)?;
    // Each turn consumes at least the 4 bytes of an extension's type and length.
    while let Some((&[t0, t1], after_type)) = extensions.split_first_chunk::<2>() {
        if u16::from_be_bytes([t0, t1]) == EXTENSION_SERVER_NAME {
            let names = opened::<2>(opened::<2>(after_type)?)?;
            return first_host_name(names);
        }
        let (_, next) = vector::<2>(after_type)?;
        extensions = next;
    }
    None
}

fn first_host_name(mut names: &[u8]) -> Option<&str> {
    // Each turn consumes at least a name's type and length.
    while let Some((&[name_type], after_type)) = names.split_first_chunk::<1>() {
        let (name, next) = vector::<2>(after_type)?;
        if name_type == NAME_TYPE_HOST_NAME {
            return std::str::from_utf8(name).ok().filter(|n| !n.is_empty());
        }
        names = next;
    }
    None
}

/// The length in an `N`-byte big-endian prefix.
fn prefixed_len<const N: usize>(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (prefix, rest) = bytes.split_first_chunk::<N>()?;
    let len = prefix
        .iter()
        .fold(0usize, |len, &b| (len << 8) | usize::from(b));
    Some((len, rest))
}

/// A vector with an `N`-byte length prefix, whole: (its contents, what follows it).
fn vector<const N: usize>(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = prefixed_len::<N>(bytes)?;
    rest.split_at_checked(len)
}

/// The captured part of a vector with an `N`-byte length prefix: what of its contents this
/// segment holds, never more than its length says.
fn opened<const N: usize>(bytes: &[u8]) -> Option<&[u8]> {
    let (len, rest) = prefixed_len::<N>(bytes)?;
    Some(captured(rest, len))
}

fn captured(bytes: &[u8], len: usize) -> &[u8] {
    bytes.get(..len).unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        let nibble = |c: u8| (c as char).to_digit(16).unwrap() as u8;
        digits
            .chunks(2)
            .map(|p| (nibble(p[0]) << 4) | nibble(p[1]))
            .collect()
    }

    // TCP payloads from loopback, captured with `tcpdump -i lo -w` against nginx 1.22.1 with a
    // self-signed certificate (openssl req -x509) on port 18443.

    // curl 7.88.1 (OpenSSL 3.0.19): `curl -k --tlsv1.2 --tls-max 1.2 --resolve
    // v12.example.test:18443:[::1] https://v12.example.test:18443/`. SNI first among the
    // extensions, ALPN h2 and http/1.1.
    const CURL_TLS12_HELLO: &str = "
        16030100de010000da03036e3fc6f6190f651cb04240e8b9ac4ec01e07e9c139ac73ac68afb1f17bd1b579000038c02c
        c030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c
        0035002f00ff010000790000001500130000107631322e6578616d706c652e74657374000b000403000102000a000c00
        0a001d0017001e001900180010000e000c02683208687474702f312e310016000000170000000d002a00280403050306
        03080708080809080a080b080408050806040105010601030303010302040205020602";

    // OpenSSL 3.0.19: `openssl s_client -connect 127.0.0.1:18443 -servername
    // Mixed.Case.Example`. A TLS 1.3 hello with a 32-byte session id and a key share; the name
    // keeps its case (tshark shows it as sent).
    const OPENSSL_TLS13_HELLO: &str = "
        160301013f0100013b03032635094527929d8c6d3db18761570c3967d8ea8010d5bf24331cdc88ab4d32062078e204b6
        f6e97aae9821359a289910749bee3e9d3da2a36006b529f500a046a1003e130213031301c02cc030009fcca9cca8ccaa
        c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000b4
        0000001700150000124d697865642e436173652e4578616d706c65000b000403000102000a00160014001d0017001e00
        19001801000101010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b08
        0408050806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024
        001d0020603a13e305ed3a8adcb4c17330292ef7c8723ed7a96bbb732cb35ec125dd594d";

    // nginx's close_notify to curl at the end of the TLS 1.2 connection: an encrypted alert.
    const NGINX_ALERT: &str = "150303001a7d0a54fddace1fe755c716c403fb0b7be73bf6db48331af56e81";

    // openssl s_client's second flight in TLS 1.3: the compatibility change-cipher-spec record,
    // then the encrypted Finished as application data.
    const OPENSSL_CCS_FINISHED: &str = "
        14030300010117030300454c5ded444b473ee8ebe24a3aa36b1fda562e8002a083f92ee44727ad34a57cd64b02b84aae
        49a8a1b51ef1ec7c0603501d0bc01ab2635495651884f48b9309db94f822cdfc";

    /// Where `name` ends in `hello`.
    fn end_of(hello: &[u8], name: &str) -> usize {
        let at = hello
            .windows(name.len())
            .position(|w| w == name.as_bytes())
            .unwrap();
        at + name.len()
    }

    #[test]
    fn sni_of_real_hellos() {
        let hello = unhex(CURL_TLS12_HELLO);
        assert_eq!(hello.len(), 227);
        assert_eq!(client_hello_sni(&hello), Some("v12.example.test"));
        let hello = unhex(OPENSSL_TLS13_HELLO);
        assert_eq!(hello.len(), 324);
        assert_eq!(client_hello_sni(&hello), Some("Mixed.Case.Example"));
    }

    #[test]
    fn records_of_real_connections() {
        let records = [
            (CURL_TLS12_HELLO, CONTENT_HANDSHAKE, 0x0301, 222),
            (NGINX_ALERT, CONTENT_ALERT, 0x0303, 26),
            (OPENSSL_CCS_FINISHED, CONTENT_CHANGE_CIPHER_SPEC, 0x0303, 1),
        ];
        for (hex, content_type, version, length) in records {
            let bytes = unhex(hex);
            let want = RecordHeader {
                content_type,
                version,
                length,
            };
            assert_eq!(RecordHeader::parse(&bytes), Some(want));
            assert!(is_record(&bytes));
        }
        // Not hellos: the SNI is only read from a ClientHello.
        assert_eq!(client_hello_sni(&unhex(NGINX_ALERT)), None);
        assert_eq!(client_hello_sni(&unhex(OPENSSL_CCS_FINISHED)), None);
    }

    #[test]
    fn what_is_not_a_record_header() {
        for bad in [
            &b"\x16\x03\x01\x00"[..],
            b"\x13\x03\x03\x00\x01",
            b"\x18\x03\x03\x00\x01",
            b"\x16\x02\x00\x00\x01",
            b"\x16\x03\x05\x00\x01",
            b"\x16\x03\x03\x48\x01",
            b"\x16\x03\x03\x00\x00",
            b"GET / HTTP/1.1\r\n",
            b"",
        ] {
            assert!(!is_record(bad), "{}", bad.escape_ascii());
        }
        assert!(is_record(b"\x17\x03\x03\x00\x00"));
        assert!(is_record(b"\x17\x03\x03\x48\x00"));
    }

    #[test]
    fn a_change_cipher_spec_record_before_the_hello_is_stepped_over() {
        let mut bytes = b"\x14\x03\x03\x00\x01\x01".to_vec();
        bytes.extend(unhex(OPENSSL_TLS13_HELLO));
        assert_eq!(client_hello_sni(&bytes), Some("Mixed.Case.Example"));
        // Only change-cipher-spec: an alert first ends the search.
        let mut bytes = b"\x15\x03\x03\x00\x02\x01\x00".to_vec();
        bytes.extend(unhex(OPENSSL_TLS13_HELLO));
        assert_eq!(client_hello_sni(&bytes), None);
    }

    #[test]
    fn every_cut_gives_the_whole_name_or_nothing() {
        for (hex, name) in [
            (CURL_TLS12_HELLO, "v12.example.test"),
            (OPENSSL_TLS13_HELLO, "Mixed.Case.Example"),
        ] {
            let hello = unhex(hex);
            let name_end = end_of(&hello, name);
            for cut in 0..=hello.len() {
                let want = (cut >= name_end).then_some(name);
                assert_eq!(client_hello_sni(&hello[..cut]), want, "cut {cut}");
            }
        }
    }

    #[test]
    fn lengths_that_lie_never_give_a_wrong_name() {
        let hello = unhex(CURL_TLS12_HELLO);
        let name_end = end_of(&hello, "v12.example.test");
        // The name's length (2 bytes before the 16-byte name): one more would read the next
        // extension's first byte; the name list's length bounds it.
        let mut longer = hello.clone();
        longer[name_end - 17] += 1;
        assert_eq!(client_hello_sni(&longer), None);
        // A record shorter than the hello ends it before the name.
        let mut short_record = hello.clone();
        short_record[4] = 100;
        assert_eq!(client_hello_sni(&short_record), None);
        // A handshake message shorter than its record, likewise.
        let mut short_message = hello.clone();
        short_message[8] = 60;
        assert_eq!(client_hello_sni(&short_message), None);
        // Not a ClientHello (a ServerHello has no server name to read).
        let mut server_hello = hello.clone();
        server_hello[5] = 2;
        assert_eq!(client_hello_sni(&server_hello), None);
        // A record version below TLS 1.0.
        let mut ssl3 = hello;
        ssl3[2] = 0;
        assert_eq!(client_hello_sni(&ssl3), None);
    }

    #[test]
    fn hostile_bytes_never_give_bytes_from_outside_the_name_list() {
        // Every byte of real hellos replaced by values that turn lengths into lies; whatever
        // comes out must be a run of the input, and nothing may panic.
        for hex in [CURL_TLS12_HELLO, OPENSSL_TLS13_HELLO] {
            let base = unhex(hex);
            for at in 0..base.len() {
                for b in [0x00, 0x01, 0x02, 0x10, 0x7f, 0x80, 0xfe, 0xff] {
                    let mut bytes = base.clone();
                    bytes[at] = b;
                    if let Some(name) = client_hello_sni(&bytes) {
                        assert!(!name.is_empty());
                        assert!(bytes.windows(name.len()).any(|w| w == name.as_bytes()));
                    }
                    let _ = is_record(&bytes);
                }
            }
        }
    }
}
