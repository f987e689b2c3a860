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

use pv_pipeline::{PolicyRenderer, PolicySnapshot, Renderer, Snapshot};
use text::Exposition;

/// pktvisor's name of the command-line policy.
const POLICY: &str = "default";

/// The bucket JSON's sections that are metrics (`period` and `capture` describe the bucket).
const SECTIONS: [&str; 2] = ["packets", "dns"];

/// The bucket exposed: the last complete one (the live bucket 0 is still filling).
const EXPOSED_BUCKET: usize = 1;

/// What one scrape shows.
pub struct Scrape<'a> {
    /// `--prom-instance`: an `instance` label on every sample.
    pub instance: Option<&'a str>,
    /// The agent's own health (labelled as the command-line policy, as before policies could
    /// be added, so that dashboards keep their queries).
    pub health: Option<&'a Health>,
    /// The command-line policy's buckets, while it runs.
    pub command_line: Option<(&'a Snapshot, &'a Renderer)>,
    /// Policies added at runtime: name, buckets, rendering; their samples carry `policy` and
    /// `module` labels, as pktvisor's per-policy path writes them.
    pub added: Vec<(&'a str, &'a PolicySnapshot, &'a PolicyRenderer)>,
}

impl<'a> Scrape<'a> {
    /// `/metrics`: the health and the command-line policy.
    #[cfg(test)]
    pub fn command_line(
        snapshot: &'a Snapshot,
        renderer: &'a Renderer,
        health: &'a Health,
        instance: Option<&'a str>,
    ) -> Scrape<'a> {
        Scrape {
            instance,
            health: Some(health),
            command_line: Some((snapshot, renderer)),
            added: Vec::new(),
        }
    }

    fn labels(&self, policy: &str, module: Option<&str>) -> Vec<(String, String)> {
        let mut labels = Vec::new();
        if let Some(name) = self.instance {
            labels.push(("instance".to_string(), name.to_string()));
        }
        labels.push(("policy".to_string(), policy.to_string()));
        if let Some(module) = module {
            labels.push(("module".to_string(), module.to_string()));
        }
        labels
    }
}

/// The exposition: health when asked, then each policy's last complete bucket once it has one.
pub fn render(scrape: &Scrape<'_>) -> String {
    let mut exp = Exposition::new(scrape.labels(POLICY, None));
    if let Some(health) = scrape.health {
        health.write(&mut exp);
    }
    // Bucket 1 does not exist while the first period is live (or with --periods 1).
    if let Some((snapshot, renderer)) = scrape.command_line
        && let Ok(json) = snapshot.bucket_json(renderer, EXPOSED_BUCKET)
    {
        let window = &json["1m"];
        for section in SECTIONS {
            let mut path = vec![section];
            bucket::write(&mut exp, &mut path, &window[section]);
        }
    }
    for (policy, snapshot, renderer) in &scrape.added {
        for (i, module) in renderer.modules.iter().enumerate() {
            let Ok(json) = snapshot.module_bucket_json(renderer, i, EXPOSED_BUCKET) else {
                continue;
            };
            exp.set_common(scrape.labels(policy, Some(&module.key)));
            let section = module.config.schema_key();
            let mut path = vec![section];
            bucket::write(&mut exp, &mut path, &json[section]);
        }
    }
    exp.finish()
}
