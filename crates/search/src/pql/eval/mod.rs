//! PQL answered on the segments of a set of captures. Rows are bitmaps of packets, one per
//! segment; counts are exact (TopN counts each value's packets, no rank cache as Pilosa's).

mod bits;
mod group;
mod prune;

use super::parse::{Arg, Call, Op, Value};
use crate::index::{Damaged, FIELDS, LENGTH, Stored};
pub(crate) use bits::Bits;
pub use bits::TimeRange;
use bits::mask;
pub use prune::may_contribute;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::fmt;

/// Why a well-formed query cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub at: usize,
    pub message: String,
    /// An index was found damaged while answering (not the query's fault): rebuilding the
    /// indexes and asking again answers it.
    pub damaged: bool,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PQL error at byte {}: {}", self.at, self.message)
    }
}

fn error(call: &Call, message: impl Into<String>) -> QueryError {
    QueryError {
        at: call.at,
        message: message.into(),
        damaged: false,
    }
}

/// A row, checked: a value of a keyed field, or integer conditions (on `length`, or on a
/// field whose values are numbers, such as ports).
enum RowSpec {
    Key(String, String),
    Cond(String, Vec<(Op, i64)>),
}

/// The segments of the captures searched, in time order.
pub struct Index {
    pub segments: Vec<Stored>,
    /// Each segment's first column: the packets before it, in the segments searched and those
    /// left unopened (their catalogue records said they cannot change the answer).
    bases: Vec<u64>,
    /// Packets in range for the whole request (`--from`/`--to`), per segment.
    range: Vec<Bits>,
    /// No time range: counts can be read from the index without its packet lists.
    whole: bool,
}

/// What a call answers, before it is written as JSON.
enum Answer {
    Rows(Vec<Bits>),
    Count(u64),
    Top(Vec<(String, u64)>),
    Keys(Vec<String>),
    ValCount {
        value: i64,
        count: u64,
    },
    /// (one value per field, count), most first.
    Groups(Vec<String>, Vec<(Vec<String>, u64)>),
}

impl Index {
    /// The segments, and what the request's time range keeps of each (reading their times
    /// only when there is a range).
    pub fn new(segments: Vec<Stored>, range: TimeRange) -> Result<Index, QueryError> {
        let mut base = 0;
        let segments = segments
            .into_iter()
            .map(|s| {
                let first = base;
                base += u64::from(s.packets);
                (first, s)
            })
            .collect();
        Index::with_bases(segments, range)
    }

    /// As `new`, each segment with its first column (`index::Opened`).
    pub fn with_bases(segments: Vec<(u64, Stored)>, range: TimeRange) -> Result<Index, QueryError> {
        let (bases, segments): (Vec<u64>, Vec<Stored>) = segments.into_iter().unzip();
        let masks = segments
            .iter()
            .map(|s| mask(s, range))
            .collect::<Result<_, _>>()
            .map_err(|d| damaged(0, d))?;
        Ok(Index {
            segments,
            bases,
            range: masks,
            whole: range.is_all(),
        })
    }

    /// Checks every call (names, fields, arguments) without reading anything, so that a bad
    /// query is refused before any index is built.
    pub fn validate(calls: &[Call]) -> Result<(), QueryError> {
        Index::new(Vec::new(), TimeRange::default())?
            .answer(calls)
            .map(drop)
    }

    /// Every call's answer, in Pilosa's JSON shapes: a row `{"attrs": {}, "columns": [...]}`
    /// (columns number the packets across the files in time order), `Count` a number, `TopN`
    /// `[{"Key": k, "Count": n}]` (picap's proxy turned Pilosa's ids back into keys this way),
    /// `Rows` `{"keys": [...]}`, `Sum`/`Min`/`Max` `{"value": v, "count": n}`.
    pub fn answer(&self, calls: &[Call]) -> Result<Json, QueryError> {
        let mut results = Vec::new();
        for call in calls {
            results.push(match self.eval(call)? {
                Answer::Rows(bits) => {
                    let mut columns = Vec::new();
                    for (b, base) in bits.iter().zip(&self.bases) {
                        columns.extend(b.ones().map(|i| base + u64::from(i)));
                    }
                    json!({"attrs": {}, "columns": columns})
                }
                Answer::Count(n) => json!(n),
                Answer::Top(rows) => Json::Array(
                    rows.into_iter()
                        .map(|(k, n)| json!({"Key": k, "Count": n}))
                        .collect(),
                ),
                Answer::Keys(keys) => json!({ "keys": keys }),
                Answer::ValCount { value, count } => json!({"value": value, "count": count}),
                Answer::Groups(fields, groups) => Json::Array(
                    groups
                        .into_iter()
                        .map(|(keys, count)| {
                            let group: Vec<Json> = fields
                                .iter()
                                .zip(keys)
                                .map(|(f, k)| json!({"field": f, "rowKey": k}))
                                .collect();
                            // Pilosa's GroupCount always carries `sum` (0 without an
                            // aggregate, which we do not take).
                            json!({"group": group, "count": count, "sum": 0})
                        })
                        .collect(),
                ),
            });
        }
        Ok(json!({ "results": results }))
    }

