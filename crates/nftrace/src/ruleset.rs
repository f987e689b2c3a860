//! Rule text as nft prints it, from `nft -a -s list ruleset` run in the namespace.
//!
//! Why the `nft` binary: the kernel sends rules as expression bytecode; turning that back
//! into nft's syntax is what libnftables does (thousands of lines per expression type and
//! version). Running nft gives exactly the text an operator sees in `nft -a list ruleset`,
//! for every expression the installed nft knows. `-s` (stateless) leaves out counter and
//! quota values, which would be stale anyway (they are as of the last refresh, not of the
//! traced packet). The text is refreshed on every NFT_MSG_NEWGEN.

use std::collections::HashMap;
use std::process::Command;

/// (family, table, chain)
pub type ChainKey = (String, String, String);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// `input`, `prerouting`... for a base chain.
    pub hook: Option<String>,
    /// `accept`/`drop` for a base chain.
    pub policy: Option<String>,
    /// Rule handle → rule text (without its `# handle N` comment).
    pub rules: HashMap<u64, String>,
    /// Chains this chain's rules jump or go to.
    pub targets: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub chains: HashMap<ChainKey, Chain>,
    /// The listing as nft printed it (`GET /api/v1/nft/ruleset`).
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesetError {
    #[error("cannot run nft: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("nft -a -s list ruleset failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
}

fn key(family: &str, table: &str, chain: &str) -> ChainKey {
    (family.to_owned(), table.to_owned(), chain.to_owned())
}

fn unquote(name: &str) -> &str {
    name.strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name)
}

/// Words of a line, a quoted name (`"pv both"`) kept as one word.
fn words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('"') {
            rest.get(1..)
                .and_then(|r| r.find('"'))
                .map_or(rest.len(), |i| i + 2)
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let (word, tail) = rest.split_at(end.min(rest.len()));
        out.push(word);
        rest = tail.trim_start();
    }
    out
}

/// Splits `TEXT # handle N` into the text and N.
fn split_handle(line: &str) -> Option<(&str, u64)> {
    let (text, handle) = line.rsplit_once(" # handle ")?;
    Some((text.trim(), handle.trim().parse().ok()?))
}

/// The chains named after `jump`/`goto` in a rule (verdict maps included).
fn jump_targets(text: &str) -> impl Iterator<Item = &str> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        if let [verb, target] = pair
            && (*verb == "jump" || *verb == "goto")
        {
            out.push(unquote(target.trim_end_matches([',', '}', ';'])));
        }
    }
    out.into_iter()
}

