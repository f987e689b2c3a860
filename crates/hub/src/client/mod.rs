//! The agent's side of the push protocol: a policy snapshot cut into one push per bucket, a
//! spool of pushes not yet acknowledged, and delivery in order with back-off.

pub mod http;
pub mod spool;
pub mod traces;

use crate::protocol::{BucketPush, Heartbeat};
use http::{Answer, HttpError, HubUrl, post};
use pv_summary::PolicySnapshot;
use spool::Spool;
use std::time::Duration;

/// Where and how an agent pushes.
#[derive(Clone, Debug)]
pub struct PushTarget {
    pub hub: HubUrl,
    pub token: Option<Vec<u8>>,
    pub agent: String,
}

impl PushTarget {
    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Answer, HttpError> {
        post(&self.hub, path, self.token.as_deref(), content_type, body)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    #[error("the hub refused the token (401): check --hub-token-file")]
    Unauthorized,
    #[error("spool: {0}")]
    Spool(#[from] std::io::Error),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the hub answered {0}")]
    Status(u16),
}

/// Cuts a policy's snapshot into one snapshot per bucket start that `wanted` accepts, oldest
/// first: each module's bucket of that start (buckets no packet reached are left out: an
/// aligned window holds empty periods between traffic). The parts carry no capture
/// statistics and zero health counters: those are totals of a run, which the caller attaches
/// once ([`attach_totals`]) so that the hub's sum over buckets counts them once.
pub fn split_buckets(
    s: &PolicySnapshot,
    wanted: impl Fn(u64) -> bool,
) -> Vec<(u64, u64, PolicySnapshot)> {
    let mut starts: Vec<u64> = s
        .modules
        .iter()
        .flat_map(|m| &m.buckets)
        .filter(|b| b.first_ts_ns.is_some() && wanted(b.start_sec))
        .map(|b| b.start_sec)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
        .into_iter()
        .map(|start| {
            let mut part = PolicySnapshot::default();
            let mut end = start;
            for m in &s.modules {
                let mut one = m.clone();
                one.buckets.retain(|b| b.start_sec == start);
                one.health.iter_mut().for_each(|(_, v)| *v = 0);
                end = one.buckets.iter().map(|b| b.until_sec).fold(end, u64::max);
                part.modules.push(one);
            }
            (start, end, part)
        })
        .collect()
}

/// Puts a run's capture statistics and health counters (or their increase since the last
/// push) on a part of [`split_buckets`]; `totals` is the snapshot they come from.
pub fn attach_totals(part: &mut PolicySnapshot, totals: &PolicySnapshot) {
    part.stats = totals.stats.clone();
    for m in &mut part.modules {
        if let Some(t) = totals.modules.iter().find(|t| t.key == m.key) {
            m.health.clone_from(&t.health);
        }
    }
}

/// Queues each part as a push of `policy`, oldest first.
pub fn spool_parts(
    spool: &mut Spool,
    target: &PushTarget,
    policy: &str,
    parts: &[(u64, u64, PolicySnapshot)],
) -> std::io::Result<()> {
    for (start, end, part) in parts {
        let mut snapshot = Vec::new();
        part.encode(&mut snapshot);
        let push = BucketPush {
            agent: target.agent.clone(),
            policy: policy.to_string(),
            start: *start,
            end: *end,
            snapshot,
        };
        spool.add(push.encode())?;
    }
    Ok(())
}

/// Queues every bucket of a whole run's snapshot (a file's), its totals with the newest.
pub fn spool_snapshot(
    spool: &mut Spool,
    target: &PushTarget,
    policy: &str,
    s: &PolicySnapshot,
) -> std::io::Result<usize> {
    let mut parts = split_buckets(s, |_| true);
    if let Some((_, _, newest)) = parts.last_mut() {
        attach_totals(newest, s);
    }
    spool_parts(spool, target, policy, &parts)?;
    Ok(parts.len())
}

/// Back-off between attempts while the hub is unreachable or failing: doubling from 250 ms to
/// 10 s.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Backoff::FIRST,
        }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(10);

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// The wait before the next attempt; the one after is twice as long.
    pub fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }
}

/// What one delivery attempt of the oldest push did.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Stored, or already stored (a retry): removed from the spool.
    Delivered {
        duplicate: bool,
    },
    /// Refused as malformed (4xx other than 401): it would never be accepted; removed.
    Refused(u16),
    Nothing,
}

/// Sends the oldest push in the spool once. Transport errors and 5xx leave it queued.
pub fn send_oldest(spool: &mut Spool, target: &PushTarget) -> Result<Sent, PushFailure> {
    send_oldest_to(spool, target, "/api/v1/push/buckets")
}

/// [`send_oldest`] to the push endpoint `path` (buckets or trace batches).
pub fn send_oldest_to(
    spool: &mut Spool,
    target: &PushTarget,
    path: &str,
) -> Result<Sent, PushFailure> {
    let Some(body) = spool.oldest()? else {
        return Ok(Sent::Nothing);
    };
    let answer = target.post(path, "application/octet-stream", &body)?;
    match answer.status {
        200 => {
            spool.remove_oldest()?;
            let duplicate = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .is_ok_and(|v| v["duplicate"] == true);
            Ok(Sent::Delivered { duplicate })
        }
        401 => Err(PushFailure::Unauthorized),
        s @ 400..=499 => {
            spool.remove_oldest()?;
            Ok(Sent::Refused(s))
        }
        s => Err(PushFailure::Status(s)),
    }
}

/// Sends a heartbeat.
pub fn send_heartbeat(target: &PushTarget, hb: &Heartbeat) -> Result<(), PushFailure> {
    let body = serde_json::to_vec(hb).unwrap_or_default();
    let answer = target.post("/api/v1/push/heartbeat", "application/json", &body)?;
    match answer.status {
        200 => Ok(()),
        401 => Err(PushFailure::Unauthorized),
        s => Err(PushFailure::Status(s)),
    }
}

/// Counts of a drain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub delivered: u64,
    pub duplicates: u64,
    pub refused: u64,
}

/// Delivers every queued push in order, waiting with back-off while the hub is unreachable
/// or failing; `on_wait` hears each failure and the wait that follows. Returns on an empty
/// spool, a refused token or a TLS failure (a certificate not trusted).
pub fn drain(
    spool: &mut Spool,
    target: &PushTarget,
    on_wait: &mut dyn FnMut(&PushFailure, Duration),
) -> Result<Drained, PushFailure> {
    let mut backoff = Backoff::default();
    let mut done = Drained::default();
    loop {
        match send_oldest(spool, target) {
            Ok(Sent::Nothing) => return Ok(done),
            Ok(Sent::Delivered { duplicate }) => {
                done.delivered += 1;
                done.duplicates += u64::from(duplicate);
                backoff.reset();
            }
            Ok(Sent::Refused(_)) => done.refused += 1,
            // The hub's certificate refused: waiting will not change it.
            Err(
                e @ (PushFailure::Unauthorized
                | PushFailure::Spool(_)
                | PushFailure::Http(HttpError::Tls { .. } | HttpError::TlsSetup(_))),
            ) => return Err(e),
            Err(e) => {
                let wait = backoff.step();
                on_wait(&e, wait);
                std::thread::sleep(wait);
            }
        }
    }
}
