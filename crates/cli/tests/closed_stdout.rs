//! Output to a stdout that goes away: a reader that closes the pipe early (`| head -c 10`)
//! ends the program quietly with status 0, as tcpdump does; a stdout that cannot be written
//! (`> /dev/full`) is one error line and status 1. Never a panic.

mod common;
use common::*;
use std::io::Read;
use std::process::{Command, Stdio};

/// Every way the two binaries print a file summary (run from the repository root, where the
/// policy's `pcap_file` is).
fn commands() -> Vec<(&'static str, Vec<&'static str>)> {
    let file = "testdata/fixtures/dns_udp_tcp_random.pcap";
    let policy = "testdata/policies/dns_default.yaml";
    vec![
        ("pktvisor", vec!["summarize", "--json", file]),
        ("pktvisor", vec!["summarize", file]),
        ("pktvisor", vec!["summarize", "--config", policy, "--json"]),
        ("pktvisor", vec!["summarize", "--config", policy]),
        ("pktvisord", vec![file]),
        ("pktvisord", vec!["--config", policy]),
    ]
}

fn command(bin: &str, args: &[&str]) -> Command {
    let exe = match bin {
        "pktvisor" => env!("CARGO_BIN_EXE_pktvisor"),
        _ => env!("CARGO_BIN_EXE_pktvisord"),
    };
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(repo_root())
        .stderr(Stdio::piped());
    cmd
}

/// The pipe's read end is closed before the program writes (it is still reading the
/// capture), so its write fails with EPIPE; or closed after the first 10 bytes, as `head -c 10`
/// does. Either way: status 0 and nothing on stderr.
#[test]
fn closed_pipe_is_a_quiet_success() {
    for (bin, args) in commands() {
        for read_first in [0usize, 10] {
            let mut child = command(bin, &args).stdout(Stdio::piped()).spawn().unwrap();
            let mut stdout = child.stdout.take().unwrap();
            if read_first > 0 {
                let mut head = vec![0u8; read_first];
                stdout.read_exact(&mut head).unwrap();
            }
            drop(stdout);
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{bin} {args:?} after {read_first} bytes: {err}"
            );
            assert!(
                err.is_empty(),
                "{bin} {args:?} after {read_first} bytes wrote to stderr: {err}"
            );
        }
    }
}

/// `> /dev/full`: every write fails with ENOSPC.
#[test]
fn unwritable_stdout_is_one_error_line() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIP: no /dev/full");
        return;
    };
    let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
    for (bin, args) in commands() {
        let out = command(bin, &args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bin} {args:?}: {err}");
        assert_eq!(
            err,
            format!("{bin}: error: writing output: {enospc}\n"),
            "{bin} {args:?}"
        );
    }
}
