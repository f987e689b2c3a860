//! A `pktvisor hub` started by a test, and reading its answers.

#![allow(dead_code)]

pub mod checks;
pub mod clickhouse;

use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `pktvisor hub` on 127.0.0.1, killed (SIGKILL) when dropped.
pub struct Hub {
    pub child: Child,
    pub port: u16,
    /// What the hub printed after its first line.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Hub {
    /// Starts a hub on `port` (0: any free port) with its SQLite store in `dir`.
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> Hub {
        Hub::start_on(&sqlite_store(dir), port, extra)
    }

    /// Starts a hub on `port` (0: any free port) with `--store STORE`.
    pub fn start_on(store: &str, port: u16, extra: &[&str]) -> Hub {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["hub", "--listen", &listen, "--store", store];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_pktvisor"))
            .args(&args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The hub names its bound address on its first line; the rest of its stderr is read
        // on so that it never writes to a closed pipe.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut l = String::new();
            while err.read_line(&mut l).is_ok_and(|n| n > 0) {
                kept.lock().unwrap().push_str(&l);
                l.clear();
            }
        });
        let port = line
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("hub did not start: {line}"));
        Hub { child, port, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// GET `path`: status and JSON (Null when the body is not JSON).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, body) = http_get(self.port, path, token);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub fn metric(&self, name: &str) -> u64 {
        let (_, body) = http_get(self.port, "/metrics", None);
        String::from_utf8(body)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics"))
    }
}

/// Waits for `child` (its stderr piped) and returns what it printed; it must have succeeded.
pub fn succeeded(child: &mut Child) -> String {
    let status = child.wait().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    assert!(status.success(), "{err}");
    err
}

/// A port on 127.0.0.1 free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `--store` of a SQLite database in `dir`.
pub fn sqlite_store(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("hub.sqlite").display())
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let status = std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (status, answer[split + 4..].to_vec())
}

/// The window object of a hub answer (`{"<n>m": {...}}`), without its rates.
pub fn window_of(v: &Value) -> Value {
    let obj = v.as_object().expect("a window answer");
    assert_eq!(obj.len(), 1, "{v}");
    let mut w = obj.values().next().unwrap().clone();
    strip_rates(&mut w);
    w
}

pub fn strip_rates(v: &mut Value) {
    if let Value::Object(m) = v {
        m.remove("rates");
        m.values_mut().for_each(strip_rates);
    }
}

/// `files` concatenated by `mergecap -a` (Wireshark's tool) into `dir/all.pcap`.
pub fn concatenated(dir: &Path, files: &[PathBuf]) -> PathBuf {
    let all = dir.join("all.pcap");
    let mut args: Vec<&OsStr> = ["-a", "-F", "pcap", "-w"].map(OsStr::new).to_vec();
    args.push(all.as_os_str());
    args.extend(files.iter().map(|f| f.as_os_str()));
    crate::common::tool(dir, "mergecap", &args);
    all
}
