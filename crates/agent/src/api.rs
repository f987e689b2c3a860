//! pktvisor's REST API (v3 paths): `/api/v1/metrics/app`, `/api/v1/metrics/bucket/{N}`,
//! `/api/v1/metrics/window/{N}`. JSON shapes and status codes as pktvisor's: a period out of
//! range is 425 Too Early with `{"error": "..."}`. Prometheus text on `/metrics` and
//! `/api/v1/policies/{default,__all}/metrics/prometheus`. pktvisor 4's taps, policies and admin
//! paths are in [`crate::api_v4`].

use crate::api_v4;
use crate::counters::CaptureCounters;
use crate::policy_info::{CommandLinePolicy, POLICY};
use crate::prometheus::Health;
use crate::worker::Msg;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pv_pipeline::{PeriodError, Renderer, Snapshot};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, channel};
use std::time::Instant;

/// What the API reads: the workers' queues (for snapshots), how to render, and the health.
pub struct ApiState {
    pub workers: Vec<SyncSender<Msg>>,
    pub renderer: Renderer,
    pub counters: Arc<CaptureCounters>,
    pub iface: String,
    pub started: Instant,
    /// `instance` label of every Prometheus sample (`--prom-instance`).
    pub prom_instance: Option<String>,
    /// The command-line policy, as pktvisor's taps/policies API shows it.
    pub policy: CommandLinePolicy,
    /// `--admin-api`: POST/DELETE of policies are served (else 404, as pktvisor).
    pub admin_api: bool,
    /// `--record`: the recorder's counters, appended to the Prometheus text.
    pub recording: Option<Arc<crate::recording::RecordingShared>>,
}

impl ApiState {
    /// Every worker's buckets, merged; None if a worker is gone.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let mut replies = Vec::with_capacity(self.workers.len());
        for w in &self.workers {
            let (tx, rx) = channel();
            w.send(Msg::Snapshot(tx)).ok()?;
            replies.push(rx);
        }
        let mut all = Snapshot::default();
        for rx in replies {
            all.merge(&rx.recv().ok()?);
        }
        all.truncate(self.renderer.periods);
        Some(all)
    }

    pub fn app_json(&self) -> Value {
        json!({
            "app": {
                "version": env!("CARGO_PKG_VERSION"),
                "up_time_min": self.started.elapsed().as_secs_f64() / 60.0,
            },
            "capture": self.counters.to_json(&self.iface),
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

/// Runs a reader's request off the async threads (it waits on the workers' queues).
pub(crate) async fn with_snapshot(
    state: Arc<ApiState>,
    render: impl FnOnce(&Snapshot, &Renderer) -> Result<Value, PeriodError> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let snapshot = state.snapshot()?;
        Some(render(&snapshot, &state.renderer))
    })
    .await;
    match result {
        Ok(Some(Ok(body))) => json_response(StatusCode::OK, &body),
        Ok(Some(Err(e))) => error(StatusCode::TOO_EARLY, &e.0),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the agent is shutting down",
        ),
    }
}

pub(crate) fn period(raw: &str) -> Option<usize> {
    // pktvisor routes only match digits: anything else is not found.
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

async fn app(State(state): State<Arc<ApiState>>) -> Response {
    json_response(StatusCode::OK, &state.app_json())
}

async fn bucket(State(state): State<Arc<ApiState>>, Path(n): Path<String>) -> Response {
    match period(&n) {
        Some(n) => with_snapshot(state, move |s, r| s.bucket_json(r, n)).await,
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn window(State(state): State<Arc<ApiState>>, Path(n): Path<String>) -> Response {
    match period(&n) {
        Some(n) => with_snapshot(state, move |s, r| s.window_json(r, n)).await,
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn prometheus(State(state): State<Arc<ApiState>>) -> Response {
    prometheus_text(state).await
}

/// `/api/v1/policies/{name}/metrics/prometheus`: `default` and `__all` (the only policy).
async fn policy_prometheus(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Response {
    if name != POLICY && name != "__all" {
        // pktvisor answers this route's 404 in plain text.
        return (StatusCode::NOT_FOUND, "policy does not exists").into_response();
    }
    prometheus_text(state).await
}

async fn prometheus_text(state: Arc<ApiState>) -> Response {
    let text = tokio::task::spawn_blocking(move || {
        let snapshot = state.snapshot()?;
        let health = Health::gather(&state.counters, &state.iface, state.started, &snapshot);
        let mut text = crate::prometheus::render(
            &snapshot,
            &state.renderer,
            &health,
            state.prom_instance.as_deref(),
        );
        if let Some(recording) = &state.recording {
            text.push_str(&recording.prometheus(&state.counters, state.prom_instance.as_deref()));
        }
        Some(text)
    })
    .await;
    match text {
        Ok(Some(body)) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/plain; version=0.0.4")],
            body,
        )
            .into_response(),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the agent is shutting down",
        ),
    }
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
        .route("/api/v1/taps", get(api_v4::taps))
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
        .fallback(not_found)
        // pktvisor (cpp-httplib) answers a method it has no handler for as not found.
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}
