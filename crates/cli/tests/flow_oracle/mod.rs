//! The flow tests' oracle side: flow records as tshark's cflow dissector reads them, and the
//! comparison of our `flow` object with them (shared by flow_tshark.rs and flow_live.rs).

#![allow(dead_code)] // each test binary uses its own part

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One flow record as tshark dissects it.
#[derive(Clone, Debug, Default)]
pub struct Rec {
    pub exporter: String,
    pub src: String,
    pub dst: String,
    pub bytes: u64,
    pub packets: u64,
    pub if_in: Option<String>,
    pub if_out: Option<String>,
    pub src_port: u64,
    pub dst_port: u64,
    /// IP protocol (0 when the oracle did not read it).
    pub protocol: u64,
}

/// Compares our `flow` object with what tshark's records say.
pub fn assert_agrees(label: &str, ours: &Value, recs: &[Rec]) {
    assert!(!recs.is_empty(), "{label}: tshark found no flow records");
    let devices: BTreeSet<&str> = recs.iter().map(|r| r.exporter.as_str()).collect();
    assert_eq!(
        ours["devices"].as_object().unwrap().len(),
        devices.len(),
        "{label}: devices"
    );
    for dev in devices {
        let mine: Vec<&Rec> = recs.iter().filter(|r| r.exporter == dev).collect();
        let d = &ours["devices"][dev];
        assert_eq!(
            d["records_flows"],
            mine.len(),
            "{label} {dev}: records_flows"
        );
        let mut ifs: BTreeMap<&str, Vec<(&Rec, bool)>> = BTreeMap::new();
        for r in &mine {
            if let Some(i) = &r.if_in {
                ifs.entry(i).or_default().push((r, true));
            }
            if let Some(i) = &r.if_out {
                ifs.entry(i).or_default().push((r, false));
            }
        }
        assert_eq!(
            d["interfaces"].as_object().unwrap().len(),
            ifs.len(),
            "{label} {dev}: interfaces"
        );
        for (index, rs) in ifs {
            let i = &d["interfaces"][index];
            let at = format!("{label} {dev} interface {index}");
            for (dir, inbound) in [("in", true), ("out", false)] {
                let sel = || {
                    rs.iter()
                        .filter(move |(_, d)| *d == inbound)
                        .map(|(r, _)| r)
                };
                assert_eq!(
                    i[format!("{dir}_bytes")],
                    sel().map(|r| r.bytes).sum::<u64>(),
                    "{at}: {dir}_bytes"
                );
                assert_eq!(
                    i[format!("{dir}_packets")],
                    sel().map(|r| r.packets).sum::<u64>(),
                    "{at}: {dir}_packets"
                );
                // The top source address by bytes (ties broken by name; the fixtures have none
                // at the top).
                let mut by_src: BTreeMap<&str, u64> = BTreeMap::new();
                for r in sel() {
                    *by_src.entry(&r.src).or_default() += r.bytes;
                }
                let top = by_src.iter().max_by_key(|(_, b)| **b);
                let ours_top = &i[format!("top_{dir}_src_ips_bytes")][0];
                match top {
                    Some((ip, b)) => {
                        assert_eq!(ours_top["name"], *ip, "{at}: top {dir} source");
                        assert_eq!(ours_top["estimate"], *b, "{at}: top {dir} source bytes");
                    }
                    None => assert!(ours_top.is_null(), "{at}: no {dir} records"),
                }
            }
            let distinct = |f: &dyn Fn(&Rec) -> Option<String>| {
                rs.iter()
                    .filter_map(|(r, _)| f(r))
                    .collect::<BTreeSet<_>>()
                    .len()
            };
            let card = &i["cardinality"];
            assert_eq!(
                card["src_ips_in"],
                distinct(&|r| Some(r.src.clone())),
                "{at}: src ips"
            );
            assert_eq!(
                card["dst_ips_out"],
                distinct(&|r| Some(r.dst.clone())),
                "{at}: dst ips"
            );
            let port = |p: u64| (p > 0).then(|| p.to_string());
            assert_eq!(
                card["src_ports_in"],
                distinct(&|r| port(r.src_port)),
                "{at}: src ports"
            );
            assert_eq!(
                card["dst_ports_out"],
                distinct(&|r| port(r.dst_port)),
                "{at}: dst ports"
            );
        }
    }
}

