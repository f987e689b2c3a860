//! The hub's HTTP API: the push endpoints agents write to, and pktvisor's read paths over the
//! stored buckets (global and per agent), `/api/v1/agents`, history and Prometheus.

use crate::cache::SnapshotCache;
use crate::counters::Counters;
use crate::protocol::{BucketPush, Heartbeat, valid_name};
use crate::store::{BucketQuery, BucketRow, Inserted, Store};
use crate::time::parse_time;
use crate::view::{Read, Shape, ViewError, history_json, prometheus_text, read_json};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Largest push body accepted (413 above). Measured: a minute of the default policy encodes
/// to 2.8 KiB (dns_ipv4_udp.pcap, 140 packets) and 95 KiB (dns_udp_tcp_random.pcap's first
/// minute: 16 000 packets, 2 000 names); sketches have fixed caps, so 16 MiB leaves room for
/// policies of many modules.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// The policy the v3 paths (`/api/v1/metrics/...`) read: the command line's, as in pktvisor.
pub const DEFAULT_POLICY: &str = "default";

pub struct HubState {
    pub store: Mutex<Box<dyn Store>>,
    pub token: Option<Vec<u8>>,
    /// Bucket starts a window may merge (`--periods`).
    pub periods: usize,
    pub counters: Counters,
    /// Merged buckets per start; locked after `store`, never before.
    pub cache: Mutex<SnapshotCache>,
    /// The followers of `/api/v1/traces/follow`: every trace record stored, as it is.
    pub followers: crate::traces::Followers,
    /// Every agent's newest nftables rulesets (soft state: agents send them again).
    pub rulesets: crate::traces::rulesets::HubRulesets,
}

impl HubState {
    pub fn cache(&self) -> std::sync::MutexGuard<'_, SnapshotCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Shared = Arc<HubState>;

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/push/buckets", post(push_bucket))
        .route("/api/v1/push/heartbeat", post(heartbeat))
        .route("/api/v1/agents", get(agents))
        .route("/api/v1/metrics/bucket/{n}", get(global_bucket))
        .route("/api/v1/metrics/window/{n}", get(global_window))
        .route("/api/v1/metrics/history", get(history))
        .route("/api/v1/agents/{id}/metrics/bucket/{n}", get(agent_bucket))
        .route("/api/v1/agents/{id}/metrics/window/{n}", get(agent_window))
        .route(
            "/api/v1/policies/{policy}/metrics/bucket/{n}",
            get(policy_bucket),
        )
        .route(
            "/api/v1/policies/{policy}/metrics/window/{n}",
            get(policy_window),
        )
        .route(
            "/api/v1/agents/{id}/policies/{policy}/metrics/bucket/{n}",
            get(agent_policy_bucket),
        )
        .route(
            "/api/v1/agents/{id}/policies/{policy}/metrics/window/{n}",
            get(agent_policy_window),
        )
        .route("/metrics", get(prometheus))
        .merge(crate::traces::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// Equal bytes, in time that depends on the lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the compiler from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

async fn authorize(State(s): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g, token)) {
            Counters::add(&s.counters.unauthorized);
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(json!({"error": "a valid bearer token is required"})),
            )
                .into_response();
        }
    }
    next.run(req).await
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// Runs `f` on the store on a blocking thread (SQLite calls block).
pub(crate) async fn with_store<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce(&mut dyn Store) -> T + Send + 'static,
) -> Result<T, Response> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
        f(store.as_mut())
    })
    .await
    .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "store task failed"))
}

