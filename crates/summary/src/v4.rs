//! pktvisor 4's JSON of a policy (`/api/v1/policies/{name}/metrics/{bucket|window}/N`, and a
//! policy file run over captures): one object per module, named as pktvisor names module
//! instances, holding its schema key with the bucket's `period` first. Each module keeps its
//! own window (`num_periods`), so each is checked on its own.

use crate::period::{PeriodError, check_bucket, check_window, schema_object};
use crate::snapshot::{ModuleRendering, ModuleSnapshot, PolicyRenderer, PolicySnapshot};
use pv_handlers::ModuleBucket;
use pv_handlers::json::RenderMode;
use pv_sketch::window::{TimeBucket, merge_newest};
use serde_json::{Map, Value};

/// `{"<schema key>": {"period": ..., ...}}` of one bucket (or merged window) of a module.
pub(crate) fn module_object(
    how: &ModuleRendering,
    bucket: Option<&TimeBucket<Box<dyn ModuleBucket>>>,
    mode: RenderMode,
) -> Value {
    let body = how.render.to_json(bucket.map(|b| b.data.as_ref()), mode);
    let mut out = Map::new();
    out.insert(how.schema_key().to_string(), schema_object(bucket, body));
    Value::Object(out)
}

/// An empty bucket of a module over `span` (a period in which it saw nothing).
pub(crate) fn module_object_over(
    how: &ModuleRendering,
    span: &TimeBucket<()>,
    mode: RenderMode,
) -> Value {
    let mut out = Map::new();
    out.insert(
        how.schema_key().to_string(),
        schema_object(Some(span), how.render.to_json(None, mode)),
    );
    Value::Object(out)
}

fn module_bucket(
    m: &ModuleSnapshot,
    how: &ModuleRendering,
    index: usize,
    mode: RenderMode,
) -> Result<Value, PeriodError> {
    check_bucket(how.periods, m.buckets.len(), index)?;
    Ok(module_object(how, m.buckets.get(index), mode))
}

impl PolicySnapshot {
    /// `{"<module>": {"<schema key>": {...}}, ...}` for bucket `index` (0: live), rendered
    /// in `mode`.
    pub fn bucket_json(
        &self,
        r: &PolicyRenderer,
        index: usize,
        mode: RenderMode,
    ) -> Result<Value, PeriodError> {
        self.modules_json(r, |m, how| module_bucket(m, how, index, mode))
    }

    /// `{"<schema key>": {...}}` of bucket `index` of module number `module` alone.
    pub fn module_bucket_json(
        &self,
        r: &PolicyRenderer,
        module: usize,
        index: usize,
        mode: RenderMode,
    ) -> Result<Value, PeriodError> {
        match (self.modules.get(module), r.modules.get(module)) {
            (Some(m), Some(how)) => module_bucket(m, how, index, mode),
            _ => Err(PeriodError(format!("no module {module}"))),
        }
    }

    /// The same for the newest `n` buckets merged (2 <= n <= the module's periods).
    pub fn window_json(
        &self,
        r: &PolicyRenderer,
        n: usize,
        mode: RenderMode,
    ) -> Result<Value, PeriodError> {
        self.modules_json(r, |m, how| {
            check_window(how.periods, n)?;
            Ok(module_object(
                how,
                merge_newest(&m.buckets, n).as_ref(),
                mode,
            ))
        })
    }

    /// Every module's whole window merged, whatever it holds (a policy file run over
    /// captures reports each module's newest `num_periods` buckets).
    pub fn all_periods_json(&self, r: &PolicyRenderer, mode: RenderMode) -> Value {
        self.modules_json(r, |m, how| {
            Ok(module_object(
                how,
                merge_newest(&m.buckets, how.periods).as_ref(),
                mode,
            ))
        })
        .unwrap_or_default()
    }

    fn modules_json(
        &self,
        r: &PolicyRenderer,
        render: impl Fn(&ModuleSnapshot, &ModuleRendering) -> Result<Value, PeriodError>,
    ) -> Result<Value, PeriodError> {
        let mut out = Map::new();
        for (m, how) in self.modules.iter().zip(&r.modules) {
            out.insert(m.key.clone(), render(m, how)?);
        }
        Ok(Value::Object(out))
    }
}
