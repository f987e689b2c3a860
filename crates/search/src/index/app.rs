//! The application fields of a packet, picap's names: `appproto` (HTTP, TLS, DNS),
//! `http-method`, `http-hostname`, `http-useragent`, and ours, `tls-sni`.
//!
//! Each TCP segment is read on its own (nothing is reassembled, see `pv_wire::http` and
//! `pv_wire::tls` for what one segment gives). `appproto` names what the payload holds, not
//! the port: HTTP for a segment that starts a request or response head, TLS for one that
//! starts with a record header, whatever the ports. DNS is the exception, as a DNS header
//! has no mark of its own: a UDP payload, or a TCP payload after its 2-byte length prefix,
//! on one of the DNS ports, whose header and first question read without a problem.
//!
//! Where tshark differs: it reassembles TCP and names HTTP or TLS in the segment that
//! completes a message or record, where this names the segment that starts one. The two
//! agree segment for segment when every message and record fits in its segment. They equal
//! tshark's in any case with TCP reassembly and sequence analysis off (`-o
//! tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:FALSE`; the second so that
//! a retransmitted segment is dissected again, as it is read here): HTTP the frames with
//! `http.request || http.response`, TLS those with `tls.record`.

use super::DNS_PORTS;
use pv_wire::dns::{self, HEADER_LEN};
use pv_wire::{Decoded, L4, http, tls};

/// Calls `put(field, value)` for every application field `d` has.
pub fn app_fields(d: &Decoded<'_>, put: &mut dyn FnMut(&'static str, String)) {
    let payload = d.l4_payload;
    if payload.is_empty() {
        return;
    }
    let dns_port = DNS_PORTS.contains(&d.src_port) || DNS_PORTS.contains(&d.dst_port);
    match d.l4 {
        L4::Tcp => {
            if let Some(req) = http::request(payload) {
                put("appproto", "HTTP".into());
                put("http-method", req.method.as_str().into());
                if let Some(host) = req.host {
                    put("http-hostname", host.into());
                }
                if let Some(agent) = req.user_agent {
                    put("http-useragent", agent.into());
                }
            } else if http::response_status(payload).is_some() {
                put("appproto", "HTTP".into());
            } else if tls::is_record(payload) {
                put("appproto", "TLS".into());
                if let Some(sni) = tls::client_hello_sni(payload) {
                    put("tls-sni", sni.into());
                }
            } else if dns_port && is_dns_over_tcp(payload) {
                put("appproto", "DNS".into());
            }
        }
        L4::Udp if dns_port && reads_as_dns(payload) => {
            put("appproto", "DNS".into());
        }
        _ => {}
    }
}

/// A header and a first question that read without a problem: twelve bytes alone would make
/// any payload on the DNS ports a DNS message.
fn reads_as_dns(message: &[u8]) -> bool {
    dns::parse(message, false).is_ok_and(|m| m.problem.is_none())
}