async fn push_bucket(State(s): State<Shared>, body: Bytes) -> Response {
    Counters::add(&s.counters.pushes_received);
    let push = match BucketPush::decode(&body) {
        Ok((push, _)) => push,
        Err(e) => {
            Counters::add(&s.counters.pushes_rejected);
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let row = BucketRow {
        agent: push.agent,
        policy: push.policy,
        start: push.start,
        end: push.end,
        snapshot: push.snapshot,
    };
    let started = Instant::now();
    let state = s.clone();
    let result = match with_store(&s, move |st| {
        let r = st.insert_bucket(&row, now_secs());
        // Under the store's lock: no read merges this start between the write and this.
        if let Ok(Inserted::New) = r {
            state.cache().invalidate(&row.agent, &row.policy, row.start);
        }
        r
    })
    .await
    {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    s.counters.write_took(started.elapsed());
    match result {
        Ok(Inserted::New) => {
            Counters::add(&s.counters.rows_written);
            axum::Json(json!({"stored": true})).into_response()
        }
        Ok(Inserted::Duplicate) => {
            Counters::add(&s.counters.duplicates);
            axum::Json(json!({"stored": false, "duplicate": true})).into_response()
        }
        Err(e) => {
            Counters::add(&s.counters.store_write_errors);
            // 503: the agent keeps the bucket in its spool and retries.
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}

async fn heartbeat(State(s): State<Shared>, body: Bytes) -> Response {
    let hb: Heartbeat = match serde_json::from_slice(&body) {
        Ok(hb) => hb,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("heartbeat: {e}")),
    };
    if !valid_name(&hb.agent) {
        return error(StatusCode::BAD_REQUEST, "heartbeat: bad agent id");
    }
    Counters::add(&s.counters.heartbeats);
    match with_store(&s, move |st| st.record_heartbeat(&hb, now_secs())).await {
        Ok(Ok(())) => axum::Json(json!({"ok": true})).into_response(),
        Ok(Err(e)) => {
            Counters::add(&s.counters.store_write_errors);
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
        Err(resp) => resp,
    }
}

async fn agents(State(s): State<Shared>) -> Response {
    match with_store(&s, |st| st.agents()).await {
        Ok(Ok(list)) => {
            let list: Vec<Value> = list
                .into_iter()
                .map(|a| {
                    json!({
                        "id": a.heartbeat.agent,
                        "version": a.heartbeat.version,
                        "first_seen": a.first_seen,
                        "last_seen": a.last_seen,
                        "interfaces": a.heartbeat.interfaces,
                        "policies": a.heartbeat.policies,
                        "drops": a.heartbeat.drops,
                        "spool": {"bytes": a.heartbeat.spool_bytes,
                                  "dropped": a.heartbeat.spool_dropped},
                    })
                })
                .collect();
            axum::Json(json!({ "agents": list })).into_response()
        }
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(resp) => resp,
    }
}

/// A view's answer; `v3_key` (`1m`, `<N>m`) on pktvisor 3's paths, whose period refusal is
/// pktvisor's 500 `{"<key>": null, "error": ...}` as an agent's (the v4 paths: 425).
fn view_response(r: Result<Value, ViewError>, v3_key: Option<String>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(ViewError::Period(e)) => match v3_key {
            Some(key) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ key: Value::Null, "error": e.0 })),
            )
                .into_response(),
            None => error(StatusCode::TOO_EARLY, &e.0),
        },
        Err(ViewError::Empty(m)) => error(StatusCode::NOT_FOUND, &m),
        Err(e @ ViewError::TooMany) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ ViewError::Store(_)) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(e @ ViewError::Decode { .. }) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    }
}

