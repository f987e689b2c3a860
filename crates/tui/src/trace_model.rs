//! The Traces screen's data as the agent serves it: trace records (`/api/v1/traces`, the
//! JSON lines `pktvisord --nft-trace` prints, docs/traces.md) read into rows, and the
//! rulesets (`/api/v1/nft/ruleset`, `nft -a -s list ruleset` per namespace) with the line of
//! a record's deciding rule found in them.

use serde_json::Value;

/// IP protocol numbers the list names (as nft and tshark do); others stay numbers.
const PROTO_NAMES: [(u64, &str); 6] = [
    (1, "icmp"),
    (6, "tcp"),
    (17, "udp"),
    (58, "icmpv6"),
    (132, "sctp"),
    (136, "udplite"),
];

/// The rule whose verdict ended a traversal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidingRule {
    pub table: String,
    pub chain: String,
    pub handle: u64,
    /// As nft prints it, or `handle N` when the ruleset did not know the rule.
    pub text: String,
}

/// One event of a record's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub chain: String,
    pub handle: Option<u64>,
    /// continue, jump, goto, return, accept, drop, ...
    pub verdict: String,
    pub target: Option<String>,
}

impl std::fmt::Display for Step {
    /// `chain #handle verdict target`, as nft monitor names them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.chain)?;
        if let Some(h) = self.handle {
            write!(f, " #{h}")?;
        }
        write!(f, " {}", self.verdict)?;
        if let Some(t) = &self.target {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

/// One record, as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRow {
    pub time_ns: u64,
    /// The agent that traced it (a hub serves several).
    pub agent_id: String,
    pub netns: String,
    pub trace_id: u64,
    /// The table's family: ip, ip6, inet, arp, bridge, netdev.
    pub family: String,
    pub table: String,
    /// The base chain of the traversal.
    pub chain: String,
    pub hook: Option<String>,
    pub path: Vec<Step>,
    pub ip_src: Option<String>,
    pub ip_dst: Option<String>,
    pub sport: Option<u64>,
    pub dport: Option<u64>,
    pub icmp: Option<(u64, u64)>,
    pub proto: Option<u64>,
    /// `accept`, `drop`, `policy drop`, `unknown`, ...
    pub verdict: String,
    /// Absent when the chain's policy decided (or the traversal never ended).
    pub rule: Option<DecidingRule>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_owned)
}

