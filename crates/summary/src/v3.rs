//! pktvisor 3's window shape (`/api/v1/metrics/bucket/N`, `/api/v1/metrics/window/N`, a file
//! summary): `{"<window>": {"period": {...}, "<schema key>": {"period": ..., ...}, ...,
//! "capture": {...}}}`, every module's object side by side, each with its own `period`
//! (`AbstractMetricsManager::window_single_json`), the first module's also beside them (the
//! legacy bucket path in pktvisor's `CoreServer.cpp` hoists it), and our `capture` object:
//! what the input saw, and the modules' health counters under their keys.

use crate::period::{PeriodError, check_bucket, check_window};
use crate::snapshot::{PolicyRenderer, PolicySnapshot};
use crate::v4::{module_object, module_object_over};
use pv_handlers::ModuleBucket;
use pv_handlers::json::RenderMode;
use pv_sketch::window::{TimeBucket, merge_newest};
use serde_json::{Map, Value};

/// A module's bucket for the output, borrowed from the snapshot (or from merged copies).
type Part<'a> = Option<&'a TimeBucket<Box<dyn ModuleBucket>>>;

impl PolicySnapshot {
    /// `{"1m": {...}}` for bucket `index` (0: live), with pktvisor's period checks, rendered
    /// in `mode`.
    pub fn v3_bucket_json(
        &self,
        r: &PolicyRenderer,
        index: usize,
        mode: RenderMode,
    ) -> Result<Value, PeriodError> {
        check_bucket(r.periods(), self.held(), index)?;
        // Every module's window rotates with the stream's clock: the bucket of a period is
        // the one that starts where the first module's starts.
        let start = self
            .modules
            .first()
            .and_then(|m| m.buckets.get(index))
            .map(|b| b.start_sec);
        let parts = self
            .modules
            .iter()
            .map(|m| m.buckets.iter().find(|b| Some(b.start_sec) == start))
            .collect();
        Ok(self.v3_render(r, "1m", parts, mode))
    }

    /// `{"<n>m": {...}}`: the newest `n` buckets merged (pktvisor: 2 <= n <= periods).
    pub fn v3_window_json(
        &self,
        r: &PolicyRenderer,
        n: usize,
        mode: RenderMode,
    ) -> Result<Value, PeriodError> {
        check_window(r.periods(), n)?;
        Ok(self.v3_merged_json(r, n, mode))
    }

    /// The newest `n` buckets merged, under the key `"<n>m"` (`"1m"` for one), whatever is
    /// there: a file summary's output.
    pub fn v3_merged_json(&self, r: &PolicyRenderer, n: usize, mode: RenderMode) -> Value {
        // A module's newest bucket alone renders as it is: a merge of one bucket is its copy,
        // and copying a dns bucket's sketches cost 3.6 M instructions of a file summary.
        let merged: Vec<Option<TimeBucket<Box<dyn ModuleBucket>>>> = self
            .modules
            .iter()
            .map(|m| {
                if m.buckets.len().min(n.max(1)) > 1 {
                    merge_newest(&m.buckets, n)
                } else {
                    None
                }
            })
            .collect();
        let parts = self
            .modules
            .iter()
            .zip(&merged)
            .map(|(m, merged)| merged.as_ref().or_else(|| m.buckets.first()))
            .collect();
        self.v3_render(r, &format!("{}m", n.max(1)), parts, mode)
    }

    /// Buckets held: the first module's.
    fn held(&self) -> usize {
        self.modules.first().map_or(0, |m| m.buckets.len())
    }

    fn v3_render(
        &self,
        r: &PolicyRenderer,
        key: &str,
        parts: Vec<Part<'_>>,
        mode: RenderMode,
    ) -> Value {
        let mut w = Map::new();
        let mut capture = self.stats.to_json();
        // A module with no bucket for the period renders empty over the first module's span.
        let span = parts.first().copied().flatten().map(empty_span);
        for ((m, how), part) in self.modules.iter().zip(&r.modules).zip(&parts) {
            let object = match (part, &span) {
                (Some(b), _) => module_object(how, Some(b), mode),
                (None, Some(span)) => module_object_over(how, span, mode),
                (None, None) => module_object(how, None, mode),
            };
            let Value::Object(object) = object else {
                continue;
            };
            for (schema_key, body) in object {
                if !w.contains_key("period") {
                    w.insert("period".into(), body["period"].clone());
                }
                w.insert(schema_key, body);
            }
            if let Some(health_key) = how.render.health_key() {
                let counters: Map<String, Value> = m
                    .health
                    .iter()
                    .map(|(name, v)| (name.to_string(), Value::from(*v)))
                    .collect();
                capture[health_key] = Value::Object(counters);
            }
        }
        w.insert("capture".into(), capture);
        let mut top = Map::new();
        top.insert(key.to_string(), Value::Object(w));
        Value::Object(top)
    }
}

/// A bucket's span without its data.
fn empty_span(b: &TimeBucket<Box<dyn ModuleBucket>>) -> TimeBucket<()> {
    TimeBucket {
        start_sec: b.start_sec,
        from_sec: b.from_sec,
        until_sec: b.until_sec,
        first_ts_ns: None,
        last_ts_ns: 0,
        data: (),
    }
}