async fn read(s: Shared, agent: Option<String>, policy: Option<String>, read: Read) -> Response {
    if agent.as_deref().is_some_and(|a| !valid_name(a)) {
        return error(StatusCode::NOT_FOUND, "no such agent");
    }
    if policy.as_deref().is_some_and(|p| !valid_name(p)) {
        return error(StatusCode::NOT_FOUND, "policy does not exist");
    }
    // The v3 paths read the command line's policy, as in pktvisor; the v4 paths name one.
    let shape = if policy.is_some() {
        Shape::V4
    } else {
        Shape::V3
    };
    let q = BucketQuery {
        policy: policy.unwrap_or_else(|| DEFAULT_POLICY.to_string()),
        agent,
        ..BucketQuery::default()
    };
    let v3_key = match (shape, read) {
        (Shape::V3, Read::Bucket(_)) => Some("1m".to_string()),
        (Shape::V3, Read::Window(n)) => Some(format!("{n}m")),
        (Shape::V4, _) => None,
    };
    let periods = s.periods;
    let state = s.clone();
    match with_store(&s, move |st| {
        read_json(st, &mut state.cache(), &q, periods, read, shape)
    })
    .await
    {
        Ok(r) => view_response(r, v3_key),
        Err(resp) => resp,
    }
}

async fn global_bucket(State(s): State<Shared>, Path(n): Path<usize>) -> Response {
    read(s, None, None, Read::Bucket(n)).await
}

async fn global_window(State(s): State<Shared>, Path(n): Path<usize>) -> Response {
    read(s, None, None, Read::Window(n)).await
}

async fn agent_bucket(State(s): State<Shared>, Path((id, n)): Path<(String, usize)>) -> Response {
    read(s, Some(id), None, Read::Bucket(n)).await
}

async fn agent_window(State(s): State<Shared>, Path((id, n)): Path<(String, usize)>) -> Response {
    read(s, Some(id), None, Read::Window(n)).await
}

async fn policy_bucket(
    State(s): State<Shared>,
    Path((policy, n)): Path<(String, usize)>,
) -> Response {
    read(s, None, Some(policy), Read::Bucket(n)).await
}

async fn policy_window(
    State(s): State<Shared>,
    Path((policy, n)): Path<(String, usize)>,
) -> Response {
    read(s, None, Some(policy), Read::Window(n)).await
}

async fn agent_policy_bucket(
    State(s): State<Shared>,
    Path((id, policy, n)): Path<(String, String, usize)>,
) -> Response {
    read(s, Some(id), Some(policy), Read::Bucket(n)).await
}

async fn agent_policy_window(
    State(s): State<Shared>,
    Path((id, policy, n)): Path<(String, String, usize)>,
) -> Response {
    read(s, Some(id), Some(policy), Read::Window(n)).await
}

async fn history(State(s): State<Shared>, Query(p): Query<HashMap<String, String>>) -> Response {
    let time = |key: &str| p.get(key).map(|v| parse_time(v)).transpose();
    let (from, to) = match (time("from"), time("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let agent = p.get("agent").cloned();
    let policy = p
        .get("policy")
        .cloned()
        .unwrap_or_else(|| DEFAULT_POLICY.to_string());
    if !valid_name(&policy) || agent.as_deref().is_some_and(|a| !valid_name(a)) {
        return error(StatusCode::BAD_REQUEST, "bad agent or policy name");
    }
    let q = BucketQuery {
        policy,
        agent,
        from,
        to,
    };
    match with_store(&s, move |st| history_json(st, &q)).await {
        Ok(r) => view_response(r, None),
        Err(resp) => resp,
    }
}

async fn prometheus(State(s): State<Shared>) -> Response {
    let state = s.clone();
    let text = with_store(&s, move |st| {
        let agents = st.agents()?;
        let ids: Vec<String> = agents.iter().map(|a| a.heartbeat.agent.clone()).collect();
        let merged = prometheus_text(st, &mut state.cache(), DEFAULT_POLICY, &ids)?;
        let spools: Vec<(String, u64, u64)> = agents
            .into_iter()
            .map(|a| {
                let h = a.heartbeat;
                (h.agent, h.spool_bytes, h.spool_dropped)
            })
            .collect();
        let mut text =
            state
                .counters
                .prometheus(&spools, &state.cache().counters, state.followers.count());
        text.push_str(&merged);
        Ok::<_, ViewError>(text)
    })
    .await;
    match text {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        Ok(Err(e)) => view_response(Err(e), None),
        Err(resp) => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
