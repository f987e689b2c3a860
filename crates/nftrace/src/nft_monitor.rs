//! Reads what `nft -a monitor trace` prints: the independent view of the same events,
//! used by the tests (and benchmarks) to check our records against nft's own decoding.
//!
//! Lines: `trace id HEX FAMILY TABLE CHAIN` followed by `packet: FIELDS`,
//! `rule TEXT # handle N (verdict V [TARGET])`, `verdict V [TARGET]` or `policy V [...]`.

use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorKind {
    /// The packet's fields as nft decodes them (`ip saddr` → `198.51.100.1`...).
    Packet(HashMap<String, String>),
    Rule {
        handle: Option<u64>,
        text: String,
        verdict: String,
        target: Option<String>,
    },
    Return {
        verdict: String,
        target: Option<String>,
    },
    Policy {
        verdict: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorLine {
    pub id: u32,
    pub family: String,
    pub table: String,
    pub chain: String,
    pub kind: MonitorKind,
}

/// One step of a path: (chain, rule handle, verdict, jump target).
pub type PathStep = (String, Option<u64>, String, Option<String>);

impl MonitorLine {
    /// The event as a step of a path, as a record's path shows it; None for `packet:`.
    pub fn step(&self) -> Option<PathStep> {
        let chain = self.chain.clone();
        match &self.kind {
            MonitorKind::Rule {
                handle,
                verdict,
                target,
                ..
            } => Some((chain, *handle, verdict.clone(), target.clone())),
            MonitorKind::Return { verdict, target } => {
                Some((chain, None, verdict.clone(), target.clone()))
            }
            MonitorKind::Policy { verdict } => Some((chain, None, verdict.clone(), None)),
            MonitorKind::Packet(_) => None,
        }
    }
}

impl MonitorLine {
    /// The rule's text without counter values (`counter packets 0 bytes 0` → `counter`),
    /// as `nft -s` prints it; None for other events.
    pub fn stateless_rule(&self) -> Option<String> {
        let MonitorKind::Rule { text, .. } = &self.kind else {
            return None;
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut out: Vec<&str> = Vec::new();
        let mut rest = words.as_slice();
        while let Some((w, tail)) = rest.split_first() {
            if let ["packets", p, "bytes", b, after @ ..] = rest
                && out.last() == Some(&"counter")
                && p.parse::<u64>().is_ok()
                && b.parse::<u64>().is_ok()
            {
                rest = after;
                continue;
            }
            out.push(w);
            rest = tail;
        }
        Some(out.join(" "))
    }
}

fn verdict_and_target(text: &str) -> (String, Option<String>) {
    let mut words = text.split_whitespace();
    let verdict = words.next().unwrap_or_default().to_owned();
    (verdict, words.next().map(str::to_owned))
}

/// nft's packet fields as (key, value) pairs: `ip saddr 1.2.3.4` → `ip saddr` = `1.2.3.4`.
/// Keys are two words (protocol and field); values one word, except `tcp flags == syn`.
fn packet_fields(text: &str) -> HashMap<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = HashMap::new();
    let mut i = 0;
    while i + 2 < words.len() + 1 {
        let (Some(proto), Some(field)) = (words.get(i), words.get(i + 1)) else {
            break;
        };
        let mut value_at = i + 2;
        if matches!(words.get(value_at), Some(&"==")) {
            value_at += 1;
        }
        let Some(value) = words.get(value_at) else {
            break;
        };
        let key = if *proto == "iif" || *proto == "oif" {
            // `iif "vb"`: one-word key.
            out.insert((*proto).to_owned(), field.trim_matches('"').to_owned());
            i += 2;
            continue;
        } else {
            format!("{proto} {field}")
        };
        out.insert(key, (*value).to_owned());
        i = value_at + 1;
    }
    out
}

/// One line; None for lines that are not trace events.
pub fn parse_line(line: &str) -> Option<MonitorLine> {
    let rest = line.trim().strip_prefix("trace id ")?;
    let mut it = rest.splitn(5, ' ');
    let id = u32::from_str_radix(it.next()?, 16).ok()?;
    let family = it.next()?.to_owned();
    let table = it.next()?.to_owned();
    let chain = it.next()?.to_owned();
    let body = it.next().unwrap_or_default().trim();
    let kind = if let Some(p) = body.strip_prefix("packet: ") {
        MonitorKind::Packet(packet_fields(p))
    } else if let Some(r) = body.strip_prefix("rule ") {
        let (text, verdict) = r.rsplit_once(" (verdict ")?;
        let (verdict, target) = verdict_and_target(verdict.trim_end_matches(')'));
        let (text, handle) = match text.rsplit_once(" # handle ") {
            Some((t, h)) => (t, h.trim().parse().ok()),
            None => (text, None),
        };
        MonitorKind::Rule {
            handle,
            text: text.to_owned(),
            verdict,
            target,
        }
    } else if let Some(v) = body.strip_prefix("verdict ") {
        let (verdict, target) = verdict_and_target(v);
        MonitorKind::Return { verdict, target }
    } else if let Some(v) = body.strip_prefix("policy ") {
        MonitorKind::Policy {
            verdict: verdict_and_target(v).0,
        }
    } else {
        return None;
    };
    Some(MonitorLine {
        id,
        family,
        table,
        chain,
        kind,
    })
}

/// A traversal as nft shows it: its packet line (when printed) and its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorTraversal {
    pub id: u32,
    pub family: String,
    pub table: String,
    pub packet: Option<HashMap<String, String>>,
    pub events: Vec<MonitorLine>,
}

/// Groups lines into traversals: by (family, table, id), a `packet:` line starting the
/// next one (nft prints it with the first event of every traversal).
pub fn traversals(text: &str) -> Vec<MonitorTraversal> {
    let mut out: Vec<MonitorTraversal> = Vec::new();
    let mut open: HashMap<(String, String, u32), usize> = HashMap::new();
    for line in text.lines().filter_map(parse_line) {
        let key = (line.family.clone(), line.table.clone(), line.id);
        let at = match (&line.kind, open.get(&key)) {
            (MonitorKind::Packet(_), _) | (_, None) => {
                out.push(MonitorTraversal {
                    id: line.id,
                    family: line.family.clone(),
                    table: line.table.clone(),
                    ..MonitorTraversal::default()
                });
                open.insert(key, out.len() - 1);
                out.len() - 1
            }
            (_, Some(&i)) => i,
        };
        if let Some(t) = out.get_mut(at) {
            match line.kind {
                MonitorKind::Packet(fields) => t.packet = Some(fields),
                _ => t.events.push(line),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let l = parse_line("trace id 1138232a ip pvfilt input rule ip protocol icmp jump icmp_in # handle 6 (verdict jump icmp_in)").unwrap();
        assert_eq!(
            (l.id, l.family.as_str(), l.chain.as_str()),
            (0x1138_232a, "ip", "input")
        );
        assert_eq!(
            l.kind,
            MonitorKind::Rule {
                handle: Some(6),
                text: "ip protocol icmp jump icmp_in".into(),
                verdict: "jump".into(),
                target: Some("icmp_in".into())
            }
        );
        let p = parse_line("trace id 4e1fbd21 ip pvfilt input policy drop meta mark 0x0000002a ")
            .unwrap();
        assert_eq!(
            p.kind,
            MonitorKind::Policy {
                verdict: "drop".into()
            }
        );
        let k = parse_line(r#"trace id 22d37da6 ip pvfilt input packet: iif "vb" ether saddr 36:64:7f:10:57:ec ip saddr 198.51.100.1 ip length 60 tcp sport 49906 tcp dport 9 tcp flags == syn tcp window 64240 "#).unwrap();
        let MonitorKind::Packet(f) = k.kind else {
            panic!()
        };
        assert_eq!(f["iif"], "vb");
        assert_eq!(f["ether saddr"], "36:64:7f:10:57:ec");
        assert_eq!(f["tcp flags"], "syn");
        assert_eq!(f["tcp dport"], "9");
        assert!(parse_line("something else").is_none());
        let r = parse_line("trace id 1 ip t c rule ip saddr 1.2.3.4 counter packets 12 bytes 3400 accept # handle 7 (verdict accept)").unwrap();
        assert_eq!(
            r.stateless_rule().as_deref(),
            Some("ip saddr 1.2.3.4 counter accept")
        );
    }
}
