//! The whole of pktvisor's `fixture.dnstap` (src/inputs/dnstap/tests/fixtures/, a
//! knot-resolver capture; copied to testdata/fixtures/), checked against what `fstrm_dump`
//! (fstrm-bin) and `dnstap-ldns -r FILE -y` (dnstap-ldns) print for it.

use super::*;

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fixtures/fixture.dnstap"
    );
    std::fs::read(path).expect("testdata/fixtures/fixture.dnstap")
}

#[test]
fn fixture_frames_and_messages() {
    let bytes = fixture();
    let mut rest = &bytes[..];
    let mut session = Session::new();
    let (mut data, mut queries, mut responses) = (0, 0, 0);
    let mut first = None;
    while let Some((frame, used)) = next_frame(rest, frame::DEFAULT_MAX_DATA_LEN).unwrap() {
        rest = &rest[used..];
        match frame {
            Frame::Control(c) => {
                let c = ControlFrame::parse(c).unwrap();
                // fstrm_dump: FSTRM_CONTROL_START with content type protobuf:dnstap.Dnstap.
                assert!(c.accepts_dnstap());
                assert_eq!(session.control(&c), Ok(None), "a file has no replies");
            }
            Frame::Data(d) => {
                session.data().unwrap();
                data += 1;
                let tap = Dnstap::parse(d).unwrap();
                if tap.message.kind.is_response() {
                    responses += 1;
                } else {
                    queries += 1;
                }
                first.get_or_insert(tap);
            }
        }
    }
    // The file ends inside a 154th data frame: 286 bytes announced, 238 present (20 522
    // bytes in all), and no STOP. fstrm_dump and dnstap-ldns print the 153 whole frames.
    assert_eq!(rest.len(), 4 + 238);
    assert_eq!(&rest[..4], &286u32.to_be_bytes());
    assert!(!session.stopped());
    assert!(!session.is_bidirectional());
    // fstrm_dump: 153 data frames; dnstap-ldns -q: 79 CQ and 74 CR lines.
    assert_eq!((data, queries, responses), (153, 79, 74));
    // dnstap-ldns -y, first message: version "5.4.2", CLIENT_QUERY at 2021-11-22
    // 16:16:27.853960 (1637597787.853960), INET, UDP, 192.168.0.54:47173 ->
    // 192.168.0.55:53000, id 12331, 52 bytes.
    let first = first.unwrap();
    assert_eq!(first.version, Some(&b"5.4.2"[..]));
    assert_eq!(first.identity, Some(&b""[..]));
    let m = first.message;
    assert_eq!(m.kind, MessageType::ClientQuery);
    assert_eq!(m.socket_family, Some(SocketFamily::Inet));
    assert_eq!(m.socket_protocol, Some(SocketProtocol::Udp));
    assert_eq!(m.query_address, Some("192.168.0.54".parse().unwrap()));
    assert_eq!(m.response_address, Some("192.168.0.55".parse().unwrap()));
    assert_eq!((m.query_port, m.response_port), (Some(47173), Some(53000)));
    assert_eq!(m.time_ns().unwrap() / 1000, 1_637_597_787_853_960);
    let q = m.dns_message().unwrap();
    assert_eq!(q.len(), 52);
    assert_eq!(u16::from_be_bytes([q[0], q[1]]), 12331);
}

#[test]
fn damaged_fixture_never_panics() {
    // Every truncation and a byte flipped at every offset of the first 600 bytes: each frame
    // either reads or fails with an error.
    let bytes = fixture();
    for cut in 0..bytes.len().min(2000) {
        walk(&bytes[..cut]);
    }
    for at in 0..600 {
        let mut b = bytes.clone();
        b[at] ^= 0xa5;
        walk(&b);
    }
}

fn walk(mut rest: &[u8]) {
    let mut session = Session::new();
    while let Ok(Some((frame, used))) = next_frame(rest, frame::DEFAULT_MAX_DATA_LEN) {
        rest = &rest[used..];
        match frame {
            Frame::Control(c) => {
                if ControlFrame::parse(c)
                    .and_then(|c| session.control(&c))
                    .is_err()
                {
                    return;
                }
            }
            Frame::Data(d) => {
                let _ = Dnstap::parse(d);
            }
        }
    }
}
