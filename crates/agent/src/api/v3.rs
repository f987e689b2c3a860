//! pktvisor's REST API (v3 paths): `/api/v1/metrics/app`, `/api/v1/metrics/bucket/{N}`,
//! `/api/v1/metrics/window/{N}` (the command-line policy `default`). JSON shapes and status
//! codes as pktvisor's: a period out of range is 500 `{"1m": null, "error": "..."}` here (425
//! on the v4 policy paths). Prometheus text on `/metrics` and `/api/v1/policies/{name|__all}/metrics/prometheus`.
//! pktvisor 4's taps, policies and admin paths are in [`crate::api_v4`].

use crate::api_v4;
use crate::counters::CaptureCounters;
use crate::policy_info::POLICY;
use crate::policy_registry::PolicyRegistry;
use crate::prometheus::{Health, Scrape};
use crate::worker::Msg;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pv_handlers::json::RenderMode;
use pv_pipeline::{PeriodError, PolicyRenderer, PolicySnapshot};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, channel};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

/// What the API reads: the workers' queues (for snapshots), how to render, and the health.
pub struct ApiState {
    pub workers: Vec<SyncSender<Msg>>,
    /// How the command-line policy renders.
    pub renderer: PolicyRenderer,
    pub counters: Arc<CaptureCounters>,
    /// What the HTTP server refused (connections over the limit, timeouts, ambiguous lengths).
    pub http: Arc<crate::api::serve::HttpCounters>,
    pub iface: String,
    pub started: Instant,
    /// `instance` label of every Prometheus sample (`--prom-instance`).
    pub prom_instance: Option<String>,
    /// The policies running (the command line's and those added), as the API shows them.
    /// Readers hold it shared while they ask the workers, so that a policy cannot be added
    /// or removed between the question and the answer.
    pub registry: RwLock<PolicyRegistry>,
    /// `--admin-api`: POST/DELETE of policies are served (else 404, as pktvisor).
    pub admin_api: bool,
    /// `--record`: the recorder's counters, appended to the Prometheus text.
    pub recording: Option<Arc<crate::recording::RecordingShared>>,
    /// `--record DIR`: where the recording's files are, for the search endpoints.
    pub record_dir: Option<std::path::PathBuf>,
    /// Searches of the recording running on the blocking pool (a pcap answer's runs until
    /// its last byte is handed over or its client goes away).
    pub searches_running: Arc<AtomicU64>,
    /// Prometheus text of other sources (`--nft-trace`), appended to the health's scrape.
    pub extra_metrics: Option<crate::run::ExtraMetrics>,
}

/// Which buckets a request reads, so that workers copy only those.
#[derive(Clone, Copy, Debug)]
pub enum Newest {
    /// Every bucket held (a policy's info lists them).
    All,
    /// Bucket N (0: live).
    Bucket(usize),
    /// The newest N merged.
    Window(usize),
}

impl Newest {
    /// Buckets to copy: one more than the request reads, so that a worker whose clock tick is
    /// still queued (its newest bucket one period older) still gives the period asked for.
    fn buckets(self) -> usize {
        match self {
            Newest::All => usize::MAX,
            Newest::Bucket(i) => i.saturating_add(2),
            Newest::Window(n) => n.saturating_add(1),
        }
    }
}

