//! pktvisor's Prometheus exposition (`/metrics`, `/api/v1/policies/default/metrics/prometheus`):
//! the last complete bucket (bucket 1; the live one is still filling and would make rates
//! and quantiles jump) rendered from its JSON, and the agent's own health.

mod bucket;
#[cfg(test)]
mod dashboard_tests;
mod health;
#[cfg(test)]
mod tests;
mod text;

pub use health::Health;

use pv_pipeline::{Renderer, Snapshot};
use text::Exposition;

/// pktvisord serves one policy, named as pktvisor names its command-line policy.
const POLICY: &str = "default";

/// The bucket JSON's sections that are metrics (`period` and `capture` describe the bucket).
const SECTIONS: [&str; 2] = ["packets", "dns"];

/// The exposition: health always, the last complete bucket once there is one.
pub fn render(
    snapshot: &Snapshot,
    renderer: &Renderer,
    health: &Health,
    instance: Option<&str>,
) -> String {
    let mut common = Vec::new();
    if let Some(name) = instance {
        common.push(("instance".to_string(), name.to_string()));
    }
    common.push(("policy".to_string(), POLICY.to_string()));
    let mut exp = Exposition::new(common);
    health.write(&mut exp);
    // Bucket 1 does not exist while the first period is live (or with --periods 1).
    if let Ok(json) = snapshot.bucket_json(renderer, 1) {
        let window = &json["1m"];
        for section in SECTIONS {
            let mut path = vec![section];
            bucket::write(&mut exp, &mut path, &window[section]);
        }
    }
    exp.finish()
}
