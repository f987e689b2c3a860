//! pktvisor's Prometheus exposition (`/metrics`, `/api/v1/policies/{name|__all}/metrics/prometheus`):
//! each policy's last complete bucket (bucket 1), or its live bucket while it has no other, as
//! pktvisor 4.5 picks it (`StreamMetricsHandler::window_prometheus`, src/StreamHandler.h),
//! rendered from its JSON, and the agent's own health.

#[cfg(test)]
mod dashboard_tests;
mod health;
#[cfg(test)]
mod pktvisor_tests;
mod process;
#[cfg(test)]
mod tests;

// The writer is pv-summary's, shared with the hub's /metrics.
#[cfg(test)]
pub(crate) use pv_pipeline::summary_prometheus::bucket;
pub(crate) use pv_pipeline::summary_prometheus::text;

pub use health::Health;

use pv_handlers::json::RenderMode;
use pv_pipeline::pv_policy::Policy;
use pv_pipeline::{PolicyRenderer, PolicySnapshot};
use text::Exposition;

/// pktvisor's name of the command-line policy.
pub(crate) const POLICY: &str = "default";

/// pktvisor's name of the command-line tap (`default_tap_policy`, cmd/pktvisord/main.cpp): the
/// `tap` label of a module whose tap is not known.
const TAP: &str = "default";

/// What one scrape shows.
pub struct Scrape<'a> {
    /// `--prom-instance`: an `instance` label on every sample.
    pub instance: Option<&'a str>,
    /// The agent's own health (labelled as the command-line policy and its tap, so that
    /// dashboards keep their queries).
    pub health: Option<&'a Health>,
    /// The command-line policy's buckets, while it runs.
    pub command_line: Option<(&'a PolicySnapshot, &'a PolicyRenderer)>,
    /// Policies added at runtime: name, buckets, rendering.
    pub added: Vec<(&'a str, &'a PolicySnapshot, &'a PolicyRenderer)>,
    /// The tap each module reads, by module key ([`module_taps`]).
    pub taps: Vec<(String, String)>,
    /// A per-policy path (`/api/v1/policies/{name|__all}/metrics/prometheus`): every policy's
    /// samples carry `handler` (pktvisor's `Policy::prometheus_metrics`); `/metrics` labels
    /// only `policy` and `tap` (`CoreServer::_setup_routes`).
    pub per_policy: bool,
}

/// Module key to tap name of every module of `policy`, with pktvisor's instance names
/// (`POLICY-TAP-MODULE`, `PolicyManager::load`).
pub fn module_taps(policy: &Policy) -> Vec<(String, String)> {
    policy
        .taps
        .iter()
        .flat_map(|tap| {
            policy
                .modules
                .iter()
                .map(move |m| (policy.module_instance_name(tap, m), tap.clone()))
        })
        .collect()
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
            taps: Vec::new(),
            per_policy: false,
        }
    }

    fn tap_of(&self, key: &str) -> &str {
        self.taps
            .iter()
            .find(|(k, _)| k == key)
            .map_or(TAP, |(_, tap)| tap.as_str())
    }

    /// pktvisor 4's labels of a module's samples: `instance` (a static label there, first),
    /// `policy`, `handler` on the per-policy paths, and `tap`
    /// (`AbstractMetricsManager::window_single_prometheus`).
    fn labels(&self, policy: &str, module: Option<&str>) -> Vec<(String, String)> {
        let mut labels = Vec::new();
        if let Some(name) = self.instance {
            labels.push(("instance".to_string(), name.to_string()));
        }
        labels.push(("policy".to_string(), policy.to_string()));
        if let Some(key) = module.filter(|_| self.per_policy) {
            labels.push(("handler".to_string(), key.to_string()));
        }
        let tap = module.map_or_else(|| self.health_tap(), |key| self.tap_of(key));
        labels.push(("tap".to_string(), tap.to_string()));
        labels
    }

    /// The health's tap: the command-line policy's (its first module's).
    fn health_tap(&self) -> &str {
        let first = self
            .command_line
            .and_then(|(_, r)| r.modules.first())
            .map(|m| m.key.as_str());
        first.map_or(TAP, |key| self.tap_of(key))
    }
}

/// The exposition: health when asked, then each policy's exposed bucket.
pub fn render(scrape: &Scrape<'_>) -> String {
    let mut exp = Exposition::new(scrape.labels(POLICY, None));
    if let Some(health) = scrape.health {
        health.write(&mut exp);
    }
    if let Some((snapshot, renderer)) = scrape.command_line {
        write_modules(&mut exp, snapshot, renderer, |key| {
            Some(scrape.labels(POLICY, Some(key)))
        });
    }
    for (policy, snapshot, renderer) in &scrape.added {
        write_modules(&mut exp, snapshot, renderer, |key| {
            Some(scrape.labels(policy, Some(key)))
        });
    }
    exp.finish()
}

/// The bucket pktvisor exports: the last complete one (1) once there is one, else the live
/// one (`StreamMetricsHandler::window_prometheus`: `current_periods() > 1 ? 1 : 0`), so a
/// scrape in the agent's first minute already shows its traffic.
pub fn exposed_bucket(snapshot: &PolicySnapshot) -> usize {
    usize::from(snapshot.bucket_starts(0).len() > 1)
}

/// Every module's exposed bucket (pv-summary's writer), rendered as a running agent's: an idle
/// minute's rates are zeros, not absent (pktvisor's rate timer samples every second).
fn write_modules(
    exp: &mut Exposition,
    snapshot: &PolicySnapshot,
    renderer: &PolicyRenderer,
    labels: impl Fn(&str) -> Option<Vec<(String, String)>>,
) {
    let index = exposed_bucket(snapshot);
    // Prometheus shows no `live` (`Rate::to_prometheus` writes the quantiles only).
    let mode = RenderMode {
        live: None,
        agent: true,
        totals: true,
    };
    pv_pipeline::summary_prometheus::write_modules_with(
        exp, snapshot, renderer, index, mode, labels,
    );
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
