//! pktvisor 4's REST paths: `/api/v1/taps`, `/api/v1/policies[/{name}]` and
//! `/api/v1/policies/{name|__all}/metrics/{bucket|window}/{N}`, with `CoreServer`'s shapes,
//! status codes and messages; the admin writes (`--admin-api`) are in [`crate::admin`].

use crate::added_policy_info;
use crate::api::{ApiError, ApiState, Newest, error, json_response, period, with_registry};
use crate::policy_registry::PolicyRegistry;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pv_pipeline::{PeriodError, PolicyRenderer, PolicySnapshot};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// `__all`: every policy in one answer (pktvisor's scraping shortcut).
const ALL: &str = "__all";

/// pktvisor's `AbstractModule::MODULE_ID_REGEX`, `[a-zA-Z_][a-zA-Z0-9_-]*`: other names do not
/// match its routes at all (404).
fn module_id(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn now_sec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The merged buckets of the named running policies: the command line's (if named) and the
/// added ones, in the order of `names`.
struct Copies<'r> {
    command_line: Option<PolicySnapshot>,
    added: Vec<(String, &'r PolicyRenderer, PolicySnapshot)>,
}

impl<'r> Copies<'r> {
    fn take(
        state: &ApiState,
        registry: &'r PolicyRegistry,
        names: &[String],
        newest: Newest,
    ) -> Result<Copies<'r>, ApiError> {
        let command_line = if names.iter().any(|n| registry.is_command_line(n)) {
            Some(state.snapshot(newest).ok_or(ApiError::Gone)?)
        } else {
            None
        };
        let wanted: Vec<(String, &PolicyRenderer)> = names
            .iter()
            .filter(|n| !registry.is_command_line(n))
            .filter_map(|n| registry.added(n).map(|p| (n.clone(), &p.renderer)))
            .collect();
        let snapshots = state
            .policy_snapshots(&wanted, newest)
            .ok_or(ApiError::Gone)?;
        let added = wanted
            .into_iter()
            .zip(snapshots)
            .map(|((n, r), s)| (n, r, s))
            .collect();
        Ok(Copies {
            command_line,
            added,
        })
    }

    fn added(&self, name: &str) -> Option<(&PolicyRenderer, &PolicySnapshot)> {
        self.added
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, r, s)| (*r, s))
    }
}

/// `{"NAME": info, ...}` of the named running policies.
fn policies_info(
    state: &ApiState,
    registry: &PolicyRegistry,
    names: &[String],
) -> Result<Value, ApiError> {
    let copies = Copies::take(state, registry, names, Newest::All)?;
    let running = state.counters.is_up();
    let consumers = state.workers.len();
    let mut all = Map::new();
    for name in names {
        let info = match (&copies.command_line, registry.is_command_line(name)) {
            (Some(snapshot), true) => registry.command_line.info_json(
                snapshot,
                &state.renderer,
                running,
                consumers,
                now_sec(),
            ),
            _ => match (registry.added(name), copies.added(name)) {
                (Some(added), Some((_, snapshot))) => added_policy_info::info_json(
                    added,
                    registry,
                    snapshot,
                    running,
                    consumers,
                    now_sec(),
                ),
                _ => continue,
            },
        };
        all.insert(name.clone(), info);
    }
    Ok(Value::Object(all))
}

pub async fn taps(State(state): State<Arc<ApiState>>) -> Response {
    // Through the blocking pool like every reader: an admin write may hold the registry while
    // it waits for room in a worker's queue.
    with_registry(state, |_, registry| Ok(registry.taps_json())).await
}

/// `GET /api/v1/taps/NAME`: `{"NAME": info}`, or 404 `tap does not exists` (pktvisor's
/// words, `CoreServer::_setup_routes`).
pub async fn tap(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    with_registry(state, move |_, registry| {
        let info = registry
            .tap_json(&name)
            .ok_or(ApiError::NotFound("tap does not exists"))?;
        Ok(serde_json::json!({ name: info }))
    })
    .await
}

pub async fn list(State(state): State<Arc<ApiState>>) -> Response {
    with_registry(state, |state, registry| {
        policies_info(state, registry, &registry.names())
    })
    .await
}

