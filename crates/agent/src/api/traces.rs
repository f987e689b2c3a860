//! nftables traces on the API (`--nft-trace`): `GET /api/v1/traces` (search, newest first,
//! paginated), `GET /api/v1/traces/follow` (NDJSON, or server-sent events, pushed as records
//! arrive), `GET
//! /api/v1/nft/ruleset`. The agent does not know the trace store or its records: the binary
//! hands it a [`TraceQueries`] (as it hands [`crate::ExtraMetrics`]), so that pv-agent needs
//! neither pv-nftrace nor SQLite.

use super::channel_body::{ChannelBody, OnClose};
use super::serve::{HttpCounters, HttpLimits, serve};
use super::v3::error;
use crate::control::error::{AgentError, io};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// One record as it arrives: its JSON line and its fields for the follower's filter.
pub struct Followed {
    pub json: String,
    pub fields: Box<dyn Any + Send + Sync>,
}

/// Whether a followed record passes a follower's filters.
pub type FollowFilter = Box<dyn Fn(&Followed) -> bool + Send + Sync>;

/// A follower: the records from now on, and its filter.
pub struct TraceFollow {
    pub records: broadcast::Receiver<Arc<Followed>>,
    pub keep: FollowFilter,
    /// Counts the records this follower missed because it read slower than they came.
    pub missed: Arc<AtomicU64>,
}

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

/// Records queued to one follower's connection; past it (a slow client) the broadcast's
/// own queue fills and the follower skips what it missed (counted).
const FOLLOW_QUEUE: usize = 256;

struct TraceState {
    queries: Arc<dyn TraceQueries>,
    /// Set at shutdown: followers end their answers, so that the server's graceful
    /// shutdown does not wait its 30 s for them.
    ending: watch::Receiver<bool>,
    /// Silence after which a server-sent-events follower gets a comment line.
    keep_alive: Duration,
}

/// 15 s: proxies and browsers commonly drop a response silent for 30 to 60 s.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

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

/// How a follower's records are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `application/x-ndjson`: a record a line (the default).
    Ndjson,
    /// `text/event-stream`: `data: RECORD` and a blank line per record, and a comment
    /// after each [`TraceState::keep_alive`] of silence.
    Sse,
}

/// Takes `format` out of the parameters (the rest are filters): `sse` or `ndjson`; without
/// it, server-sent events when the client accepts `text/event-stream`.
fn framing(
    headers: &HeaderMap,
    params: &mut Vec<(String, String)>,
) -> Result<Framing, TraceQueryError> {
    let format = params
        .iter()
        .rfind(|(k, _)| k == "format")
        .map(|(_, v)| v.clone());
    params.retain(|(k, _)| k != "format");
    match format.as_deref() {
        Some("sse") => Ok(Framing::Sse),
        Some("ndjson") => Ok(Framing::Ndjson),
        Some(other) => Err(TraceQueryError::BadRequest {
            message: format!("format: expected sse or ndjson, found '{other}'"),
            parameter: Some("format".into()),
            position: None,
            expected: Some("sse or ndjson".into()),
        }),
        None => {
            let sse = headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|t| {
                    t.split(';')
                        .next()
                        .is_some_and(|m| m.trim() == "text/event-stream")
                });
            Ok(if sse { Framing::Sse } else { Framing::Ndjson })
        }
    }
}

/// One record framed for its follower.
fn frame(json: &str, framing: Framing) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    match framing {
        Framing::Ndjson => {
            out.extend_from_slice(json.as_bytes());
            out.push(b'\n');
        }
        Framing::Sse => {
            // A record is one line of JSON; were it ever more, each line is a `data:` line.
            for line in json.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
    }
    Bytes::from(out)
}

async fn follow(
    State(s): State<Arc<TraceState>>,
    headers: HeaderMap,
    Query(mut params): Params,
) -> Response {
    let framing = match framing(&headers, &mut params) {
        Ok(f) => f,
        Err(e) => return answer_error(e),
    };
    let TraceFollow {
        mut records,
        keep,
        missed,
    } = match s.queries.follow(&params) {
        Ok(f) => f,
        Err(e) => return answer_error(e),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(FOLLOW_QUEUE);
    let mut ending = s.ending.clone();
    let every = s.keep_alive;
    // Ends when the client leaves (the body, and with it `rx`, is dropped), the collector
    // stops or the agent shuts down.
    tokio::spawn(async move {
        let keep_alive = tokio::time::sleep(every);
        tokio::pin!(keep_alive);
        loop {
            if *ending.borrow_and_update() {
                return;
            }
            let got = tokio::select! {
                got = records.recv() => got,
                () = tx.closed() => return,
                _ = ending.changed() => continue,
                () = &mut keep_alive, if framing == Framing::Sse => {
                    keep_alive.as_mut().reset(tokio::time::Instant::now() + every);
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            match got {
                Ok(r) if keep(&r) => {
                    if tx.send(frame(&r.json, framing)).await.is_err() {
                        return;
                    }
                    keep_alive
                        .as_mut()
                        .reset(tokio::time::Instant::now() + every);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    missed.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let (content_type, cache) = match framing {
        Framing::Ndjson => ("application/x-ndjson", None),
        Framing::Sse => ("text/event-stream", Some("no-cache")),
    };
    let mut response = Body::new(ChannelBody::new(rx, OnClose::End)).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(c) = cache {
        h.insert(CACHE_CONTROL, HeaderValue::from_static(c));
    }
    response
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