/// Why a reader's request got no metrics.
pub(crate) enum ApiError {
    /// 425 (v4 paths): the period does not exist (yet).
    Period(PeriodError),
    /// 404 with pktvisor's message.
    NotFound(&'static str),
    /// 500: a worker is gone (the agent is stopping).
    Gone,
    /// 500 with this body: a period out of range on the v3 paths, which pktvisor answers
    /// `{"<key>": null, "error": "..."}` (its handler had written the key before the throw).
    V3Period(Value),
}

impl From<PeriodError> for ApiError {
    fn from(e: PeriodError) -> ApiError {
        ApiError::Period(e)
    }
}

/// pktvisor's answer to the v3 paths and `/metrics` once `default` is deleted.
pub(crate) const NO_DEFAULT: &str = "no \"default\" policy exists";

impl ApiState {
    pub fn read_registry(&self) -> RwLockReadGuard<'_, PolicyRegistry> {
        // A panic while holding the lock cannot leave the registry half changed (every change
        // is one push or retain), so a poisoned lock is still good.
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write_registry(&self) -> RwLockWriteGuard<'_, PolicyRegistry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every worker's copies of these policies, merged, in the order given (None for a policy
    /// no worker runs); None if a worker is gone.
    fn snapshots(
        &self,
        policies: &[(String, &PolicyRenderer)],
        newest: Newest,
    ) -> Option<Vec<Option<PolicySnapshot>>> {
        let newest = newest.buckets();
        if policies.is_empty() {
            return Some(Vec::new());
        }
        let names: Vec<String> = policies.iter().map(|(n, _)| n.clone()).collect();
        let mut replies = Vec::with_capacity(self.workers.len());
        for w in &self.workers {
            let (tx, rx) = channel();
            w.send(Msg::Snapshots(names.clone(), newest, tx)).ok()?;
            replies.push(rx);
        }
        let mut all: Vec<Option<PolicySnapshot>> = vec![None; policies.len()];
        for rx in replies {
            for (mine, theirs) in all.iter_mut().zip(rx.recv().ok()?) {
                match (mine.as_mut(), theirs) {
                    (Some(mine), Some(theirs)) => mine.merge(&theirs),
                    (None, Some(theirs)) => *mine = Some(theirs),
                    (_, None) => {}
                }
            }
        }
        for (snapshot, (_, renderer)) in all.iter_mut().zip(policies) {
            if let Some(s) = snapshot {
                s.truncate(renderer, newest);
            }
        }
        Some(all)
    }

    /// Every worker's buckets of the command-line policy, merged; None if a worker is gone or
    /// the policy was deleted.
    pub fn snapshot(&self, newest: Newest) -> Option<PolicySnapshot> {
        self.snapshots(&[(POLICY.to_string(), &self.renderer)], newest)?
            .into_iter()
            .next()
            .flatten()
    }

    /// Every worker's buckets of these added policies, merged, in the order given (an empty
    /// copy for one that no longer runs); None if a worker is gone.
    pub fn policy_snapshots(
        &self,
        policies: &[(String, &PolicyRenderer)],
        newest: Newest,
    ) -> Option<Vec<PolicySnapshot>> {
        Some(
            self.snapshots(policies, newest)?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
        )
    }

    pub fn app_json(&self) -> Value {
        let http = self.http.totals();
        json!({
            "app": {
                "version": env!("CARGO_PKG_VERSION"),
                "up_time_min": self.started.elapsed().as_secs_f64() / 60.0,
            },
            "capture": self.counters.to_json(&self.iface),
            "http": {
                "refused_connections": http.refused_connections,
                "timed_out_requests": http.timed_out_requests,
                "ambiguous_length_requests": http.ambiguous_length_requests,
                "tls_handshake_failures": http.tls_handshake_failures,
            },
            "search": {
                "running": self.searches_running.load(Ordering::Relaxed),
            },
        })
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// Runs a reader's request off the async threads (it waits on the workers' queues), with the
/// registry held shared.
pub(crate) async fn with_registry(
    state: Arc<ApiState>,
    render: impl FnOnce(&ApiState, &PolicyRegistry) -> Result<Value, ApiError> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let registry = state.read_registry();
        render(&state, &registry)
    })
    .await;
    match result {
        Ok(Ok(body)) => json_response(StatusCode::OK, &body),
        Ok(Err(ApiError::Period(e))) => error(StatusCode::TOO_EARLY, &e.0),
        Ok(Err(ApiError::NotFound(message))) => error(StatusCode::NOT_FOUND, message),
        Ok(Err(ApiError::V3Period(body))) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &body)
        }
        Ok(Err(ApiError::Gone)) | Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the agent is shutting down",
        ),
    }
}

/// The command-line policy's merged buckets rendered by `render` (the v3 paths), under `key`
/// (`1m`, `<N>m`). A period out of range is pktvisor 3.3's and 4.5's 500 (CoreServer.cpp's v3
/// routes catch every exception alike), not the 425 of its v4 policy path.
async fn with_command_line(
    state: Arc<ApiState>,
    newest: Newest,
    key: String,
    render: impl FnOnce(&PolicySnapshot, &PolicyRenderer) -> Result<Value, PeriodError> + Send + 'static,
) -> Response {
    with_registry(state, move |state, registry| {
        if !registry.command_line_running() {
            return Err(ApiError::NotFound(NO_DEFAULT));
        }
        let snapshot = state.snapshot(newest).ok_or(ApiError::Gone)?;
        render(&snapshot, &state.renderer)
            .map_err(|e| ApiError::V3Period(json!({ key: Value::Null, "error": e.0 })))
    })
    .await
}

