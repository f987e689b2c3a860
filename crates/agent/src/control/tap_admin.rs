//! The admin API's tap writes (`pktvisord --admin-api`), as pktvisor's `CoreServer` has them:
//! `POST /api/v1/taps` (201 with `{"NAME": info}`; 409 when a name is taken, 500 for any other
//! refusal — pktvisor's `TapException`s all land there) and `DELETE /api/v1/taps/{name}` (200
//! `{}`, 404 `tap does not exists`). Policies that read a removed tap keep running, as
//! pktvisor's `Policy::remove_tap` only forgets the tap.
//!
//! Unlike pktvisor, one pktvisord captures one interface: a tap must read that interface (or
//! name none), since no second capture is started for it; other taps answer 422 saying so.

use crate::admin::{check_content_type, error};
use crate::api::ApiState;
use crate::policy_registry::MAX_ADDED_TAPS;
use axum::http::StatusCode;
use pv_pipeline::catalog;
use pv_pipeline::pv_policy::{self, PolicyErrorKind, Tap};
use serde_json::{Map, Value, json};

/// Why this agent cannot run `tap`, if it cannot.
fn not_runnable(tap: &Tap, iface: &str) -> Option<String> {
    if let Some(file) = tap.config.get("pcap_file") {
        return Some(format!(
            "tap '{}' reads the capture file '{file}'; this pktvisord captures '{iface}' only",
            tap.name
        ));
    }
    match tap.config.get("iface").and_then(|v| v.as_str()) {
        Some(other) if other != iface => Some(format!(
            "tap '{}' reads interface '{other}'; this pktvisord captures '{iface}' only (one interface per agent)",
            tap.name
        )),
        _ => None,
    }
}

/// `POST /api/v1/taps`.
pub fn create(state: &ApiState, content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
    if let Err(answer) = check_content_type(content_type) {
        return answer;
    }
    let mut registry = state.write_registry();
    let taps = match pv_policy::parse_taps_request("request", body, &registry.as_file(), &catalog())
    {
        Ok(taps) => taps,
        Err(e) => {
            let status = match e.kind() {
                PolicyErrorKind::AlreadyDefined => StatusCode::CONFLICT,
                PolicyErrorKind::Invalid => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error(status, e.message());
        }
    };
    if let Some(why) = taps.iter().find_map(|t| not_runnable(t, &state.iface)) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    if registry.added_tap_count() + taps.len() > MAX_ADDED_TAPS {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("pktvisord keeps at most {MAX_ADDED_TAPS} added taps; delete one first"),
        );
    }
    let names: Vec<String> = taps.iter().map(|t| t.name.clone()).collect();
    registry.add_taps(taps);
    let mut out = Map::new();
    for name in names {
        if let Some(info) = registry.tap_json(&name) {
            eprintln!("pktvisord: tap '{name}' added");
            out.insert(name, info);
        }
    }
    (StatusCode::CREATED, Value::Object(out))
}

/// `DELETE /api/v1/taps/{name}`.
pub fn delete(state: &ApiState, name: &str) -> (StatusCode, Value) {
    let mut registry = state.write_registry();
    if !registry.remove_tap(name) {
        return error(StatusCode::NOT_FOUND, "tap does not exists");
    }
    eprintln!("pktvisord: tap '{name}' removed");
    (StatusCode::OK, json!({}))
}