    fn eval(&self, call: &Call) -> Result<Answer, QueryError> {
        match call.name.as_str() {
            "Count" => {
                let [Arg::Call(inner)] = call.args.as_slice() else {
                    return Err(error(call, "Count takes one row call"));
                };
                if let Some(n) = self.count_of_one_value(inner)? {
                    return Ok(Answer::Count(n));
                }
                Ok(Answer::Count(
                    self.rows(inner)?.iter().map(Bits::count).sum(),
                ))
            }
            "TopN" => self.top_n(call),
            "GroupBy" => self.group_by(call),
            "Rows" => {
                let field = field_arg(call)?;
                let bad = |d: Damaged| damaged(call.at, d);
                let mut keys: Vec<String> = Vec::new();
                for (seg, range) in self.segments.iter().zip(&self.range) {
                    let Some(view) = seg.field(field).map_err(bad)? else {
                        continue;
                    };
                    // Without a time range every value counts; with one, the values of a
                    // packet in it (their packet lists read only then).
                    for e in view.entries() {
                        if self.whole || view.packets(e).map_err(bad)?.iter().any(|&p| range.has(p))
                        {
                            keys.push(view.key(e).to_string());
                        }
                    }
                }
                keys.sort();
                keys.dedup();
                Ok(Answer::Keys(keys))
            }
            "Sum" | "Min" | "Max" => self.aggregate(call),
            _ => Ok(Answer::Rows(self.rows(call)?)),
        }
    }

    /// A call that answers a row.
    fn rows(&self, call: &Call) -> Result<Vec<Bits>, QueryError> {
        let inner = |c: &Call| -> Result<Vec<Vec<Bits>>, QueryError> {
            call_args(c)?.into_iter().map(|a| self.rows(a)).collect()
        };
        let fold =
            |parts: Vec<Vec<Bits>>, f: fn(u64, u64) -> u64| -> Result<Vec<Bits>, QueryError> {
                let mut parts = parts.into_iter();
                let mut acc = parts
                    .next()
                    .ok_or_else(|| error(call, format!("{} takes at least one row", call.name)))?;
                for part in parts {
                    for (a, b) in acc.iter_mut().zip(&part) {
                        a.zip(b, f);
                    }
                }
                Ok(acc)
            };
        match call.name.as_str() {
            "Row" | "Bitmap" | "Range" => self.row(call),
            "Intersect" => fold(inner(call)?, |a, b| a & b),
            "Union" => fold(inner(call)?, |a, b| a | b),
            "Difference" => fold(inner(call)?, |a, b| a & !b),
            "Xor" => fold(inner(call)?, |a, b| a ^ b),
            "Not" => {
                let [Arg::Call(c)] = call.args.as_slice() else {
                    return Err(error(call, "Not takes one row call"));
                };
                let mut rows = self.rows(c)?;
                for ((r, seg), range) in rows.iter_mut().zip(&self.segments).zip(&self.range) {
                    let mut all = Bits::all(seg.packets);
                    all.zip(r, |a, b| a & !b);
                    all.zip(range, |a, b| a & b);
                    *r = all;
                }
                Ok(rows)
            }
            "All" => Ok(self.range.clone()),
            other => Err(error(
                call,
                format!(
                    "unknown call {other}; known: Row, Bitmap, Intersect, Union, Difference, \
                     Xor, Not, All, Count, TopN, Rows, GroupBy, Sum, Min, Max"
                ),
            )),
        }
    }