/// A segment that starts a DNS-over-TCP message: a length prefix with room for a header,
/// then a message that reads. Nothing marks a segment that continues a message: its first
/// bytes are taken as a prefix too, and it counts only if what follows reads as DNS.
fn is_dns_over_tcp(payload: &[u8]) -> bool {
    dns::tcp_message_len(payload).is_some_and(|len| len >= HEADER_LEN)
        && payload
            .get(dns::TCP_LENGTH_PREFIX_LEN..)
            .is_some_and(reads_as_dns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_capture::FileReader;
    use pv_wire::{L3, LinkType, decode};
    use std::collections::BTreeMap;
    use std::path::Path;

    fn fields(l4: L4, ports: (u16, u16), payload: &[u8]) -> Vec<(&'static str, String)> {
        let d = Decoded {
            l3: L3::Ipv4,
            l4,
            src_port: ports.0,
            dst_port: ports.1,
            l4_payload: payload,
            ..Decoded::EMPTY
        };
        let mut out = Vec::new();
        app_fields(&d, &mut |f, v| out.push((f, v)));
        out
    }

    fn pairs(want: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        want.iter().map(|&(f, v)| (f, v.to_string())).collect()
    }

    // curl 7.88.1 `curl -I http://[::1]:18080/` to nginx 1.22.1, captured on loopback with
    // tcpdump: the request's TCP payload.
    const CURL_HEAD: &[u8] =
        b"HEAD / HTTP/1.1\r\nHost: [::1]:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    // nginx 1.22.1 answering a POST to its static root, same capture: the head of the payload.
    const NGINX_405_HEAD: &[u8] = b"HTTP/1.1 405 Not Allowed\r\nServer: nginx/1.22.1\r\n";

    // curl 7.88.1 (OpenSSL 3.0.19) `curl -k --resolve sni.example.test:18443:127.0.0.1
    // https://sni.example.test:18443/` to nginx 1.22.1, same capture: the ClientHello, padded
    // to 512 bytes by OpenSSL's padding extension.
    const CURL_HELLO: &str = "
        1603010200010001fc03031a2f1c5edafa03b9718a87910ed55f9c318d98122c3d2523514969dae58e358320fe075bc8
        b2a7bface8180b9c06ab7be824db29d7746aba23f93c2ff9cd6b8103003e130213031301c02cc030009fcca9cca8ccaa
        c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff01000175
        000000150013000010736e692e6578616d706c652e74657374000b000403000102000a00160014001d0017001e001900
        18010001010102010301040010000e000c02683208687474702f312e31001600000017000000310000000d002a002804
        0305030603080708080809080a080b080408050806040105010601030303010302040205020602002b00090803040303
        03020301002d00020101003300260024001d0020bce7b5cbea13041656e01a23d24794f718517f4d31fa58ff4d216ee0
        dc934c6a001500ad";

    fn hello() -> Vec<u8> {
        let digits: Vec<char> = CURL_HELLO.chars().filter(char::is_ascii_hexdigit).collect();
        let mut bytes: Vec<u8> = digits
            .chunks(2)
            .map(|p| u8::from_str_radix(&p.iter().collect::<String>(), 16).unwrap())
            .collect();
        // The padding extension's 173 zero bytes, left out of the text above.
        bytes.resize(bytes.len() + 0xad, 0);
        bytes
    }

    #[test]
    fn http_requests_give_their_fields_and_responses_only_the_protocol() {
        assert_eq!(
            fields(L4::Tcp, (41000, 18080), CURL_HEAD),
            pairs(&[
                ("appproto", "HTTP"),
                ("http-method", "HEAD"),
                ("http-hostname", "[::1]:18080"),
                ("http-useragent", "curl/7.88.1"),
            ])
        );
        assert_eq!(
            fields(L4::Tcp, (18080, 41000), NGINX_405_HEAD),
            pairs(&[("appproto", "HTTP")])
        );
        // Over UDP the same bytes are nothing.
        assert!(fields(L4::Udp, (41000, 18080), CURL_HEAD).is_empty());
    }

    #[test]
    fn a_client_hello_gives_tls_and_its_server_name() {
        let hello = hello();
        assert_eq!(hello.len(), 517);
        assert_eq!(
            fields(L4::Tcp, (41000, 18443), &hello),
            pairs(&[("appproto", "TLS"), ("tls-sni", "sni.example.test")])
        );
        // Cut before the name ends: still TLS, no name.
        assert_eq!(
            fields(L4::Tcp, (41000, 18443), &hello[..60]),
            pairs(&[("appproto", "TLS")])
        );
        // The content decides, not the port: TLS on the DNS port is TLS.
        assert_eq!(
            fields(L4::Tcp, (41000, 53), &hello)[0],
            ("appproto", "TLS".to_string())
        );
    }

    #[test]
    fn nothing_for_payloads_that_are_none_of_these() {
        for payload in [&b""[..], b"SSH-2.0-OpenSSH_9.2p1\r\n", b"\x00\x01"] {
            assert!(fields(L4::Tcp, (41000, 22), payload).is_empty());
            assert!(fields(L4::Udp, (41000, 53), payload).is_empty());
        }
        // A DNS message off the DNS ports is not DNS.
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01";
        assert!(fields(L4::Udp, (41000, 5300), query).is_empty());
        assert_eq!(
            fields(L4::Udp, (41000, 5353), query),
            pairs(&[("appproto", "DNS")])
        );
        // Over TCP after its length prefix, which must leave room for a header.
        let mut prefixed = vec![0, query.len() as u8];
        prefixed.extend_from_slice(query);
        assert_eq!(
            fields(L4::Tcp, (41000, 53), &prefixed),
            pairs(&[("appproto", "DNS")])
        );
        prefixed[1] = 11;
        assert!(fields(L4::Tcp, (41000, 53), &prefixed).is_empty());
    }

    /// appproto values over a fixture capture, by transport.
    fn appproto_counts(name: &str) -> BTreeMap<(String, String), u64> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fixtures")
            .join(name);
        let mut reader = FileReader::open(&path).unwrap();
        let mut counts = BTreeMap::new();
        while let Some(p) = reader.next_packet().unwrap() {
            let d = decode(LinkType::from_linktype(p.linktype).unwrap(), p.data);
            let l4 = format!("{:?}", d.l4);
            app_fields(&d, &mut |field, value| {
                if field == "appproto" {
                    *counts.entry((l4.clone(), value)).or_default() += 1;
                }
            });
        }
        counts
    }

    #[test]
    fn dns_fixtures_count_as_tshark_with_reassembly_off() {
        // tshark 4.0.17 -o tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:FALSE
        // -d tcp.port==53000,dns, counting `tcp && dns` and `udp && dns` frames (56 of the TCP
        // ones are retransmissions, which tshark leaves undissected with sequence analysis on).
        let want = |tcp: u64, udp: u64| {
            let mut m = BTreeMap::new();
            for (l4, n) in [("Tcp", tcp), ("Udp", udp)] {
                if n > 0 {
                    m.insert((l4.to_string(), "DNS".to_string()), n);
                }
            }
            m
        };
        assert_eq!(appproto_counts("dns_ipv4_tcp.pcap"), want(420, 0));
        assert_eq!(appproto_counts("dns_ipv4_udp.pcap"), want(0, 140));
        assert_eq!(appproto_counts("dns_udp_tcp_random.pcap"), want(2317, 2971));
    }
}
