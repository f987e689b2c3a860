//! A typed view of pktvisor's JSON: the numbers the screens need, pulled out of
//! `serde_json::Value` at the paths the handlers declare ([`pv_handlers::metric`]). Every lookup
//! is optional because pktvisor's own C++ agent omits keys ours has (and the other way round);
//! a missing number is shown as `-`, never a panic.

use pv_handlers::metric::Metric;
use serde_json::{Map, Value};
use std::cell::Cell;

/// A handler metric in a window: the handler's key there (`packets`, `dns`) and the metric's
/// declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    handler: &'static str,
    metric: Metric,
}

/// A metric of the net handler (`pv_handlers::net::metrics`).
pub const fn net(metric: Metric) -> Stat {
    Stat {
        handler: pv_handlers::net::SCHEMA_KEY,
        metric,
    }
}

/// A metric of the dns handler (`pv_handlers::dns::metrics`).
pub const fn dns(metric: Metric) -> Stat {
    Stat {
        handler: pv_handlers::dns::SCHEMA_KEY,
        metric,
    }
}

/// A quantile set as pktvisor reports it (`p50`, `p90`, `p95`, `p99`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl Quantiles {
    fn from(v: &Value) -> Quantiles {
        Quantiles {
            p50: v["p50"].as_f64(),
            p90: v["p90"].as_f64(),
            p95: v["p95"].as_f64(),
            p99: v["p99"].as_f64(),
        }
    }

    pub fn all(&self) -> [Option<f64>; 4] {
        [self.p50, self.p90, self.p95, self.p99]
    }
}

/// One row of a top-N list (`{"name": ..., "estimate": ...}`).
#[derive(Clone, Debug, PartialEq)]
pub struct TopEntry {
    pub name: String,
    pub estimate: u64,
}

/// One window of pktvisor's metrics: `{"1m": {"period": ..., "packets": ..., "dns": ...}}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// The window's key as the agent named it (`1m`, `5m`).
    pub key: String,
    body: Value,
    /// A number the screens asked for was not in the answer although its handler's object
    /// was (an agent of another version): something shows `-` (set while drawing).
    missed: Cell<bool>,
}

impl Window {
    /// The first (only) window of a v3 answer; None when `doc` is not an object of objects.
    /// pktvisor's C++ agent (3.x) puts `period` inside `packets` and `dns` rather than beside
    /// them; the packets' one then stands for the window.
    pub fn from_v3(doc: &Value) -> Option<Window> {
        let (key, body) = doc.as_object()?.iter().next()?;
        let mut body = body.as_object()?.clone();
        if !body.contains_key("period")
            && let Some(period) = [pv_handlers::net::SCHEMA_KEY, pv_handlers::dns::SCHEMA_KEY]
                .iter()
                .find_map(|schema| body.get(*schema)?.get("period").cloned())
        {
            body.insert("period".into(), period);
        }
        Some(Window {
            key: key.clone(),
            body: Value::Object(body),
            missed: Cell::new(false),
        })
    }

    /// A v4 policy answer (`{"POLICY": {"MODULE": {"packets": ...}, "MODULE": {"dns": ...}}}`)
    /// folded into the v3 shape: each module contributes its schema key; the first module's
    /// `period` stands for the window.
    pub fn from_v4(doc: &Value, policy: &str, key: &str) -> Option<Window> {
        let modules = doc.get(policy)?.as_object()?;
        let mut body = Map::new();
        for module in modules.values() {
            for (schema, metrics) in module.as_object().into_iter().flatten() {
                if let Some(period) = metrics
                    .get("period")
                    .filter(|_| !body.contains_key("period"))
                {
                    body.insert("period".into(), period.clone());
                }
                body.entry(schema.clone())
                    .or_insert_with(|| metrics.clone());
            }
        }
        (!body.is_empty()).then(|| Window {
            key: key.to_string(),
            body: Value::Object(body),
            missed: Cell::new(false),
        })
    }

    fn at(&self, path: &str) -> &Value {
        path.split('.').fold(&self.body, |v, k| &v[k])
    }

    fn value(&self, stat: Stat) -> &Value {
        let handler = &self.body[stat.handler];
        let v = stat.metric.get(handler);
        if v.is_null() && handler.is_object() {
            self.missed.set(true);
        }
        v
    }

    /// Whether a number drawn from this window was missing from the agent's answer (see
    /// `missed`); a handler absent as a whole (no dns) is not a miss.
    pub fn missed(&self) -> bool {
        self.missed.get()
    }

    /// A counter or cardinality.
    pub fn count(&self, stat: Stat) -> Option<u64> {
        as_count(self.value(stat))
    }

    /// The `live` value pktvisor's C++ agent adds to its rate objects.
    pub fn live_rate(&self, stat: Stat) -> Option<f64> {
        self.value(stat)["live"].as_f64()
    }

    /// Capture drops in the window's `pcap` object (`pcap.os_drops`, `pcap.if_drops`), as
    /// pktvisor's agent and ours report them; the header prefers our agent's
    /// `/api/v1/metrics/app` totals, which add the workers' queue drops.
    pub fn pcap_drops(&self) -> Option<u64> {
        let os = as_count(self.at("pcap.os_drops"));
        let iface = as_count(self.at("pcap.if_drops"));
        (os.is_some() || iface.is_some()).then(|| os.unwrap_or(0) + iface.unwrap_or(0))
    }

    pub fn quantiles(&self, stat: Stat) -> Option<Quantiles> {
        let v = self.value(stat);
        v.is_object().then(|| Quantiles::from(v))
    }