/// How a running agent renders its buckets as JSON: rates of idle seconds are zeros (pktvisor's
/// timer samples every rate each second), and the live bucket's carry `"live"`, the last whole
/// second before now (`Rate::to_json(j, live)`). A file summary renders neither (pktvisor's
/// `recorded_stream`).
pub(crate) fn agent_mode(live: bool) -> RenderMode {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    RenderMode {
        live: live.then_some(now),
        agent: true,
        totals: false,
    }
}

pub(crate) fn period(raw: &str) -> Option<usize> {
    // pktvisor routes only match digits: anything else is not found. Digits too many for a
    // number are a period out of range like any other (refused with the valid range), not 404.
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(raw.parse().unwrap_or(usize::MAX))
}

async fn app(State(state): State<Arc<ApiState>>) -> Response {
    json_response(StatusCode::OK, &state.app_json())
}

async fn bucket(State(state): State<Arc<ApiState>>, Path(n): Path<String>) -> Response {
    match period(&n) {
        Some(n) => {
            with_command_line(state, Newest::Bucket(n), "1m".into(), move |s, r| {
                s.v3_bucket_json(r, n, agent_mode(n == 0))
            })
            .await
        }
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn window(State(state): State<Arc<ApiState>>, Path(n): Path<String>) -> Response {
    match period(&n) {
        Some(n) => {
            with_command_line(state, Newest::Window(n), format!("{n}m"), move |s, r| {
                s.v3_window_json(r, n, agent_mode(false))
            })
            .await
        }
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Which policies a Prometheus scrape shows.
enum Scraped {
    /// `/metrics`: the agent's health and the command-line policy.
    CommandLine,
    /// `/api/v1/policies/{name}/metrics/prometheus`.
    Policy(String),
    /// `/api/v1/policies/__all/metrics/prometheus`: the health and every policy.
    All,
}

async fn prometheus(State(state): State<Arc<ApiState>>) -> Response {
    prometheus_text(state, Scraped::CommandLine).await
}

async fn policy_prometheus(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Response {
    let scraped = if name == "__all" {
        Scraped::All
    } else {
        Scraped::Policy(name)
    };
    prometheus_text(state, scraped).await
}

/// The text of a scrape, or the status pktvisor answers (404 in plain text for an unknown
/// policy).
fn scrape_text(
    state: &ApiState,
    registry: &PolicyRegistry,
    scraped: &Scraped,
) -> Result<String, StatusCode> {
    let with_command_line = match scraped {
        Scraped::CommandLine | Scraped::All => registry.command_line_running(),
        Scraped::Policy(name) => registry.is_command_line(name),
    };
    let added: Vec<(String, &PolicyRenderer)> = match scraped {
        Scraped::CommandLine => Vec::new(),
        Scraped::All => registry
            .names()
            .into_iter()
            .filter_map(|n| registry.added(&n).map(|p| (n, &p.renderer)))
            .collect(),
        Scraped::Policy(name) => match registry.added(name) {
            Some(p) => vec![(name.clone(), &p.renderer)],
            None if with_command_line => Vec::new(),
            None => return Err(StatusCode::NOT_FOUND),
        },
    };
    let snapshot = if with_command_line {
        state
            // Every bucket: the health counts what the buckets held evicted.
            .snapshot(Newest::All)
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?
    } else {
        PolicySnapshot::default()
    };
    let added_snapshots = state
        .policy_snapshots(&added, Newest::All)
        .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
    let mut health = Health::gather(
        &state.counters,
        &state.iface,
        state.started,
        &snapshot,
        &state.renderer,
    );
    health.http = state.http.totals();
    // Module key to tap: the `tap` label of each module's samples.
    let mut taps: Vec<(String, String)> = registry
        .command_line
        .file
        .policy(crate::prometheus::POLICY)
        .map(crate::prometheus::module_taps)
        .unwrap_or_default();
    for (name, _) in &added {
        if let Some(p) = registry.added(name) {
            taps.extend(crate::prometheus::module_taps(&p.policy));
        }
    }
    let scrape = Scrape {
        instance: state.prom_instance.as_deref(),
        health: (!matches!(scraped, Scraped::Policy(_)) || with_command_line).then_some(&health),
        command_line: with_command_line.then_some((&snapshot, &state.renderer)),
        added: added
            .iter()
            .zip(&added_snapshots)
            .map(|((name, renderer), snapshot)| (name.as_str(), snapshot, *renderer))
            .collect(),
        taps,
        per_policy: !matches!(scraped, Scraped::CommandLine),
    };
    let mut text = crate::prometheus::render(&scrape);
    if scrape.health.is_some()
        && let Some(recording) = &state.recording
    {
        text.push_str(&recording.prometheus(
            &state.counters,
            &state.iface,
            state.prom_instance.as_deref(),
        ));
    }
    if scrape.health.is_some()
        && let Some(extra) = &state.extra_metrics
    {
        text.push_str(&crate::prometheus::counter_families(
            &(extra.0)(),
            state.prom_instance.as_deref(),
        ));
    }
    Ok(text)
}

async fn prometheus_text(state: Arc<ApiState>, scraped: Scraped) -> Response {
    let text = tokio::task::spawn_blocking(move || {
        let registry = state.read_registry();
        scrape_text(&state, &registry, &scraped)
    })
    .await;
    match text {
        Ok(Ok(body)) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/plain; version=0.0.4")],
            body,
        )
            .into_response(),
        // pktvisor answers this route's 404 in plain text.
        Ok(Err(StatusCode::NOT_FOUND)) => {
            (StatusCode::NOT_FOUND, "policy does not exists").into_response()
        }
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the agent is shutting down",
        ),
    }
}

/// `GET /api/v1/metrics/rates`: what pktvisor 4 answers on its deprecated path (zeros and a
/// pointer to the live bucket, `CoreServer::_setup_routes`), so that old scripts get a 200.
async fn rates() -> Response {
    axum::Json(serde_json::json!({
        "packets": {"in": 0, "out": 0},
        "warning": "deprecated: use 'live' data from /api/v1/metrics/bucket/0 instead",
    }))
    .into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/metrics/app", get(app))
        .route("/api/v1/metrics/bucket/{n}", get(bucket))
        .route("/api/v1/metrics/window/{n}", get(window))
        .route("/metrics", get(prometheus))
        .route("/api/v1/metrics/rates", get(rates))
        .route("/api/v1/server", axum::routing::delete(api_v4::stop_server))
        .route("/api/v1/taps", get(api_v4::taps).post(api_v4::create_taps))
        .route(
            "/api/v1/taps/{name}",
            get(api_v4::tap).delete(api_v4::delete_tap),
        )
        .route("/api/v1/policies", get(api_v4::list).post(api_v4::create))
        .route(
            "/api/v1/policies/{name}",
            get(api_v4::get_one).delete(api_v4::delete),
        )
        .route(
            "/api/v1/policies/{name}/metrics/prometheus",
            get(policy_prometheus),
        )
        .route(
            "/api/v1/policies/{name}/metrics/{kind}/{n}",
            get(api_v4::metrics),
        )
        .route(
            "/index/net/query",
            axum::routing::post(super::search::query),
        )
        .route("/api/v1/packets", get(super::search::packets))
        .route("/api/v1/packets/count", get(super::search::count))
        .fallback(not_found)
        // pktvisor (cpp-httplib) answers a method it has no handler for as not found.
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::period;

    /// One rule for periods out of range: digits past any number are out of range (refused with
    /// the valid range), as a large number is, not a missing route (404).
    #[test]
    fn periods_are_digits_and_huge_ones_are_out_of_range() {
        assert_eq!(period("0"), Some(0));
        assert_eq!(period("18446744073709551615"), Some(usize::MAX));
        assert_eq!(period("99999999999999999999"), Some(usize::MAX));
        assert_eq!(period(""), None);
        assert_eq!(period("-1"), None);
        assert_eq!(period("1e3"), None);
    }
}
