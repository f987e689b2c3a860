//! The same packets in other containers (pcapng, gzip, other link types) summarize the same,
//! BPF filters select what tcpdump selects, and window mode reports the newest periods.

mod common;
use common::*;

#[test]
fn pcapng_and_gzip_match_the_oracle() {
    if !require("editcap") || !require("gzip") || !require("tshark") {
        return;
    }
    let dir = temp_dir("formats");
    for name in [
        "dns_udp_tcp_random.pcap",
        "dns_ipv6_tcp.pcap",
        "ipfix.pcap",
        "nf9.pcap",
    ] {
        let src = fixture(name);
        let ng = dir.join(format!("{name}ng"));
        sh(&format!(
            "editcap -F pcapng {} {}",
            src.display(),
            ng.display()
        ));
        let gz = dir.join(format!("{name}.gz"));
        sh(&format!("gzip -c {} > {}", src.display(), gz.display()));
        let ng_gz = dir.join(format!("{name}ng.gz"));
        sh(&format!("gzip -c {} > {}", ng.display(), ng_gz.display()));
        let spec = "192.168.0.0/16,::/1";
        let expected = oracle(&src, Some(spec));
        for f in [&ng, &gz, &ng_gz] {
            let ours = summarize_json(f, &["-H", spec]);
            assert_matches_oracle(&f.display().to_string(), &ours, &expected);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bpf_selects_what_tcpdump_selects() {
    if !require("tcpdump") || !require("tshark") {
        return;
    }
    let dir = temp_dir("bpf");
    let src = fixture("dns_udp_tcp_random.pcap");
    for (i, expr) in [
        "udp",
        "tcp[tcpflags] & tcp-syn != 0",
        "greater 100",
        "not port 53",
    ]
    .iter()
    .enumerate()
    {
        let filtered = dir.join(format!("f{i}.pcap"));
        sh(&format!(
            "tcpdump -r {} -w {} '{expr}' 2>/dev/null",
            src.display(),
            filtered.display()
        ));
        let expected = oracle(&filtered, Some("192.168.0.0/24"));
        let ours = summarize_json(&src, &["-H", "192.168.0.0/24", "-b", expr]);
        assert_matches_oracle(&format!("bpf {expr}"), &ours, &expected);
        let rejected = ours["capture"]["bpf_rejected"].as_u64().unwrap();
        assert_eq!(
            rejected,
            16147 - expected["total"].as_u64().unwrap(),
            "bpf {expr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn window_mode_reports_the_newest_periods() {
    if !require("tshark") {
        return;
    }
    let dir = temp_dir("window");
    for (name, periods) in [
        ("ecs.pcap", 5u64),
        ("dns_udp_mixed_rcode.pcap", 1),
        ("dns_udp_tcp_random.pcap", 2),
    ] {
        let src = fixture(name);
        let out = run(
            "pktvisord",
            &[
                "--periods",
                &periods.to_string(),
                "-H",
                "0.0.0.0/1,::/1",
                src.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours = &doc[format!("{periods}m")];
        // The window covers the aligned minute of the last packet and the periods-1 before it.
        let full = oracle(&src, None);
        let last_sec = full["last_ts_ns"].as_u64().unwrap() / 1_000_000_000;
        let window_start = last_sec - last_sec % 60 - (periods - 1) * 60;
        let subset = dir.join(name);
        sh(&format!(
            "tshark -r {} -Y 'frame.time_epoch >= {window_start}' -w {} -F pcap",
            src.display(),
            subset.display()
        ));
        let expected = oracle(&subset, Some("0.0.0.0/1,::/1"));
        assert_matches_oracle(&format!("{name} --periods {periods}"), ours, &expected);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn deep_sampling_keeps_counters_exact() {
    let src = fixture("dns_udp_tcp_random.pcap");
    let ours = summarize_json(&src, &["-H", "192.168.0.0/24", "--max-deep-sample", "25"]);
    let p = &ours["packets"];
    assert_eq!(p["total"], 16147);
    assert_eq!(p["tcp"], 13176);
    assert_eq!(p["deep_samples"], 16147 / 4);
    // Top lists see only the sampled quarter.
    assert_eq!(p["top_ipv4"][0]["estimate"], 16147 / 4);
}

#[test]
fn no_dns_gives_the_same_net_summary_without_the_dns_object() {
    let src = fixture("dns_udp_tcp_random.pcap");
    let both = summarize_json(&src, &["-H", "192.168.0.0/24"]);
    let net_only = summarize_json(&src, &["-H", "192.168.0.0/24", "--no-dns"]);
    assert!(both["dns"].is_object());
    assert!(net_only.get("dns").is_none());
    assert_eq!(net_only["packets"]["total"], both["packets"]["total"]);
    assert_eq!(net_only["packets"]["top_ipv4"], both["packets"]["top_ipv4"]);
    assert_eq!(net_only["packets"]["protocol"], both["packets"]["protocol"]);
}
