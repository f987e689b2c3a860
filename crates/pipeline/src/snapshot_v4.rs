//! pktvisor v4's JSON of a policy's metrics (`/api/v1/policies/{name}/metrics/bucket|window/N`):
//! one object per handler module, named as pktvisor names module instances, each holding its
//! schema key (`packets`, `dns`) with the bucket's own `period` first — the same buckets and the
//! same numbers as the v3 rendering of [`Snapshot::bucket_json`] / [`Snapshot::window_json`].

use crate::snapshot::{PeriodError, Renderer, Snapshot, empty_like, schema_object};
use pv_handlers::NetBucket;
use pv_handlers::dns::DnsBucket;
use pv_sketch::window::TimeBucket;
use pv_sketch::window::merge_newest;
use serde_json::{Map, Value};

/// The module instance names of a policy running the net and dns handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleNames {
    pub net: String,
    /// Used only when the renderer has a dns handler.
    pub dns: String,
}

impl ModuleNames {
    /// pktvisor's `POLICY-TAP-MODULE` for modules named `net` and `dns`.
    pub fn for_policy(policy: &str, tap: &str) -> ModuleNames {
        ModuleNames {
            net: format!("{policy}-{tap}-net"),
            dns: format!("{policy}-{tap}-dns"),
        }
    }
}

impl Snapshot {
    /// `{"<net module>": {"packets": {...}}, "<dns module>": {"dns": {...}}}` for bucket
    /// `index` (0: live), with pktvisor's 425 checks.
    pub fn policy_bucket_json(
        &self,
        r: &Renderer,
        names: &ModuleNames,
        index: usize,
    ) -> Result<Value, PeriodError> {
        self.check_bucket(r, index)?;
        let net = self.net.get(index).cloned();
        // Workers' dns buckets are aligned to the net buckets' periods.
        let start = net.as_ref().map(|b| b.start_sec);
        let dns = self.dns.as_ref().map(|d| {
            d.iter()
                .find(|b| Some(b.start_sec) == start)
                .cloned()
                .unwrap_or_else(|| empty_like(net.as_ref()))
        });
        Ok(modules_json(r, names, net, dns))
    }

    /// The same for the newest `n` buckets merged (2 <= n <= periods).
    pub fn policy_window_json(
        &self,
        r: &Renderer,
        names: &ModuleNames,
        n: usize,
    ) -> Result<Value, PeriodError> {
        self.check_window(r, n)?;
        let net = merge_newest(&self.net, n);
        let dns = self.dns.as_ref().and_then(|d| merge_newest(d, n));
        Ok(modules_json(r, names, net, dns))
    }
}

fn keyed(key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), value);
    Value::Object(m)
}

fn modules_json(
    r: &Renderer,
    names: &ModuleNames,
    net: Option<TimeBucket<NetBucket>>,
    dns: Option<TimeBucket<DnsBucket>>,
) -> Value {
    let mut out = Map::new();
    let body = match &net {
        Some(b) => b.data.to_json(&r.net),
        None => NetBucket::default().to_json(&r.net),
    };
    out.insert(
        names.net.clone(),
        keyed(
            pv_handlers::net::SCHEMA_KEY,
            schema_object(net.as_ref(), body),
        ),
    );
    if let Some(cfg) = &r.dns {
        let body = match &dns {
            Some(b) => b.data.to_json(cfg),
            None => DnsBucket::default().to_json(cfg),
        };
        out.insert(
            names.dns.clone(),
            keyed(
                pv_handlers::dns::SCHEMA_KEY,
                schema_object(dns.as_ref(), body),
            ),
        );
    }
    Value::Object(out)
}
