//! `pktvisor traces`: nftables traces from an agent (`pktvisord --nft-trace`), visor-cli's
//! `watch` flags: a time range, per-field lists (comma = OR), `-q EXPR`, `--follow`,
//! `--json`. Text output aggregates like visor-cli: one line per (source, destination,
//! protocol, verdict, rule) with its count, each printed once.

use pv_nftrace::store::filter::{self, Field, proto_name};
use pv_tui::ClientConfig;
use pv_tui::client::{AgentClient, FetchError, query_string};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// How long one page may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Records asked for per page.
const PAGE: usize = 1000;

#[derive(clap::Args, Debug)]
pub struct TracesCmd {
    #[command(flatten)]
    pub agent: crate::tui_cmd::AgentAddr,

    /// Traces of the last span: 30s, 5m, 2h, 1d.
    #[arg(long, value_name = "SPAN", conflicts_with_all = ["time_from", "time_to"])]
    pub time: Option<String>,

    /// Traces at or after T (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "T")]
    pub time_from: Option<String>,

    /// Traces before T (RFC 3339 or Unix seconds).
    #[arg(long, value_name = "T")]
    pub time_to: Option<String>,

    /// Stream the traces as they arrive until interrupted (the time range does not apply).
    #[arg(long, conflicts_with_all = ["time", "time_from", "time_to"])]
    pub follow: bool,

    /// One JSON record per line instead of the aggregated text.
    #[arg(long)]
    pub json: bool,

    /// Read at most N records (newest first).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub limit: usize,

    /// visor's expression language: `(sport>=80 and sport<=443) and ip_dst=='192.0.2.14'
    /// and dport not in (80,443)`; `==`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `not`,
    /// `in (...)`, `not in (...)`, parentheses, quoted strings, CIDRs for addresses.
    #[arg(short = 'q', long = "query", value_name = "EXPR")]
    pub query: Option<String>,

    #[arg(
        long,
        value_name = "IDS",
        help = "Trace ids (comma = OR; so for every field flag)"
    )]
    pub trid: Option<String>,
    #[arg(long, value_name = "NAMES")]
    pub table: Option<String>,
    #[arg(long, value_name = "NAMES", help = "Base chains")]
    pub chain: Option<String>,
    #[arg(long, value_name = "NAMES", help = "Jump or goto targets in the path")]
    pub jt: Option<String>,
    #[arg(long, value_name = "HANDLES", help = "Handles of the deciding rule")]
    pub handle: Option<String>,
    #[arg(long, value_name = "FAMILIES")]
    pub family: Option<String>,
    #[arg(long, value_name = "IFACES")]
    pub iif: Option<String>,
    #[arg(long, value_name = "IFACES")]
    pub oif: Option<String>,
    #[arg(long, value_name = "MACS")]
    pub hw_src: Option<String>,
    #[arg(long, value_name = "MACS")]
    pub hw_dst: Option<String>,
    #[arg(long, value_name = "CIDRS")]
    pub ip_src: Option<String>,
    #[arg(long, value_name = "CIDRS")]
    pub ip_dst: Option<String>,
    #[arg(long, value_name = "PORTS")]
    pub sport: Option<String>,
    #[arg(long, value_name = "PORTS")]
    pub dport: Option<String>,
    #[arg(long, value_name = "LENGTHS")]
    pub len: Option<String>,
    #[arg(
        long,
        value_name = "PROTOS",
        help = "tcp, udp, icmp, icmpv6, ... or numbers"
    )]
    pub proto: Option<String>,
    #[arg(
        long,
        value_name = "VERDICTS",
        help = "drop matches `drop` and `policy drop`"
    )]
    pub verdict: Option<String>,
    #[arg(long, value_name = "IDS")]
    pub agent_id: Option<String>,
    #[arg(
        long,
        value_name = "NAMES",
        help = "Network namespaces (`` for the agent's own)"
    )]
    pub netns: Option<String>,
}

/// Exit status of a request the agent refused as malformed (HTTP 400), or a filter that
/// does not parse here.
const USAGE: u8 = 2;

