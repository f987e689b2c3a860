//! `pktvisor query`'s application fields against tshark on real HTTP and TLS traffic: nginx on
//! loopback (HTTP on one port, HTTPS with a self-signed certificate on another, both on
//! 127.0.0.1 and, when the host has it, ::1), asked by curl with several `Host:` headers, user
//! agents, methods and SNI names, captured by tcpdump on `lo`. Every answer is read by
//! tshark's own dissectors: `http.host`, `http.user_agent`, `http.request.method`,
//! `tls.handshake.extensions_server_name` with its default TCP reassembly.
//!
//! `appproto` follows its own rule, named where tshark's differs: a segment is HTTP or TLS
//! when it starts a message head or a record, where tshark (reassembling) names the segment
//! that completes one. The rule is asserted frame for frame against tshark with reassembly and
//! sequence analysis off (`http.request || http.response`, `tls.record`); the traffic includes
//! a request head split over two segments and responses spanning many, where the two differ
//! in frames but, one start per message, not in HTTP counts. TLS counts are compared with
//! tshark's default too when no record spans segments (nginx writes a record a segment; one
//! spans two when a full receive window cuts a segment short).
//!
//! Needs root (capture); under CI=true it must run. Every process it starts is stopped by its
//! PID; traffic goes to 127.0.0.1 and ::1 only.

mod common;
use common::*;
use serde_json::Value;
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ready() -> bool {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: the HTTP/TLS query test must run"
        );
        eprintln!("SKIP: the HTTP/TLS query test needs root (tcpdump on lo)");
        return false;
    }
    ["nginx", "curl", "openssl", "tcpdump", "tshark"]
        .iter()
        .all(|t| require(t))
}

/// The processes this test started, each stopped by its PID (also when the test fails).
#[derive(Default)]
struct Started(Vec<(&'static str, Child)>);

impl Started {
    /// Starts `program` with its output in `log`.
    fn spawn(&mut self, name: &'static str, cmd: &mut Command, log: &Path) -> u32 {
        let out = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let pid = child.id();
        self.0.push((name, child));
        pid
    }

    fn alive(&mut self, pid: u32) -> bool {
        self.0
            .iter_mut()
            .find(|(_, c)| c.id() == pid)
            .is_some_and(|(_, c)| c.try_wait().unwrap().is_none())
    }

    /// SIGTERM to `pid` (nginx exits at once, tcpdump writes out what it holds), then waits.
    fn stop(&mut self, pid: u32) {
        let at = self.0.iter().position(|(_, c)| c.id() == pid).unwrap();
        let (name, mut child) = self.0.remove(at);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} ({pid}) did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port free on 127.0.0.1 (and on ::1 when `v6`), for nginx to take.
fn free_port(v6: bool) -> u16 {
    for _ in 0..50 {
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        if !v6 || TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).is_ok() {
            return port;
        }
    }
    panic!("no port free on both loopbacks");
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nginx_conf(dir: &Path, http: u16, https: u16, v6: bool) -> String {
    let d = dir.display();
    let listen = |port: u16, ssl: &str| {
        let mut l = format!("listen 127.0.0.1:{port}{ssl};");
        if v6 {
            l += &format!(" listen [::1]:{port}{ssl};");
        }
        l
    };
    // One process in the foreground, so that its PID is all there is to stop; every path in
    // the test's directory.
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ {} root {d}/www; }}\n\
         server {{ {} root {d}/www; ssl_protocols TLSv1.2 TLSv1.3;\n\
         ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem; }}\n}}\n",
        listen(http, ""),
        listen(https, " ssl"),
    )
}

/// curl with `args`, never through a proxy, the body thrown away; the HTTP status it got.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-m", "20", "--noproxy", "*"])
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let code = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && code != "000",
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

/// Everything the test sends. Counts differ per value so that TopN's order is tested too.
fn traffic(http: u16, https: u16, v6: bool) {
    let url = |host: &str, path: &str| format!("http://{host}:{http}{path}");
    let v4 = url("127.0.0.1", "/");
    for _ in 0..3 {
        curl(&["-H", "Host: shop.example", "-A", "agent-a/1.0", &v4]);
    }
    for _ in 0..2 {
        curl(&[
            "-I",
            "-H",
            "Host: api.example:8080",
            "-A",
            "agent-b/2.0",
            &v4,
        ]);
    }
    // A static root refuses POST (405): still a request with its fields.
    curl(&["-d", "k=v", "-H", "Host: forms.example", &v4]);
    // A body of many segments: tshark names its last, this its first.
    curl(&["-A", "agent-a/1.0", &url("127.0.0.1", "/big")]);
    // A head longer than a loopback segment (nginx answers 400): its first segment holds the
    // request line, Host and User-Agent, tshark reads them in the second, reassembled.
    let pad = format!("X-Pad: {}", "x".repeat(70_000));
    curl(&["-A", "padded/1.0", "-H", &pad, &v4]);
    if v6 {
        curl(&["-A", "agent-six/1.0", &url("[::1]", "/")]);
    }
    let tls = |name: &str, addr: &str, extra: &[&str]| {
        let resolve = format!("{name}:{https}:{addr}");
        let mut args = vec!["-k", "--resolve", &resolve];
        args.extend_from_slice(extra);
        let target = format!("https://{name}:{https}/");
        args.push(&target);
        curl(&args);
    };
    for _ in 0..3 {
        tls("sni-a.example", "127.0.0.1", &[]);
    }
    tls(
        "sni-b.example",
        "127.0.0.1",
        &["--tlsv1.2", "--tls-max", "1.2"],
    );
    tls("sni-b.example", "127.0.0.1", &["-I"]);
    if v6 {
        tls("sni-six.example", "[::1]", &[]);
    }
    // No SNI: curl sends none for an address.
    curl(&["-k", &format!("https://127.0.0.1:{https}/big")]);
}

