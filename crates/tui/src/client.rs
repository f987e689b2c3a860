//! Blocking HTTP client of the agent's REST API (ours or pktvisor's C++ agent: same paths).
//! Every request has a short timeout so an agent that hangs looks like one that is down.

use crate::hub::{self, AgentEntry, Scope};
use crate::model::{AppInfo, Window};
use crate::window_choice::WindowChoice;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{RootCerts, TlsConfig};

/// Where the agent is and how to talk to it (the `pktvisor` top-level flags).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub host: String,
    pub port: u16,
    /// A pktvisor 4 policy name: use `/api/v1/policies/{name}/metrics/...` instead of the v3
    /// paths.
    pub policy: Option<String>,
    pub tls: bool,
    /// Accept any certificate (self-signed agents).
    pub tls_noverify: bool,
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer TOKEN` with every request (a hub with `--token-file`).
    pub token: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FetchError {
    /// No connection, or no answer in time.
    Unreachable(String),
    /// The agent answered with an error status (425 before a window exists, 404 for an
    /// unknown policy); the text is its `error` message.
    Status(u16, String),
    /// The answer was not the JSON we expect.
    BadAnswer(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Unreachable(e) => write!(f, "agent unreachable: {e}"),
            FetchError::Status(code, msg) => write!(f, "agent answered {code}: {msg}"),
            FetchError::BadAnswer(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

pub struct AgentClient {
    agent: ureq::Agent,
    base: String,
    /// `Authorization` header value, when a token is given.
    authorization: Option<String>,
    policy: Option<String>,
    /// Whose metrics a hub answers with; `All` for an agent.
    scope: Scope,
}

impl AgentClient {
    pub fn new(cfg: &ClientConfig) -> AgentClient {
        let scheme = if cfg.tls || cfg.tls_noverify {
            "https"
        } else {
            "http"
        };
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .disable_verification(cfg.tls_noverify)
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            // The agent is usually local: an HTTP(S)_PROXY from the environment must not
            // reroute it.
            .proxy(None)
            .tls_config(tls)
            .build();
        let host = if cfg.host.contains(':') && !cfg.host.starts_with('[') {
            format!("[{}]", cfg.host)
        } else {
            cfg.host.clone()
        };
        AgentClient {
            agent: config.into(),
            base: format!("{scheme}://{host}:{}", cfg.port),
            authorization: cfg.token.as_ref().map(|t| format!("Bearer {t}")),
            policy: cfg.policy.clone(),
            scope: Scope::All,
        }
    }

    /// Asks a hub for one agent's metrics (or all agents merged) from now on.
    pub fn set_scope(&mut self, scope: Scope) {
        self.scope = scope;
    }

    /// A hub's agents (`GET /api/v1/agents`). An agent answers 404: `Status(404, _)`.
    pub fn agents(&self) -> Result<Vec<AgentEntry>, FetchError> {
        let doc = self.get("/api/v1/agents")?;
        hub::agents_from_json(&doc).map_err(|e| FetchError::BadAnswer(e.to_string()))
    }

    /// `scheme://host:port`, for the status line.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn app(&self) -> Result<AppInfo, FetchError> {
        self.get("/api/v1/metrics/app")
            .map(|v| AppInfo::from_json(&v))
    }

    pub fn window(&self, choice: WindowChoice) -> Result<Window, FetchError> {
        match &self.policy {
            None => {
                let prefix = self.scope.prefix();
                let doc = self.get(&format!("{prefix}/metrics/{}", choice.path()))?;
                Window::from_v3(&doc)
                    .ok_or_else(|| FetchError::BadAnswer("no window object".to_string()))
            }
            Some(policy) => {
                let doc = self.get(&format!(
                    "{}/policies/{policy}/metrics/{}",
                    self.scope.prefix(),
                    choice.path()
                ))?;
                Window::from_v4(&doc, policy, &choice.key()).ok_or_else(|| {
                    FetchError::BadAnswer(format!("no metrics of policy '{policy}'"))
                })
            }
        }
    }

    /// The newest `limit` trace records matching the `-q` expression `q` (all when empty),
    /// newest first: `GET /api/v1/traces`. An agent without traces answers 404; a bad
    /// expression 400 with the server's message.
    pub fn traces(&self, q: &str, limit: usize) -> Result<Vec<Value>, FetchError> {
        let mut params = vec![("limit".to_string(), limit.to_string())];
        if !q.trim().is_empty() {
            params.push(("q".to_string(), q.to_string()));
        }
        let mut page = self.get(&format!("/api/v1/traces?{}", query_string(&params)))?;
        match page["traces"].take() {
            Value::Array(list) => Ok(list),
            _ => Err(FetchError::BadAnswer("no traces list".to_string())),
        }
    }

    /// `GET /api/v1/nft/ruleset`: `{"rulesets": [{"netns", "generation", "ruleset"}]}`.
    pub fn rulesets(&self) -> Result<Value, FetchError> {
        self.get("/api/v1/nft/ruleset")
    }

    fn get(&self, path: &str) -> Result<Value, FetchError> {
        let (status, body) = self.get_text(path)?;
        let json: Result<Value, _> = serde_json::from_str(&body);
        match (status, json) {
            (200, Ok(v)) => Ok(v),
            (200, Err(e)) => Err(FetchError::BadAnswer(format!("{path}: {e}"))),
            (code, Ok(v)) => Err(FetchError::Status(
                code,
                v["error"].as_str().unwrap_or("").to_string(),
            )),
            (code, Err(_)) => Err(FetchError::Status(code, body.trim().to_string())),
        }
    }

    /// GET `path` (with its query): the status and the body, for callers that read an
    /// error's body themselves (`pktvisor traces` shows where a filter is wrong).
    pub fn get_text(&self, path: &str) -> Result<(u16, String), FetchError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.agent.get(&url);
        if let Some(value) = &self.authorization {
            request = request.header("Authorization", value);
        }
        let mut resp = request
            .call()
            .map_err(|e| FetchError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| FetchError::Unreachable(e.to_string()))?;
        Ok((status, body))
    }

    /// GET a streamed answer (NDJSON) with no overall timeout: each line goes to `line`
    /// until it returns false or the agent ends the answer. A status other than 200 is
    /// returned with its body, unread by `line`.
    pub fn get_lines(
        &self,
        path: &str,
        mut line: impl FnMut(&str) -> bool,
    ) -> Result<(u16, String), FetchError> {
        use std::io::BufRead;
        let url = format!("{}{path}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .config()
            .timeout_global(None)
            .build()
            .call()
            .map_err(|e| FetchError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            return Ok((status, body));
        }
        let reader = std::io::BufReader::new(resp.body_mut().as_reader());
        for l in reader.lines() {
            let l = l.map_err(|e| FetchError::Unreachable(e.to_string()))?;
            if !line(&l) {
                break;
            }
        }
        Ok((status, String::new()))
    }
}

