//! pktvisor's Prometheus exposition of a policy's bucket, written from the bucket's JSON by
//! the handlers' declared metrics: the agent's `/metrics` and the hub's (which adds an `agent`
//! label on each agent's series) both write through this one writer, so their names, types
//! and help texts cannot drift apart.

pub mod bucket;
pub mod text;

use crate::{PolicyRenderer, PolicySnapshot};
use serde_json::Value;
use text::Exposition;

/// Every module's bucket `index` (0: the newest the snapshot holds), under its schema key
/// (`packets_total`, `dns_wire_packets_queries`), with `labels(module key)` as the common
/// labels when given. A module without that bucket writes nothing. The bucket's `period`
/// describes it and is not a measurement.
pub fn write_modules(
    exp: &mut Exposition,
    snapshot: &PolicySnapshot,
    renderer: &PolicyRenderer,
    index: usize,
    labels: impl Fn(&str) -> Option<Vec<(String, String)>>,
) {
    for (i, module) in renderer.modules.iter().enumerate() {
        let Ok(json) = snapshot.module_bucket_json(renderer, i, index) else {
            continue;
        };
        if let Some(labels) = labels(&module.key) {
            exp.set_common(labels);
        }
        let section = module.schema_key();
        let Value::Object(body) = &json[section] else {
            continue;
        };
        for (key, value) in body.iter().filter(|(k, _)| *k != "period") {
            let mut path = vec![section, key.as_str()];
            bucket::write(exp, &mut path, value, module.render.metrics());
        }
    }
}