    /// A top-N list; None when the agent did not send that list.
    pub fn top(&self, stat: Stat) -> Option<Vec<TopEntry>> {
        let list = self.value(stat).as_array()?;
        Some(
            list.iter()
                .map(|e| TopEntry {
                    name: match &e["name"] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        // Ports and rcodes may come as numbers.
                        other => other.to_string(),
                    },
                    estimate: e["estimate"].as_u64().unwrap_or(0),
                })
                .collect(),
        )
    }

    pub fn has_dns(&self) -> bool {
        self.body[pv_handlers::dns::SCHEMA_KEY].is_object()
    }

    /// (`period.start_ts`, `period.length`) in seconds.
    pub fn period(&self) -> (Option<u64>, Option<u64>) {
        (
            as_count(self.at("period.start_ts")),
            as_count(self.at("period.length")),
        )
    }
}

fn as_count(v: &Value) -> Option<u64> {
    // pktvisor writes some counters as floats; a whole float is still a count.
    v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64))
}

/// `/api/v1/metrics/app`: the agent's version, up time and capture health.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppInfo {
    pub version: Option<String>,
    pub up_time_min: Option<f64>,
    /// Packets read from the capture (monotonic while the agent runs).
    pub captured: Option<u64>,
    /// Kernel, interface and worker-queue drops added up (whichever the agent reports).
    pub drops: Option<u64>,
}

impl AppInfo {
    pub fn from_json(v: &Value) -> AppInfo {
        let c = &v["capture"];
        let drops: Vec<u64> = ["kernel_dropped", "if_dropped", "queue_drops"]
            .iter()
            .filter_map(|k| c[*k].as_u64())
            .collect();
        AppInfo {
            version: v["app"]["version"].as_str().map(str::to_string),
            up_time_min: v["app"]["up_time_min"].as_f64(),
            captured: c["packets"].as_u64(),
            drops: (!drops.is_empty()).then(|| drops.iter().sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_handlers::{dns::metrics as d, net::metrics as n};
    use serde_json::json;

    #[test]
    fn missing_keys_are_none_not_panics() {
        let w = Window::from_v3(&json!({"1m": {"packets": {"total": 7}}})).unwrap();
        assert_eq!(w.key, "1m");
        assert_eq!(w.count(net(n::TOTAL)), Some(7));
        assert_eq!(w.count(net(n::UDP)), None);
        assert_eq!(w.count(dns(d::XACT_COUNTS_TOTAL)), None);
        assert_eq!(w.quantiles(net(n::RATES_PPS_IN)), None);
        assert_eq!(w.live_rate(net(n::RATES_PPS_IN)), None);
        assert_eq!(w.top(dns(d::TOP_QNAME2)), None);
        assert!(!w.has_dns());
        assert!(Window::from_v3(&json!([])).is_none());
        assert!(Window::from_v3(&json!({"1m": 3})).is_none());
        assert_eq!(AppInfo::from_json(&json!("x")), AppInfo::default());
    }

    #[test]
    fn a_cpp_agents_period_inside_the_schemas_stands_for_the_window() {
        // pktvisor 3.x's C++ agent puts `period` inside `packets` and `dns`.
        let cpp = json!({"5m": {
            "packets": {"period": {"start_ts": 1567706414, "length": 6}, "total": 140},
            "dns": {"period": {"start_ts": 1567706414, "length": 6},
                    "wire_packets": {"queries": 70}}}});
        let w = Window::from_v3(&cpp).unwrap();
        assert_eq!(w.key, "5m");
        assert_eq!(w.period(), (Some(1_567_706_414), Some(6)));
        assert_eq!(w.count(dns(d::WIRE_PACKETS_QUERIES)), Some(70));
    }

    #[test]
    fn v4_modules_fold_into_one_window() {
        let doc = json!({"default": {
            "default-default-net": {"packets": {"period": {"start_ts": 10, "length": 60}, "total": 5}},
            "default-default-dns": {"dns": {"period": {"start_ts": 10, "length": 60},
                                            "top_qname2": [{"name": ".a.com", "estimate": 3}]}}}});
        let w = Window::from_v4(&doc, "default", "1m").unwrap();
        assert_eq!(w.count(net(n::TOTAL)), Some(5));
        assert_eq!(w.period(), (Some(10), Some(60)));

        assert_eq!(
            w.top(dns(d::TOP_QNAME2)).unwrap(),
            vec![TopEntry {
                name: ".a.com".into(),
                estimate: 3
            }]
        );
        assert!(Window::from_v4(&doc, "other", "1m").is_none());
    }

    #[test]
    fn numeric_names_and_float_counts() {
        let w = Window::from_v3(
            &json!({"1m": {"dns": {"top_rcode": [{"name": 3, "estimate": 2}],
                                                       "wire_packets": {"total": 4.0}}}}),
        )
        .unwrap();
        assert_eq!(w.top(dns(d::TOP_RCODE)).unwrap()[0].name, "3");
        let cpp = json!({"1m": {"dns": {"rates": {"total": {"p50": 1, "live": 2.5}}}}});
        let w = Window::from_v3(&cpp).unwrap();
        assert_eq!(w.live_rate(dns(d::RATES_TOTAL)), Some(2.5));
        assert_eq!(w.quantiles(dns(d::RATES_TOTAL)).unwrap().p50, Some(1.0));
        let w = Window::from_v3(&json!({"1m": {"dns": {"wire_packets": {"total": 4.0}}}})).unwrap();
        assert_eq!(w.count(dns(d::WIRE_PACKETS_TOTAL)), Some(4));
    }
}