/// Percent-encodes `text` for a URL's query (everything but RFC 3986's unreserved bytes).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k=v&k=v`, each part encoded.
pub fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net;
    use pv_handlers::net::metrics::TOTAL;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn config(port: u16, policy: Option<&str>) -> ClientConfig {
        ClientConfig {
            host: "127.0.0.1".into(),
            port,
            policy: policy.map(String::from),
            tls: false,
            tls_noverify: false,
            timeout: Duration::from_secs(2),
            token: None,
        }
    }

    /// A one-request HTTP server on 127.0.0.1 answering `status` and `body`; returns its port
    /// and the request line it received.
    fn serve_once(status: &str, body: &str) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            s.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        });
        (port, handle)
    }

    #[test]
    fn fetches_a_v3_window() {
        let (port, server) = serve_once("200 OK", r#"{"5m": {"packets": {"total": 9}}}"#);
        let w = AgentClient::new(&config(port, None))
            .window(WindowChoice::Minutes(5))
            .unwrap();
        assert_eq!(
            server.join().unwrap(),
            "GET /api/v1/metrics/window/5 HTTP/1.1"
        );
        assert_eq!((w.key.as_str(), w.count(net(TOTAL))), ("5m", Some(9)));
    }

    #[test]
    fn uses_the_v4_path_for_a_policy() {
        let body = r#"{"p": {"p-t-net": {"packets": {"total": 4}}}}"#;
        let (port, server) = serve_once("200 OK", body);
        let w = AgentClient::new(&config(port, Some("p")))
            .window(WindowChoice::Live)
            .unwrap();
        assert_eq!(
            server.join().unwrap(),
            "GET /api/v1/policies/p/metrics/bucket/0 HTTP/1.1"
        );
        assert_eq!(w.count(net(TOTAL)), Some(4));
    }

    #[test]
    fn a_chosen_agent_of_a_hub_has_its_own_path() {
        let (port, server) = serve_once("200 OK", r#"{"5m": {"packets": {"total": 3}}}"#);
        let mut client = AgentClient::new(&config(port, None));
        client.set_scope(Scope::Agent("beta".into()));
        let w = client.window(WindowChoice::Minutes(5)).unwrap();
        assert_eq!(
            server.join().unwrap(),
            "GET /api/v1/agents/beta/metrics/window/5 HTTP/1.1"
        );
        assert_eq!(w.count(net(TOTAL)), Some(3));
    }

    /// What our agent answers to the hub's list (crates/agent's v3 router: its fallback).
    #[test]
    fn an_agent_is_not_a_hub() {
        let (port, server) = serve_once("404 Not Found", r#"{"error": "not found"}"#);
        let e = AgentClient::new(&config(port, None)).agents().unwrap_err();
        assert_eq!(server.join().unwrap(), "GET /api/v1/agents HTTP/1.1");
        assert_eq!(e, FetchError::Status(404, "not found".into()));
    }

    #[test]
    fn error_status_carries_the_agents_message() {
        let (port, server) = serve_once(
            "425 Too Early",
            r#"{"error": "invalid metrics period, specify [2, 5]"}"#,
        );
        let e = AgentClient::new(&config(port, None))
            .window(WindowChoice::Minutes(9))
            .unwrap_err();
        server.join().unwrap();
        assert_eq!(
            e,
            FetchError::Status(425, "invalid metrics period, specify [2, 5]".into())
        );
    }

    #[test]
    fn closed_port_is_unreachable() {
        // Bind then drop: nothing listens on the port afterwards.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = AgentClient::new(&config(port, None)).app().unwrap_err();
        assert!(matches!(e, FetchError::Unreachable(_)), "{e:?}");
    }
}