    /// `Row(field="v")`, `Row(field=n)`, `Bitmap(frame=f, rowID=v)`, `Row(field > n)`,
    /// `Row(a <= field < b)`, each optionally with `from=`/`to=`.
    fn row(&self, call: &Call) -> Result<Vec<Bits>, QueryError> {
        let (range, spec) = row_spec(call)?;
        let mut out = Vec::with_capacity(self.segments.len());
        let bad = |d: Damaged| damaged(call.at, d);
        for (seg, whole) in self.segments.iter().zip(&self.range) {
            let mut bits = Bits::none(seg.packets);
            match &spec {
                RowSpec::Key(field, value) => {
                    if let Some(view) = seg.field(field).map_err(bad)?
                        && let Some(entry) = view.get(value)
                    {
                        view.packets(entry)
                            .map_err(bad)?
                            .into_iter()
                            .for_each(|i| bits.set(i));
                    }
                }
                RowSpec::Cond(field, conds) => {
                    let holds = |v: i64| conds.iter().all(|(op, n)| op.holds(v, *n));
                    if field == LENGTH {
                        for (i, &len) in seg.length().map_err(bad)?.iter().enumerate() {
                            if holds(i64::from(len)) {
                                bits.set(i as u32);
                            }
                        }
                    } else if let Some(view) = seg.field(field).map_err(bad)? {
                        for entry in view.entries() {
                            if view.key(entry).parse::<i64>().is_ok_and(holds) {
                                view.packets(entry)
                                    .map_err(bad)?
                                    .into_iter()
                                    .for_each(|i| bits.set(i));
                            }
                        }
                    }
                }
            }
            bits.zip(whole, |a, b| a & b);
            if !range.is_all() {
                bits.zip(&mask(seg, range).map_err(bad)?, |a, b| a & b);
            }
            out.push(bits);
        }
        Ok(out)
    }

    /// `Count(Row(f="v"))` with no time range: the packet counts the index keeps, no packet
    /// list read. None when the row is anything else.
    fn count_of_one_value(&self, call: &Call) -> Result<Option<u64>, QueryError> {
        if !self.whole || !matches!(call.name.as_str(), "Row" | "Bitmap") {
            return Ok(None);
        }
        let (field, value) = match call.args.as_slice() {
            [Arg::Named(f, v)] if f != LENGTH && f != "from" && f != "to" => (f.clone(), v.key()),
            [
                Arg::Named(k1, Value::Word(f) | Value::Str(f)),
                Arg::Named(k2, v),
            ] if (k1 == "frame" || k1 == "field") && (k2 == "rowID" || k2 == "row") => {
                (f.clone(), v.key())
            }
            _ => return Ok(None),
        };
        check_field(call, &field)?;
        let mut n = 0;
        for seg in &self.segments {
            if let Some(view) = seg.field(&field).map_err(|d| damaged(call.at, d))?
                && let Some(entry) = view.get(&value)
            {
                n += u64::from(entry.count);
            }
        }
        Ok(Some(n))
    }

    fn top_n(&self, call: &Call) -> Result<Answer, QueryError> {
        let field = field_arg(call)?;
        if field == LENGTH {
            return Err(error(
                call,
                "TopN counts the values of a keyed field, not length",
            ));
        }
        let mut n = None;
        let mut filter = None;
        for arg in &call.args {
            match arg {
                Arg::Named(k, Value::Int(v)) if k == "n" => n = Some(*v as usize),
                Arg::Call(c) => filter = Some(self.rows(c)?),
                _ => {}
            }
        }
        let mut counts: HashMap<String, u64> = HashMap::new();
        let bad = |d: Damaged| damaged(call.at, d);
        for (i, seg) in self.segments.iter().enumerate() {
            let Some(view) = seg.field(field).map_err(bad)? else {
                continue;
            };
            let allow = filter.as_ref().map(|f| &f[i]);
            for entry in view.entries() {
                // Without a filter or a time range the index's count is the answer.
                let c = match allow {
                    None if self.whole => u64::from(entry.count),
                    _ => {
                        let allow = allow.unwrap_or(&self.range[i]);
                        view.packets(entry)
                            .map_err(bad)?
                            .into_iter()
                            .filter(|&p| allow.has(p))
                            .count() as u64
                    }
                };
                if c > 0 {
                    *counts.entry(view.key(entry).to_string()).or_default() += c;
                }
            }
        }
        let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(n) = n {
            rows.truncate(n);
        }
        Ok(Answer::Top(rows))
    }

