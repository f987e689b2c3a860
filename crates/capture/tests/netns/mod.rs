//! Two network namespaces joined by a veth pair, made by the test that needs them and deleted
//! when it ends (also when it fails: the pair's Drop deletes them), and threads that run inside
//! one of them. Needs root and `ip`; outside CI the tests skip without them, under CI=true
//! they must run.

#![allow(dead_code)] // each test binary uses its own part

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const A4: &str = "198.51.100.1";
pub const B4: &str = "198.51.100.2";
pub const A6: &str = "2001:db8::1";
pub const B6: &str = "2001:db8::2";

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True if namespace tests can run here; otherwise prints why they skip (and fails under CI,
/// which runs as root with `ip` and `ping` installed).
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let runs = |tool: &str, arg: &str| Command::new(tool).arg(arg).output().is_ok();
    let missing = if !root {
        "not running as root (network namespaces)"
    } else if !runs("ip", "-V") {
        "the `ip` tool (iproute2) is not installed"
    } else if !runs("ping", "-V") {
        "`ping` (iputils) is not installed"
    } else {
        return true;
    };
    assert!(
        !in_ci(),
        "under CI=true live-capture tests must run, but {missing}"
    );
    eprintln!("SKIP: {missing}");
    false
}

/// Runs `ip ARGS`, panicking with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces `a` and `b`, veth `va` (in a: A4/24, A6/64) to `vb` (in b: B4/24, B6/64), up.
pub struct NetnsPair {
    pub a: String,
    pub b: String,
    pub va: String,
    pub vb: String,
}

impl NetnsPair {
    pub fn new() -> NetnsPair {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        // Unique per process and test; interface names stay within 15 bytes.
        let tag = format!(
            "{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let pair = NetnsPair {
            a: format!("pvlive-a{tag}"),
            b: format!("pvlive-b{tag}"),
            va: format!("pva{tag}"),
            vb: format!("pvb{tag}"),
        };
        // Created before anything can fail, so Drop cleans up whatever exists.
        ip(&["netns", "add", &pair.a]);
        ip(&["netns", "add", &pair.b]);
        ip(&[
            "-n", &pair.a, "link", "add", &pair.va, "type", "veth", "peer", "name", &pair.vb,
            "netns", &pair.b,
        ]);
        for (ns, dev, v4, v6) in [(&pair.a, &pair.va, A4, A6), (&pair.b, &pair.vb, B4, B6)] {
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            // nodad: the address is usable at once, not after duplicate detection.
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair.wait_carrier();
        // Resolve neighbours now, so that the tests' first packets are not queued behind ARP/ND.
        pair.exec_a(&["ping", "-c", "1", "-W", "2", B4]);
        pair.exec_a(&["ping", "-6", "-c", "1", "-W", "2", B6]);
        pair
    }

    fn wait_carrier(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = Command::new("ip")
                .args(["-n", &self.b, "link", "show", &self.vb])
                .output()
                .expect("run ip");
            if String::from_utf8_lossy(&out.stdout).contains("LOWER_UP") {
                return;
            }
            assert!(Instant::now() < deadline, "veth {} has no carrier", self.vb);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs a command in namespace a, panicking if it fails.
    pub fn exec_a(&self, cmd: &[&str]) {
        exec_in(&self.a, cmd);
    }

    pub fn exec_b(&self, cmd: &[&str]) {
        exec_in(&self.b, cmd);
    }
}

fn exec_in(ns: &str, cmd: &[&str]) {
    let mut args = vec!["netns", "exec", ns];
    args.extend_from_slice(cmd);
    ip(&args);
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the other end.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Runs `f` on a new thread inside network namespace `ns`: only that thread moves, so sockets,
/// pcap handles and getifaddrs in `f` all see the namespace.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        use std::os::fd::AsRawFd;
        // SAFETY: a valid namespace file descriptor; CLONE_NEWNET moves only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}
