//! Trace records in ClickHouse: `traces`, one row per record with typed columns (the
//! agent's store's flat fields; addresses as 16 bytes, IPv4 mapped, so that a CIDR is a
//! byte range; the record's JSON as the agent sent it) and `trace_batches`, the keys
//! (agent, run, seq) of the batches stored.
//!
//! Exactly once, as for buckets: the hub checks the key and writes under its store lock,
//! the rows before the key (a hub killed between them has written rows without a key: the
//! batch comes again and its rows are written twice), and `traces` is a
//! `ReplacingMergeTree` whose key is the record's place in its batch, read with `FINAL`, so
//! that no read returns a record twice.
//!
//! Filters become SQL from fixed column names and operators; every value is a column of
//! the external table `sel` (`(SELECT p0 FROM sel)`), never text in the SQL.

use super::clickhouse::ClickHouseStore;
use super::clickhouse_http::{Body, Param, leb128, put_bytes};
use super::{Inserted, StoreError};
use crate::traces::protocol::TraceBatch;
use pv_nftrace::store::filter::{Expr, Field, Op, Value};
use pv_nftrace::store::request::{cursor_text, parse_cursor};
use pv_nftrace::store::sql::{Row, address_key, column, net_range, sql_op};
use pv_nftrace::store::{MAX_LIMIT, Page, Query};

/// Schema version 2: the trace tables. `{name}` is the flavour's name type.
pub const MIGRATION_2: &[&str] = &[
    // ORDER BY: time first (searches read newest first, ranges of time), then the record's
    // place in its batch, which FINAL collapses. `id`: the hub's number of the row, the
    // cursor's tie-break between records of one nanosecond.
    "CREATE TABLE IF NOT EXISTS traces (
        time_ns UInt64, agent_id {name}, run UInt64, seq UInt64, idx UInt32, id UInt64,
        netns {name}, trace_id UInt32, family {name}, tbl {name}, chain {name},
        verdict {name}, action {name}, handle Nullable(UInt64), jt Array(String),
        iif Nullable(String), oif Nullable(String),
        hw_src Nullable(String), hw_dst Nullable(String),
        ip_src Nullable(FixedString(16)), ip_dst Nullable(FixedString(16)),
        sport Nullable(UInt16), dport Nullable(UInt16), len Nullable(UInt32),
        proto Nullable(UInt8), json String
    ) ENGINE = ReplacingMergeTree ORDER BY (time_ns, agent_id, run, seq, idx)",
    "CREATE TABLE IF NOT EXISTS trace_batches (
        agent String, run UInt64, seq UInt64, records UInt64, received UInt64
    ) ENGINE = ReplacingMergeTree ORDER BY (agent, run, seq)",
];

const COLUMNS: &str = "time_ns, agent_id, run, seq, idx, id, netns, trace_id, family, tbl, \
    chain, verdict, action, handle, jt, iif, oif, hw_src, hw_dst, ip_src, ip_dst, sport, dport, \
    len, proto, json";

fn opt_u64(out: &mut Vec<u8>, v: Option<u64>, width: usize) {
    match v {
        None => out.push(1),
        Some(v) => {
            out.push(0);
            out.extend_from_slice(&v.to_le_bytes()[..width]);
        }
    }
}

fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.push(1),
        Some(s) => {
            out.push(0);
            put_bytes(out, s.as_bytes());
        }
    }
}

fn opt_addr(out: &mut Vec<u8>, v: Option<std::net::IpAddr>) {
    match v {
        None => out.push(1),
        Some(a) => {
            out.push(0);
            out.extend_from_slice(&address_key(a));
        }
    }
}