    fn aggregate(&self, call: &Call) -> Result<Answer, QueryError> {
        let field = call.args.iter().find_map(|a| match a {
            Arg::Named(k, v) if k == "field" || k == "frame" => Some(v.key()),
            _ => None,
        });
        if field.as_deref() != Some(LENGTH) {
            return Err(error(call, format!("{} takes field=length", call.name)));
        }
        let filter = match call.args.iter().find_map(|a| match a {
            Arg::Call(c) => Some(c),
            _ => None,
        }) {
            Some(c) => Some(self.rows(c)?),
            None => None,
        };
        let (mut sum, mut count) = (0i64, 0u64);
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for (i, seg) in self.segments.iter().enumerate() {
            let allow = filter.as_ref().map_or(&self.range[i], |f| &f[i]);
            let length = seg.length().map_err(|d| damaged(call.at, d))?;
            for p in allow.ones() {
                let v = i64::from(length[p as usize]);
                sum += v;
                count += 1;
                min = min.min(v);
                max = max.max(v);
            }
        }
        let value = match (call.name.as_str(), count) {
            (_, 0) => 0,
            ("Sum", _) => sum,
            ("Min", _) => min,
            _ => max,
        };
        Ok(Answer::ValCount { value, count })
    }
}

/// A row call read: its own time range and what it selects, checked before any segment is
/// looked at (a bad query is refused whole, with nothing read).
fn row_spec(call: &Call) -> Result<(TimeRange, RowSpec), QueryError> {
    let mut range = TimeRange::default();
    let mut frame = None;
    let mut row_id = None;
    let mut field_value = None;
    let mut cond = None;
    for arg in &call.args {
        match arg {
            Arg::Named(k, v) if k == "from" || k == "to" => {
                let t =
                    crate::time::parse_time(&v.key()).map_err(|e| error(call, e.to_string()))?;
                if k == "from" {
                    range.from = Some(t);
                } else {
                    range.to = Some(t);
                }
            }
            Arg::Named(k, v) if k == "frame" || k == "field" => frame = Some(v.key()),
            Arg::Named(k, v) if k == "rowID" || k == "row" => row_id = Some(v.key()),
            Arg::Named(k, v) => field_value = Some((k.clone(), v.clone())),
            Arg::Cond(f, conds) => cond = Some((f.clone(), conds.clone())),
            _ => return Err(error(call, "Row takes field=value or a condition")),
        }
    }
    let spec = match (field_value, frame, row_id, cond) {
        (Some((field, value)), None, None, None) => {
            check_field(call, &field)?;
            if field == LENGTH {
                let Value::Int(n) = value else {
                    return Err(error(call, "length is an integer"));
                };
                RowSpec::Cond(field, vec![(Op::Eq, n)])
            } else {
                RowSpec::Key(field, value.key())
            }
        }
        (None, Some(field), Some(value), None) => {
            check_field(call, &field)?;
            RowSpec::Key(field, value)
        }
        (None, None, None, Some((field, conds))) => {
            check_field(call, &field)?;
            RowSpec::Cond(field, conds)
        }
        _ => {
            return Err(error(
                call,
                "a row is field=value, frame=F and rowID=V, or a condition such as \
                 length > 1400",
            ));
        }
    };
    Ok((range, spec))
}

fn damaged(at: usize, d: Damaged) -> QueryError {
    QueryError {
        at,
        message: format!("an index is damaged ({d})"),
        damaged: true,
    }
}

fn call_args(call: &Call) -> Result<Vec<&Call>, QueryError> {
    call.args
        .iter()
        .map(|a| match a {
            Arg::Call(c) => Ok(c),
            _ => Err(error(call, format!("{} takes row calls", call.name))),
        })
        .collect()
}

/// The field a TopN or Rows counts: its first bare word, or `frame=`/`field=`.
pub(super) fn field_arg(call: &Call) -> Result<&str, QueryError> {
    let field = call
        .args
        .iter()
        .find_map(|a| match a {
            Arg::Value(Value::Word(w)) => Some(w.as_str()),
            Arg::Named(k, Value::Word(w) | Value::Str(w)) if k == "frame" || k == "field" => {
                Some(w.as_str())
            }
            _ => None,
        })
        .ok_or_else(|| error(call, format!("{} names a field first", call.name)))?;
    check_field(call, field)?;
    Ok(field)
}

fn check_field(call: &Call, field: &str) -> Result<(), QueryError> {
    if field == LENGTH || FIELDS.contains(&field) {
        return Ok(());
    }
    Err(error(
        call,
        format!(
            "unknown field '{field}'; fields: {}, {LENGTH}",
            FIELDS.join(", ")
        ),
    ))
}
