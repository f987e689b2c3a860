//! JSON shapes shared by every handler, as pktvisor publishes them.

use crate::geo::{GeoLoc, Hashed};
use pv_sketch::{Quantiles, REPORTED_QUANTILES, Rate};
use serde_json::{Map, Value, json};

/// What a rendering of a bucket is for, beyond pktvisor's plain JSON: an argument of every
/// [`crate::Render::to_json`], which hands it on to [`quantiles`], [`scaled_quantiles`] and
/// [`rate`], the only JSON that depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderMode {
    /// The bucket is a running agent's live one and this is the wall-clock second: rates
    /// carry `"live"`, the last whole second's count (pktvisor: `Rate::to_json(j, live)` with
    /// `live_rates = !read_only() && !recorded_stream()`, `NetworkMetricsBucket::to_json`,
    /// writes `rate()`, what its timer stored when the last second ended).
    pub live: Option<u64>,
    /// The bucket is a running agent's (not a file's): a rate that measured no second yet is
    /// zeros rather than absent, as pktvisor's wall-clock timer samples every rate once a
    /// second whether or not packets came (`Rate::_start_timer`), so an idle minute keeps
    /// its `rates` object.
    pub agent: bool,
    /// Quantile objects also carry `"sum"` (the largest value) and `"count"` (values seen),
    /// what pktvisor's `Quantile::to_prometheus` prints as `_sum` and `_count`; only the
    /// Prometheus writer asks for them.
    pub totals: bool,
}

impl RenderMode {
    /// pktvisor's plain JSON, as of a recorded stream (a file's summary, a hub's view of
    /// agents' buckets): none of the above.
    pub const PLAIN: RenderMode = RenderMode {
        live: None,
        agent: false,
        totals: false,
    };
}

/// `{"p50": .., "p90": .., "p95": .., "p99": ..}`, or None when nothing was measured (pktvisor
/// omits empty quantiles rather than printing zeros).
pub fn quantiles(q: &Quantiles, mode: RenderMode) -> Option<Value> {
    let mut v = quantiles_by(|rank| q.quantile(rank))?;
    add_totals(&mut v, q.max().map(Value::from), q.count(), mode);
    Some(v)
}

/// The same of values kept as integers `scale` times the measurement (ratios): each quantile
/// and the sum are divided back.
pub fn scaled_quantiles(q: &Quantiles, scale: f64, mode: RenderMode) -> Option<Value> {
    if q.is_empty() {
        return None;
    }
    let mut m = Map::new();
    for (key, rank) in REPORTED_QUANTILES {
        m.insert(
            key.into(),
            json!(q.quantile(rank).unwrap_or(0) as f64 / scale),
        );
    }
    let mut v = Value::Object(m);
    add_totals(
        &mut v,
        q.max().map(|x| json!(x as f64 / scale)),
        q.count(),
        mode,
    );
    Some(v)
}

/// `"sum"` and `"count"` when the mode asks for them.
fn add_totals(v: &mut Value, max: Option<Value>, count: u64, mode: RenderMode) {
    if mode.totals
        && let Value::Object(m) = v
    {
        m.insert("sum".into(), max.unwrap_or_else(|| json!(0)));
        m.insert("count".into(), json!(count));
    }
}

/// `{"buckets": {"<upper bound>": count at most it, ..., "+Inf": n}}`, pktvisor's rendering of
/// a sketch as a Prometheus-style cumulative histogram, or None when nothing was measured.
/// Sturges' rule gives `1 + floor(log2(n))` buckets of equal integer width up to the maximum;
/// bucket i covers values below its edge `(i + 1) * step + 1` (capped at max + 1), and its key
/// is that edge minus one. Equal edges (max smaller than the bucket count) collapse into one key.
pub fn histogram(q: &Quantiles) -> Option<Value> {
    let n = q.count();
    let max = q.max()?;
    let bins = 1 + u64::from(n.ilog2());
    let step = max / bins;
    let mut buckets = Map::new();
    let mut split = step;
    for _ in 0..bins {
        // split is the bucket's inclusive upper bound (edge - 1).
        buckets.insert(split.to_string(), json!(q.count_at_most(split)));
        split = (split + step).min(max);
    }
    buckets.insert("+Inf".into(), json!(n));
    Some(json!({ "buckets": buckets }))
}

/// A rate's quantiles; in an agent's rendering zeros before its first second, and `"live"`
/// in the live bucket (see [`RenderMode`]).
pub fn rate(r: &Rate, mode: RenderMode) -> Option<Value> {
    let mut v = match quantiles_by(|rank| r.quantile(rank)) {
        Some(v) => v,
        None if mode.agent => quantiles_by(|_| Some(0))?,
        None => return None,
    };
    add_totals(&mut v, r.max().map(Value::from), r.count(), mode);
    if let (Some(now), Value::Object(m)) = (mode.live, &mut v) {
        m.insert("live".into(), json!(r.last_whole_second(now).unwrap_or(0)));
    }
    Some(v)
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

/// A `top_geoLoc` list: entries `{"name": location, "estimate": N}`, plus `"lat"` and `"lon"`
/// when the record has both (pktvisor adds them only when neither is empty).
pub fn geo_loc_list(rows: Vec<(Hashed<GeoLoc>, u64)>) -> Value {
    Value::Array(
        rows.iter()
            .map(|(loc, estimate)| {
                let mut entry = Map::new();
                entry.insert("name".into(), json!(loc.location));
                entry.insert("estimate".into(), json!(estimate));
                if let (Some(lat), Some(lon)) = (&loc.lat, &loc.lon) {
                    entry.insert("lat".into(), json!(lat));
                    entry.insert("lon".into(), json!(lon));
                }
                Value::Object(entry)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_as_pktvisor_renders_it() {
        assert_eq!(histogram(&Quantiles::new()), None);
        // n = 10: 4 buckets; max 10: step 2; upper bounds 2, 4, 6, 8 (counted by hand).
        let mut q = Quantiles::new();
        (1..=10).for_each(|v| q.update(v));
        assert_eq!(
            histogram(&q),
            Some(json!({"buckets": {"2": 2, "4": 4, "6": 6, "8": 8, "+Inf": 10}}))
        );
        // n = 5, max 2: 3 buckets of width 0, all keyed "0".
        let mut q = Quantiles::new();
        [0, 0, 1, 2, 2].into_iter().for_each(|v| q.update(v));
        assert_eq!(histogram(&q), Some(json!({"buckets": {"0": 2, "+Inf": 5}})));
        // One value: one bucket.
        let mut q = Quantiles::new();
        q.update(7);
        assert_eq!(histogram(&q), Some(json!({"buckets": {"7": 1, "+Inf": 1}})));
    }
}