/// One row in RowBinary, in [`COLUMNS`]' order.
fn encode_row(out: &mut Vec<u8>, b: &TraceBatch, idx: usize, id: u64, r: &Row, json: &str) {
    out.extend_from_slice(&r.time_ns.to_le_bytes());
    put_bytes(out, b.agent.as_bytes());
    out.extend_from_slice(&b.run.to_le_bytes());
    out.extend_from_slice(&b.seq.to_le_bytes());
    out.extend_from_slice(&u32::try_from(idx).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    put_bytes(out, r.netns.as_bytes());
    out.extend_from_slice(&r.trace_id.to_le_bytes());
    for s in [&r.family, &r.table, &r.chain, &r.verdict] {
        put_bytes(out, s.as_bytes());
    }
    put_bytes(out, Row::action(&r.verdict).as_bytes());
    opt_u64(out, r.handle, 8);
    leb128(out, r.jt.len() as u64);
    r.jt.iter().for_each(|t| put_bytes(out, t.as_bytes()));
    for s in [&r.iif, &r.oif, &r.hw_src, &r.hw_dst] {
        opt_str(out, s.as_deref());
    }
    opt_addr(out, r.ip_src);
    opt_addr(out, r.ip_dst);
    opt_u64(out, r.sport.map(u64::from), 2);
    opt_u64(out, r.dport.map(u64::from), 2);
    opt_u64(out, r.len.map(u64::from), 4);
    opt_u64(out, r.proto.map(u64::from), 1);
    put_bytes(out, json.as_bytes());
}

/// The values of a filter, named p0, p1, ... in `sel`.
#[derive(Default)]
struct Values {
    list: Vec<SelValue>,
}

enum SelValue {
    Text(String),
    Bytes(Vec<u8>),
    Number(u64),
}

impl Values {
    fn add(&mut self, v: SelValue) -> String {
        self.list.push(v);
        format!("(SELECT p{} FROM sel)", self.list.len() - 1)
    }
}

/// A filter as ClickHouse SQL (two-valued as the agent's: a comparison on a missing field
/// is false, `!=` is `not ==`).
fn to_sql(expr: &Expr, v: &mut Values) -> String {
    match expr {
        Expr::True => "1".into(),
        Expr::And(a, b) => format!("({} AND {})", to_sql(a, v), to_sql(b, v)),
        Expr::Or(a, b) => format!("({} OR {})", to_sql(a, v), to_sql(b, v)),
        Expr::Not(e) => format!("(NOT {})", to_sql(e, v)),
        Expr::Cmp(field, Op::Ne, value) => format!(
            "(NOT {})",
            to_sql(&Expr::Cmp(*field, Op::Eq, value.clone()), v)
        ),
        Expr::Cmp(field, op, value) => {
            let col = column(*field);
            let cmp = match (field, value) {
                (_, Value::Net(addr, prefix)) => {
                    let (lo, hi) = net_range(*addr, *prefix);
                    let lo = v.add(SelValue::Bytes(lo.to_vec()));
                    let hi = v.add(SelValue::Bytes(hi.to_vec()));
                    format!("{col} >= {lo} AND {col} <= {hi}")
                }
                (Field::Jt, Value::Text(t)) => {
                    format!("has(jt, {})", v.add(SelValue::Text(t.clone())))
                }
                (Field::Verdict, Value::Text(t)) if !t.contains(' ') => {
                    format!("action = {}", v.add(SelValue::Text(t.clone())))
                }
                (_, Value::Text(t)) => {
                    format!("{col} {} {}", sql_op(*op), v.add(SelValue::Text(t.clone())))
                }
                (_, Value::Number(n)) => {
                    format!("{col} {} {}", sql_op(*op), v.add(SelValue::Number(*n)))
                }
            };
            // A NULL column makes the comparison NULL: false here, so that NOT flips it.
            format!("ifNull({cmp}, 0)")
        }
    }
}

impl ClickHouseStore {
    pub(super) fn insert_trace_batch(
        &mut self,
        batch: &TraceBatch,
        rows: &[Row],
        now: u64,
    ) -> Result<Inserted, StoreError> {
        let stored = self.count(
            "SELECT count() FROM trace_batches WHERE agent = (SELECT agent FROM sel)
             AND run = (SELECT run FROM sel) AND seq = (SELECT seq FROM sel) FORMAT RowBinary",
            &[
                ("agent", Param::Str(&batch.agent)),
                ("run", Param::U64(batch.run)),
                ("seq", Param::U64(batch.seq)),
            ],
        )?;
        if stored > 0 {
            self.touch(&batch.agent, now)?;
            return Ok(Inserted::Duplicate);
        }
        if !rows.is_empty() {
            // Ids follow the largest stored: the cursor's tie-break, unique per hub.
            let first = self.count(
                "SELECT max(id) + 1 FROM traces FORMAT RowBinary",
                &[("unused", Param::U64(0))],
            )?;
            let mut body = Vec::with_capacity(rows.len() * 700);
            for (i, (row, json)) in rows.iter().zip(&batch.records).enumerate() {
                encode_row(&mut body, batch, i, first + i as u64, row, json);
            }
            self.ch.query(
                &format!("INSERT INTO traces ({COLUMNS}) FORMAT RowBinary"),
                Body::Rows(&body),
                None,
            )?;
        }
        let mut key = Vec::new();
        put_bytes(&mut key, batch.agent.as_bytes());
        for n in [batch.run, batch.seq, rows.len() as u64, now] {
            key.extend_from_slice(&n.to_le_bytes());
        }
        self.ch.query(
            "INSERT INTO trace_batches (agent, run, seq, records, received) FORMAT RowBinary",
            Body::Rows(&key),
            None,
        )?;
        self.touch(&batch.agent, now)?;
        Ok(Inserted::New)
    }

    pub(super) fn search_trace_page(&self, q: &Query) -> Result<Page, StoreError> {
        let mut v = Values::default();
        let mut clauses = vec![to_sql(&q.filter, &mut v)];
        if let Some(from) = q.from_ns {
            clauses.push(format!("time_ns >= {}", v.add(SelValue::Number(from))));
        }
        if let Some(to) = q.to_ns {
            clauses.push(format!("time_ns < {}", v.add(SelValue::Number(to))));
        }
        if let Some(text) = &q.cursor {
            let (t, id) = parse_cursor(text)
                .and_then(|(t, id)| Some((u64::try_from(t).ok()?, u64::try_from(id).ok()?)))
                .ok_or_else(|| StoreError::Cursor(text.clone()))?;
            let (t1, t2) = (v.add(SelValue::Number(t)), v.add(SelValue::Number(t)));
            let id = v.add(SelValue::Number(id));
            clauses.push(format!(
                "(time_ns < {t1} OR (time_ns = {t2} AND id < {id}))"
            ));
        }
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let want = limit + 1;
        let sql = format!(
            "SELECT time_ns, id, json FROM traces FINAL WHERE {}
             ORDER BY time_ns DESC, id DESC LIMIT {want} FORMAT RowBinary",
            clauses.join(" AND ")
        );
        let names: Vec<String> = (0..v.list.len()).map(|i| format!("p{i}")).collect();
        let sel: Vec<(&str, Param<'_>)> = names
            .iter()
            .zip(&v.list)
            .map(|(n, x)| {
                let p = match x {
                    SelValue::Text(t) => Param::Str(t),
                    SelValue::Bytes(b) => Param::Bytes(b),
                    SelValue::Number(n) => Param::U64(*n),
                };
                (n.as_str(), p)
            })
            .collect();
        // A query with no values still sends `sel` (an empty structure is refused).
        let none = [("unused", Param::U64(0))];
        let body = self.ch.query(
            &sql,
            Body::Sel(if sel.is_empty() { &none } else { &sel }),
            None,
        )?;
        let mut r = self.reader(&body);
        let mut keys = Vec::with_capacity(want);
        let mut records = Vec::with_capacity(limit);
        while !r.is_empty() && keys.len() < want {
            let (t, id) = (r.u64()?, r.u64()?);
            let json = r.bytes()?;
            keys.push((t, id));
            if records.len() < limit {
                let value = serde_json::from_slice(&json)
                    .map_err(|e| StoreError::Traces(pv_nftrace::store::StoreError::Json(e)))?;
                records.push(value);
            }
        }
        let next = (keys.len() > limit)
            .then(|| keys.get(limit - 1))
            .flatten()
            .map(|(t, id)| {
                cursor_text(
                    i64::try_from(*t).unwrap_or(i64::MAX),
                    i64::try_from(*id).unwrap_or(i64::MAX),
                )
            });
        Ok(Page { records, next })
    }

    pub(super) fn delete_traces(&mut self, before_ns: u64, before: u64) -> Result<u64, StoreError> {
        let n = self.count(
            "SELECT count() FROM traces WHERE time_ns < (SELECT before FROM sel) FORMAT RowBinary",
            &[("before", Param::U64(before_ns))],
        )?;
        // ALTER takes no external data: the cut-offs are integers of the hub's clock, the
        // values formatted into SQL. The mutations run in the background.
        if n > 0 {
            self.ch.query(
                &format!("ALTER TABLE traces DELETE WHERE time_ns < {before_ns}"),
                Body::None,
                None,
            )?;
        }
        let keys = self.count(
            "SELECT count() FROM trace_batches WHERE received < (SELECT before FROM sel) FORMAT RowBinary",
            &[("before", Param::U64(before))],
        )?;
        if keys > 0 {
            self.ch.query(
                &format!("ALTER TABLE trace_batches DELETE WHERE received < {before}"),
                Body::None,
                None,
            )?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_nftrace::store::filter::parse;

    #[test]
    fn filters_bind_every_value() {
        let mut v = Values::default();
        let e = parse("ip_dst == '198.51.100.0/24' and dport not in (80, 443) or verdict == drop or chain == \"x'; DROP TABLE traces\"").unwrap();
        let sql = to_sql(&e, &mut v);
        // Nothing the user wrote is in the SQL: six values (a CIDR is two), all in `sel`.
        assert!(
            !sql.contains("198") && !sql.contains("443") && !sql.contains("DROP"),
            "{sql}"
        );
        assert_eq!(v.list.len(), 6);
        assert!(
            sql.contains("action = (SELECT p2 FROM sel)")
                || sql.contains("action = (SELECT p4 FROM sel)"),
            "{sql}"
        );
    }
}
