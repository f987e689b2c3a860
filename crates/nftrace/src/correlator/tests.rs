//! The correlator on hand-made events: ends, keys, the traversal boundary, the bounds.
use super::*;
use crate::verdict::{NF_ACCEPT, NF_DROP, NFT_JUMP, VerdictAttr};

fn rule(id: u32, table: &str, chain: &str, handle: u64, code: i32, packet: bool) -> TraceEvent {
    TraceEvent {
        family: 2,
        id,
        kind: Some(TraceType::Rule),
        table: table.into(),
        chain: chain.into(),
        rule_handle: Some(handle),
        verdict: Some(VerdictAttr {
            code,
            verdict: Verdict::from_code(code),
            chain: (code == NFT_JUMP).then(|| "sub".into()),
        }),
        nfproto: Some(2),
        iif: packet.then_some(7),
        ..TraceEvent::default()
    }
}

fn at(ms: u64) -> Now {
    Now {
        wall_ns: ms * 1_000_000,
        mono: Duration::from_millis(ms),
    }
}

struct Run {
    c: Correlator,
    rs: Ruleset,
    out: Vec<TraceRecord>,
}

impl Run {
    fn new(max_open: usize) -> Run {
        let rs = Ruleset::parse(
            "table ip t {\n chain input {\n type filter hook input priority 0; policy drop;\n ip protocol icmp jump sub # handle 2\n }\n chain sub {\n counter accept # handle 3\n }\n}\n",
        );
        Run {
            c: Correlator::new(
                "ns",
                Limits {
                    max_open,
                    timeout: Duration::from_millis(100),
                },
            ),
            rs,
            out: Vec::new(),
        }
    }

    fn push(&mut self, ev: TraceEvent, ms: u64) {
        // Interface 7 has no name: the record shows the index.
        let ifname = |_: u32| None;
        let cx = Context {
            ruleset: &self.rs,
            generation: Some(3),
            ifname: &ifname,
        };
        self.c.push(ev, at(ms), &cx, &mut self.out);
    }

    fn expire(&mut self, ms: u64) {
        let ifname = |_: u32| None;
        let cx = Context {
            ruleset: &self.rs,
            generation: Some(3),
            ifname: &ifname,
        };
        self.c.expire(at(ms).mono, &cx, &mut self.out);
    }
}

#[test]
fn jump_then_accept_is_one_record() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 0);
    assert!(r.out.is_empty());
    r.push(rule(1, "t", "sub", 3, NF_ACCEPT, false), 0);
    let rec = r.out.pop().unwrap();
    assert_eq!(
        (rec.chain.as_str(), rec.hook.as_deref()),
        ("input", Some("input"))
    );
    assert_eq!(rec.verdict, "accept");
    let d = rec.rule.unwrap();
    assert_eq!(
        (d.chain.as_str(), d.handle, d.text.as_str()),
        ("sub", 3, "counter accept")
    );
    assert_eq!(rec.path[0].target.as_deref(), Some("sub"));
    assert_eq!(rec.iif.as_deref(), Some("7"));
    assert_eq!((rec.generation, rec.time_ns), (Some(3), 0));
    assert_eq!(r.c.open_count(), 0);
}

#[test]
fn a_trace_starting_in_a_regular_chain_finds_its_base_chain() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "sub", 3, NF_DROP, true), 0);
    let rec = r.out.pop().unwrap();
    assert_eq!(
        (rec.chain.as_str(), rec.verdict.as_str()),
        ("input", "drop")
    );
}

#[test]
fn unknown_handle_shows_the_handle_alone() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "sub", 99, NF_ACCEPT, true), 0);
    let rec = r.out.pop().unwrap();
    assert_eq!(rec.rule.unwrap().text, "handle 99");
    assert_eq!(rec.path[0].rule, None);
}

#[test]
fn same_id_in_two_tables_gives_two_records() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 0);
    r.push(rule(1, "u", "input", 5, NFT_JUMP, true), 0);
    assert_eq!(r.c.open_count(), 2);
    r.push(rule(1, "u", "sub", 6, NF_DROP, false), 0);
    r.push(rule(1, "t", "sub", 3, NF_ACCEPT, false), 0);
    let verdicts: Vec<_> = r
        .out
        .iter()
        .map(|x| (x.table.as_str(), x.verdict.as_str()))
        .collect();
    assert_eq!(verdicts, [("u", "drop"), ("t", "accept")]);
}

#[test]
fn the_next_traversal_cuts_an_unfinished_one() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 0);
    // The packet again (a new traversal) before the first one ended: its end was lost.
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 1);
    assert_eq!(r.out.len(), 1);
    assert_eq!(r.out[0].verdict, "unknown");
    assert!(r.out[0].rule.is_none());
    assert_eq!(r.c.stats.incomplete, 1);
    assert_eq!(r.c.open_count(), 1);
}

#[test]
fn timeout_emits_unknown_and_counts() {
    let mut r = Run::new(10);
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 0);
    r.push(rule(2, "t", "input", 2, NFT_JUMP, true), 50);
    r.expire(99);
    assert!(r.out.is_empty());
    r.expire(100);
    assert_eq!(r.out.len(), 1);
    assert_eq!(
        (r.out[0].trace_id, r.out[0].verdict.as_str()),
        (1, "unknown")
    );
    r.expire(150);
    assert_eq!(r.out.len(), 2);
    assert_eq!(r.c.stats.timeouts, 2);
    assert_eq!(r.c.open_count(), 0);
}

#[test]
fn a_full_table_evicts_the_least_recently_active() {
    let mut r = Run::new(2);
    r.push(rule(1, "t", "input", 2, NFT_JUMP, true), 0);
    r.push(rule(2, "t", "input", 2, NFT_JUMP, true), 1);
    // Trace 1 is active again: trace 2 is now the least recently active.
    r.push(rule(1, "t", "sub", 4, -1, false), 2);
    r.push(rule(3, "t", "input", 2, NFT_JUMP, true), 3);
    assert_eq!(r.out.len(), 1);
    assert_eq!(
        (r.out[0].trace_id, r.out[0].verdict.as_str()),
        (2, "unknown")
    );
    assert_eq!(r.c.stats.evictions, 1);
    assert_eq!(r.c.open_count(), 2);
}
