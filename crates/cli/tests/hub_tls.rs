//! The hub over TLS (`--tls-cert/--tls-key`), with a certificate signed by a self-signed CA,
//! both made here by the `openssl` command-line tool: agents push over https (`--hub https://... --hub-ca F`) and
//! readers read over https, and every answer equals a plain-HTTP hub's given the same pushes;
//! a client that does not trust the certificate fails with a clear error; a certificate or key
//! that cannot be read stops the hub at start with one line and exit status 2.

mod certs;
mod common;
mod hub_support;
use certs::certificates;
use common::*;
use hub_support::*;
use pv_hub::client::http::{HttpError, HubUrl, get};
use serde_json::Value;
use std::path::Path;

fn push(url: &str, agent: &str, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--hub", url, "--agent-id", agent];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    run("pktvisord", &args)
}

fn json(answer: pv_hub::client::http::Answer) -> (u16, Value) {
    (
        answer.status,
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
    )
}

#[test]
fn a_hub_over_tls_answers_as_over_plain_http() {
    if !require("openssl") {
        return;
    }
    let dir = temp_dir("hub-tls");
    let (ca, cert, key) = certificates(&dir);
    let (ca_s, cert_s, key_s) = (
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );

    // Unreadable certificate or key: one line, exit status 2.
    let missing = dir.join("missing.pem");
    for args in [
        ["--tls-cert", missing.to_str().unwrap(), "--tls-key", key_s],
        ["--tls-cert", cert_s, "--tls-key", missing.to_str().unwrap()],
        // A certificate where the key should be: no private key in it.
        ["--tls-cert", cert_s, "--tls-key", cert_s],
    ] {
        let mut all = vec![
            "hub",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "sqlite::memory:",
        ];
        all.extend_from_slice(&args);
        let out = run("pktvisor", &all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(args[1]) || err.contains(args[3]), "{err}");
    }

    let plain_dir = dir.join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let plain = Hub::start(&plain_dir, 0, &[]);
    let tls = Hub::start(&dir, 0, &["--tls-cert", cert_s, "--tls-key", key_s]);
    let https = format!("https://127.0.0.1:{}", tls.port);

    let files = [
        fixture("dns_ipv6_udp.pcap"),
        fixture("dns_ipv4_udp.pcap"),
        fixture("dns_ipv4_tcp.pcap"),
    ];
    // Not trusting the hub's certificate: the push fails at once, saying why.
    let refused = push(&https, "a0", &files[0], &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(err.contains("TLS") && err.contains("--hub-ca"), "{err}");

    for (i, f) in files.iter().enumerate() {
        let agent = format!("a{i}");
        let out = push(&https, &agent, f, &["--hub-ca", ca_s]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = push(&plain.url(), &agent, f, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let reader: HubUrl = https
        .parse::<HubUrl>()
        .unwrap()
        .trusting(Some(&ca))
        .unwrap();
    for path in [
        "/api/v1/metrics/window/2",
        "/api/v1/metrics/bucket/0",
        "/api/v1/agents/a1/metrics/bucket/0",
        "/api/v1/policies/default/metrics/window/2",
        "/api/v1/metrics/history",
    ] {
        let (status, over_tls) = json(get(&reader, path, None).unwrap());
        assert_eq!(status, 200, "{path}: {over_tls}");
        assert_eq!(over_tls, plain.get(path, None).1, "{path}");
    }
    let (_, agents) = json(get(&reader, "/api/v1/agents", None).unwrap());
    assert_eq!(agents["agents"].as_array().unwrap().len(), 3);
    // A reader trusting only the system's roots refuses the self-signed certificate.
    let system: HubUrl = https.parse::<HubUrl>().unwrap().trusting(None).unwrap();
    let refused = get(&system, "/api/v1/agents", None);
    assert!(matches!(refused, Err(HttpError::Tls { .. })), "{refused:?}");
    // Plain HTTP to the TLS port is no answer.
    assert_ne!(
        std::panic::catch_unwind(|| http_get(tls.port, "/api/v1/agents", None).0).ok(),
        Some(200)
    );
    // Three handshakes failed: the untrusting agent's, the untrusting reader's, the plain
    // request's (each counted when the hub's handshake task sees it, just after the client).
    let failures = || {
        let text = get(&reader, "/metrics", None).unwrap().body;
        String::from_utf8(text)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("pktvisor_hub_tls_handshake_failures_total "))
            .map(|v| v.parse::<u64>().unwrap())
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while failures() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(failures(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}