impl TraceRow {
    /// A record of the API; None when it lacks what every record has (time, family, table,
    /// chain, verdict): such a record is counted and skipped by the screen.
    pub fn from_json(v: &Value) -> Option<TraceRow> {
        let rule = &v["rule"];
        let rule = rule.is_object().then(|| DecidingRule {
            table: text(rule, "table").unwrap_or_default(),
            chain: text(rule, "chain").unwrap_or_default(),
            handle: rule["handle"].as_u64().unwrap_or(0),
            text: text(rule, "text").unwrap_or_default(),
        });
        let icmp = v["icmp_type"]
            .as_u64()
            .map(|t| (t, v["icmp_code"].as_u64().unwrap_or(0)));
        Some(TraceRow {
            time_ns: v["time_ns"].as_u64()?,
            agent_id: text(v, "agent_id").unwrap_or_default(),
            netns: text(v, "netns").unwrap_or_default(),
            trace_id: v["trace_id"].as_u64().unwrap_or(0),
            family: text(v, "family")?,
            table: text(v, "table")?,
            chain: text(v, "chain")?,
            hook: text(v, "hook"),
            path: v["path"]
                .as_array()
                .map(|steps| {
                    steps
                        .iter()
                        .map(|s| Step {
                            chain: text(s, "chain").unwrap_or_default(),
                            handle: s["handle"].as_u64(),
                            verdict: text(s, "verdict").unwrap_or_default(),
                            target: text(s, "target"),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ip_src: text(v, "ip_src"),
            ip_dst: text(v, "ip_dst"),
            sport: v["sport"].as_u64(),
            dport: v["dport"].as_u64(),
            icmp,
            proto: v["proto"].as_u64(),
            verdict: text(v, "verdict")?,
            rule,
        })
    }

    /// What tells a record apart from the others of a page (to keep it selected while the
    /// list moves): trace ids repeat across tables and over time.
    pub fn key(&self) -> (u64, u64, String, String) {
        (
            self.time_ns,
            self.trace_id,
            self.table.clone(),
            self.chain.clone(),
        )
    }

    /// `HH:MM:SS.mmm` (UTC) of the record's first event.
    pub fn time(&self) -> String {
        let secs = self.time_ns / 1_000_000_000;
        let ms = self.time_ns % 1_000_000_000 / 1_000_000;
        format!(
            "{:02}:{:02}:{:02}.{ms:03}",
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// `netns NAME`, or `host` for the agent's own namespace.
    pub fn netns_label(&self) -> String {
        if self.netns.is_empty() {
            "host".to_owned()
        } else {
            format!("netns {}", self.netns)
        }
    }

    /// `table/chain`.
    pub fn table_chain(&self) -> String {
        format!("{}/{}", self.table, self.chain)
    }

    /// `src → dst`, with ports (`[v6]:port` for IPv6) or, for ICMP, ` type T code C`; `-`
    /// for a packet without addresses (arp, a bridge frame without IP).
    pub fn flow(&self) -> String {
        let end = |ip: &Option<String>, port: Option<u64>| match (ip, port) {
            (Some(ip), Some(p)) if ip.contains(':') => format!("[{ip}]:{p}"),
            (Some(ip), Some(p)) => format!("{ip}:{p}"),
            (Some(ip), None) => ip.clone(),
            (None, _) => "-".to_owned(),
        };
        let mut s = format!(
            "{} → {}",
            end(&self.ip_src, self.sport),
            end(&self.ip_dst, self.dport)
        );
        if let Some((t, c)) = self.icmp {
            s += &format!(" type {t} code {c}");
        }
        s
    }

    /// The protocol's name (tcp, udp, icmp, ...), its number when it has none here, `-`.
    pub fn proto_name(&self) -> String {
        match self.proto {
            None => "-".to_owned(),
            Some(p) => PROTO_NAMES
                .iter()
                .find(|(n, _)| *n == p)
                .map_or_else(|| p.to_string(), |(_, name)| (*name).to_owned()),
        }
    }

    /// The deciding rule as the list shows it: `#handle text`, or the policy's chain.
    pub fn rule_text(&self) -> String {
        match &self.rule {
            Some(r) => format!("#{} {}", r.handle, r.text),
            None if self.verdict.starts_with("policy") => format!("{} policy", self.chain),
            None => "-".to_owned(),
        }
    }
}

/// One namespace's ruleset as `nft -a -s list ruleset` printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruleset {
    /// The agent whose ruleset it is: given by a hub, empty from an agent.
    pub agent_id: String,
    /// Empty for the agent's own namespace.
    pub netns: String,
    pub generation: Option<u64>,
    pub text: String,
}

/// The rulesets of `/api/v1/nft/ruleset`; entries without text are skipped.
pub fn rulesets_from_json(v: &Value) -> Vec<Ruleset> {
    v["rulesets"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    Some(Ruleset {
                        agent_id: text(r, "agent_id").unwrap_or_default(),
                        netns: text(r, "netns").unwrap_or_default(),
                        generation: r["generation"].as_u64(),
                        text: text(r, "ruleset")?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The 0-based line of `ruleset` that decided `row`: the rule of its handle (the line nft
/// ends with `# handle N`) in the rule's table (of the record's family) and chain; for a
/// policy verdict, the line of the base chain that declares the policy. None when the
/// ruleset does not have it (changed since, or never listed).
pub fn deciding_line(ruleset: &str, row: &TraceRow) -> Option<usize> {
    let (chain, handle) = match &row.rule {
        Some(r) if r.table == row.table => (r.chain.as_str(), Some(r.handle)),
        Some(_) => return None,
        None if row.verdict.starts_with("policy") => (row.chain.as_str(), None),
        None => return None,
    };
    let handle_comment = handle.map(|h| format!("# handle {h}"));
    let (mut in_table, mut in_chain) = (false, false);
    for (i, line) in ruleset.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, ..] => {
                in_table = *family == row.family && unquote(name) == row.table;
                in_chain = false;
            }
            ["chain", name, ..] => in_chain = in_table && unquote(name) == chain,
            _ if !in_chain => {}
            _ => match &handle_comment {
                Some(c) if line.trim_end().ends_with(c.as_str()) => return Some(i),
                None if words.contains(&"policy") && words.contains(&"hook") => return Some(i),
                _ => {}
            },
        }
    }
    None
}

/// nft quotes names that are not plain identifiers.
fn unquote(name: &str) -> &str {
    name.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULESET: &str = "table ip pvfilt { # handle 3
\tchain input { # handle 1
\t\ttype filter hook input priority filter; policy drop;
\t\ttcp dport 8080 ct state new counter accept # handle 9
\t}
\tchain tcp_in { # handle 5
\t\ttcp flags syn counter accept # handle 9
\t}
}
table inet pvfilt { # handle 4
\tchain tcp_in { # handle 1
\t\ttcp flags syn counter accept # handle 9
\t}
}
";

    fn row(family: &str, rule: Option<(&str, u64)>, verdict: &str) -> TraceRow {
        let mut v = json!({"time_ns": 1, "family": family, "table": "pvfilt",
                           "chain": "input", "verdict": verdict});
        if let Some((chain, handle)) = rule {
            v["rule"] = json!({"table": "pvfilt", "chain": chain, "handle": handle,
                               "text": "tcp flags syn counter accept"});
        }
        TraceRow::from_json(&v).unwrap()
    }

    /// Handles repeat between tables and chains: the line is the one of the rule's table
    /// (of the record's family) and chain.
    #[test]
    fn the_deciding_line_is_looked_up_in_its_family_table_and_chain() {
        let at = |r: &TraceRow| deciding_line(RULESET, r);
        assert_eq!(at(&row("ip", Some(("tcp_in", 9)), "accept")), Some(6));
        assert_eq!(at(&row("ip", Some(("input", 9)), "accept")), Some(3));
        assert_eq!(at(&row("inet", Some(("tcp_in", 9)), "accept")), Some(11));
        assert_eq!(at(&row("ip", None, "policy drop")), Some(2));
        assert_eq!(at(&row("ip6", Some(("tcp_in", 9)), "accept")), None);
        assert_eq!(at(&row("ip", Some(("tcp_in", 7)), "accept")), None);
        assert_eq!(at(&row("ip", None, "unknown")), None);
    }

    #[test]
    fn a_record_without_its_fields_is_refused() {
        assert_eq!(TraceRow::from_json(&json!({"time_ns": 1})), None);
        assert_eq!(TraceRow::from_json(&json!("x")), None);
    }
}