impl Ruleset {
    /// Runs `nft -a -s list ruleset` in the calling thread's namespace (a child process
    /// inherits the thread's namespace).
    pub fn load() -> Result<Ruleset, RulesetError> {
        let out = Command::new("nft")
            .args(["-a", "-s", "list", "ruleset"])
            .output()?;
        if !out.status.success() {
            return Err(RulesetError::Failed {
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(Ruleset::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Reads nft's listing. Lines it does not understand are passed over: a rule then
    /// shows as its handle alone, nothing fails.
    pub fn parse(text: &str) -> Ruleset {
        let mut rs = Ruleset {
            text: text.to_owned(),
            ..Ruleset::default()
        };
        let mut table: Option<(String, String)> = None;
        let mut chain: Option<ChainKey> = None;
        // Depth of a block that is neither a table nor a chain (set, map, flowtable...).
        let mut other_depth = 0usize;
        let mut pending = String::new();
        for raw in text.lines() {
            let line = raw.trim();
            if other_depth > 0 {
                other_depth += line.matches('{').count();
                other_depth = other_depth.saturating_sub(line.matches('}').count());
                continue;
            }
            let words = words(line);
            match (&table, &chain, words.as_slice()) {
                (None, _, ["table", family, name, "{", ..]) => {
                    table = Some(((*family).to_owned(), unquote(name).to_owned()));
                }
                (Some(_), None, ["}"]) => table = None,
                (Some((f, t)), None, ["chain", name, "{", ..]) => {
                    let k = key(f, t, unquote(name));
                    rs.chains.entry(k.clone()).or_default();
                    chain = Some(k);
                    pending.clear();
                }
                (Some(_), None, [_, _, "{", ..]) => other_depth = 1,
                (Some(_), Some(_), ["}"]) => chain = None,
                (Some(_), Some(k), _) => rs.chain_line(k, line, &mut pending),
                _ => {}
            }
        }
        rs
    }

    fn chain_line(&mut self, k: &ChainKey, line: &str, pending: &mut String) {
        let Some(c) = self.chains.get_mut(k) else {
            return;
        };
        if line.starts_with("type ") && line.contains(" hook ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair {
                    ["hook", h] => c.hook = Some((*h).to_owned()),
                    ["policy", p] => c.policy = Some(p.trim_end_matches(';').to_owned()),
                    _ => {}
                }
            }
            return;
        }
        // A rule may span lines (long anonymous sets): it ends with its handle comment.
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(line);
        if let Some((text, handle)) = split_handle(pending) {
            c.targets.extend(jump_targets(text).map(str::to_owned));
            c.rules.insert(handle, text.to_owned());
            pending.clear();
        } else if line.is_empty() || line.starts_with("comment ") {
            pending.clear();
        }
    }

    pub fn chain(&self, family: &str, table: &str, chain: &str) -> Option<&Chain> {
        self.chains.get(&key(family, table, chain))
    }

    pub fn rule_text(&self, family: &str, table: &str, chain: &str, handle: u64) -> Option<&str> {
        self.chain(family, table, chain)?
            .rules
            .get(&handle)
            .map(String::as_str)
    }

    /// The base chain a traversal seen first in `chain` runs in: `chain` itself when it is
    /// a base chain, else the one base chain of the table that reaches it by jumps and
    /// gotos. None when unknown or ambiguous.
    pub fn base_chain_of(&self, family: &str, table: &str, chain: &str) -> Option<String> {
        let c = self.chain(family, table, chain)?;
        if c.hook.is_some() {
            return Some(chain.to_owned());
        }
        let mut found: Option<String> = None;
        for ((f, t, name), base) in &self.chains {
            if f != family || t != table || base.hook.is_none() {
                continue;
            }
            if self.reaches(family, table, name, chain) {
                if found.is_some() {
                    return None;
                }
                found = Some(name.clone());
            }
        }
        found
    }

    fn reaches(&self, family: &str, table: &str, from: &str, to: &str) -> bool {
        let mut seen = vec![from.to_owned()];
        let mut todo = vec![from.to_owned()];
        while let Some(name) = todo.pop() {
            let Some(c) = self.chain(family, table, &name) else {
                continue;
            };
            for t in &c.targets {
                if t == to {
                    return true;
                }
                if !seen.contains(t) {
                    seen.push(t.clone());
                    todo.push(t.clone());
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `nft -a -s list ruleset` of nftables 1.0.6 on the ruleset of crates/cli/tests/nft_trace.rs
    // (abridged: one table of each kind).
    const LISTING: &str = r#"table ip pvfilt { # handle 3
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		ip protocol icmp jump icmp_in # handle 4
		tcp dport 9 goto tcp_in # handle 5
	}

	chain icmp_in { # handle 2
		icmp type echo-request jump count_it # handle 6
		icmp type echo-request counter accept # handle 7
	}

	chain count_it { # handle 3
		return # handle 8
	}

	set blocked { # handle 9
		type ipv4_addr
		elements = { 192.0.2.1,
			     192.0.2.2 }
	}

	chain tcp_in { # handle 10
		tcp flags syn counter accept # handle 11
	}
}
table inet "pv both" { # handle 4
	chain input { # handle 1
		type filter hook input priority 10; policy accept;
		meta nfproto ipv6 icmpv6 type { echo-request,
		echo-reply } counter accept # handle 2
	}
}
"#;

    #[test]
    fn rules_hooks_and_targets() {
        let rs = Ruleset::parse(LISTING);
        assert_eq!(
            rs.rule_text("ip", "pvfilt", "input", 4),
            Some("ip protocol icmp jump icmp_in")
        );
        assert_eq!(rs.rule_text("ip", "pvfilt", "count_it", 8), Some("return"));
        assert_eq!(
            rs.rule_text("ip", "pvfilt", "tcp_in", 11),
            Some("tcp flags syn counter accept")
        );
        let input = rs.chain("ip", "pvfilt", "input").unwrap();
        assert_eq!(input.hook.as_deref(), Some("input"));
        assert_eq!(input.policy.as_deref(), Some("drop"));
        assert_eq!(
            rs.rule_text("inet", "pv both", "input", 2),
            Some("meta nfproto ipv6 icmpv6 type { echo-request, echo-reply } counter accept")
        );
        assert_eq!(rs.rule_text("ip", "pvfilt", "input", 99), None);
        assert!(rs.chain("ip", "pvfilt", "blocked").is_none());
    }

    #[test]
    fn base_chains_through_jumps() {
        let rs = Ruleset::parse(LISTING);
        assert_eq!(
            rs.base_chain_of("ip", "pvfilt", "count_it").as_deref(),
            Some("input")
        );
        assert_eq!(
            rs.base_chain_of("ip", "pvfilt", "tcp_in").as_deref(),
            Some("input")
        );
        assert_eq!(
            rs.base_chain_of("ip", "pvfilt", "input").as_deref(),
            Some("input")
        );
        assert_eq!(rs.base_chain_of("ip", "nope", "input"), None);
    }

    #[test]
    fn garbage_does_not_panic() {
        for text in [
            "}",
            "table",
            "table ip t {\n chain c {\n # handle x\n}\n}",
            "{{{{",
        ] {
            let _ = Ruleset::parse(text);
        }
    }
}
