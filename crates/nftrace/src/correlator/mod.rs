//! Events → records: one record per packet per base-chain traversal.
//!
//! The kernel sends a traversal's events one after the other from the packet's path
//! (nft_do_chain), first the one carrying the packet. Trace ids repeat (a packet keeps its
//! id across hooks and tables, ids are 32-bit hashes) and an ip6 and an inet table on the
//! same hook each see the same packet with the same id, so a traversal is keyed by
//! (table family, table, id) within one namespace's correlator (the namespace is the
//! correlator's, the base chain is found from the events). A traversal ends at an
//! absolute verdict (accept, drop, queue, stolen...) or the policy event; an event that
//! carries the packet again for an open key starts the next traversal (the open one is
//! emitted with verdict `unknown`: its end was lost).
//!
//! Bounded: at most `max_open` open traversals (the least recently active is emitted as
//! `unknown` and counted as evicted), each at most `timeout` without an event (then
//! emitted as `unknown`, counted).

use crate::packet::{Packet, family_name};
use crate::record::{Conntrack, DecidingRule, Step, TraceRecord, ct_state_text};
use crate::ruleset::Ruleset;
use crate::trace::{TraceEvent, TraceType};
use crate::verdict::Verdict;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Defaults: 65 536 open traversals (a few MB), 1 s. A traversal's events are sent within
/// microseconds; a second covers a loaded machine's scheduling.
pub const DEFAULT_MAX_OPEN: usize = 65_536;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_open: usize,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_open: DEFAULT_MAX_OPEN,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub records: u64,
    pub timeouts: u64,
    pub evictions: u64,
    /// Traversals cut off by the next traversal of the same packet.
    pub incomplete: u64,
}

/// What the correlator needs to know beside the events.
pub struct Context<'a> {
    pub ruleset: &'a Ruleset,
    pub generation: Option<u32>,
    /// Interface index → name, in the namespace of the events.
    pub ifname: &'a dyn Fn(u32) -> Option<String>,
}

/// Times of an event: wall clock for the record, monotonic for the timeout.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub wall_ns: u64,
    pub mono: Duration,
}

type Key = (u8, String, u32);

struct Open {
    time_ns: u64,
    last: Duration,
    seq: u64,
    generation: Option<u32>,
    first_chain: String,
    policy_chain: Option<String>,
    nfproto: Option<u8>,
    iif: Option<u32>,
    oif: Option<u32>,
    mark: Option<u32>,
    packet: Packet,
    ct: Conntrack,
    path: Vec<Step>,
    decided: Option<(String, Option<u64>, Option<String>)>,
}

pub struct Correlator {
    netns: String,
    limits: Limits,
    open: HashMap<Key, Open>,
    /// Activity order: sequence number of an open traversal's last event → its key.
    order: BTreeMap<u64, Key>,
    seq: u64,
    pub stats: Stats,
}

