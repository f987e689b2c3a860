//! The admin API's writes (`pktvisord --admin-api`): `POST /api/v1/policies` and
//! `DELETE /api/v1/policies/{name}`. pktvisord runs exactly its command-line policy, so a write
//! never changes what runs: a POST body is checked as pktvisor checks it (Content-Type, then
//! `PolicyManager::load_from_str`'s validation, with its messages) and a valid new policy is
//! refused with 501; `default` is never removed (409). No answer claims a change that did not
//! happen.

use crate::policy_info::{CommandLinePolicy, POLICY};
use axum::http::StatusCode;
use pv_pipeline::policy::catalog;
use pv_pipeline::pv_policy;
use serde_json::{Value, json};

/// pktvisor's accepted request types (`CoreServer`'s POST handler).
const CONTENT_TYPES: [&str; 2] = ["application/x-yaml", "application/json"];

fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, Value) {
    (status, json!({ "error": message.into() }))
}

/// `POST /api/v1/policies` with the request's Content-Type and body.
pub fn create(
    current: &CommandLinePolicy,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let Some(content_type) = content_type else {
        return error(StatusCode::BAD_REQUEST, "must include Content-Type header");
    };
    // pktvisor compares the whole header; parameters such as `; charset=utf-8` are let
    // through here because they do not change how the body reads.
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !CONTENT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(media)) {
        return error(StatusCode::BAD_REQUEST, "Content-Type not supported");
    }
    match pv_policy::parse_policy_request("request", body, &current.file, &catalog()) {
        Ok(policy) => error(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "policy '{}' is valid, but running additional policies live is not supported \
                 yet: pktvisord runs only its command line policy '{POLICY}'",
                policy.name
            ),
        ),
        Err(e) => {
            let message = pv_handlers::dns::settings::pktvisor_message(e.message());
            let exists =
                message.starts_with("policy with name '") && message.ends_with("' already defined");
            let status = if exists {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            error(status, message)
        }
    }
}

/// `DELETE /api/v1/policies/{name}`.
pub fn delete(name: &str) -> (StatusCode, Value) {
    if name != POLICY {
        return error(StatusCode::NOT_FOUND, "policy does not exists");
    }
    error(
        StatusCode::CONFLICT,
        format!(
            "policy '{POLICY}' is the command line policy and cannot be removed while \
             pktvisord runs; nothing was stopped (stop pktvisord to end it)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> CommandLinePolicy {
        CommandLinePolicy::new("eth0", "", "", Vec::new(), 100, 5, true).expect("valid")
    }

    const VALID: &str = "version: \"1.0\"\nvisor:\n  policies:\n    mine:\n      kind: collection\n      input:\n        tap: default\n        input_type: pcap\n      handlers:\n        modules:\n          d:\n            type: dns\n";

    #[test]
    fn content_type_is_checked_first() {
        let (status, body) = create(&current(), None, VALID);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "must include Content-Type header");
        let (status, body) = create(&current(), Some("text/plain"), VALID);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "Content-Type not supported");
    }

    #[test]
    fn a_valid_new_policy_is_refused_honestly() {
        let (status, body) = create(&current(), Some("application/x-yaml"), VALID);
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
        let message = body["error"].as_str().unwrap_or("");
        assert!(message.starts_with("policy 'mine' is valid"), "{message}");
    }

    #[test]
    fn bad_bodies_get_pktvisors_messages() {
        let cases = [
            ("", "empty data"),
            ("version: \"2.0\"\nvisor: {}\n", "unsupported version"),
            (
                "version: \"1.0\"\nvisor:\n  taps: {}\n",
                "no policies found in schema",
            ),
            (
                &VALID.replace("tap: default", "tap: nope"),
                "tap 'nope' does not exist",
            ),
        ];
        for (body, message) in cases {
            let (status, got) = create(&current(), Some("application/x-yaml"), body);
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {got}");
            assert_eq!(got["error"], message, "{body}");
        }
    }

    #[test]
    fn the_running_name_is_a_conflict() {
        let body = VALID.replace("mine:", "default:");
        let (status, got) = create(&current(), Some("application/json; charset=utf-8"), &body);
        assert_eq!(status, StatusCode::CONFLICT, "{got}");
        assert_eq!(got["error"], "policy with name 'default' already defined");
    }

    #[test]
    fn delete_removes_nothing() {
        assert_eq!(delete("default").0, StatusCode::CONFLICT);
        let (status, body) = delete("other");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "policy does not exists");
    }
}
