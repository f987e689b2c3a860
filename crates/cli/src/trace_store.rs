//! `pktvisord --nft-trace`: the records from the collector go to stdout (one JSON line
//! each), to the store (`--data-dir`) and to the followers (a broadcast channel: pushed as
//! they arrive, no database polling); the agent's trace routes answer from here through
//! [`pv_agent::TraceQueries`].

use pv_agent::{Followed, TraceFollow, TraceQueries, TraceQueryError};
use pv_nftrace::TraceRecord;
use pv_nftrace::collector::Rulesets;
use pv_nftrace::store::filter::{self, Expr, Field, FilterError};
use pv_nftrace::store::sql::{Row, matches};
use pv_nftrace::store::writer::{StoreCounters, StoreReader, StoreWriter};
use pv_nftrace::store::{Query, Retention, StoreError, stored};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use tokio::sync::broadcast;

/// Records a follower may fall behind before it skips (counted by the API): a few seconds
/// of a busy firewall's traces for a reader over a slow link.
const FOLLOW_BUFFER: usize = 4096;
/// A page of `GET /api/v1/traces` without `limit`.
const DEFAULT_LIMIT: usize = 100;

/// The ingest thread and what the API reads.
pub struct Ingest {
    thread: Option<JoinHandle<()>>,
    pub store: Arc<StoreCounters>,
    /// Records not stored because they could not be turned into JSON.
    pub unencodable: Arc<AtomicU64>,
    /// Records followers skipped, reading slower than records came.
    pub follow_missed: Arc<AtomicU64>,
    pub api: pv_agent::Traces,
    /// The store's directory (the size of its segments is a gauge on `/metrics`).
    pub dir: std::path::PathBuf,
}

impl Ingest {
    /// Opens the store under `dir` and starts the thread reading `records`.
    pub fn start(
        dir: &Path,
        retention: Retention,
        agent_id: String,
        rulesets: Rulesets,
        records: Receiver<TraceRecord>,
    ) -> Result<Ingest, StoreError> {
        let mut writer = StoreWriter::start(dir, retention)?;
        let reader = StoreReader::open(dir)?;
        let (live, _) = broadcast::channel(FOLLOW_BUFFER);
        let store = writer.counters.clone();
        let unencodable = Arc::new(AtomicU64::new(0));
        let follow_missed = Arc::new(AtomicU64::new(0));
        let api = pv_agent::Traces(Arc::new(StoreApi {
            reader,
            live: live.clone(),
            rulesets,
            missed: follow_missed.clone(),
        }));
        let bad = unencodable.clone();
        let thread = std::thread::Builder::new()
            .name("nftrace ingest".into())
            .spawn(move || {
                // Buffered, flushed when no record is waiting: a write and a flush per
                // record were a system call each, ~20 000 a second under a flood.
                let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
                let mut printing = true;
                let mut next = records.recv().ok();
                while let Some(r) = next {
                    let Ok((row, json)) = stored(&r, &agent_id) else {
                        bad.fetch_add(1, Relaxed);
                        next = records.recv().ok();
                        continue;
                    };
                    if printing {
                        printing =
                            out.write_all(json.as_bytes()).is_ok() && out.write_all(b"\n").is_ok();
                    }
                    // Copies for the followers only when there are some.
                    if live.receiver_count() > 0 {
                        let _ = live.send(Arc::new(Followed {
                            json: json.clone(),
                            fields: Box::new(row.clone()),
                        }));
                    }
                    writer.push(row, &json);
                    next = match records.try_recv() {
                        Ok(r) => Some(r),
                        Err(_) => {
                            printing = printing && out.flush().is_ok();
                            records.recv().ok()
                        }
                    };
                }
                let _ = out.flush();
                writer.finish();
            })
            .map_err(|source| StoreError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        Ok(Ingest {
            thread: Some(thread),
            store,
            unencodable,
            follow_missed,
            api,
            dir: dir.to_owned(),
        })
    }

    /// Waits until the collector has stopped and every record is stored.
    pub fn finish(&mut self) {
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            eprintln!("pktvisord: error: the trace ingest thread panicked");
        }
    }
}

struct StoreApi {
    reader: StoreReader,
    live: broadcast::Sender<Arc<Followed>>,
    rulesets: Rulesets,
    missed: Arc<AtomicU64>,
}

fn bad(parameter: &str, message: String) -> TraceQueryError {
    TraceQueryError::BadRequest {
        message,
        parameter: Some(parameter.to_owned()),
        position: None,
        expected: None,
    }
}

fn filter_error(parameter: &str, e: FilterError) -> TraceQueryError {
    TraceQueryError::BadRequest {
        message: format!("{parameter}: {e}"),
        parameter: Some(parameter.to_owned()),
        position: Some(e.position),
        expected: Some(e.expected),
    }
}

