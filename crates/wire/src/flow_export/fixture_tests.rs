//! pktvisor's NetFlow v9 and IPFIX captures (src/tests/fixtures/nf9.pcap and ipfix.pcap, in
//! testdata/fixtures/), decoded whole and checked against what tshark's cflow dissector prints
//! for them (`tshark -r nf9.pcap -T fields -e cflow.srcaddr -e cflow.octets ...`;
//! ipfix.pcap with `-d udp.port==2059,cflow`).

use super::*;
use crate::{L4, LinkType, decode};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../testdata/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).expect("fixture")
}

/// The frames of a little-endian classic pcap: (linktype, frames).
fn frames(bytes: &[u8]) -> (LinkType, Vec<&[u8]>) {
    let linktype = u32::from_le_bytes(bytes[20..24].try_into().unwrap());
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(&bytes[at + 16..at + 16 + caplen]);
        at += 16 + caplen;
    }
    (LinkType::from_linktype(linktype).unwrap(), out)
}

/// Every datagram of a capture through one template cache: (info per frame, records).
fn decode_all(name: &str) -> (Vec<DatagramInfo>, Vec<FlowRecord>, TemplateCache) {
    let bytes = fixture(name);
    let (link, frames) = frames(&bytes);
    let mut cache = TemplateCache::default();
    let (mut infos, mut records) = (Vec::new(), Vec::new());
    for f in frames {
        let d = decode(link, f);
        assert_eq!(d.l4, L4::Udp);
        infos.push(decode_datagram(d.l4_payload, d.src, &mut cache, &mut records).unwrap());
    }
    (infos, records, cache)
}

#[test]
fn nf9_templates_then_24_records() {
    let (infos, records, cache) = decode_all("nf9.pcap");
    // Frames 1-3: a data template (424) and two options templates (425, 429; 429 from
    // 192.168.100.10); frame 4: 24 records of template 424; frame 5: one options record.
    assert_eq!(
        infos.iter().map(|i| i.templates).collect::<Vec<_>>(),
        [1, 1, 1, 0, 0]
    );
    assert_eq!(infos[3].records, 24);
    assert_eq!(infos[3].export_secs, Some(1_508_410_005));
    assert_eq!(infos[4].other_records, 1);
    assert_eq!(infos.iter().map(|i| i.no_template).sum::<usize>(), 0);
    assert_eq!(cache.len(), 3);
    assert_eq!(records.len(), 24);
    // tshark: frame 4, flow 1 is 20.0.1.174 -> 30.0.1.174, protocol 253, InputInt 800,
    // OutputInt 763, 6020905 octets, 7799 packets; the 24 flows total 142139882 octets and
    // 183920 packets.
    let r = records[0];
    assert_eq!(r.src, Some("20.0.1.174".parse().unwrap()));
    assert_eq!(r.dst, Some("30.0.1.174".parse().unwrap()));
    assert_eq!((r.protocol, r.if_in, r.if_out), (253, Some(800), Some(763)));
    assert_eq!((r.bytes, r.packets, r.tos), (6_020_905, 7799, Some(0)));
    assert_eq!(records.iter().map(|r| r.bytes).sum::<u64>(), 142_139_882);
    assert_eq!(records.iter().map(|r| r.packets).sum::<u64>(), 183_920);
    // Flow 22 is the largest: 20.0.0.248, 6066232 octets, 7858 packets.
    let top = records.iter().max_by_key(|r| r.bytes).unwrap();
    assert_eq!(top.src, Some("20.0.0.248".parse().unwrap()));
    assert_eq!((top.bytes, top.packets), (6_066_232, 7858));
}

#[test]
fn ipfix_variable_length_fields_and_options() {
    let (infos, records, _) = decode_all("ipfix.pcap");
    // Frames 1-18 carry only templates, 19 an options template and 20 its record (domain 0),
    // 21-43 one flow each of template 300 (which has a variable-length IfName).
    assert!(
        infos[..18]
            .iter()
            .all(|i| i.templates > 0 && i.records == 0)
    );
    assert_eq!(infos[18].templates, 1);
    assert_eq!(infos[19].other_records, 1);
    assert!(infos[20..].iter().all(|i| i.records == 1));
    assert_eq!(infos.iter().map(|i| i.no_template).sum::<usize>(), 0);
    assert_eq!(records.len(), 23);
    // tshark, frame 21: ::1 port 36435 -> ::1 port 53000, TCP, InputInt 5, no OutputInt,
    // 4608 octets, 64 packets; the 23 flows total 120000 octets and 1472 packets.
    let r = records[0];
    assert_eq!(r.src, Some("::1".parse().unwrap()));
    assert!(r.is_ipv6());
    assert_eq!((r.src_port, r.dst_port, r.protocol), (36435, 53000, 6));
    assert_eq!((r.if_in, r.if_out), (Some(5), None));
    assert_eq!((r.bytes, r.packets), (4608, 64));
    assert_eq!(records.iter().map(|r| r.bytes).sum::<u64>(), 120_000);
    assert_eq!(records.iter().map(|r| r.packets).sum::<u64>(), 1472);
    // Frame 42 is the largest: 9024 octets, 39387 -> 53000.
    let top = records.iter().max_by_key(|r| r.bytes).unwrap();
    assert_eq!((top.bytes, top.src_port), (9024, 39387));
}

#[test]
fn data_before_its_template_is_counted_not_read() {
    let bytes = fixture("nf9.pcap");
    let (link, frames) = frames(&bytes);
    let d = decode(link, frames[3]);
    let mut cache = TemplateCache::default();
    let mut out = Vec::new();
    let info = decode_datagram(d.l4_payload, d.src, &mut cache, &mut out).unwrap();
    assert_eq!((info.records, info.no_template), (0, 1));
    // The same template from another exporter does not apply.
    let t = decode(link, frames[0]);
    decode_datagram(
        t.l4_payload,
        "192.0.2.1".parse().unwrap(),
        &mut cache,
        &mut out,
    )
    .unwrap();
    let info = decode_datagram(d.l4_payload, d.src, &mut cache, &mut out).unwrap();
    assert_eq!(info.no_template, 1);
}

#[test]
fn every_truncation_of_the_fixtures_is_an_error_or_fewer_records() {
    for name in ["nf9.pcap", "ipfix.pcap"] {
        let bytes = fixture(name);
        let (link, frames) = frames(&bytes);
        let mut cache = TemplateCache::default();
        for f in frames {
            let d = decode(link, f);
            let p = d.l4_payload;
            let mut full = Vec::new();
            let _ = decode_datagram(p, d.src, &mut cache, &mut full);
            for n in 0..p.len() {
                let mut out = Vec::new();
                if let Ok(info) = decode_datagram(&p[..n], d.src, &mut cache, &mut out) {
                    assert!(info.records <= full.len());
                }
            }
        }
    }
}
