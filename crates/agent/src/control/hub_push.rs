//! `pktvisord IFACE --hub URL`: every completed bucket of every running policy, pushed to the
//! hub as its binary snapshot, with a heartbeat, through a spool that holds what the hub has
//! not acknowledged (delivered in order, with back-off, while capture goes on).
//!
//! A round every [`ROUND`]: the policies' buckets are copied from the workers and merged (as
//! the API does). A bucket is complete once a newer one is live; it is pushed one round after
//! the agent first saw the newer bucket live, so that every worker has rotated past it (a
//! worker rotates on its next packet or its clock tick, both well within a second). The
//! policy's capture counters and health counters are totals of the run: each push round
//! sends their increase since the previous round, with its newest bucket.

use crate::api::{ApiState, Newest};
use pv_hub::client::spool::Spool;
use pv_hub::client::{
    Backoff, PushFailure, PushTarget, Sent, attach_totals, send_heartbeat, send_oldest,
    split_buckets, spool_parts,
};
use pv_hub::protocol::Heartbeat;
use pv_pipeline::{PolicyRenderer, PolicySnapshot};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between push rounds.
const ROUND: Duration = Duration::from_secs(5);

/// `--hub URL` and its companions.
#[derive(Clone, Debug)]
pub struct HubPushConfig {
    pub target: PushTarget,
    /// `--spool-dir` (None: memory) and `--spool-max-bytes`.
    pub spool_dir: Option<std::path::PathBuf>,
    pub spool_max_bytes: u64,
}

/// What the pusher remembers of a policy between rounds.
#[derive(Default)]
struct PolicyState {
    /// The live bucket's start seen last round: buckets before it are complete.
    live_seen: Option<u64>,
    /// The newest bucket start pushed.
    pushed: Option<u64>,
    /// The run's totals at the last push (their increase goes with the next).
    totals: Option<PolicySnapshot>,
}

struct Pusher {
    state: Arc<ApiState>,
    target: PushTarget,
    spool: Spool,
    policies: HashMap<String, PolicyState>,
    backoff: Backoff,
    next_attempt: Instant,
    /// The hub's last failure was reported (reported once per outage).
    reported: bool,
}

/// Opens the spool (what an earlier run left is sent first) and starts the pusher thread.
pub(crate) fn spawn(
    state: Arc<ApiState>,
    cfg: HubPushConfig,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let spool = Spool::open(cfg.spool_dir.as_deref(), cfg.spool_max_bytes)?;
    eprintln!(
        "pktvisord: pushing completed buckets to http://{} as agent {} ({} pushes spooled)",
        cfg.target.hub.authority,
        cfg.target.agent,
        spool.len()
    );
    let mut p = Pusher {
        state,
        target: cfg.target,
        spool,
        policies: HashMap::new(),
        backoff: Backoff::default(),
        next_attempt: Instant::now(),
        reported: false,
    };
    std::thread::Builder::new()
        .name("pv-hub-push".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                p.round(false);
                let until = Instant::now() + ROUND;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            // Stopping: the workers read no more packets, so every bucket before the live one
            // is complete now; the live one is partial and stays unsent (a restarted agent's
            // bucket of the same minute would be refused as its duplicate). What the hub does
            // not take now waits in the spool (on disk with --spool-dir).
            p.round(true);
        })
}

/// The increase of a run's totals since `before`.
fn increase(now: &PolicySnapshot, before: Option<&PolicySnapshot>) -> PolicySnapshot {
    let mut d = now.clone();
    let Some(before) = before else {
        return d;
    };
    let s = &mut d.stats;
    let b = &before.stats;
    s.packets_read = s.packets_read.saturating_sub(b.packets_read);
    s.bpf_rejected = s.bpf_rejected.saturating_sub(b.bpf_rejected);
    s.malformed = s.malformed.saturating_sub(b.malformed);
    s.truncated = s.truncated.saturating_sub(b.truncated);
    s.unsupported_link_type = s
        .unsupported_link_type
        .saturating_sub(b.unsupported_link_type);
    for m in &mut d.modules {
        if let Some(old) = before.modules.iter().find(|o| o.key == m.key) {
            for ((_, v), (_, was)) in m.health.iter_mut().zip(&old.health) {
                *v = v.saturating_sub(*was);
            }
        }
    }
    d
}

