//! The admin API's writes (`pktvisord --admin-api`): `POST /api/v1/policies` starts a policy
//! on every worker, `DELETE /api/v1/policies/{name}` stops one (the command-line policy
//! `default` included, as pktvisor allows). A POST body is checked as pktvisor checks it
//! (Content-Type, then `PolicyManager::load_from_str`'s validation, with its messages); a valid
//! policy is built once per worker before any worker runs it, so a policy either starts on
//! every worker or on none.

use crate::added_policy_info;
use crate::api::ApiState;
use crate::policy_registry::{AddedPolicy, MAX_ADDED_POLICIES, PolicyRegistry};
use crate::worker::Msg;
use axum::http::StatusCode;
use pv_pipeline::catalog;
use pv_pipeline::pv_policy::{self, Policy, PolicyErrorKind};
use pv_pipeline::{PolicyRun, PolicySnapshot};
use serde_json::{Map, Value, json};
use std::sync::mpsc::SyncSender;
use std::time::{SystemTime, UNIX_EPOCH};

/// pktvisor's accepted request types (`CoreServer`'s POST handler).
const CONTENT_TYPES: [&str; 2] = ["application/x-yaml", "application/json"];

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, Value) {
    (status, json!({ "error": message.into() }))
}

/// A write's Content-Type, checked as pktvisor's POST handlers check it.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), (StatusCode, Value)> {
    let Some(content_type) = content_type else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "must include Content-Type header",
        ));
    };
    // pktvisor compares the whole header; parameters such as `; charset=utf-8` are let
    // through here because they do not change how the body reads.
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !CONTENT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(media)) {
        return Err(error(StatusCode::BAD_REQUEST, "Content-Type not supported"));
    }
    Ok(())
}

/// Checks a `POST /api/v1/policies` request against what runs; the new policy, or the answer.
pub fn validate(
    registry: &PolicyRegistry,
    content_type: Option<&str>,
    body: &str,
) -> Result<Policy, (StatusCode, Value)> {
    check_content_type(content_type)?;
    let policy = pv_policy::parse_policy_request("request", body, &registry.as_file(), &catalog())
        .map_err(|e| {
            let status = match e.kind() {
                PolicyErrorKind::AlreadyDefined => StatusCode::CONFLICT,
                PolicyErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            };
            error(status, e.message())
        })?;
    if registry.added_count() >= MAX_ADDED_POLICIES {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "policy '{}' not started: pktvisord runs at most {MAX_ADDED_POLICIES} added \
                 policies; delete one first",
                policy.name
            ),
        ));
    }
    Ok(policy)
}

fn now_sec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Builds `policy` once per worker, then starts it on every worker and records it. Nothing
/// runs if a copy cannot be built.
pub fn start_policy(
    registry: &mut PolicyRegistry,
    workers: &[SyncSender<Msg>],
    policy: Policy,
) -> Result<(), (StatusCode, String)> {
    let file = registry.as_file();
    let copies = (0..workers.len())
        .map(|_| PolicyRun::live(&file, &policy, &registry.context))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let Some(first) = copies.first() else {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "no worker".to_string()));
    };
    let added = AddedPolicy {
        renderer: first.renderer(),
        input: first.input().clone(),
        policy,
    };
    for (worker, copy) in workers.iter().zip(copies) {
        if worker.send(Msg::AddPolicy(Box::new(copy))).is_err() {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the agent is shutting down".to_string(),
            ));
        }
    }
    eprintln!("pktvisord: policy '{}' started", added.policy.name);
    registry.add(added);
    Ok(())
}

/// `POST /api/v1/policies`: 201 with `{"NAME": info}` once every worker runs the policy.
pub fn create(state: &ApiState, content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut registry = state.write_registry();
    let policy = match validate(&registry, content_type, body) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let name = policy.name.clone();
    if let Err((status, message)) = start_policy(&mut registry, &state.workers, policy) {
        return error(status, message);
    }
    let Some(added) = registry.added(&name) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the policy vanished");
    };
    let running = state.counters.is_up();
    let info = added_policy_info::info_json(
        added,
        &registry,
        &PolicySnapshot::default(),
        running,
        state.workers.len(),
        now_sec(),
    );
    let mut out = Map::new();
    out.insert(name, info);
    (StatusCode::CREATED, Value::Object(out))
}

