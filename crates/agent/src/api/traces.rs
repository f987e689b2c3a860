//! nftables traces on the API (`--nft-trace`): `GET /api/v1/traces` (search, newest first,
//! paginated), `GET /api/v1/traces/follow` (NDJSON, or server-sent events, pushed as records
//! arrive), `GET
//! /api/v1/nft/ruleset`. The agent does not know the trace store or its records: the binary
//! hands it a [`TraceQueries`] (as it hands [`crate::ExtraMetrics`]), so that pv-agent needs
//! neither pv-nftrace nor SQLite.

use super::serve::{HttpCounters, HttpLimits, serve};
use super::v3::error;
use crate::control::error::{AgentError, io};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pv_http::follow::{self, SSE_KEEP_ALIVE};
pub use pv_http::follow::{FollowFilter, Followed, TraceFollow};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why a trace request has no answer.
#[derive(Debug)]
pub enum TraceQueryError {
    /// 400: a filter, time, limit or cursor that does not parse; `position` (0-based, in
    /// the parameter named) and what was expected, for `q`.
    BadRequest {
        message: String,
        parameter: Option<String>,
        position: Option<usize>,
        expected: Option<String>,
    },
    /// 500: the store failed.
    Failed(String),
}

/// What the binary's trace store answers.
pub trait TraceQueries: Send + Sync {
    /// `GET /api/v1/traces`: the query parameters as given; `{"traces": [...], "next":
    /// cursor or null}`.
    fn search(&self, params: &[(String, String)]) -> Result<Value, TraceQueryError>;
    /// `GET /api/v1/traces/follow`.
    fn follow(&self, params: &[(String, String)]) -> Result<TraceFollow, TraceQueryError>;
    /// `GET /api/v1/nft/ruleset`: the ruleset text per namespace.
    fn rulesets(&self) -> Value;
}

/// The binary's trace store, for [`crate::AgentConfig`].
#[derive(Clone)]
pub struct Traces(pub Arc<dyn TraceQueries>);

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Traces")
    }
}

struct TraceState {
    queries: Arc<dyn TraceQueries>,
    /// Set at shutdown: followers end their answers, so that the server's graceful
    /// shutdown does not wait its 30 s for them.
    ending: watch::Receiver<bool>,
    /// Silence after which a server-sent-events follower gets a comment line.
    keep_alive: Duration,
}

fn answer_error(e: TraceQueryError) -> Response {
    match e {
        TraceQueryError::BadRequest {
            message,
            parameter,
            position,
            expected,
        } => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": message,
                "parameter": parameter,
                "position": position,
                "expected": expected,
            })),
        )
            .into_response(),
        TraceQueryError::Failed(m) => error(StatusCode::INTERNAL_SERVER_ERROR, &m),
    }
}

type Params = Query<Vec<(String, String)>>;

async fn search(State(s): State<Arc<TraceState>>, Query(params): Params) -> Response {
    let queries = s.queries.clone();
    match tokio::task::spawn_blocking(move || queries.search(&params)).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => answer_error(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the search stopped"),
    }
}

async fn rulesets(State(s): State<Arc<TraceState>>) -> Response {
    axum::Json(s.queries.rulesets()).into_response()
}

async fn follow(
    State(s): State<Arc<TraceState>>,
    headers: HeaderMap,
    Query(mut params): Params,
) -> Response {
    let framing = match follow::framing(&headers, &mut params) {
        Ok(f) => f,
        Err(e) => {
            return answer_error(TraceQueryError::BadRequest {
                message: e.to_string(),
                parameter: Some("format".into()),
                position: None,
                expected: Some("sse or ndjson".into()),
            });
        }
    };
    match s.queries.follow(&params) {
        Ok(f) => follow::response(f, framing, s.ending.clone(), s.keep_alive),
        Err(e) => answer_error(e),
    }
}

/// Ends every follower's answer (at shutdown).
pub struct Followers(watch::Sender<bool>);

impl Followers {
    pub fn end(&self) {
        let _ = self.0.send(true);
    }
}

/// The trace routes, merged into the agent's router when it collects traces, and the
/// handle that ends their followers.
pub fn routes<S>(traces: &Traces) -> (Router<S>, Followers) {
    routes_with(traces, SSE_KEEP_ALIVE)
}

fn routes_with<S>(traces: &Traces, keep_alive: Duration) -> (Router<S>, Followers) {
    let (end, ending) = watch::channel(false);
    let state = Arc::new(TraceState {
        queries: traces.0.clone(),
        ending,
        keep_alive,
    });
    let router = Router::new()
        .route("/api/v1/traces", get(search))
        .route("/api/v1/traces/follow", get(follow))
        .route("/api/v1/nft/ruleset", get(rulesets))
        .with_state(state);
    (router, Followers(end))
}

/// Resolves at SIGINT/SIGTERM (setting `stop`), after ending the followers.
pub(crate) async fn shutdown_then_end(
    stop: Arc<std::sync::atomic::AtomicBool>,
    followers: Option<Followers>,
) {
    crate::run::shutdown_signal(stop).await;
    if let Some(f) = followers {
        f.end();
    }
}

/// `pktvisord --nft-trace` without a capture: the trace routes and `/metrics` (the trace
/// counters) on HOST:PORT until SIGINT or SIGTERM.
pub fn serve_traces(
    host: &str,
    port: u16,
    traces: &Traces,
    metrics: Option<crate::ExtraMetrics>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> Result<(), AgentError> {
    let (runtime, listener, addr) = crate::run::bind(host, port)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("pktvisord: trace API on {scheme}://{addr}");
    let (app, followers) = routes(traces);
    let app = app
        .route(
            "/metrics",
            get(move || {
                let families = metrics.as_ref().map(|m| (m.0)()).unwrap_or_default();
                let text = super::prometheus::counter_families(&families, None);
                async move { ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = runtime.block_on(serve(
        listener,
        app,
        HttpLimits::default(),
        Arc::new(HttpCounters::default()),
        tls.map(tokio_rustls::TlsAcceptor::from),
        shutdown_then_end(stop, Some(followers)),
    ));
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    served.map_err(io("HTTP server"))
}

#[cfg(test)]
#[path = "traces_tests.rs"]
mod tests;
