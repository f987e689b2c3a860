//! pktvisor's Prometheus exposition of a policy's bucket, written from the bucket's JSON by
//! the handlers' declared metrics: the agent's `/metrics` and the hub's (which adds an `agent`
//! label on each agent's series) both write through this one writer, so their names, types
//! and help texts cannot drift apart.

pub mod bucket;
pub mod text;

use crate::{PolicyRenderer, PolicySnapshot};
use bucket::Declared;
use pv_handlers::json::RenderMode;
use serde_json::Value;
use text::Exposition;

/// Every module's bucket `index` (0: the newest the snapshot holds), under its schema key
/// (`packets_total`, `dns_wire_packets_queries`), with `labels(module key)` as the common
/// labels when given. A module without that bucket writes nothing. The bucket's `period`
/// describes it and is not a measurement. Summaries carry `_sum` and `_count`.
pub fn write_modules(
    exp: &mut Exposition,
    snapshot: &PolicySnapshot,
    renderer: &PolicyRenderer,
    index: usize,
    labels: impl Fn(&str) -> Option<Vec<(String, String)>>,
) {
    let mode = RenderMode {
        totals: true,
        ..RenderMode::PLAIN
    };
    write_modules_with(exp, snapshot, renderer, index, mode, labels);
}

/// The same, the buckets rendered in `mode` (a running agent's: rates of idle seconds are
/// zeros; its live bucket's carry the second under way, which Prometheus does not show).
pub fn write_modules_with(
    exp: &mut Exposition,
    snapshot: &PolicySnapshot,
    renderer: &PolicyRenderer,
    index: usize,
    mode: RenderMode,
    labels: impl Fn(&str) -> Option<Vec<(String, String)>>,
) {
    for (i, module) in renderer.modules.iter().enumerate() {
        let Ok(json) = snapshot.module_bucket_json(renderer, i, index, mode) else {
            continue;
        };
        if let Some(labels) = labels(&module.key) {
            exp.set_common(labels);
        }
        let section = module.schema_key();
        let Value::Object(body) = &json[section] else {
            continue;
        };
        let decl = Declared::of(module.render.as_ref());
        for (key, value) in body.iter().filter(|(k, _)| *k != "period") {
            let mut path = vec![section, key.as_str()];
            bucket::write(exp, &mut path, value, &decl);
        }
    }
}
