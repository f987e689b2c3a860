//! Trace records on the hub: agents push batches of their nftables trace records
//! ([`protocol`]); the hub stores them (SQLite or ClickHouse, keyed by (agent, run, seq) so
//! that a retried batch is stored once) and answers `GET /api/v1/traces` over every agent's
//! records with the agents' own parameters, filter language and pages, so that `pktvisor
//! traces -H HUB` and the terminal UI ask a hub as they ask an agent. `GET
//! /api/v1/traces/follow` streams every record as its batch is stored (a retried batch's
//! records once), through the agents' own follower code (`pv_http::follow`).

pub mod protocol;
pub mod rulesets;

use crate::counters::Counters;
use crate::server::{HubState, error, now_secs, with_store};
use crate::store::{Inserted, StoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::TraceBatch;
use pv_http::follow::{self, Followed, TraceFollow};
use pv_nftrace::store::request::{filters, search_query};
use pv_nftrace::store::sql::{Row, matches};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, watch};

type Shared = Arc<HubState>;

/// The trace routes, merged into the hub's router.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/push/traces", post(push_traces))
        .route("/api/v1/traces", get(search))
        .route("/api/v1/traces/follow", get(follow_traces))
        .route("/api/v1/push/rulesets", post(push_rulesets))
        .route("/api/v1/nft/ruleset", get(answer_rulesets))
}

async fn push_traces(State(s): State<Shared>, body: Bytes) -> Response {
    Counters::add(&s.counters.trace_batches);
    // Decoding parses every record's JSON: off the serving thread.
    let decoded = tokio::task::spawn_blocking(move || TraceBatch::decode(&body)).await;
    let (batch, rows) = match decoded {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            Counters::add(&s.counters.trace_batches_rejected);
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "decoding task failed"),
    };
    let count = rows.len() as u64;
    let started = Instant::now();
    let stored = with_store(&s, move |st| {
        let result = st.insert_traces(&batch, &rows, now_secs());
        (result, batch, rows)
    })
    .await;
    let (result, batch, rows) = match stored {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    s.counters.write_took(started.elapsed());
    match result {
        Ok(Inserted::New) => {
            s.counters
                .trace_records_written
                .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            // After the store: a follower never sees a record a search could not find.
            s.followers.send(batch, rows);
            axum::Json(json!({"stored": true, "records": count})).into_response()
        }
        Ok(Inserted::Duplicate) => {
            Counters::add(&s.counters.trace_batch_duplicates);
            axum::Json(json!({"stored": false, "duplicate": true})).into_response()
        }
        Err(e) => {
            Counters::add(&s.counters.store_write_errors);
            // 503: the agent keeps the batch in its spool and retries.
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}

/// A 400 as an agent answers it: the message, the parameter, and for `q` the position.
fn bad_request(
    message: String,
    parameter: &str,
    position: Option<usize>,
    expected: Option<String>,
) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "error": message,
            "parameter": parameter,
            "position": position,
            "expected": expected,
        })),
    )
        .into_response()
}

async fn search(State(s): State<Shared>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let q = match search_query(&params) {
        Ok(q) => q,
        Err(e) => return bad_request(e.message, &e.parameter, e.position, e.expected),
    };
    match with_store(&s, move |st| st.search_traces(&q)).await {
        Ok(Ok(page)) => {
            axum::Json(json!({"traces": page.records, "next": page.next})).into_response()
        }
        Ok(Err(e @ StoreError::Cursor(_))) => bad_request(e.to_string(), "cursor", None, None),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(resp) => resp,
    }
}

/// `GET /api/v1/traces/follow`: as an agent answers it (the same parameters, filters,
/// framing and 400s), over the records every agent pushes.
async fn follow_traces(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(mut params): Query<Vec<(String, String)>>,
) -> Response {
    let framing = match follow::framing(&headers, &mut params) {
        Ok(f) => f,
        Err(e) => {
            return bad_request(e.to_string(), "format", None, Some("sse or ndjson".into()));
        }
    };
    let filter = match filters(&params, &[]) {
        Ok(f) => f,
        Err(e) => return bad_request(e.message, &e.parameter, e.position, e.expected),
    };
    let f = TraceFollow {
        records: s.followers.live.subscribe(),
        keep: Box::new(move |f: &Followed| {
            f.fields
                .downcast_ref::<Row>()
                .is_some_and(|row| matches(&filter, row))
        }),
        missed: s.counters.trace_follow_missed.clone(),
    };
    follow::response(
        f,
        framing,
        s.followers.ending.clone(),
        follow::SSE_KEEP_ALIVE,
    )
}

/// Records a follower may fall behind before it skips (counted): as an agent's, a few
/// seconds of a busy fleet's traces for a reader over a slow link.
const FOLLOW_BUFFER: usize = 4096;

/// The hub's trace followers: the broadcast of stored records and the shutdown flag that
/// ends their answers.
pub struct Followers {
    live: broadcast::Sender<Arc<Followed>>,
    end: watch::Sender<bool>,
    ending: watch::Receiver<bool>,
}

impl Default for Followers {
    fn default() -> Self {
        Self::new()
    }
}

impl Followers {
    pub fn new() -> Followers {
        let (live, _) = broadcast::channel(FOLLOW_BUFFER);
        let (end, ending) = watch::channel(false);
        Followers { live, end, ending }
    }

    /// Hands a stored batch's records to the followers (copies only when there are some).
    fn send(&self, batch: TraceBatch, rows: Vec<Row>) {
        if self.live.receiver_count() == 0 {
            return;
        }
        for (json, row) in batch.records.into_iter().zip(rows) {
            let _ = self.live.send(Arc::new(Followed {
                json,
                fields: Box::new(row),
            }));
        }
    }

    /// Followers connected now.
    pub fn count(&self) -> usize {
        self.live.receiver_count()
    }

    /// Ends every follower's answer (at shutdown).
    pub fn end(&self) {
        let _ = self.end.send(true);
    }
}

async fn push_rulesets(
    State(s): State<Shared>,
    push: Result<axum::Json<rulesets::RulesetPush>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let push = match push {
        Ok(axum::Json(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("rulesets push: {e}")),
    };
    match s.rulesets.put(push) {
        Ok(()) => axum::Json(json!({"stored": true})).into_response(),
        Err(e @ rulesets::RulesetPushError::TooLarge(_)) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// Every agent's newest rulesets, each entry with its `agent_id`.
async fn answer_rulesets(State(s): State<Shared>) -> Response {
    axum::Json(s.rulesets.answer()).into_response()
}