fn prepare(dir: &Path) {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello\n").unwrap();
    std::fs::write(www.join("big"), "0123456789abcdef\n".repeat(20_000)).unwrap();
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Captures `traffic` to `dir/http.pcap`; returns the file and the two ports.
fn capture(dir: &Path) -> (PathBuf, u16, u16) {
    prepare(dir);
    let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))).is_ok();
    let (http, https) = (free_port(v6), free_port(v6));
    assert_ne!(http, https);
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(dir, http, https, v6)).unwrap();
    let mut started = Started::default();
    let nginx = started.spawn(
        "nginx",
        Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log")),
        &dir.join("nginx.out"),
    );
    let log = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    wait_until("nginx listening", 10, || {
        assert!(started.alive(nginx), "nginx ended: {}", log("error.log"));
        [http, https]
            .iter()
            .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
    });
    let pcap = dir.join("http.pcap");
    let filter = format!("tcp port {http} or tcp port {https}");
    let tcpdump = started.spawn(
        "tcpdump",
        Command::new("tcpdump")
            .args(["-i", "lo", "-Z", "root", "-w"])
            .arg(&pcap)
            .arg(&filter),
        &dir.join("tcpdump.out"),
    );
    wait_until("tcpdump listening", 10, || {
        assert!(
            started.alive(tcpdump),
            "tcpdump ended: {}",
            log("tcpdump.out")
        );
        log("tcpdump.out").contains("listening on")
    });
    traffic(http, https, v6);
    // The last FIN and ACK reach the capture after curl has returned.
    std::thread::sleep(Duration::from_millis(500));
    started.stop(tcpdump);
    started.stop(nginx);
    (pcap, http, https)
}

/// Packet numbers (tshark's frame numbers) of a `Row` answer.
fn frames(row: &Value) -> Vec<u64> {
    let columns = row["columns"].as_array().unwrap();
    columns.iter().map(|c| c.as_u64().unwrap() + 1).collect()
}

fn numbers(values: Vec<String>) -> Vec<u64> {
    values.iter().map(|v| v.parse().unwrap()).collect()
}

#[test]
fn http_and_tls_fields_equal_tsharks() {
    if !ready() {
        return;
    }
    let dir = temp_dir("queryhttp");
    let (pcap, http, https) = capture(&dir);
    let decode_as = [
        "-d".to_string(),
        format!("tcp.port=={http},http"),
        "-d".to_string(),
        format!("tcp.port=={https},tls"),
    ];
    let reassembled: Vec<&str> = decode_as.iter().map(String::as_str).collect();
    let mut per_segment = reassembled.clone();
    per_segment.extend([
        "-o",
        "tcp.desegment_tcp_streams:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
    ]);
    let values = |options: &[&str], filter: &str, field: &str| {
        tshark_values(&pcap, options, filter, &[field])
    };
    let r = query(
        &pcap,
        "TopN(http-hostname) TopN(http-useragent) TopN(http-method) TopN(tls-sni) \
         TopN(appproto) Row(appproto=HTTP) Row(appproto=TLS)",
    );
    for (at, field) in [
        (0, "http.host"),
        (1, "http.user_agent"),
        (2, "http.request.method"),
        (3, "tls.handshake.extensions_server_name"),
    ] {
        let want = top(values(&reassembled, "", field));
        assert!(
            !want.as_array().unwrap().is_empty(),
            "no {field} in the capture"
        );
        assert_eq!(r[at], want, "{field}");
    }

    let http_frames = numbers(values(
        &per_segment,
        "http.request || http.response",
        "frame.number",
    ));
    let tls_frames = numbers(values(&per_segment, "tls.record", "frame.number"));
    assert_eq!(frames(&r[5]), http_frames, "HTTP: segments starting a head");
    assert_eq!(frames(&r[6]), tls_frames, "TLS: segments starting a record");
    let named = |key: &str, n: usize| serde_json::json!({"Key": key, "Count": n});
    let mut want = vec![
        named("HTTP", http_frames.len()),
        named("TLS", tls_frames.len()),
    ];
    want.sort_by_key(|v| std::cmp::Reverse(v["Count"].as_u64()));
    assert_eq!(r[4], Value::Array(want), "TopN(appproto)");

    // With tshark's reassembly: one HTTP message, one start, so the counts agree though the
    // frames differ (the split head and the long bodies above).
    let messages = values(
        &reassembled,
        "http.request || http.response",
        "frame.number",
    );
    assert_eq!(messages.len(), http_frames.len(), "HTTP messages");
    assert_ne!(
        numbers(messages),
        http_frames,
        "the rules differ on this traffic"
    );
    let split_records = values(
        &reassembled,
        &format!("tcp.port == {https} && tcp.segments"),
        "frame.number",
    );
    if split_records.is_empty() {
        let tls = values(&reassembled, "tls", "frame.number");
        assert_eq!(tls.len(), tls_frames.len(), "TLS frames, no record split");
    } else {
        eprintln!(
            "note: {} TLS records span segments; TLS compared per segment only",
            split_records.len()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
