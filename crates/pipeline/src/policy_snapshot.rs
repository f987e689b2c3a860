//! A copy of a live policy's module buckets, mergeable across workers, and its pktvisor v4 JSON
//! (`/api/v1/policies/{name}/metrics/{bucket|window}/N`): one object per module, named as
//! pktvisor names module instances, holding its schema key with the bucket's `period` first.
//! Each module keeps its own window (`num_periods`), so each is checked on its own.

use crate::policy_modules::{ModuleBuckets, ModuleConfig};
use crate::snapshot::{PeriodError, check_bucket, check_window, schema_object};
use crate::stats::CaptureStats;
use pv_handlers::NetBucket;
use pv_handlers::dns::DnsBucket;
use pv_sketch::window::TimeBucket;
use pv_sketch::window::{merge_newest, merge_workers};
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
pub struct ModuleSnapshot {
    /// pktvisor's instance name, `POLICY-TAP-MODULE`.
    pub key: String,
    pub buckets: ModuleBuckets,
}

impl ModuleSnapshot {
    fn len(&self) -> usize {
        match &self.buckets {
            ModuleBuckets::Net(b) => b.len(),
            ModuleBuckets::Dns(b) => b.len(),
        }
    }
}

/// Every module's buckets (newest first) and what the policy's input saw.
#[derive(Clone, Debug, Default)]
pub struct PolicySnapshot {
    pub modules: Vec<ModuleSnapshot>,
    pub stats: CaptureStats,
}

/// How one module renders.
#[derive(Clone, Debug)]
pub struct ModuleRendering {
    pub key: String,
    pub config: ModuleConfig,
    /// Buckets the module keeps (`num_periods`).
    pub periods: usize,
}

#[derive(Clone, Debug, Default)]
pub struct PolicyRenderer {
    pub modules: Vec<ModuleRendering>,
}

/// The schema object of one bucket (or merged window) of a module.
fn render_module(
    config: &ModuleConfig,
    net: Option<TimeBucket<NetBucket>>,
    dns: Option<TimeBucket<DnsBucket>>,
) -> Value {
    let body = match config {
        ModuleConfig::Net(cfg) => schema_object(
            net.as_ref(),
            net.as_ref().map_or_else(
                || NetBucket::default().to_json(cfg),
                |b| b.data.to_json(cfg),
            ),
        ),
        ModuleConfig::Dns(cfg) => schema_object(
            dns.as_ref(),
            dns.as_ref().map_or_else(
                || DnsBucket::default().to_json(cfg),
                |b| b.data.to_json(cfg),
            ),
        ),
    };
    let mut out = Map::new();
    out.insert(config.schema_key().to_string(), body);
    Value::Object(out)
}

fn module_bucket(
    m: &ModuleSnapshot,
    how: &ModuleRendering,
    index: usize,
) -> Result<Value, PeriodError> {
    check_bucket(how.periods, m.len(), index)?;
    Ok(match &m.buckets {
        ModuleBuckets::Net(b) => render_module(&how.config, b.get(index).cloned(), None),
        ModuleBuckets::Dns(b) => render_module(&how.config, None, b.get(index).cloned()),
    })
}

impl PolicySnapshot {
    /// Folds another worker's copy of the same policy into this one.
    pub fn merge(&mut self, other: &PolicySnapshot) {
        if self.modules.is_empty() {
            self.modules = other.modules.clone();
        } else {
            for (mine, theirs) in self.modules.iter_mut().zip(&other.modules) {
                match (&mut mine.buckets, &theirs.buckets) {
                    (ModuleBuckets::Net(a), ModuleBuckets::Net(b)) => merge_workers(a, b, false),
                    (ModuleBuckets::Dns(a), ModuleBuckets::Dns(b)) => merge_workers(a, b, false),
                    // Copies of one policy have the same modules in the same order.
                    _ => {}
                }
            }
        }
        self.stats.merge(&other.stats);
    }

    /// Drops buckets beyond each module's window (workers that rotated later hold older ones).
    pub fn truncate(&mut self, r: &PolicyRenderer) {
        for (m, how) in self.modules.iter_mut().zip(&r.modules) {
            match &mut m.buckets {
                ModuleBuckets::Net(b) => b.truncate(how.periods),
                ModuleBuckets::Dns(b) => b.truncate(how.periods),
            }
        }
    }

    /// `{"<module>": {"<schema key>": {...}}, ...}` for bucket `index` (0: live).
    pub fn bucket_json(&self, r: &PolicyRenderer, index: usize) -> Result<Value, PeriodError> {
        self.modules_json(r, |m, how| module_bucket(m, how, index))
    }

    /// `{"<schema key>": {...}}` of bucket `index` of module number `module` alone.
    pub fn module_bucket_json(
        &self,
        r: &PolicyRenderer,
        module: usize,
        index: usize,
    ) -> Result<Value, PeriodError> {
        match (self.modules.get(module), r.modules.get(module)) {
            (Some(m), Some(how)) => module_bucket(m, how, index),
            _ => Err(PeriodError(format!("no module {module}"))),
        }
    }

    /// The same for the newest `n` buckets merged (2 <= n <= the module's periods).
    pub fn window_json(&self, r: &PolicyRenderer, n: usize) -> Result<Value, PeriodError> {
        self.modules_json(r, |m, how| {
            check_window(how.periods, m.len(), n)?;
            Ok(match &m.buckets {
                ModuleBuckets::Net(b) => render_module(&how.config, merge_newest(b, n), None),
                ModuleBuckets::Dns(b) => render_module(&how.config, None, merge_newest(b, n)),
            })
        })
    }

    /// The start of every bucket a module holds, newest (live) first: the periods a policy's
    /// info shows.
    pub fn bucket_starts(&self, module: usize) -> Vec<u64> {
        match self.modules.get(module).map(|m| &m.buckets) {
            Some(ModuleBuckets::Net(b)) => b.iter().map(|b| b.start_sec).collect(),
            Some(ModuleBuckets::Dns(b)) => b.iter().map(|b| b.start_sec).collect(),
            None => Vec::new(),
        }
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
