//! pktvisor 4's REST paths: `/api/v1/taps`, `/api/v1/policies[/{name}]` and
//! `/api/v1/policies/{name|__all}/metrics/{bucket|window}/{N}`, with `CoreServer`'s shapes,
//! status codes and messages; the admin writes (`--admin-api`) are in [`crate::admin`].

use crate::api::{ApiState, error, json_response, period, with_snapshot};
use crate::policy_info::{CommandLinePolicy, POLICY};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use pv_pipeline::PeriodError;
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

/// `{"default": info}`.
async fn policies_info(state: Arc<ApiState>) -> Response {
    with_snapshot(state.clone(), move |snapshot, renderer| {
        let running = state.counters.error().is_none();
        let info =
            state
                .policy
                .info_json(snapshot, renderer, running, state.workers.len(), now_sec());
        let mut all = Map::new();
        all.insert(POLICY.into(), info);
        Ok(Value::Object(all))
    })
    .await
}

pub async fn taps(State(state): State<Arc<ApiState>>) -> Response {
    json_response(StatusCode::OK, &state.policy.taps_json())
}

pub async fn list(State(state): State<Arc<ApiState>>) -> Response {
    policies_info(state).await
}

pub async fn get_one(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    if name != POLICY {
        return error(StatusCode::NOT_FOUND, "policy does not exists");
    }
    policies_info(state).await
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
    let all = name == ALL;
    if !all && name != POLICY {
        // This route's wording in pktvisor differs from GET /api/v1/policies/{name}.
        return error(StatusCode::NOT_FOUND, "policy does not exist");
    }
    with_snapshot(state, move |snapshot, renderer| {
        let names = CommandLinePolicy::module_names();
        let modules = if window {
            snapshot.policy_window_json(renderer, &names, n)
        } else {
            snapshot.policy_bucket_json(renderer, &names, n)
        };
        let mut out = Map::new();
        match modules {
            Ok(m) => {
                out.insert(POLICY.into(), m);
            }
            // pktvisor skips a policy whose period is bad in __all mode rather than failing.
            Err(_) if all => {}
            Err(e) => return Err::<Value, PeriodError>(e),
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
    if !state.admin_api {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let text = String::from_utf8_lossy(&body);
    let (status, answer) = crate::admin::create(&state.policy, content_type, &text);
    json_response(status, &answer)
}

pub async fn delete(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    if !state.admin_api || !module_id(&name) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let (status, answer) = crate::admin::delete(&name);
    json_response(status, &answer)
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