pub async fn get_one(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    with_registry(state, move |state, registry| {
        if !registry.exists(&name) {
            return Err(ApiError::NotFound("policy does not exists"));
        }
        policies_info(state, registry, &[name])
    })
    .await
}

pub async fn metrics(
    State(state): State<Arc<ApiState>>,
    Path((name, kind, n)): Path<(String, String, String)>,
) -> Response {
    let (Some(n), true) = (period(&n), module_id(&name)) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let window = match kind.as_str() {
        "window" => true,
        "bucket" => false,
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    with_registry(state, move |state, registry| {
        let all = name == ALL;
        let names = if all {
            registry.names()
        } else if registry.exists(&name) {
            vec![name]
        } else {
            // This route's wording in pktvisor differs from GET /api/v1/policies/{name}.
            return Err(ApiError::NotFound("policy does not exist"));
        };
        let wants = if window {
            Newest::Window(n)
        } else {
            Newest::Bucket(n)
        };
        let copies = Copies::take(state, registry, &names, wants)?;
        let mut out = Map::new();
        for name in &names {
            let mode = super::v3::agent_mode(!window && n == 0);
            let modules: Option<Result<Value, PeriodError>> =
                match (&copies.command_line, registry.is_command_line(name)) {
                    (Some(snapshot), true) if window => {
                        Some(snapshot.window_json(&state.renderer, n, mode))
                    }
                    (Some(snapshot), true) => Some(snapshot.bucket_json(&state.renderer, n, mode)),
                    _ => match copies.added(name) {
                        Some((renderer, snapshot)) if window => {
                            Some(snapshot.window_json(renderer, n, mode))
                        }
                        Some((renderer, snapshot)) => Some(snapshot.bucket_json(renderer, n, mode)),
                        None => None,
                    },
                };
            let Some(modules) = modules else {
                continue;
            };
            match modules {
                Ok(m) => {
                    out.insert(name.clone(), m);
                }
                // pktvisor skips a policy whose period is bad in __all mode rather than failing.
                Err(_) if all => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Value::Object(out))
    })
    .await
}

pub async fn create(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admin_post(state, &headers, &body, crate::admin::create).await
}

/// The request types of the admin POSTs: the state, the Content-Type, the body's text.
type Post = fn(&ApiState, Option<&str>, &str) -> (StatusCode, Value);

/// An admin POST: 404 without `--admin-api` (pktvisor registers writes only then).
async fn admin_post(
    state: Arc<ApiState>,
    headers: &HeaderMap,
    body: &Bytes,
    post: Post,
) -> Response {
    if !state.admin_api {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = String::from_utf8_lossy(body).into_owned();
    admin_write(move || post(&state, content_type.as_deref(), &text)).await
}

pub async fn delete(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !state.admin_api || !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    admin_write(move || crate::admin::delete(&state, &name)).await
}

/// An admin write, off the async threads (it may wait on the workers' queues).
async fn admin_write(write: impl FnOnce() -> (StatusCode, Value) + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(write).await {
        Ok((status, answer)) => json_response(status, &answer),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the agent is shutting down",
        ),
    }
}

/// `POST /api/v1/taps` (`--admin-api`).
pub async fn create_taps(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admin_post(state, &headers, &body, crate::control::tap_admin::create).await
}

/// `DELETE /api/v1/taps/{name}` (`--admin-api`).
pub async fn delete_tap(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !state.admin_api || !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    admin_write(move || crate::control::tap_admin::delete(&state, &name)).await
}

/// `DELETE /api/v1/server` (`--admin-api`): pktvisor's `stop()`. Answers 200 with an empty
/// body, then stops exactly as SIGTERM does (the signal is raised on the agent itself, so the
/// recording, the hub's spool and the trace store close as they do on a signal).
pub async fn stop_server(State(state): State<Arc<ApiState>>) -> Response {
    if !state.admin_api {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    eprintln!("pktvisord: stopping on DELETE /api/v1/server");
    // SAFETY: kill(2) on this process with a signal whose handler tokio installed.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::module_id;

    #[test]
    fn module_ids_follow_pktvisors_regex() {
        for ok in ["default", "__all", "_x", "a-b_9"] {
            assert!(module_id(ok), "{ok}");
        }
        for bad in ["", "9a", "-a", "a.b", "a b"] {
            assert!(!module_id(bad), "{bad}");
        }
    }
}
