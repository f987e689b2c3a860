//! JSON shapes shared by every handler, as pktvisor publishes them.

use pv_sketch::{Quantiles, REPORTED_QUANTILES, Rate};
use serde_json::{Map, Value, json};

/// `{"p50": .., "p90": .., "p95": .., "p99": ..}`, or None when nothing was measured (pktvisor
/// omits empty quantiles rather than printing zeros).
pub fn quantiles(q: &Quantiles) -> Option<Value> {
    quantiles_by(|rank| q.quantile(rank))
}

pub fn rate(r: &Rate) -> Option<Value> {
    quantiles_by(|rank| r.quantile(rank))
}

fn quantiles_by(f: impl Fn(f64) -> Option<u64>) -> Option<Value> {
    let mut m = Map::new();
    for (key, rank) in REPORTED_QUANTILES {
        m.insert(key.to_string(), json!(f(rank)?));
    }
    Some(Value::Object(m))
}

/// A top-N list: `[{"name": "...", "estimate": N}, ...]`.
pub fn top_list<T>(rows: Vec<(T, u64)>, name: impl Fn(&T) -> String) -> Value {
    Value::Array(
        rows.iter()
            .map(|(item, estimate)| json!({"name": name(item), "estimate": estimate}))
            .collect(),
    )
}

/// Inserts `value` at the nested path `keys` (creating objects on the way).
pub fn insert_at(obj: &mut Map<String, Value>, keys: &[&str], value: Value) {
    let (last, parents) = keys.split_last().expect("a JSON path has at least one key");
    let mut cur = obj;
    for k in parents {
        cur = cur
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("intermediate JSON path entries are objects");
    }
    cur.insert(last.to_string(), value);
}
