//! pktvisor 4's pktvisord options and `visor.config` keys, with the semantics of pktvisor's
//! `cmd/pktvisord/main.cpp` (`fill_cmd_options`: a command-line option wins over the file's
//! key; `daemonize`: a new session, standard descriptors on /dev/null; `--syslog`: ident
//! pktvisord, LOG_PID, LOG_DAEMON). The live parts run in a network namespace the test makes
//! (root; under CI=true they must run).

mod certs;
mod common;
mod lab;
use common::*;
use lab::LabNet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn pktvisord(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pktvisord"))
        .args(args)
        .output()
        .expect("run pktvisord")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A policy file whose tap reads `capture` (file mode) with `config` as its `visor.config`.
fn policy_file(dir: &Path, config: &str, capture: &Path) -> std::path::PathBuf {
    let path = dir.join("policy.yaml");
    let text = format!(
        "version: \"1.0\"\nvisor:\n  config:\n{config}  taps:\n    t:\n      input_type: pcap\n      config:\n        pcap_file: {}\n  policies:\n    p:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      handlers:\n        modules:\n          n: {{type: net}}\n",
        capture.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn module_list_names_what_a_policy_may_use() {
    let out = pktvisord(&["--module-list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.lines().any(|l| l == "input: pcap"), "{text}");
    let dir = temp_dir("modlist");
    // Every handler listed loads in a policy; one that is not listed is refused with
    // pktvisor's message (HandlerManager / Policies.cpp).
    for line in text.lines().filter_map(|l| l.strip_prefix("handler: ")) {
        let kind = line.split(' ').next().unwrap();
        let file = dir.join(format!("{kind}.yaml"));
        std::fs::write(
            &file,
            format!(
                "version: \"1.0\"\nvisor:\n  taps:\n    t:\n      input_type: pcap\n      config:\n        pcap_file: {}\n  policies:\n    p:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      handlers:\n        modules:\n          m: {{type: {kind}}}\n",
                fixture("dns_ipv4_udp.pcap").display()
            ),
        )
        .unwrap();
        let out = pktvisord(&["--config", file.to_str().unwrap()]);
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn visor_config_errors_name_the_file_key_and_line() {
    let dir = temp_dir("vcfg");
    let capture = fixture("dns_ipv4_udp.pcap");
    let file = policy_file(&dir, "    verbose: 3\n", &capture);
    let out = pktvisord(&["--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "{}: line 4: visor.config key 'verbose' must be true or false",
            file.display()
        )),
        "{}",
        stderr(&out)
    );
    let file = policy_file(&dir, "    port: http\n", &capture);
    let out = pktvisord(&["--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("visor.config: invalid value 'http' for '-p <PORT>'"),
        "{}",
        stderr(&out)
    );
    // The command line's own value makes the file's bad one irrelevant, as in pktvisor.
    let out = pktvisord(&["--config", file.to_str().unwrap(), "-p", "10999"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = policy_file(&dir, "    no_track: true\n    colour: blue\n", &capture);
    let out = pktvisord(&["--config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "warning: {}: line 5: visor.config key 'colour' is not a pktvisord option (ignored)",
            file.display()
        )),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refused_combinations_say_why() {
    let capture = fixture("dns_ipv4_udp.pcap");
    let c = capture.to_str().unwrap();
    let out = pktvisord(&["--tls", "--tls-cert", "c.pem", c]);
    // pktvisor's message (main.cpp) when a file is missing; a file that is there but unusable
    // is named with the reason.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("you must specify --tls-key and --tls-cert to use --tls"),
        "{}",
        stderr(&out)
    );
    let out = pktvisord(&["-d", c]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("-d runs a live agent"),
        "{}",
        stderr(&out)
    );
    let out = pktvisord(&["--otel", c]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--otel"), "{}", stderr(&out));
    // Accepted as pktvisor 4 accepts them: the summary is the same as without.
    let plain = pktvisord(&[c]);
    let compat = pktvisord(&["--prometheus", "--no-track", "--geo-cache-size", "0", c]);
    assert!(compat.status.success(), "{}", stderr(&compat));
    assert_eq!(plain.stdout, compat.stdout);
}

/// The daemon: the parent says the PID and exits 0; the child is a session leader with stdin
/// and stdout on /dev/null, its log in --log-file, and serves the API until SIGTERM.
#[test]
fn daemon_detaches_and_logs_to_its_file() {
    if !lab::ready("the daemon test", &["ip", "curl"]) {
        return;
    }
    let mut lab = lab::Lab::new(
        "dmn",
        LabNet {
            mtu: 1500,
            addresses: false,
        },
    );
    let port = (21_000 + std::process::id() % 20_000) as u16;
    let log = lab.dir.join("pktvisord.log");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.b, env!("CARGO_BIN_EXE_pktvisord")])
        .args(["-d", "-v", "--log-file", log.to_str().unwrap()])
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--workers",
            "1",
            "vb",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let pid: u32 = stderr(&out)
        .trim()
        .strip_prefix("pktvisord: daemonized to PID ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no PID in {:?}", stderr(&out)));
    let guard = KillOnDrop(pid);
    lab.wait_for_api(None, port);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    // proc(5): after the name come state, ppid, pgrp, session.
    assert_eq!(
        fields[3],
        pid.to_string(),
        "the daemon leads its own session"
    );
    for fd in [0, 1] {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
    }
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/2")).unwrap(),
        log,
        "stderr is the log file"
    );
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::mem::forget(guard);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("capturing on vb (1 workers)"), "{text}");
    assert!(text.contains("settings: 5 periods of 60 s"), "{text}");
    assert!(text.contains("GET /api/v1/metrics/app 200"), "{text}");
}

/// Kills a daemon the test started if the test fails before it stops it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

/// `visor.config` keys in effect on a live agent, the command line winning over them.
#[test]
fn visor_config_keys_run_the_live_agent() {
    if !lab::ready("the visor.config test", &["ip", "curl"]) {
        return;
    }
    let mut lab = lab::Lab::new(
        "vcl",
        LabNet {
            mtu: 1500,
            addresses: false,
        },
    );
    let port = (21_500 + std::process::id() % 20_000) as u16;
    let log = lab.dir.join("agent.log");
    let file = lab.dir.join("config.yaml");
    std::fs::write(
        &file,
        format!(
            "version: \"1.0\"\nvisor:\n  config:\n    host: 127.0.0.1\n    port: {port}\n    admin_api: true\n    verbose: true\n    log_file: {}\n  taps:\n    t:\n      input_type: pcap\n      config:\n        iface: vb\n  policies:\n    p:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      handlers:\n        modules:\n          n: {{type: net}}\n",
            log.display()
        ),
    )
    .unwrap();
    let b = lab.b.clone();
    let pid = lab.spawn(
        &b,
        &[
            env!("CARGO_BIN_EXE_pktvisord"),
            "--config",
            file.to_str().unwrap(),
        ],
        None,
    );
    lab.wait_for_api(Some(pid), port);
    // admin_api: true: the write paths exist (pktvisor registers them only then).
    let body = "version: \"1.0\"\nvisor:\n  policies:\n    added:\n      kind: collection\n      input: {tap: t, input_type: pcap}\n      handlers:\n        modules:\n          n: {type: net}\n";
    let (code, answer) = lab.http(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", body)),
    );
    assert_eq!(code, 201, "{answer}");
    let (_, text) = lab.stop(pid, "TERM");
    assert!(text.is_empty(), "the log went to the file: {text}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("POST /api/v1/policies 201"), "{logged}");
    // The command line wins: -p elsewhere, and the admin API stays on (flags are ORed).
    let other = port + 1;
    let pid = lab.spawn(
        &b,
        &[
            env!("CARGO_BIN_EXE_pktvisord"),
            "--config",
            file.to_str().unwrap(),
            "-p",
            &other.to_string(),
        ],
        None,
    );
    lab.wait_for_api(Some(pid), other);
    assert_eq!(lab.http(port, "GET", "/api/v1/metrics/app", None).0, 0);
    lab.stop(pid, "TERM");
}

/// `--syslog`: lines reach the system log socket as syslog(3) writes them (RFC 3164: `<PRI>`
/// with facility daemon, `pktvisord[PID]:`). The test runs the agent in a mount namespace
/// whose /dev/log is the test's own socket.
#[test]
fn syslog_gets_the_log_lines() {
    if !lab::ready("the syslog test", &["unshare"]) {
        return;
    }
    let dir = temp_dir("syslog");
    let socket_path = dir.join("log");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let missing = dir.join("missing.pcap");
    let script = format!(
        "mount -t tmpfs none /dev && ln -s {} /dev/log && exec {} --syslog {}",
        socket_path.display(),
        env!("CARGO_BIN_EXE_pktvisord"),
        missing.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).is_empty(),
        "the log went to syslog: {}",
        stderr(&out)
    );
    let mut buf = vec![0u8; 4096];
    let n = socket.recv(&mut buf).expect("a syslog datagram");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // LOG_DAEMON (3 << 3) | LOG_ERR (3) = 27.
    assert!(line.starts_with("<27>"), "{line}");
    assert!(line.contains("pktvisord["), "{line}");
    assert!(line.contains("no such capture file"), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--tls`: the API over HTTPS with a certificate the openssl tool made; curl (its own TLS
/// stack) reads the same answers as over plain HTTP when it trusts the CA and refuses
/// otherwise; a handshake that fails is counted.
#[test]
fn tls_serves_the_api_over_https() {
    if !lab::ready("the agent TLS test", &["ip", "curl", "openssl"]) {
        return;
    }
    let mut lab = lab::Lab::new(
        "tls",
        LabNet {
            mtu: 1500,
            addresses: false,
        },
    );
    let (ca, cert, key) = certs::certificates(&lab.dir);
    let port = (22_500 + std::process::id() % 20_000) as u16;
    let port_s = port.to_string();
    let b = lab.b.clone();
    let args = [
        env!("CARGO_BIN_EXE_pktvisord"),
        "--tls",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "-l",
        "127.0.0.1",
        "-p",
        &port_s,
        "--workers",
        "1",
        "vb",
    ];
    let pid = lab.spawn(&b, &args, None);
    let curl = |extra: &[&str], path: &str| {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &b,
                "curl",
                "-s",
                "-m",
                "5",
                "-w",
                "\n%{http_code}",
            ])
            .args(extra)
            .arg(format!("https://127.0.0.1:{port}{path}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (
            code.trim().parse::<u16>().unwrap_or(0),
            body.to_string(),
            out.status.code(),
        )
    };
    let trusted = ["--cacert", ca.to_str().unwrap()];
    let deadline = Instant::now() + Duration::from_secs(10);
    while curl(&trusted, "/api/v1/metrics/app").0 != 200 {
        assert!(lab.alive(pid), "pktvisord ended: {}", lab.log(pid));
        assert!(Instant::now() < deadline, "no HTTPS API");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body, _) = curl(&trusted, "/api/v1/metrics/bucket/0");
    assert_eq!(code, 200, "{body}");
    let bucket: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(bucket["1m"]["packets"].is_object(), "{body}");
    // Plain HTTP on the same port is not served; an untrusting client refuses the certificate
    // (curl's exit 60: peer certificate cannot be authenticated).
    assert_ne!(lab.http(port, "GET", "/api/v1/metrics/app", None).0, 200);
    let (_, _, exit) = curl(&[], "/api/v1/metrics/app");
    assert_eq!(exit, Some(60));
    let (_, app, _) = curl(&trusted, "/api/v1/metrics/app");
    let app: serde_json::Value = serde_json::from_str(&app).unwrap();
    assert!(
        app["http"]["tls_handshake_failures"].as_u64() >= Some(2),
        "the plain request and the refused handshake: {app}"
    );
    let (_, log) = lab.stop(pid, "TERM");
    assert!(
        log.contains(&format!("API on https://127.0.0.1:{port}")),
        "{log}"
    );
    // Files that cannot make a server: one line, exit 2.
    let out = pktvisord(&[
        "--tls",
        "--tls-cert",
        key.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "vb",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("pktvisord: error: --tls: "),
        "{}",
        stderr(&out)
    );
}
