//! Searches: newest first, in pages, through one of two paths.
//!
//! - **By epoch**, when a term every match must meet has an index (an address, a port, a
//!   trace id, a verdict; see [`sql::indexed`]): the epochs are visited newest first, each
//!   with one query that seeks its index and sorts that epoch's matches by time (at most
//!   4 096 rows), and the walk stops when the page is full and the next epoch ends before
//!   the page's oldest record. A CIDR range or a common term is sorted one epoch at a time,
//!   never over the whole store; terms that are common alone but never together
//!   (`verdict == drop and dport == 53`) cost one seek per epoch.
//! - **By time** otherwise: the time index newest first, each row tested, stopping at the
//!   page's end; the rows are narrow (the JSON is in `bodies`).
//!
//! Only the page's records are read from `bodies`.

use super::sql;
use super::{StoreError, filter::Expr};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

/// A search: the filter, a time range (ns, `to` excluded), a page size and where the page
/// starts.
#[derive(Clone, Debug)]
pub struct Query {
    pub filter: Expr,
    pub from_ns: Option<u64>,
    pub to_ns: Option<u64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Pages of at most this many records.
pub const MAX_LIMIT: usize = 10_000;

/// One page, newest first, and the cursor of the next (None: the last page).
#[derive(Debug)]
pub struct Page {
    pub records: Vec<serde_json::Value>,
    pub next: Option<String>,
}

/// Which way a search reads the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    ByEpoch,
    ByTime,
}

impl Path {
    /// The path [`search`] takes for `filter`.
    pub fn of(filter: &Expr) -> Path {
        if sql::indexed(filter) {
            Path::ByEpoch
        } else {
            Path::ByTime
        }
    }
}

/// The cursor is the (time, id) of the page's last record ([`super::request::cursor_text`]).
fn parse_cursor(text: &str) -> Result<(i64, i64), StoreError> {
    super::request::parse_cursor(text).ok_or_else(|| StoreError::Cursor(text.to_owned()))
}

