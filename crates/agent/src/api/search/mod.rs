//! Searching the agent's recording (`--record DIR`) over HTTP, as `pktvisor query` and
//! `pktvisor packets` do on the directory: `POST /index/net/query` (the body is PQL; picap's
//! proxy path and answer shapes), `GET /api/v1/packets/count?filter=..&from=..&to=..` and
//! `GET /api/v1/packets?...` (a pcap file, streamed: `stream.rs`). The file being written
//! answers too (indexed in memory at each request), so packets recorded a second ago are found.
//! Each search runs on tokio's blocking pool: the API's own thread stays free for scrapes. A
//! search whose client goes away stops at its next packet read, matched or not.

mod stream;

use super::{ApiState, error, json_response};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use pv_search::index::open_segments_where;
use pv_search::pql::{Index, TimeRange, may_contribute, parse};
use pv_search::time::parse_time;
use pv_search::{Search, SearchError, scan};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An answer given instead of a search (boxed: a response is large, and this is the rare path).
type Refused = Box<Response>;

fn recording_dir(state: &ApiState) -> Result<PathBuf, Refused> {
    state.record_dir.clone().ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "this agent does not record (start it with --record DIR)",
        ))
    })
}

/// A search on the blocking pool, counted in `searches_running` until it ends.
struct Running(Arc<AtomicU64>);

impl Running {
    fn start(state: &ApiState) -> Running {
        state.searches_running.fetch_add(1, Ordering::Relaxed);
        Running(state.searches_running.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Stops a search when dropped. Held by what waits for the search's answer (the handler, then
/// a pcap answer's body), which axum drops when the client goes away: the scan ends at its next
/// packet read, even when it finds nothing more to send. Dropped once the search has ended, it
/// does nothing.
pub(crate) struct StopOnDrop(Arc<AtomicBool>);

impl StopOnDrop {
    /// Gives `search` its stop flag.
    fn arm(search: &mut Search) -> StopOnDrop {
        let stop = Arc::new(AtomicBool::new(false));
        search.stop = Some(stop.clone());
        StopOnDrop(stop)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &ApiState,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refused> {
    let running = Running::start(state);
    tokio::task::spawn_blocking(move || {
        let _running = running;
        f()
    })
    .await
    .map_err(|_| {
        Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the search stopped",
        ))
    })
}

/// `POST /index/net/query[?from=T&to=T]`: PQL in the body, `{"results": [...]}` out, every
/// call bounded by the time range when given (as `pktvisor query --from --to`); 400 with the
/// place for a query that cannot be read, or the time that cannot.
pub async fn query(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let dir = match recording_dir(&state) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let range = match time_range(&params) {
        Ok((from, to)) => TimeRange { from, to },
        Err(r) => return *r,
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let calls = match parse(&text) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(e) = Index::validate(&calls) {
        return error(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let live_cut = state.recording.as_ref().and_then(|r| r.live_cut.clone());
    let answered = blocking(&state, move || {
        // Only the captures whose catalogue records say they may change an answer are opened.
        let needed = |e: &pv_search::index::catalog::Entry| may_contribute(&calls, range, e);
        // The open file's packets past the cutoff so far, copied out (the recorder publishes
        // to it at each flush).
        let live = live_cut
            .as_ref()
            .and_then(|l| l.lock().ok())
            .and_then(|l| Some((l.tmp.clone()?, l.cut.clone())));
        let open_cut = live.as_ref().map(|(tmp, cut)| (tmp.as_path(), cut));
        let answer = |rebuild: bool| {
            let warn = &mut |w: String| eprintln!("pktvisord: {w}");
            open_segments_where(&dir, rebuild, Some(&needed), open_cut, warn)
                .map(|o| Index::with_bases(o.segments, range).and_then(|i| i.answer(&calls)))
        };
        match answer(false) {
            // A damaged index is rebuilt from its capture, and the query asked again.
            Ok(Err(e)) if e.damaged => answer(true),
            other => other,
        }
    })
    .await;
    match answered {
        Ok(Ok(Ok(v))) => json_response(StatusCode::OK, &v),
        Ok(Ok(Err(e))) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Ok(Err(SearchError::NoCaptures { .. })) => {
            json_response(StatusCode::OK, &json!({"results": []}))
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => *r,
    }
}

/// The recording and the filter, time range and limit of a packets request; 404 without a
/// recording, 400 when a parameter cannot be used.
fn search_of(
    state: &ApiState,
    params: &HashMap<String, String>,
) -> Result<(PathBuf, Search), Refused> {
    let dir = recording_dir(state)?;
    let bad = |e: SearchError| Box::new(error(StatusCode::BAD_REQUEST, &e.to_string()));
    let (from, to) = time_range(params)?;
    let limit = match params.get("limit") {
        Some(l) => Some(l.parse::<u64>().map_err(|_| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                "limit must be a number of packets",
            ))
        })?),
        None => None,
    };
    let search =
        Search::new(params.get("filter").map(String::as_str), from, to, limit).map_err(bad)?;
    Ok((dir, search))
}

/// The `from` and `to` parameters (ns since the epoch); 400 for a time that cannot be read.
fn time_range(params: &HashMap<String, String>) -> Result<(Option<u64>, Option<u64>), Refused> {
    let bad = |e: SearchError| Box::new(error(StatusCode::BAD_REQUEST, &e.to_string()));
    let time = |k: &str| params.get(k).map(|t| parse_time(t)).transpose();
    Ok((time("from").map_err(bad)?, time("to").map_err(bad)?))
}

/// `GET /api/v1/packets/count`: `{"count": n, "packets_read": n}`.
pub async fn count(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (dir, mut search) = match search_of(&state, &params) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    // Dropped with this future when the client goes away before the count.
    let _stop = StopOnDrop::arm(&mut search);
    match blocking(&state, move || scan(&dir, &mut search, |_, _| Ok(true))).await {
        Ok(Ok(stats)) => json_response(
            StatusCode::OK,
            &json!({"count": stats.matched, "packets_read": stats.packets_read}),
        ),
        Ok(Err(SearchError::NoCaptures { .. })) => {
            json_response(StatusCode::OK, &json!({"count": 0, "packets_read": 0}))
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(r) => *r,
    }
}

/// `GET /api/v1/packets`: the matching packets as one pcap file, in time order, streamed.
pub async fn packets(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match search_of(&state, &params) {
        Ok((dir, search)) => stream::answer(dir, search, Running::start(&state)).await,
        Err(r) => *r,
    }
}