impl Pusher {
    /// Every running policy's buckets, merged over the workers.
    fn snapshots(&self) -> Vec<(String, PolicySnapshot)> {
        let policies: Vec<(String, PolicyRenderer)> = {
            let registry = self.state.read_registry();
            registry
                .names()
                .into_iter()
                .map(|name| {
                    let renderer = match registry.added(&name) {
                        Some(added) if !registry.is_command_line(&name) => added.renderer.clone(),
                        _ => self.state.renderer.clone(),
                    };
                    (name, renderer)
                })
                .collect()
        };
        let refs: Vec<(String, &PolicyRenderer)> =
            policies.iter().map(|(n, r)| (n.clone(), r)).collect();
        let snaps = self
            .state
            .policy_snapshots(&refs, Newest::All)
            .unwrap_or_default();
        policies.into_iter().map(|(n, _)| n).zip(snaps).collect()
    }

    /// Spools the completed buckets of every policy, sends a heartbeat and what the spool
    /// holds. `stopping`: every bucket before the live one is complete already.
    fn round(&mut self, stopping: bool) {
        for (name, snap) in self.snapshots() {
            let st = self.policies.entry(name.clone()).or_default();
            let live = snap
                .modules
                .iter()
                .filter_map(|m| m.buckets.first())
                .map(|b| b.start_sec)
                .max();
            let complete_before = if stopping { live } else { st.live_seen };
            st.live_seen = live;
            let Some(before) = complete_before else {
                continue;
            };
            let pushed = st.pushed;
            let mut parts = split_buckets(&snap, |s| s < before && pushed.is_none_or(|p| s > p));
            let Some((newest, _, last)) = parts.last_mut() else {
                continue;
            };
            attach_totals(last, &increase(&snap, st.totals.as_ref()));
            st.pushed = Some(*newest);
            st.totals = Some(snap);
            if let Err(e) = spool_parts(&mut self.spool, &self.target, &name, &parts) {
                eprintln!("pktvisord: warning: hub spool: {e}");
            }
        }
        if !stopping {
            self.heartbeat();
        }
        self.deliver();
    }

    fn heartbeat(&mut self) {
        if Instant::now() < self.next_attempt {
            return;
        }
        let c = &self.state.counters;
        let drops = c.kernel_dropped.load(Ordering::Relaxed)
            + c.if_dropped.load(Ordering::Relaxed)
            + c.queue_drops.load(Ordering::Relaxed);
        let hb = Heartbeat {
            agent: self.target.agent.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            interfaces: vec![self.state.iface.clone()],
            policies: self.state.read_registry().names(),
            drops,
            spool_bytes: self.spool.bytes(),
            spool_dropped: self.spool.dropped,
        };
        if let Err(e) = send_heartbeat(&self.target, &hb) {
            self.failed(&e);
        }
    }

    /// Sends what the spool holds, oldest first, until it is empty or the hub fails.
    fn deliver(&mut self) {
        while Instant::now() >= self.next_attempt {
            match send_oldest(&mut self.spool, &self.target) {
                Ok(Sent::Nothing) => return,
                Ok(Sent::Delivered { .. }) => {
                    if self.reported {
                        eprintln!("pktvisord: the hub answers again");
                    }
                    self.reported = false;
                    self.backoff.reset();
                }
                Ok(Sent::Refused(status)) => {
                    eprintln!("pktvisord: warning: the hub refused a bucket ({status}); dropped");
                }
                Err(e) => {
                    self.failed(&e);
                    return;
                }
            }
        }
    }

    fn failed(&mut self, e: &PushFailure) {
        let wait = self.backoff.step();
        if !self.reported {
            eprintln!("pktvisord: warning: {e}; buckets wait in the spool, retried with back-off");
            self.reported = true;
        }
        self.next_attempt = Instant::now() + wait;
    }
}
