//! Writes every datagram the trace socket receives to OUTDIR/NNNN.bin, for golden test
//! data (see tests/data/README.md). Usage: dump_netlink OUTDIR [NETNS] [SECONDS]
use pv_nftrace::listener::{Listener, Received, enter_netns};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .ok_or("usage: dump_netlink OUTDIR [NETNS] [SECONDS]")?;
    if let Some(ns) = args.get(2).filter(|n| !n.is_empty()) {
        enter_netns(ns)?;
    }
    let secs: u64 = args.get(3).map_or(Ok(10), |s| s.parse())?;
    std::fs::create_dir_all(out)?;
    let mut l = Listener::open(1 << 20, Duration::from_millis(100))?;
    eprintln!("listening");
    let end = Instant::now() + Duration::from_secs(secs);
    let mut n = 0;
    while Instant::now() < end {
        if let Received::Datagram(d) = l.recv()? {
            std::fs::write(format!("{out}/{n:04}.bin"), d)?;
            n += 1;
        }
    }
    eprintln!("{n} datagrams");
    Ok(())
}