impl Correlator {
    pub fn new(netns: &str, limits: Limits) -> Correlator {
        Correlator {
            netns: netns.to_owned(),
            limits: Limits {
                max_open: limits.max_open.max(1),
                timeout: limits.timeout,
            },
            open: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
            stats: Stats::default(),
        }
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Takes one event; finished records are appended to `out`.
    pub fn push(&mut self, ev: TraceEvent, now: Now, cx: &Context<'_>, out: &mut Vec<TraceRecord>) {
        self.stats.events += 1;
        let key: Key = (ev.family, ev.table.clone(), ev.id);
        if ev.has_packet()
            && let Some(old) = self.remove(&key)
        {
            self.stats.incomplete += 1;
            out.push(self.finish(&key, old, None, cx));
        }
        if !self.open.contains_key(&key) {
            if self.open.len() >= self.limits.max_open
                && let Some((_, oldest)) = self.order.pop_first()
                && let Some(o) = self.open.remove(&oldest)
            {
                self.stats.evictions += 1;
                out.push(self.finish(&oldest, o, None, cx));
            }
            self.open
                .insert(key.clone(), Open::start(&ev, now, cx.generation));
        }
        self.seq += 1;
        let seq = self.seq;
        let Some(o) = self.open.get_mut(&key) else {
            return;
        };
        self.order.remove(&o.seq);
        o.seq = seq;
        o.last = now.mono;
        self.order.insert(seq, key.clone());
        let terminal = o.add(&ev, cx.ruleset);
        if let Some(verdict) = terminal
            && let Some(o) = self.remove(&key)
        {
            out.push(self.finish(&key, o, Some(verdict), cx));
        }
    }

    /// Emits the traversals idle for longer than the timeout, as `unknown`.
    pub fn expire(&mut self, now: Duration, cx: &Context<'_>, out: &mut Vec<TraceRecord>) {
        while let Some((_, key)) = self.order.first_key_value() {
            let key = key.clone();
            let idle = self
                .open
                .get(&key)
                .is_none_or(|o| now.saturating_sub(o.last) >= self.limits.timeout);
            if !idle {
                break;
            }
            if let Some(o) = self.remove(&key) {
                self.stats.timeouts += 1;
                out.push(self.finish(&key, o, None, cx));
            } else {
                self.order.pop_first();
            }
        }
    }

    /// Emits every open traversal as `unknown` (at shutdown).
    pub fn flush(&mut self, cx: &Context<'_>, out: &mut Vec<TraceRecord>) {
        while let Some((_, key)) = self.order.pop_first() {
            if let Some(o) = self.open.remove(&key) {
                out.push(self.finish(&key, o, None, cx));
            }
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Open> {
        let o = self.open.remove(key)?;
        self.order.remove(&o.seq);
        Some(o)
    }

    fn finish(
        &mut self,
        key: &Key,
        o: Open,
        verdict: Option<String>,
        cx: &Context<'_>,
    ) -> TraceRecord {
        self.stats.records += 1;
        let (family, table, id) = key;
        let family = family_name(*family);
        let chain = o
            .policy_chain
            .clone()
            .or_else(|| cx.ruleset.base_chain_of(&family, table, &o.first_chain))
            .unwrap_or_else(|| o.first_chain.clone());
        let hook = cx
            .ruleset
            .chain(&family, table, &chain)
            .and_then(|c| c.hook.clone());
        let name =
            |index: Option<u32>| index.map(|i| (cx.ifname)(i).unwrap_or_else(|| i.to_string()));
        let rule = match (&verdict, o.decided) {
            (Some(_), Some((rule_chain, Some(handle), text))) => Some(DecidingRule {
                table: table.clone(),
                chain: rule_chain,
                handle,
                text: text.unwrap_or_else(|| format!("handle {handle}")),
            }),
            _ => None,
        };
        TraceRecord {
            time_ns: o.time_ns,
            netns: self.netns.clone(),
            trace_id: *id,
            family,
            table: table.clone(),
            chain,
            hook,
            generation: o.generation,
            path: o.path,
            rule,
            verdict: verdict.unwrap_or_else(|| "unknown".to_owned()),
            nfproto: o.nfproto.map(family_name),
            iif: name(o.iif),
            oif: name(o.oif),
            mark: o.mark,
            packet: o.packet,
            ct: o.ct,
        }
    }
}

impl Open {
    fn start(ev: &TraceEvent, now: Now, generation: Option<u32>) -> Open {
        Open {
            time_ns: now.wall_ns,
            last: now.mono,
            seq: 0,
            generation,
            first_chain: ev.chain.clone(),
            policy_chain: None,
            nfproto: None,
            iif: None,
            oif: None,
            mark: None,
            packet: Packet::default(),
            ct: Conntrack::default(),
            path: Vec::new(),
            decided: None,
        }
    }

    /// Adds an event to the path; the final verdict's text when it ends the traversal.
    fn add(&mut self, ev: &TraceEvent, ruleset: &Ruleset) -> Option<String> {
        if ev.has_packet() {
            self.nfproto = ev.nfproto;
            self.iif = ev.iif;
            self.oif = ev.oif;
            self.packet = Packet::decode(
                ev.nfproto,
                ev.iiftype,
                ev.ll_header.as_deref(),
                ev.network_header.as_deref(),
                ev.transport_header.as_deref(),
            );
        }
        self.nfproto = self.nfproto.or(ev.nfproto);
        // The kernel sends the mark with every event when it is set: keep the latest.
        self.mark = ev.mark.or(self.mark);
        if ev.ct_state.is_some() {
            self.ct = Conntrack {
                state: ev.ct_state.map(ct_state_text),
                direction: ev
                    .ct_direction
                    .map(|d| if d == 0 { "original" } else { "reply" }.to_owned()),
                id: ev.ct_id,
                status: ev.ct_status,
            };
        }
        let family = family_name(ev.family);
        let text = ev
            .rule_handle
            .and_then(|h| ruleset.rule_text(&family, &ev.table, &ev.chain, h))
            .map(str::to_owned);
        match ev.kind {
            Some(TraceType::Policy) => {
                let v = ev.policy.clone().unwrap_or(Verdict::Unknown(-100));
                self.policy_chain = Some(ev.chain.clone());
                self.path.push(Step {
                    chain: ev.chain.clone(),
                    kind: "policy",
                    handle: None,
                    rule: None,
                    verdict: v.name(),
                    target: None,
                });
                Some(format!("policy {}", v.name()))
            }
            // The kernel reports reaching a chain's end as a rule event without a rule
            // (verdict continue); the next event (return, policy) tells the same, and nft
            // leaves it out of its trace too.
            Some(TraceType::Rule)
                if ev.rule_handle.is_none()
                    && ev.verdict.as_ref().is_none_or(|v| !v.verdict.is_terminal()) =>
            {
                None
            }
            Some(kind @ (TraceType::Rule | TraceType::Return)) => {
                let verdict = ev.verdict.as_ref();
                let v = verdict.map_or(Verdict::Continue, |v| v.verdict.clone());
                self.path.push(Step {
                    chain: ev.chain.clone(),
                    kind: if kind == TraceType::Rule {
                        "rule"
                    } else {
                        "return"
                    },
                    handle: ev.rule_handle,
                    rule: text.clone(),
                    verdict: v.name(),
                    target: verdict.and_then(|v| v.chain.clone()),
                });
                if v.is_terminal() {
                    self.decided = Some((ev.chain.clone(), ev.rule_handle, text));
                    Some(v.name())
                } else {
                    None
                }
            }
            Some(TraceType::Other(_)) | None => None,
        }
    }
}

#[cfg(test)]
mod tests;