/// The filters of a request: per-field lists (AND between fields, OR within) and `q`.
/// `extra` names the other parameters the endpoint takes.
fn filters(params: &[(String, String)], extra: &[&str]) -> Result<Expr, TraceQueryError> {
    let mut expr = Expr::True;
    for (name, value) in params {
        if let Some(field) = Field::from_name(name) {
            expr = expr
                .and(filter::from_lists([(field, value.as_str())]).map_err(|e| {
                    bad(name, format!("{name}: {}, found {}", e.expected, e.found))
                })?);
        } else if name == "q" {
            expr = expr.and(filter::parse(value).map_err(|e| filter_error("q", e))?);
        } else if !extra.contains(&name.as_str()) {
            return Err(bad(name, format!("unknown parameter '{name}'")));
        }
    }
    Ok(expr)
}

fn time(params: &[(String, String)], name: &str) -> Result<Option<u64>, TraceQueryError> {
    params
        .iter()
        .rfind(|(n, _)| n == name)
        .map(|(_, v)| pv_search::time::parse_time(v).map_err(|e| bad(name, format!("{name}: {e}"))))
        .transpose()
}

impl TraceQueries for StoreApi {
    fn search(&self, params: &[(String, String)]) -> Result<Value, TraceQueryError> {
        let filter = filters(params, &["from", "to", "limit", "cursor"])?;
        let limit = match params.iter().rfind(|(n, _)| n == "limit") {
            None => DEFAULT_LIMIT,
            Some((_, v)) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=pv_nftrace::store::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad(
                        "limit",
                        format!("limit: expected 1 to {}", pv_nftrace::store::MAX_LIMIT),
                    )
                })?,
        };
        let q = Query {
            filter,
            from_ns: time(params, "from")?,
            to_ns: time(params, "to")?,
            limit,
            cursor: params
                .iter()
                .rfind(|(n, _)| n == "cursor")
                .map(|(_, v)| v.clone()),
        };
        match self.reader.search(&q) {
            Ok(page) => Ok(json!({"traces": page.records, "next": page.next})),
            Err(e @ StoreError::Cursor(_)) => Err(bad("cursor", e.to_string())),
            Err(e) => Err(TraceQueryError::Failed(e.to_string())),
        }
    }

    fn follow(&self, params: &[(String, String)]) -> Result<TraceFollow, TraceQueryError> {
        let filter = filters(params, &[])?;
        Ok(TraceFollow {
            records: self.live.subscribe(),
            keep: Box::new(move |f: &Followed| {
                f.fields
                    .downcast_ref::<Row>()
                    .is_some_and(|row| matches(&filter, row))
            }),
            missed: self.missed.clone(),
        })
    }

    fn rulesets(&self) -> Value {
        let rulesets = self.rulesets.lock().map(|r| r.clone()).unwrap_or_default();
        let list: Vec<Value> = rulesets
            .into_iter()
            .map(|(netns, (generation, text))| {
                json!({"netns": netns, "generation": generation, "ruleset": text})
            })
            .collect();
        json!({ "rulesets": list })
    }
}

/// `7d`, `12h`, `30m`, `45s`, or seconds: the retention's age, in ns.
pub fn parse_age(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}': expected a number and s, m, h or d (7d)"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}': the unit is s, m, h or d")),
    };
    n.checked_mul(secs)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .filter(|ns| *ns > 0)
        .ok_or_else(|| format!("'{text}': out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn request_filters() {
        let e = filters(&p(&[("dport", "53,80"), ("q", "verdict == drop")]), &[]).unwrap();
        assert_eq!(
            e,
            filter::from_lists([(Field::Dport, "53,80")])
                .unwrap()
                .and(filter::parse("verdict == drop").unwrap())
        );
        match filters(&p(&[("q", "dport >")]), &[]) {
            Err(TraceQueryError::BadRequest { position, .. }) => assert_eq!(position, Some(7)),
            other => panic!("{other:?}"),
        }
        assert!(filters(&p(&[("from", "1")]), &[]).is_err());
        assert!(filters(&p(&[("from", "1")]), &["from"]).is_ok());
        assert!(filters(&p(&[("ip_dst", "198.51.100.0/24")]), &[]).is_ok());
        assert!(filters(&p(&[("ip-dst", "nope")]), &[]).is_err());
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400 * 1_000_000_000));
        assert_eq!(parse_age("90"), Ok(90 * 1_000_000_000));
        assert!(parse_age("7w").is_err());
        assert!(parse_age("0").is_err());
        assert!(parse_age("d").is_err());
    }
}
