//! Trace records on the hub: agents push batches of their nftables trace records
//! ([`protocol`]); the hub stores them (SQLite or ClickHouse, keyed by (agent, run, seq) so
//! that a retried batch is stored once) and answers `GET /api/v1/traces` over every agent's
//! records with the agents' own parameters, filter language and pages, so that `pktvisor
//! traces -H HUB` and the terminal UI ask a hub as they ask an agent.

pub mod protocol;

use crate::counters::Counters;
use crate::server::{HubState, error, now_secs, with_store};
use crate::store::{Inserted, StoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::TraceBatch;
use pv_nftrace::store::request::search_query;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

type Shared = Arc<HubState>;

/// The trace routes, merged into the hub's router.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/push/traces", post(push_traces))
        .route("/api/v1/traces", get(search))
        .route("/api/v1/nft/ruleset", get(rulesets))
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
    let result = match with_store(&s, move |st| st.insert_traces(&batch, &rows, now_secs())).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    s.counters.write_took(started.elapsed());
    match result {
        Ok(Inserted::New) => {
            s.counters
                .trace_records_written
                .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
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

/// Agents do not push their rulesets (yet): an empty list, as an agent with no namespace
/// answers, so that readers asking for it get an answer of the agent's shape.
async fn rulesets() -> Response {
    axum::Json(json!({ "rulesets": [] })).into_response()
}
