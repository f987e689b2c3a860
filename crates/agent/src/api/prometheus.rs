//! pktvisor's Prometheus exposition (`/metrics`, `/api/v1/policies/default/metrics/prometheus`):
//! the last complete bucket (bucket 1; the live one is still filling and would make rates
//! and quantiles jump) rendered from its JSON, and the agent's own health.

#[cfg(test)]
mod dashboard_tests;
mod health;
mod process;
#[cfg(test)]
mod tests;

// The writer is pv-summary's, shared with the hub's /metrics.
#[cfg(test)]
pub(crate) use pv_pipeline::summary_prometheus::bucket;
pub(crate) use pv_pipeline::summary_prometheus::text;

pub use health::Health;

use pv_pipeline::{PolicyRenderer, PolicySnapshot};
use text::Exposition;

/// pktvisor's name of the command-line policy.
const POLICY: &str = "default";

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
    pub command_line: Option<(&'a PolicySnapshot, &'a PolicyRenderer)>,
    /// Policies added at runtime: name, buckets, rendering; their samples carry `policy` and
    /// `module` labels, as pktvisor's per-policy path writes them.
    pub added: Vec<(&'a str, &'a PolicySnapshot, &'a PolicyRenderer)>,
}

impl<'a> Scrape<'a> {
    /// `/metrics`: the health and the command-line policy.
    #[cfg(test)]
    pub fn command_line(
        snapshot: &'a PolicySnapshot,
        renderer: &'a PolicyRenderer,
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
    if let Some((snapshot, renderer)) = scrape.command_line {
        write_modules(&mut exp, snapshot, renderer, |_| None);
    }
    for (policy, snapshot, renderer) in &scrape.added {
        write_modules(&mut exp, snapshot, renderer, |key| {
            Some(scrape.labels(policy, Some(key)))
        });
    }
    exp.finish()
}

/// Every module's last complete bucket (pv-summary's writer).
fn write_modules(
    exp: &mut Exposition,
    snapshot: &PolicySnapshot,
    renderer: &PolicyRenderer,
    labels: impl Fn(&str) -> Option<Vec<(String, String)>>,
) {
    pv_pipeline::summary_prometheus::write_modules(exp, snapshot, renderer, EXPOSED_BUCKET, labels);
}

/// The counter families of a source beside the capture (`--nft-trace`), with the `instance`
/// label when the agent has one.
pub fn counter_families(families: &[crate::run::CounterFamily], instance: Option<&str>) -> String {
    let common = instance
        .map(|i| vec![("instance".to_string(), i.to_string())])
        .unwrap_or_default();
    let mut exp = Exposition::new(common);
    for f in families {
        exp.family(&f.name, if f.gauge { "gauge" } else { "counter" }, &f.help);
        for (labels, value) in &f.samples {
            let labels: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            exp.sample(&f.name, &labels, &value.to_string());
        }
    }
    exp.finish()
}

#[cfg(test)]
mod counter_family_tests {
    use super::*;
    use crate::run::CounterFamily;

    #[test]
    fn families_with_instance_and_labels() {
        let families = [
            CounterFamily {
                name: "pv_x_total".into(),
                help: "X.".into(),
                samples: vec![
                    (vec![], 3),
                    (vec![("verdict".into(), "policy \"drop\"".into())], 2),
                ],
                gauge: false,
            },
            CounterFamily {
                name: "pv_x_bytes".into(),
                help: "Size.".into(),
                samples: vec![(vec![], 9)],
                gauge: true,
            },
        ];
        let text = counter_families(&families, Some("a"));
        assert!(text.contains("# TYPE pv_x_total counter\n"), "{text}");
        assert!(text.contains("# TYPE pv_x_bytes gauge\n"), "{text}");
        assert!(text.contains("pv_x_total{instance=\"a\"} 3\n"), "{text}");
        assert!(
            text.contains("pv_x_total{instance=\"a\",verdict=\"policy \\\"drop\\\"\"} 2\n"),
            "{text}"
        );
    }
}
