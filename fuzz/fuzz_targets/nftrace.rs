//! pv_nftrace on arbitrary bytes: a netlink datagram as the trace socket receives it,
//! decoded, its trace events' packet headers decoded and correlated into records. Any
//! panic is a bug (the decoder takes the kernel's bytes, and refuses what is broken).

#![no_main]

use std::hint::black_box;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pv_nftrace::correlator::{Context, Correlator, Limits, Now};
use pv_nftrace::message::{self, Message};
use pv_nftrace::ruleset::Ruleset;

fuzz_target!(|data: &[u8]| {
    // Seeds are the real datagrams of crates/nftrace/tests/data; the rule text parser gets
    // the same bytes as text.
    let ruleset = Ruleset::parse(&String::from_utf8_lossy(data));
    let ifname = |i: u32| (i == 1).then(|| "lo".to_owned());
    let cx = Context {
        ruleset: &ruleset,
        generation: None,
        ifname: &ifname,
    };
    // A small table, so that eviction runs too.
    let mut c = Correlator::new("fuzz", Limits { max_open: 2, timeout: Duration::from_millis(1) });
    let mut out = Vec::new();
    for (i, m) in message::decode(data).enumerate() {
        let now = Now { wall_ns: i as u64, mono: Duration::from_micros(i as u64) };
        match m {
            Ok(Message::Trace(ev)) => c.push(*ev, now, &cx, &mut out),
            Ok(other) => {
                black_box(other);
            }
            Err(e) => {
                black_box(e.to_string());
            }
        }
        c.expire(now.mono, &cx, &mut out);
    }
    c.flush(&cx, &mut out);
    assert_eq!(c.open_count(), 0);
    for r in &out {
        black_box(serde_json::to_string(r).map(|s| s.len()).unwrap_or(0));
    }
});