/// tshark's records from its JSON tree (`-T json`): every object holding `cflow.octets`
/// (NetFlow v5's `pdu N/M`, v9/IPFIX's `Flow N` inside a data set). Unlike `-T fields`, this
/// keeps each record's fields together when one datagram carries records of several templates
/// (softflowd's ICMP records have no ports, its UDP ones do). Options data has no octets.
pub fn tshark_json_records(file: &Path, options: &[&str]) -> Vec<Rec> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(options)
        .args(["-T", "json", "--no-duplicate-keys", "-Y", "cflow"])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut recs = Vec::new();
    for f in &frames {
        let layers = &f["_source"]["layers"];
        let exporter = text(&layers["ip"]["ip.src"]).expect("ip.src");
        collect(&layers["cflow"], &exporter, &mut recs);
    }
    recs
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn collect(v: &Value, exporter: &str, out: &mut Vec<Rec>) {
    let Some(obj) = v.as_object() else { return };
    if obj.contains_key("cflow.octets") {
        let n = |k: &str| v[k].as_str().map_or(0, |t| t.parse::<u64>().unwrap());
        out.push(Rec {
            exporter: exporter.to_string(),
            src: text(&v["cflow.srcaddr"])
                .or_else(|| text(&v["cflow.srcaddrv6"]))
                .unwrap(),
            dst: text(&v["cflow.dstaddr"])
                .or_else(|| text(&v["cflow.dstaddrv6"]))
                .unwrap(),
            bytes: n("cflow.octets"),
            packets: n("cflow.packets"),
            if_in: text(&v["cflow.inputint"]),
            if_out: text(&v["cflow.outputint"]),
            src_port: n("cflow.srcport"),
            dst_port: n("cflow.dstport"),
            protocol: n("cflow.protocol"),
        });
        return;
    }
    for child in obj.values() {
        collect(child, exporter, out);
    }
}

/// tshark's sFlow v5 flow samples (`-T json`), one record each as pktvisor counts them with
/// `sample_rate_scaling`: packets the sampling rate, bytes the rate times the sampled frame's
/// length; addresses, protocol and ports from tshark's dissection of the sampled header; the
/// device is the agent address; interfaces as tshark shows their values.
pub fn tshark_sflow_records(file: &Path, options: &[&str]) -> Vec<Rec> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(options)
        .args(["-T", "json", "--no-duplicate-keys", "-Y", "sflow"])
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let n = |v: &Value| v.as_str().map_or(0, |t| t.parse::<u64>().unwrap());
    let mut recs = Vec::new();
    for f in &frames {
        let sflow = &f["_source"]["layers"]["sflow"];
        let agent = text(&sflow["sflow_245.agent"]).expect("sflow agent");
        for (key, s) in sflow.as_object().into_iter().flatten() {
            if !key.starts_with("Flow sample") {
                continue;
            }
            let raw = &s["Raw packet header"];
            let tree = &raw["sflow_245.header_tree"];
            let rate = n(&s["sflow.flow_sample.sampling_rate"]);
            let l4 = if tree.get("udp").is_some() {
                &tree["udp"]
            } else {
                &tree["tcp"]
            };
            let port = |k: &str| n(&l4[format!("udp.{k}")]) + n(&l4[format!("tcp.{k}")]);
            recs.push(Rec {
                exporter: agent.clone(),
                src: text(&tree["ip"]["ip.src"]).expect("a sampled IPv4 header"),
                dst: text(&tree["ip"]["ip.dst"]).expect("a sampled IPv4 header"),
                bytes: rate * n(&raw["sflow_245.header.frame_length"]),
                packets: rate,
                if_in: text(&s["sflow.flow_sample.input_interface"]),
                if_out: text(
                    &s["sflow.flow_sample.output_interface_tree"]
                        ["sflow.flow_sample.output_interface_value"],
                ),
                src_port: port("srcport"),
                dst_port: port("dstport"),
                protocol: n(&tree["ip"]["ip.proto"]),
            });
        }
    }
    recs
}