impl TracesCmd {
    /// The per-field flags given: (field, its parameter name, the list).
    fn lists(&self) -> Vec<(Field, &'static str, &str)> {
        let values = [
            &self.trid,
            &self.table,
            &self.chain,
            &self.jt,
            &self.handle,
            &self.family,
            &self.iif,
            &self.oif,
            &self.hw_src,
            &self.hw_dst,
            &self.ip_src,
            &self.ip_dst,
            &self.sport,
            &self.dport,
            &self.len,
            &self.proto,
            &self.verdict,
            &self.agent_id,
            &self.netns,
        ];
        Field::ALL
            .iter()
            .zip(values)
            .filter_map(|((f, name), v)| v.as_deref().map(|v| (*f, *name, v)))
            .collect()
    }

    /// The query string of the filters (and, unless following, the time range).
    fn params(&self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = self
            .lists()
            .into_iter()
            .map(|(_, name, v)| (name.to_owned(), v.to_owned()))
            .collect();
        if let Some(q) = &self.query {
            p.push(("q".into(), q.clone()));
        }
        if let Some(t) = &self.time {
            p.push(("from".into(), t.clone()));
        }
        if let Some(t) = &self.time_from {
            p.push(("from".into(), t.clone()));
        }
        if let Some(t) = &self.time_to {
            p.push(("to".into(), t.clone()));
        }
        p
    }

    /// Checks the filters here, so that a typo is shown with its place before any request.
    fn check(&self) -> Result<(), String> {
        filter::from_lists(self.lists().into_iter().map(|(f, _, v)| (f, v)))
            .map_err(|e| format!("expected {}, found {}", e.expected, e.found))?;
        if let Some(q) = &self.query {
            filter::parse(q).map_err(|e| {
                let caret = " ".repeat(e.position);
                format!("-q: {e}\n  {q}\n  {caret}^")
            })?;
        }
        Ok(())
    }
}

/// The agent's 400: its message, with the place in `q` when it gave one.
fn refused(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    v["error"]
        .as_str()
        .map_or_else(|| body.trim().to_owned(), str::to_owned)
}

