//! The flow handler over pktvisor's nf9.pcap (testdata/fixtures/), its datagrams decoded by
//! pv_wire: totals and top lists checked against tshark's cflow dissector
//! (`tshark -r nf9.pcap -T fields -e cflow.srcaddr -e cflow.octets -e cflow.packets`: 24
//! records from 192.168.100.1, 142139882 octets and 183920 packets, all in on ifIndex 800 and
//! out on 763, the largest 20.0.0.248 with 6066232 octets and 7858 packets), and against the
//! values pktvisor's own test asserts for the same file (src/handlers/flow/test_flows.cpp,
//! "Parse netflow stream").

use pv_handlers::flow::{FlowConfig, FlowHandler};
use pv_handlers::json::RenderMode;
use pv_handlers::module::Render;
use pv_handlers::{FlowEvent, WindowSpec, Windowed};
use pv_wire::flow_export::{FlowRecord, TemplateCache, decode_datagram};
use pv_wire::{LinkType, decode};
use serde_json::Value;

fn fixture_frames(name: &str) -> (LinkType, Vec<(u64, Vec<u8>)>) {
    let path = format!(
        "{}/../../testdata/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let b = std::fs::read(path).unwrap();
    let link = LinkType::from_linktype(u32::from_le_bytes(b[20..24].try_into().unwrap())).unwrap();
    let (mut at, mut out) = (24, Vec::new());
    while at + 16 <= b.len() {
        let sec = u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
        let len = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((sec * 1_000_000_000, b[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    (link, out)
}

fn run(name: &str, config: FlowConfig) -> Value {
    let (link, frames) = fixture_frames(name);
    let mut h = FlowHandler::new(config.clone(), WindowSpec::WHOLE_STREAM);
    let mut cache = TemplateCache::default();
    let mut records: Vec<FlowRecord> = Vec::new();
    for (ts_ns, f) in &frames {
        let d = decode(link, f);
        records.clear();
        let info = decode_datagram(d.l4_payload, d.src, &mut cache, &mut records).unwrap();
        h.process(&FlowEvent {
            ts_ns: *ts_ns,
            device: info.agent.unwrap_or(d.src),
            records: &records,
            deep: true,
        });
    }
    let b = h.window().buckets().next().unwrap();
    config.to_json(Some(&b.data), RenderMode::PLAIN)
}

#[test]
fn nf9_totals_and_tops_match_tshark() {
    let mut cfg = FlowConfig::default();
    cfg.groups.top_tos = true;
    cfg.groups.conversations = true;
    cfg.groups.top_interfaces = true;
    let j = run("nf9.pcap", cfg);
    let dev = &j["devices"]["192.168.100.1"];
    assert_eq!(dev["records_flows"], 24);
    assert_eq!(dev["records_filtered"], 0);
    let i800 = &dev["interfaces"]["800"];
    assert_eq!(i800["in_bytes"], 142_139_882u64);
    assert_eq!(i800["in_packets"], 183_920);
    assert_eq!(i800["in_ipv4_bytes"], 142_139_882u64);
    assert_eq!(
        i800["in_other_l4_packets"], 183_920,
        "protocol 253 is neither TCP nor UDP"
    );
    assert_eq!(i800["cardinality"]["src_ips_in"], 24);
    assert_eq!(i800["cardinality"]["dst_ips_out"], 24);
    assert_eq!(i800["cardinality"]["src_ports_in"], 0);
    assert_eq!(i800["top_in_src_ips_bytes"][0]["name"], "20.0.0.248");
    assert_eq!(i800["top_in_src_ips_bytes"][0]["estimate"], 6_066_232);
    assert_eq!(i800["top_in_src_ips_packets"][0]["estimate"], 7858);
    assert_eq!(i800["top_in_dscp_bytes"][0]["name"], "CS0");
    assert_eq!(i800["top_in_dscp_bytes"][0]["estimate"], 142_139_882u64);
    assert_eq!(i800["top_in_ecn_packets"][0]["name"], "Not-ECT");
    assert_eq!(i800["top_in_ecn_packets"][0]["estimate"], 183_920);
    // Ports are 0: no conversations (pktvisor counts one only with both ports).
    assert_eq!(i800["top_conversations_bytes"], serde_json::json!([]));
    let i763 = &dev["interfaces"]["763"];
    assert_eq!(i763["out_bytes"], 142_139_882u64);
    assert!(i763.get("in_bytes").is_some_and(|v| v == 0));
    assert_eq!(dev["top_in_interfaces_bytes"][0]["name"], "800");
    assert_eq!(dev["top_out_interfaces_packets"][0]["name"], "763");
    assert_eq!(dev["top_out_interfaces_packets"][0]["estimate"], 183_920);
    // 192.168.100.10 sent only an options template and its record: no flows.
    assert!(j["devices"].get("192.168.100.10").is_none());
}

#[test]
fn ipfix_ipv6_records_match_tshark() {
    let mut cfg = FlowConfig::default();
    cfg.groups.conversations = true;
    let j = run("ipfix.pcap", cfg);
    let dev = &j["devices"]["192.168.100.2"];
    assert_eq!(dev["records_flows"], 23);
    // tshark -d udp.port==2059,cflow: every flow has InputInt 5 and no OutputInt, 120000
    // octets and 1472 packets in all, source ports 16 distinct, destination ports 9.
    let i5 = &dev["interfaces"]["5"];
    assert_eq!(i5["in_bytes"], 120_000);
    assert_eq!(i5["in_ipv6_bytes"], 120_000);
    assert_eq!(i5["in_tcp_packets"], 1472);
    assert_eq!(i5["cardinality"]["src_ports_in"], 16);
    assert_eq!(i5["cardinality"]["dst_ports_out"], 9);
    assert_eq!(i5["top_in_src_ips_bytes"][0]["name"], "::1");
    assert_eq!(i5["top_in_src_ips_bytes"][0]["estimate"], 120_000);
    // pktvisor writes every direction's counters of an interface, zeros included.
    assert_eq!(i5["out_bytes"], 0);
    assert_eq!(dev["interfaces"].as_object().unwrap().len(), 1);
}

#[test]
fn filters_count_what_they_drop() {
    let mut cfg = FlowConfig::default();
    cfg.filter.only_ips = Some(pv_handlers::HostSpec::parse("20.0.0.248/32").unwrap());
    let j = run("nf9.pcap", cfg);
    let dev = &j["devices"]["192.168.100.1"];
    assert_eq!(dev["records_flows"], 1);
    assert_eq!(dev["records_filtered"], 23);
    assert_eq!(dev["interfaces"]["800"]["in_bytes"], 6_066_232);
}

#[test]
fn bucket_travels_and_merges_exactly() {
    use pv_sketch::Bucket;
    use pv_sketch::codec::{Decode, Encode, Reader};
    let (link, frames) = fixture_frames("nf9.pcap");
    let cfg = FlowConfig::default();
    let mut h = FlowHandler::new(cfg.clone(), WindowSpec::WHOLE_STREAM);
    let mut cache = TemplateCache::default();
    let mut records = Vec::new();
    for (ts_ns, f) in &frames {
        let d = decode(link, f);
        records.clear();
        decode_datagram(d.l4_payload, d.src, &mut cache, &mut records).unwrap();
        h.process(&FlowEvent {
            ts_ns: *ts_ns,
            device: d.src,
            records: &records,
            deep: true,
        });
    }
    let b = h.window().buckets().next().unwrap().data.clone();
    let mut bytes = Vec::new();
    b.encode(&mut bytes);
    let back = pv_handlers::flow::FlowBucket::decode(&mut Reader::new(&bytes)).unwrap();
    assert_eq!(
        cfg.to_json(Some(&back), RenderMode::PLAIN),
        cfg.to_json(Some(&b), RenderMode::PLAIN)
    );
    // Two copies merged: every count doubles.
    let mut twice = back.clone();
    twice.merge_from(&back);
    let j = cfg.to_json(Some(&twice), RenderMode::PLAIN);
    let i800 = &j["devices"]["192.168.100.1"]["interfaces"]["800"];
    assert_eq!(i800["in_bytes"], 2 * 142_139_882u64);
    assert_eq!(i800["cardinality"]["src_ips_in"], 24);
    // Truncated forms are errors, not panics.
    for n in 0..bytes.len() {
        assert!(pv_handlers::flow::FlowBucket::decode(&mut Reader::new(&bytes[..n])).is_err());
    }
}