/// `DELETE /api/v1/policies/{name}`: 200 `{}` once no worker runs it any more (pktvisor
/// answered 204 for a while and went back to 200, pull request #413 "Rollback delete return
/// code"; `CoreServer::_setup_routes` today).
pub fn delete(state: &ApiState, name: &str) -> (StatusCode, Value) {
    let mut registry = state.write_registry();
    let command_line = registry.is_command_line(name);
    if command_line {
        registry.stop_command_line();
    } else if !registry.remove_added(name) {
        return error(StatusCode::NOT_FOUND, "policy does not exists");
    }
    for worker in &state.workers {
        if worker.send(Msg::RemovePolicy(name.to_string())).is_err() {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the agent is shutting down",
            );
        }
    }
    let what = if command_line {
        "the command line policy"
    } else {
        "policy"
    };
    eprintln!("pktvisord: {what} '{name}' removed");
    (StatusCode::OK, json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_info::CommandLinePolicy;
    use pv_pipeline::{LiveContext, LiveInput, PolicyRenderer};

    fn registry() -> PolicyRegistry {
        let cli = CommandLinePolicy::new("eth0", "", "", Vec::new(), 100, 5, true).expect("valid");
        PolicyRegistry::new(cli, LiveContext::default())
    }

    const VALID: &str = "version: \"1.0\"\nvisor:\n  policies:\n    mine:\n      kind: collection\n      input:\n        tap: default\n        input_type: pcap\n        filter:\n          bpf: udp port 53\n      handlers:\n        window_config:\n          num_periods: 3\n        modules:\n          d:\n            type: dns\n          n:\n            type: net\n";

    fn refused(r: Result<Policy, (StatusCode, Value)>) -> (StatusCode, Value) {
        match r {
            Ok(p) => panic!("policy {} accepted", p.name),
            Err(answer) => answer,
        }
    }

    #[test]
    fn content_type_is_checked_first() {
        let (status, body) = refused(validate(&registry(), None, VALID));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "must include Content-Type header");
        let (status, body) = refused(validate(&registry(), Some("text/plain"), VALID));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "Content-Type not supported");
    }

    #[test]
    fn a_valid_policy_builds_for_live_capture() {
        let reg = registry();
        let policy = validate(&reg, Some("application/x-yaml"), VALID).expect("valid");
        assert_eq!(policy.name, "mine");
        let live = PolicyRun::live(&reg.as_file(), &policy, &reg.context).expect("builds");
        assert_eq!(live.input().bpf, "udp port 53");
        assert_eq!(live.input().tap, "default");
        let keys: Vec<(String, &str, usize)> = live
            .renderer()
            .modules
            .iter()
            .map(|m| (m.key.clone(), m.schema_key(), m.periods))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("mine-default-d".to_string(), "dns", 3),
                ("mine-default-n".to_string(), "packets", 3)
            ]
        );
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
            // Names outside pktvisor's module pattern could be started but never read or
            // deleted (the routes match the pattern): refused, 422.
            (
                &VALID.replace("    mine:", "    \"a/b\":"),
                "invalid module name: a/b",
            ),
            (
                &VALID.replace("    mine:", "    \"../../etc/x\":"),
                "invalid module name: ../../etc/x",
            ),
            (
                &VALID.replace("    mine:", "    \"sp ace\":"),
                "invalid module name: sp ace",
            ),
        ];
        for (body, message) in cases {
            let (status, got) = refused(validate(&registry(), Some("application/x-yaml"), body));
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {got}");
            assert_eq!(got["error"], message, "{body}");
        }
    }

    /// A 648-byte "billion laughs" body once killed the agent (allocation failure after 23 s).
    #[test]
    fn an_alias_bomb_is_refused_quickly() {
        let mut body = String::from("version: \"1.0\"\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*l{}", i - 1); 9].join(",");
            body += &format!("l{i}: &l{i} [{refs}]\n");
        }
        body += "visor:\n  policies: {}\n";
        let (status, got) = refused(validate(&registry(), Some("application/x-yaml"), &body));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{got}");
        let message = got["error"].as_str().unwrap_or_default();
        assert!(message.contains("expands to more than"), "{message}");
    }

    #[test]
    fn a_running_name_is_a_conflict_until_it_stops() {
        let body = VALID.replace("mine:", "default:");
        let mut reg = registry();
        let (status, got) = refused(validate(
            &reg,
            Some("application/json; charset=utf-8"),
            &body,
        ));
        assert_eq!(status, StatusCode::CONFLICT, "{got}");
        assert_eq!(got["error"], "policy with name 'default' already defined");
        reg.stop_command_line();
        let policy = validate(&reg, Some("application/x-yaml"), &body).expect("name is free");
        assert_eq!(policy.name, "default");
        reg.add(AddedPolicy {
            policy,
            renderer: PolicyRenderer::default(),
            input: LiveInput::default(),
        });
        let (status, _) = refused(validate(&reg, Some("application/x-yaml"), &body));
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(reg.exists("default") && !reg.is_command_line("default"));
        assert!(reg.remove_added("default"));
        assert!(!reg.exists("default"));
    }

    #[test]
    fn added_policies_are_bounded() {
        let mut reg = registry();
        for i in 0..MAX_ADDED_POLICIES {
            let body = VALID.replace("mine:", &format!("p{i}:"));
            let policy = validate(&reg, Some("application/x-yaml"), &body).expect("valid");
            reg.add(AddedPolicy {
                policy,
                renderer: PolicyRenderer::default(),
                input: LiveInput::default(),
            });
        }
        let (status, got) = refused(validate(&reg, Some("application/x-yaml"), VALID));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let message = got["error"].as_str().unwrap_or("");
        assert!(message.contains("at most 32 added policies"), "{message}");
    }
}
