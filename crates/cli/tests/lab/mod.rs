//! The test lab of the live tests: two network namespaces `a` and `b` joined by a veth pair
//! (`va` in `a`, `vb` in `b`), and the processes a test starts in them. Everything is stopped
//! by its PID and the namespaces are deleted when the lab is dropped. Traffic stays inside the
//! namespaces (addresses from 198.51.100.0/24 when the lab has any). Needs root.

#![allow(dead_code)] // each test binary uses its own part of the lab

use crate::common::sh;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The address of `va` (namespace `a`) in a lab made with addresses.
pub const ADDR_A: &str = "198.51.100.1";
/// The address of `vb` (namespace `b`) in a lab made with addresses.
pub const ADDR_B: &str = "198.51.100.2";

/// Whether a live test can run: as root (as CI runs, where it must), with `tools` on PATH.
pub fn ready(what: &str, tools: &[&str]) -> bool {
    if !crate::common::is_root() {
        assert!(!crate::common::in_ci(), "CI runs as root: {what} must run");
        eprintln!("SKIP: {what} needs root (network namespaces, capture)");
        return false;
    }
    tools.iter().all(|t| crate::common::require(t))
}

/// A lab (a veth pair without addresses) with an agent on `vb` recording into `DIR/rec` with
/// `args` besides, after `fill` has put files in that directory (as an earlier run's). Its API
/// port is picked from this process and `offset`. Returns the lab, the agent's PID, its port
/// and the recording directory.
pub fn recording_agent(
    tag: &str,
    offset: u32,
    args: &[&str],
    fill: impl FnOnce(&Path),
) -> (Lab, u32, u16, PathBuf) {
    let net = LabNet {
        mtu: 1500,
        addresses: false,
    };
    let mut lab = Lab::new(tag, net);
    let port = 20_000 + ((std::process::id() + offset) % 20_000) as u16;
    let rec = lab.dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    fill(&rec);
    let mut all = vec!["--record", rec.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("vb");
    let agent = lab.start_agent(port, &all);
    (lab, agent, port, rec)
}

/// How the veth pair is set up.
#[derive(Clone, Copy, Debug)]
pub struct LabNet {
    /// MTU of both ends; fixture captures with jumbo frames need 9000 to be replayed whole.
    pub mtu: u32,
    /// [`ADDR_A`]/24 on `va` and [`ADDR_B`]/24 on `vb`; without, the link carries only what
    /// a test replays onto it.
    pub addresses: bool,
}

struct Started {
    child: Child,
    /// stdout and stderr of the process, so a test can wait for a line and read it all later.
    log: PathBuf,
}

pub struct Lab {
    pub a: String,
    pub b: String,
    /// Scratch space of the test, removed with the lab.
    pub dir: PathBuf,
    started: Vec<Started>,
}

impl Lab {
    /// Namespaces `pv{tag}a{id}` and `pv{tag}b{id}` (id from this process) with their veth
    /// ends and loopbacks up and IPv6 off (no router or neighbour solicitations to count).
    pub fn new(tag: &str, net: LabNet) -> Lab {
        let id = std::process::id() % 100_000;
        let dir = std::env::temp_dir().join(format!("pvlab-{tag}-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            a: format!("pv{tag}a{id}"),
            b: format!("pv{tag}b{id}"),
            dir,
            started: Vec::new(),
        };
        let (a, b, mtu) = (&lab.a, &lab.b, net.mtu);
        let mut script = format!(
            "ip netns add {a} && ip netns add {b} && \
             ip link add va netns {a} mtu {mtu} type veth peer name vb netns {b} mtu {mtu} && \
             ip netns exec {a} sysctl -qw net.ipv6.conf.va.disable_ipv6=1 && \
             ip netns exec {b} sysctl -qw net.ipv6.conf.vb.disable_ipv6=1"
        );
        if net.addresses {
            script += &format!(
                " && ip -n {a} addr add {ADDR_A}/24 dev va && ip -n {b} addr add {ADDR_B}/24 dev vb"
            );
        }
        script += &format!(
            " && ip -n {a} link set va up && ip -n {b} link set vb up && \
             ip -n {a} link set lo up && ip -n {b} link set lo up"
        );
        sh(&script);
        lab
    }

    /// Starts `args` in namespace `ns` (in `cwd` if given); returns its PID.
    pub fn spawn(&mut self, ns: &str, args: &[&str], cwd: Option<&Path>) -> u32 {
        let log = self.dir.join(format!("process-{}.log", self.started.len()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {args:?}: {e}"));
        let pid = child.id();
        self.started.push(Started { child, log });
        pid
    }

    /// Everything the process printed so far.
    pub fn log(&self, pid: u32) -> String {
        std::fs::read_to_string(&self.find(pid).log).unwrap_or_default()
    }

    /// Waits until the process printed `needle` (e.g. tcpdump's "listening on").
    pub fn wait_for_log(&mut self, pid: u32, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.log(pid).contains(needle) {
            assert!(self.alive(pid), "process {pid} ended: {}", self.log(pid));
            assert!(
                Instant::now() < deadline,
                "no {needle:?} from process {pid} within {secs} s: {}",
                self.log(pid)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts tcpdump in `ns` with `args` and returns once it captures.
    pub fn start_tcpdump(&mut self, ns: &str, args: &[&str]) -> u32 {
        let mut all = vec!["tcpdump"];
        all.extend_from_slice(args);
        let pid = self.spawn(ns, &all, None);
        self.wait_for_log(pid, "listening on", 10);
        pid
    }

    /// Waits up to 10 s until an agent's API answers on `port` in `b`; `pid`, when the lab
    /// started it, must stay alive meanwhile.
    pub fn wait_for_api(&mut self, pid: Option<u32>, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.http(port, "GET", "/api/v1/metrics/app", None).0 != 200 {
            if let Some(pid) = pid {
                assert!(self.alive(pid), "pktvisord ended: {}", self.log(pid));
            }
            assert!(
                Instant::now() < deadline,
                "the agent's API did not come up on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts `pktvisord -l 127.0.0.1 -p PORT ARGS` in `b` and returns once its API answers.
    pub fn start_agent(&mut self, port: u16, args: &[&str]) -> u32 {
        let port_s = port.to_string();
        let mut all = vec![
            env!("CARGO_BIN_EXE_pktvisord"),
            "-l",
            "127.0.0.1",
            "-p",
            &port_s,
        ];
        all.extend_from_slice(args);
        let b = self.b.clone();
        let pid = self.spawn(&b, &all, None);
        self.wait_for_api(Some(pid), port);
        pid
    }

    /// (HTTP status, body) of a request to 127.0.0.1:PORT inside `b`, with an optional
    /// (Content-Type, body); status 0 when nothing answered.
    pub fn http(
        &self,
        port: u16,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, String) {
        self.http_in(&self.b, port, method, path, body)
    }

    /// As [`Lab::http`], from inside namespace `ns`.
    pub fn http_in(
        &self,
        ns: &str,
        port: u16,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, String) {
        curl_in(ns, port, method, path, body, &[])
    }

    /// Replays a capture from `a` onto the link at tcpreplay's top speed.
    pub fn replay(&self, file: &Path) {
        sh(&format!(
            "ip netns exec {} tcpreplay -q -i va --topspeed {} >/dev/null 2>&1",
            self.a,
            file.display()
        ));
    }

    /// Waits (20 s at most) until the agent on `port` has captured `n` packets, then 2.5 s
    /// more: its recorder flushes every second, so that they are on disk (and the packets
    /// past the cutoff published) by then.
    pub fn replayed(&self, port: u16, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = self.http(port, "GET", "/api/v1/metrics/app", None);
            let app: serde_json::Value = serde_json::from_str(&body).unwrap();
            if app["capture"]["packets"].as_u64() >= Some(n) {
                break;
            }
            assert!(Instant::now() < deadline, "{app}");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(2500));
    }

    /// The agent's answer to PQL (`POST /index/net/query` with `params`, `?from=..` or
    /// nothing), which must be a 200.
    pub fn pql(&self, port: u16, params: &str, query: &str) -> serde_json::Value {
        let path = format!("/index/net/query{params}");
        let (code, body) = self.http(port, "POST", &path, Some(("text/plain", query)));
        assert_eq!(code, 200, "{query}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Whether a process this lab started is still running.
    pub fn alive(&mut self, pid: u32) -> bool {
        let at = self.position(pid);
        self.started[at].child.try_wait().unwrap().is_none()
    }

    /// Sends `signal` (TERM, INT, KILL) to a process this lab started and waits up to 15 s for
    /// it to end; returns its exit status and everything it printed.
    pub fn stop(&mut self, pid: u32, signal: &str) -> (ExitStatus, String) {
        let at = self.position(pid);
        let mut started = self.started.remove(at);
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = started.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = started.child.kill();
                let _ = started.child.wait();
                panic!("process {pid} did not stop within 15 s of SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(&started.log).unwrap_or_default();
        (status, log)
    }

    fn position(&self, pid: u32) -> usize {
        self.started
            .iter()
            .position(|s| s.child.id() == pid)
            .unwrap_or_else(|| panic!("process {pid} was not started by this lab"))
    }

    fn find(&self, pid: u32) -> &Started {
        &self.started[self.position(pid)]
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for mut s in self.started.drain(..) {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (status, body) of an HTTP request to `127.0.0.1:port` from inside namespace `ns`, with
/// extra `headers` (`"Name: value"`); status 0 when nothing answered within 10 s.
pub fn curl_in(
    ns: &str,
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    headers: &[&str],
) -> (u16, String) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "curl", "-s", "-m", "10", "-X", method])
        .args(["-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some((content_type, data)) = body {
        cmd.args(["-H", &format!("Content-Type: {content_type}")])
            .args(["--data-binary", data]);
    }
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}
