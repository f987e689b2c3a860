//! Counts the packets of capture files, with an optional BPF filter, and says how each file ends:
//! `cargo run --release -p pv-capture --example count -- FILE... [-f EXPR]`.

use pv_capture::{BpfSet, FileReader};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let filter = match args.iter().position(|a| a == "-f") {
        Some(i) if i + 1 < args.len() => {
            let expr = args.remove(i + 1);
            args.remove(i);
            match BpfSet::new(&expr) {
                Ok(set) => Some(set),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => None,
    };
    let mut filter = filter;
    let mut status = ExitCode::SUCCESS;
    for arg in &args {
        let mut reader = match FileReader::open(Path::new(arg)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let (mut packets, mut matched, mut first, mut last) = (0u64, 0u64, None, 0u64);
        let end = loop {
            match reader.next_packet() {
                Ok(Some(p)) => {
                    packets += 1;
                    first.get_or_insert(p.ts_ns);
                    last = p.ts_ns;
                    if let Some(f) = &mut filter {
                        match f.matches(p.linktype, p.data, p.orig_len) {
                            Ok(m) => matched += u64::from(m),
                            Err(e) => break Some(e.to_string()),
                        }
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        println!(
            "{arg}: {} {}{}, link types {:?}, {packets} packets{}, first {} last {last} ns",
            reader.format(),
            if reader.is_gzip() { "gzip " } else { "" },
            if reader.is_big_endian() {
                "big-endian"
            } else {
                "little-endian"
            },
            reader.linktypes(),
            if filter.is_some() {
                format!(" ({matched} match)")
            } else {
                String::new()
            },
            first.unwrap_or(0),
        );
        if let Some(e) = end {
            println!("  {e}");
            status = ExitCode::FAILURE;
        }
    }
    status
}
