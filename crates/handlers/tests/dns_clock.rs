//! A live agent's window rotates on the clock (a tick every second) as often as on packets.
//! pktvisor's `DnsMetricsManager::on_period_shift` (src/handlers/dns/v1/DnsStreamHandler.h)
//! runs on every period shift, whether a packet or the input's heartbeat shifted it: it sets
//! the `top_slow` bar to the p90 of the bucket that just closed and purges the queries
//! unanswered for longer than the TTL, counting them as timed out in the new live bucket. These
//! tests drive the handler as the agent's worker does (ticks between packets) and check both,
//! with values worked out by hand from that rule.

use pv_handlers::dns::{DnsConfig, DnsHandler};
use pv_handlers::json::RenderMode;
use pv_handlers::{Boundaries, Direction, PacketEvent, WindowSpec};
use pv_wire::{Decoded, L3, L4};
use serde_json::Value;

const S: u64 = 1_000_000_000;
/// A live agent's window: five aligned minutes.
const LIVE: WindowSpec = WindowSpec {
    period: Some(60),
    keep: 5,
    boundaries: Boundaries::Aligned,
};
const MS: u64 = 1_000_000;

/// `name` A, as a query or a NOERROR reply with no records.
fn message(id: u16, reply: bool, name: &str) -> Vec<u8> {
    let flags: u16 = if reply { 0x8180 } else { 0x0100 };
    let mut m = Vec::new();
    m.extend(id.to_be_bytes());
    m.extend(flags.to_be_bytes());
    m.extend([0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend(label.as_bytes());
    }
    m.extend([0, 0, 1, 0, 1]);
    m
}

/// This host (192.0.2.1) asks 192.0.2.53: queries go `out`, replies come `in`, so the
/// transactions are pktvisor's `xact.out`.
fn feed(h: &mut DnsHandler, ts_ns: u64, id: u16, reply: bool, name: &str) {
    let payload = message(id, reply, name);
    let (client, server) = ("192.0.2.1".parse().unwrap(), "192.0.2.53".parse().unwrap());
    let d = Decoded {
        l3: L3::Ipv4,
        l4: L4::Udp,
        src: if reply { server } else { client },
        dst: if reply { client } else { server },
        src_port: if reply { 53 } else { 40000 },
        dst_port: if reply { 40000 } else { 53 },
        l4_payload: &payload,
        ..Decoded::EMPTY
    };
    h.process(&PacketEvent {
        ts_ns,
        cap_len: 100,
        decoded: &d,
        dir: if reply { Direction::In } else { Direction::Out },
        deep: true,
    });
}

/// A transaction of `latency_ns` whose query leaves at `ts_ns`.
fn transaction(h: &mut DnsHandler, ts_ns: u64, id: u16, latency_ns: u64, name: &str) {
    feed(h, ts_ns, id, false, name);
    feed(h, ts_ns + latency_ns, id, true, name);
}

/// The agent's worker ticks every second from `from` to `to` (inclusive).
fn ticks(h: &mut DnsHandler, from: u64, to: u64) {
    for sec in from..=to {
        h.tick(sec);
    }
}

fn live_json(h: &DnsHandler) -> Value {
    h.to_json(&h.buckets().next().unwrap().data, RenderMode::PLAIN)
}

#[test]
fn a_rotation_by_the_clock_sets_the_slow_bar() {
    let mut h = DnsHandler::new(DnsConfig::default(), LIVE);
    let t0 = 1_000 * 60; // a minute boundary
    ticks(&mut h, t0, t0 + 1);
    // Ten transactions of 1..=10 ms in the first minute: p90 of the closed bucket is 9 or
    // 10 ms whatever the quantile interpolation.
    for i in 0..10u16 {
        transaction(
            &mut h,
            (t0 + 2 + u64::from(i)) * S,
            i,
            (u64::from(i) + 1) * MS,
            "fast.example",
        );
    }
    // The clock closes the minute before any packet of the next one arrives.
    ticks(&mut h, t0 + 2, t0 + 61);
    assert_eq!(h.buckets().count(), 2);
    transaction(&mut h, (t0 + 62) * S, 100, 50 * MS, "slow.example");
    transaction(&mut h, (t0 + 63) * S, 101, MS / 2, "quick.example");
    let live = live_json(&h);
    let slow = &live["xact"]["out"]["top_slow"];
    let names: Vec<&str> = slow
        .as_array()
        .unwrap_or_else(|| panic!("no xact.out.top_slow in {live:#}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["slow.example"], "{live:#}");
    assert_eq!(live["xact"]["counts"]["total"], 2);
}

#[test]
fn a_quiet_link_counts_its_timeouts_when_the_clock_moves() {
    let mut h = DnsHandler::new(DnsConfig::default(), LIVE);
    let t0 = 2_000 * 60;
    ticks(&mut h, t0, t0 + 10);
    // Two queries never answered, then nothing more on the link.
    feed(&mut h, (t0 + 10) * S, 7, false, "lost.example");
    feed(&mut h, (t0 + 12) * S, 8, false, "lost.example");
    // The TTL is 5 s: at t0+15 neither is older than it yet; at t0+16 the first is.
    ticks(&mut h, t0 + 11, t0 + 15);
    assert_eq!(live_json(&h)["xact"]["counts"]["timed_out"], 0);
    ticks(&mut h, t0 + 16, t0 + 16);
    assert_eq!(live_json(&h)["xact"]["counts"]["timed_out"], 1);
    ticks(&mut h, t0 + 17, t0 + 30);
    assert_eq!(live_json(&h)["xact"]["counts"]["timed_out"], 2);
    // Nothing is counted twice when the minute closes.
    ticks(&mut h, t0 + 31, t0 + 70);
    let total: u64 = h
        .buckets()
        .map(|b| {
            h.to_json(&b.data, RenderMode::PLAIN)["xact"]["counts"]["timed_out"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 2);
}