fn ns(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Runs a search on a read connection, by the path [`Path::of`] picks.
pub fn search(conn: &Connection, q: &Query) -> Result<Page, StoreError> {
    search_by(conn, q, Path::of(&q.filter))
}

/// Runs a search by the given path (both give the same records; tests run both).
pub fn search_by(conn: &Connection, q: &Query, path: Path) -> Result<Page, StoreError> {
    search_in(&[conn], q, path)
}

/// Runs a search over segments (their connections, in any order). Segments are visited
/// newest first, each as one store, and the walk stops when the page is full and the next
/// segment's newest record is older than the page's oldest: ids go on across segments,
/// so a cursor (time, id) means the same in each.
pub fn search_in(segments: &[&Connection], q: &Query, path: Path) -> Result<Page, StoreError> {
    let plan = Plan::of(q)?;
    let mut newest: Vec<(i64, &Connection)> = Vec::with_capacity(segments.len());
    for conn in segments {
        let hi: Option<i64> = conn.query_row("SELECT max(hi) FROM epochs", [], |r| r.get(0))?;
        if let Some(hi) = hi {
            newest.push((hi, conn));
        }
    }
    newest.sort_unstable_by_key(|(hi, _)| std::cmp::Reverse(*hi));
    let want = plan.limit + 1;
    // (time, id, segment), newest first.
    let mut best: Vec<(i64, i64, &Connection)> = Vec::with_capacity(want * 2);
    for (hi, conn) in newest {
        if best.len() == want && best.last().is_some_and(|(t, ..)| *t > hi) {
            break;
        }
        let keys = plan.keys(conn, path)?;
        best.extend(keys.into_iter().map(|(t, id)| (t, id, conn)));
        best.sort_unstable_by_key(|(t, id, _)| std::cmp::Reverse((*t, *id)));
        best.truncate(want);
    }
    let mut records = Vec::with_capacity(plan.limit.min(best.len()));
    for (_, id, conn) in best.iter().take(plan.limit) {
        let mut body = conn.prepare_cached("SELECT json FROM bodies WHERE id = ?")?;
        let mut rows = body.query([id])?;
        if let Some(row) = rows.next()? {
            records.push(super::json_of(row.get_ref(0)?)?);
        }
    }
    let next = (best.len() > plan.limit)
        .then(|| best.get(plan.limit - 1))
        .flatten()
        .map(|(t, id, _)| super::request::cursor_text(*t, *id));
    Ok(Page { records, next })
}

/// A query as SQL: the WHERE clause, its parameters, the bounds an epoch walk passes over
/// epochs with, the page size.
struct Plan {
    filter: String,
    params: Vec<SqlValue>,
    bounds: (Option<i64>, Option<i64>, Option<i64>),
    limit: usize,
}

impl Plan {
    fn of(q: &Query) -> Result<Plan, StoreError> {
        let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
        let mut params = Vec::new();
        let mut clauses = vec![sql::to_sql(&q.filter, &mut params)];
        if let Some(from) = q.from_ns {
            clauses.push("time_ns >= ?".into());
            params.push(SqlValue::Integer(ns(from)));
        }
        if let Some(to) = q.to_ns {
            clauses.push("time_ns < ?".into());
            params.push(SqlValue::Integer(ns(to)));
        }
        if let Some((t, id)) = cursor {
            clauses.push("(time_ns < ? OR (time_ns = ? AND id < ?))".into());
            params.extend([
                SqlValue::Integer(t),
                SqlValue::Integer(t),
                SqlValue::Integer(id),
            ]);
        }
        Ok(Plan {
            filter: clauses.join(" AND "),
            params,
            bounds: (q.from_ns.map(ns), q.to_ns.map(ns), cursor.map(|c| c.0)),
            limit: q.limit.clamp(1, MAX_LIMIT),
        })
    }

    /// The (time, id) of one more than a page of matches in one segment, newest first
    /// (the one more: whether there is a next page).
    fn keys(&self, conn: &Connection, path: Path) -> Result<Keys, rusqlite::Error> {
        let want = self.limit + 1;
        match path {
            Path::ByTime => by_time(conn, &self.filter, self.params.clone(), want),
            Path::ByEpoch => by_epoch(conn, &self.filter, &self.params, self.bounds, want),
        }
    }
}

type Keys = Vec<(i64, i64)>;

fn read_keys(
    conn: &Connection,
    text: &str,
    params: impl IntoIterator<Item = SqlValue>,
) -> Result<Keys, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(text)?;
    let rows = stmt.query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn by_time(
    conn: &Connection,
    filter: &str,
    mut params: Vec<SqlValue>,
    want: usize,
) -> Result<Keys, rusqlite::Error> {
    params.push(SqlValue::Integer(want as i64));
    // INDEXED BY: the planner would otherwise sort a whole index range when a term has
    // one (the reason for the epoch path).
    let text = format!(
        "SELECT time_ns, id FROM traces INDEXED BY traces_time WHERE {filter}
         ORDER BY time_ns DESC, id DESC LIMIT ?"
    );
    read_keys(conn, &text, params)
}

/// `bounds`: from, to (ns) and the cursor's time, to pass over epochs outside them.
fn by_epoch(
    conn: &Connection,
    filter: &str,
    params: &[SqlValue],
    bounds: (Option<i64>, Option<i64>, Option<i64>),
    want: usize,
) -> Result<Keys, rusqlite::Error> {
    let (from, to, below) = bounds;
    let epochs = read_keys(
        conn,
        "SELECT ep, hi FROM epochs WHERE hi >= ? AND lo < ? AND lo <= ? ORDER BY hi DESC",
        [
            SqlValue::Integer(from.unwrap_or(i64::MIN)),
            SqlValue::Integer(to.unwrap_or(i64::MAX)),
            SqlValue::Integer(below.unwrap_or(i64::MAX)),
        ],
    )?;
    let text = format!(
        "SELECT time_ns, id FROM traces WHERE ep = ? AND {filter}
         ORDER BY time_ns DESC, id DESC LIMIT ?"
    );
    let mut best: Keys = Vec::with_capacity(want * 2);
    for (ep, hi) in epochs {
        // Every record of this epoch and of the ones after it is at or before `hi`.
        if best.len() == want && best.last().is_some_and(|(t, _)| *t > hi) {
            break;
        }
        let params = std::iter::once(SqlValue::Integer(ep))
            .chain(params.iter().cloned())
            .chain([SqlValue::Integer(want as i64)]);
        let found = read_keys(conn, &text, params)?;
        if found.is_empty() {
            continue;
        }
        best.extend(found);
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.truncate(want);
    }
    Ok(best)
}