pub fn run(cmd: &TracesCmd) -> ExitCode {
    if let Err(e) = cmd.check() {
        eprintln!("pktvisor: error: {e}");
        return ExitCode::from(USAGE);
    }
    let client = match cmd.agent.client_config(None) {
        // A search may take longer than the terminal UI's refresh allows.
        Ok(cfg) => AgentClient::new(&ClientConfig {
            timeout: REQUEST_TIMEOUT,
            ..cfg
        }),
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let result = if cmd.follow {
        follow(cmd, &client)
    } else {
        search(cmd, &client)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(m)) => {
            eprintln!("pktvisor: error: the agent refused the request: {m}");
            ExitCode::from(USAGE)
        }
        Err(Failure::Agent(m)) => {
            eprintln!("pktvisor: error: {m}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// HTTP 400.
    Refused(String),
    Agent(String),
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Failure {
        Failure::Agent(e.to_string())
    }
}

fn status(code: u16, body: &str) -> Result<(), Failure> {
    match code {
        200 => Ok(()),
        400 => Err(Failure::Refused(refused(body))),
        c => Err(Failure::Agent(format!(
            "agent answered {c}: {}",
            refused(body)
        ))),
    }
}

fn search(cmd: &TracesCmd, client: &AgentClient) -> Result<(), Failure> {
    let params = cmd.params();
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    while records.len() < cmd.limit {
        let mut p = params.clone();
        p.push((
            "limit".into(),
            PAGE.min(cmd.limit - records.len()).to_string(),
        ));
        if let Some(c) = &cursor {
            p.push(("cursor".into(), c.clone()));
        }
        let (code, body) = client.get_text(&format!("/api/v1/traces?{}", query_string(&p)))?;
        status(code, &body)?;
        let mut page: Value = serde_json::from_str(&body)
            .map_err(|e| Failure::Agent(format!("unexpected answer: {e}")))?;
        if let Some(list) = page["traces"].as_array_mut() {
            records.append(list);
        }
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if cmd.json {
        records.iter().try_for_each(|r| writeln!(out, "{r}"))
    } else {
        aggregate(&records)
            .iter()
            .try_for_each(|l| writeln!(out, "{l}"))
    };
    // A closed stdout (`| head`) ends the command quietly.
    let _ = written;
    Ok(())
}

fn follow(cmd: &TracesCmd, client: &AgentClient) -> Result<(), Failure> {
    let path = format!("/api/v1/traces/follow?{}", query_string(&cmd.params()));
    let stdout = std::io::stdout();
    let (code, body) = client.get_lines(&path, |line| {
        let text = if cmd.json {
            line.to_owned()
        } else {
            match serde_json::from_str::<Value>(line) {
                Ok(r) => format!("{} cnt=1", describe(&r).1),
                Err(_) => return true,
            }
        };
        let mut out = stdout.lock();
        writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
    })?;
    status(code, &body)
}

fn endpoint(r: &Value, ip: &str, port: &str) -> String {
    let ip = r[ip].as_str().unwrap_or("-");
    match r[port].as_u64() {
        Some(p) if ip.contains(':') => format!("[{ip}]:{p}"),
        Some(p) => format!("{ip}:{p}"),
        None => ip.to_owned(),
    }
}

/// A record's time (ns) and its line without the count.
fn describe(r: &Value) -> (u64, String) {
    let proto = r["proto"].as_u64().map_or("-".to_owned(), |p| {
        u8::try_from(p)
            .ok()
            .and_then(proto_name)
            .map_or(p.to_string(), str::to_owned)
    });
    let rule = r["rule"]["text"].as_str().map_or_else(
        || {
            format!(
                "{} {} {} policy",
                r["family"].as_str().unwrap_or(""),
                r["table"].as_str().unwrap_or(""),
                r["chain"].as_str().unwrap_or("")
            )
        },
        str::to_owned,
    );
    let ns = r["time_ns"].as_u64().unwrap_or(0);
    let line = format!(
        "[{}] src={} dst={} proto={} verdict={} rule={:?}",
        pv_search::time::format_time(ns),
        endpoint(r, "ip_src", "sport"),
        endpoint(r, "ip_dst", "dport"),
        proto,
        r["verdict"].as_str().unwrap_or(""),
        rule
    );
    (ns, line)
}

/// One line per (source, destination, protocol, verdict, rule): the newest time and the
/// count, in time order.
fn aggregate(records: &[Value]) -> Vec<String> {
    let mut groups: BTreeMap<String, (u64, String, u64)> = BTreeMap::new();
    for r in records {
        let (ns, line) = describe(r);
        // The key is the line without its time.
        let key = line
            .split_once("] ")
            .map_or(line.clone(), |(_, k)| k.to_owned());
        let g = groups.entry(key).or_insert((ns, line.clone(), 0));
        if ns >= g.0 {
            (g.0, g.1) = (ns, line);
        }
        g.2 += 1;
    }
    let mut lines: Vec<(u64, String)> = groups
        .into_values()
        .map(|(ns, line, n)| (ns, format!("{line} cnt={n}")))
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregated_once_per_flow_and_verdict() {
        let r = |ns: u64, sport: u64, verdict: &str| {
            json!({"time_ns": ns, "ip_src": "198.51.100.1", "ip_dst": "198.51.100.2",
                   "sport": sport, "dport": 9, "proto": 17, "verdict": verdict,
                   "family": "ip", "table": "t", "chain": "input"})
        };
        let lines = aggregate(&[
            r(3_000_000_000, 5, "policy drop"),
            r(1_000_000_000, 5, "policy drop"),
            r(2_000_000_000, 6, "accept"),
        ]);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("src=198.51.100.1:6") && lines[0].ends_with("cnt=1"));
        assert!(lines[1].starts_with("[1970-01-01T00:00:03"), "{}", lines[1]);
        assert!(lines[1].contains("verdict=policy drop rule=\"ip t input policy\" cnt=2"));
    }

    #[test]
    fn encoded() {
        assert_eq!(
            query_string(&[("q".into(), "dport == 1 and ip_dst == '::1'".into())]),
            "q=dport%20%3D%3D%201%20and%20ip_dst%20%3D%3D%20%27%3A%3A1%27"
        );
    }
}
