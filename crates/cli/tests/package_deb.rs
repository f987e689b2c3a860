//! The Debian package (packaging/build-deb.sh): built from the binaries under test, installed
//! with dpkg, its systemd unit checked by `systemd-analyze verify`, the service's command line
//! run as the unit runs it — user `pktvisor`, no root, only the unit's ambient capabilities —
//! capturing replayed packets in a namespace the test makes, then purged. It installs a system
//! package, so it runs under CI=true (as root; there it must) or with PV_TEST_INSTALL=1.

mod common;
mod lab;
use common::*;
use lab::LabNet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn ready() -> bool {
    let asked = in_ci() || std::env::var("PV_TEST_INSTALL").is_ok_and(|v| v == "1");
    if !asked {
        eprintln!("SKIP: the package test installs a system package: CI=true or PV_TEST_INSTALL=1");
        return false;
    }
    lab::ready(
        "the package test",
        &[
            "dpkg-deb",
            "dpkg",
            "systemd-analyze",
            "setpriv",
            "tcpreplay",
            "ip",
            "curl",
        ],
    )
}

fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The unit's `key=` values, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
        .collect()
}

/// Purges the package when the test ends, whatever happened.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "pktvisor"]).output();
    }
}

#[test]
fn the_package_installs_runs_unprivileged_and_purges() {
    if !ready() {
        return;
    }
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "pktvisor"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
    assert!(
        !installed,
        "a pktvisor package is installed on this machine already: not replacing it"
    );
    let dir = temp_dir("deb");
    let bins = Path::new(env!("CARGO_BIN_EXE_pktvisord")).parent().unwrap();
    let deb = PathBuf::from(
        run_ok(
            repo_root().join("packaging/build-deb.sh").to_str().unwrap(),
            &[dir.to_str().unwrap(), bins.to_str().unwrap()],
        )
        .trim(),
    );
    let contents = run_ok("dpkg-deb", &["-c", deb.to_str().unwrap()]);
    for file in [
        "./usr/bin/pktvisord",
        "./usr/bin/pktvisor",
        "./lib/systemd/system/pktvisord.service",
        "./etc/pktvisor/pktvisord.yaml",
    ] {
        assert!(
            contents.contains(file),
            "{file} not in the package: {contents}"
        );
    }
    run_ok("dpkg", &["-i", deb.to_str().unwrap()]);
    let _purge = Installed;
    let version = run_ok("/usr/bin/pktvisord", &["--version"]);
    assert_eq!(
        version.trim(),
        format!("pktvisord {}", env!("CARGO_PKG_VERSION"))
    );
    run_ok("getent", &["passwd", "pktvisor"]);
    run_ok(
        "systemd-analyze",
        &["verify", "/lib/systemd/system/pktvisord.service"],
    );

    // The unit's own command line and capabilities, as systemd would run them.
    let unit = std::fs::read_to_string("/lib/systemd/system/pktvisord.service").unwrap();
    assert_eq!(unit_values(&unit, "User"), ["pktvisor"]);
    let caps = unit_values(&unit, "AmbientCapabilities").join(" ");
    let setpriv_caps = caps
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(setpriv_caps, "+net_raw,+net_admin");
    let exec = unit_values(&unit, "ExecStart").join(" ");
    let mut command: Vec<String> = exec
        .split_whitespace()
        .filter(|w| *w != "$PKTVISORD_ARGS")
        .map(String::from)
        .collect();
    let state = unit_values(&unit, "WorkingDirectory").join("");
    // systemd makes the StateDirectory, owned by the user.
    std::fs::create_dir_all(&state).unwrap();
    run_ok("chown", &["pktvisor:pktvisor", &state]);

    let mut lab = lab::Lab::new(
        "deb",
        LabNet {
            mtu: 9000,
            addresses: false,
        },
    );
    let port = (22_000 + std::process::id() % 20_000) as u16;
    let port_s = port.to_string();
    command.extend(["-l", "127.0.0.1", "-p", &port_s, "--workers", "1", "vb"].map(String::from));
    let unprivileged = |caps: bool| -> Vec<String> {
        let mut v: Vec<String> = ["setpriv", "--reuid", "pktvisor", "--regid", "pktvisor"]
            .map(String::from)
            .to_vec();
        v.push("--init-groups".into());
        if caps {
            v.extend(
                ["--inh-caps", &setpriv_caps, "--ambient-caps", &setpriv_caps].map(String::from),
            );
        }
        v.push("--".into());
        v.extend(command.iter().cloned());
        v
    };
    // Without the capabilities the user cannot capture: the unit's lines are what makes it work.
    let b = lab.b.clone();
    let out = Command::new("ip")
        .args(["netns", "exec", &b])
        .args(unprivileged(false))
        .current_dir(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs root or CAP_NET_RAW"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = unprivileged(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pid = lab.spawn(&b, &args, Some(Path::new(&state)));
    lab.wait_for_api(Some(pid), port);
    let capture = fixture("dns_ipv4_udp.pcap");
    lab.replay(&capture);
    let packets = tshark_values(&capture, &[], "", &["frame.number"]).len() as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = lab.http(port, "GET", "/api/v1/metrics/app", None);
        let app: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if app["capture"]["packets"].as_u64() == Some(packets) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "captured {} of {packets} packets as user pktvisor",
            app["capture"]["packets"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = run_ok("id", &["-u", "pktvisor"]);
    let running_as = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("");
    assert_eq!(running_as, uid.trim(), "the agent runs as user pktvisor");
    let (exit, log) = lab.stop(pid, "TERM");
    assert!(exit.success(), "{log}");

    run_ok("dpkg", &["--purge", "pktvisor"]);
    assert!(!Path::new("/usr/bin/pktvisord").exists());
    assert!(!Path::new("/lib/systemd/system/pktvisord.service").exists());
    let user = Command::new("getent")
        .args(["passwd", "pktvisor"])
        .output()
        .unwrap();
    assert!(!user.status.success(), "the user goes with a purge");
    std::fs::remove_dir_all(&dir).unwrap();
}
