//! The agent's own health, shared between the capture thread (writer) and readers: packet and
//! drop counters, and whether the capture is open now, with its outages.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a live capture can stop, as `pktvisord_capture_errors_total` labels them: the kinds of
/// [`pv_capture::CaptureError`] a live interface gives, plus `link_type_changed` (the interface
/// came back as something else). Always exported, at 0 until they happen, so `rate()` and
/// alerts work from the first scrape.
pub const LIVE_FAILURE_KINDS: [&str; 6] = [
    "interface_down",
    "no_such_interface",
    "permission_denied",
    "invalid_filter",
    "live",
    LINK_TYPE_CHANGED,
];

/// The interface came back with another link type: the filter, the decoders' framing and a
/// recording in progress were all made for the old one, so capture does not resume.
pub const LINK_TYPE_CHANGED: &str = "link_type_changed";

#[derive(Debug)]
pub struct CaptureCounters {
    /// Packets read from the capture ring.
    pub packets: AtomicU64,
    /// Packets dropped because a worker's queue was full.
    pub queue_drops: AtomicU64,
    /// libpcap's counters: received by the filter, dropped by the kernel (ring full), dropped
    /// by the interface (driver); summed over every time the interface was (re)opened.
    pub kernel_received: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub if_dropped: AtomicU64,
    /// The capture is open and reading (it opened before the agent started serving).
    up: AtomicBool,
    outages: Mutex<Outages>,
}

impl Default for CaptureCounters {
    fn default() -> CaptureCounters {
        CaptureCounters {
            packets: AtomicU64::new(0),
            queue_drops: AtomicU64::new(0),
            kernel_received: AtomicU64::new(0),
            kernel_dropped: AtomicU64::new(0),
            if_dropped: AtomicU64::new(0),
            up: AtomicBool::new(true),
            outages: Mutex::new(Outages::default()),
        }
    }
}

#[derive(Debug, Default)]
struct Outages {
    /// Times the capture stopped, by [`pv_capture::CaptureError::kind`].
    errors: BTreeMap<&'static str, u64>,
    /// Times it was reopened after one.
    reopens: u64,
    /// Since when it is down (None while up).
    down_since: Option<Instant>,
    /// Time spent down in outages that ended.
    down_before: Duration,
    /// What stopped it last (or, while down, why it cannot be reopened yet).
    last_error: Option<String>,
}

/// A copy of the capture's state for one report.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureHealth {
    pub up: bool,
    /// Every kind of [`LIVE_FAILURE_KINDS`] (0 if it never happened), then any other seen.
    pub errors: Vec<(&'static str, u64)>,
    pub reopens: u64,
    /// Seconds spent down since start, the current outage included.
    pub down_seconds: f64,
    pub last_error: Option<String>,
}

impl CaptureCounters {
    /// The capture stopped with an error of `kind`: counted once per outage.
    pub fn went_down(&self, kind: &'static str, message: String) {
        self.up.store(false, Ordering::Relaxed);
        let mut o = self.lock();
        *o.errors.entry(kind).or_default() += 1;
        o.down_since.get_or_insert_with(Instant::now);
        o.last_error = Some(message);
    }

    /// While down: why the interface cannot be reopened yet (not a new outage).
    pub fn still_down(&self, message: String) {
        self.lock().last_error = Some(message);
    }

    /// The capture was reopened; returns how long it was down.
    pub fn came_back(&self) -> Duration {
        let mut o = self.lock();
        let down = o.down_since.take().map_or(Duration::ZERO, |t| t.elapsed());
        o.down_before += down;
        o.reopens += 1;
        self.up.store(true, Ordering::Relaxed);
        down
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Why capture is not running, while it is not.
    pub fn error(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        self.lock().last_error.clone()
    }

    pub fn health(&self) -> CaptureHealth {
        let o = self.lock();
        let mut errors: Vec<(&'static str, u64)> = LIVE_FAILURE_KINDS
            .iter()
            .map(|k| (*k, o.errors.get(k).copied().unwrap_or(0)))
            .collect();
        for (kind, n) in &o.errors {
            if !LIVE_FAILURE_KINDS.contains(kind) {
                errors.push((kind, *n));
            }
        }
        let current = o.down_since.map_or(Duration::ZERO, |t| t.elapsed());
        CaptureHealth {
            up: self.is_up(),
            errors,
            reopens: o.reopens,
            down_seconds: (o.down_before + current).as_secs_f64(),
            last_error: o.last_error.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Outages> {
        // The data is plain counters: a panic elsewhere cannot leave it half written.
        self.outages.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn to_json(&self, iface: &str) -> Value {
        let health = self.health();
        let errors: Map<String, Value> = health
            .errors
            .iter()
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect();
        let mut v = json!({
            "interface": iface,
            "up": health.up,
            "packets": self.packets.load(Ordering::Relaxed),
            "queue_drops": self.queue_drops.load(Ordering::Relaxed),
            "kernel_received": self.kernel_received.load(Ordering::Relaxed),
            "kernel_dropped": self.kernel_dropped.load(Ordering::Relaxed),
            "if_dropped": self.if_dropped.load(Ordering::Relaxed),
            "errors": errors,
            "reopens": health.reopens,
            "down_seconds": health.down_seconds,
        });
        if let Some(e) = &health.last_error {
            v["last_error"] = json!(e);
        }
        if !health.up {
            v["error"] = json!(health.last_error.unwrap_or_default());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_counted_once_and_ends_with_the_reopen() {
        let c = CaptureCounters::default();
        assert!(c.is_up() && c.error().is_none());
        c.went_down("interface_down", "interface 'vb' is down or gone".into());
        c.still_down("interface 'vb' does not exist".into());
        let h = c.health();
        assert!(!h.up);
        assert_eq!(h.errors[0], ("interface_down", 1));
        assert_eq!(h.errors.iter().map(|e| e.1).sum::<u64>(), 1);
        assert_eq!(c.error().as_deref(), Some("interface 'vb' does not exist"));
        c.came_back();
        c.went_down("live", "capture on 'vb' failed: x".into());
        c.came_back();
        let h = c.health();
        assert!(h.up && c.error().is_none());
        assert_eq!(h.reopens, 2);
        assert_eq!(h.errors.len(), LIVE_FAILURE_KINDS.len());
        assert_eq!(h.errors[4], ("live", 1));
        // The last error stays readable after the capture is back.
        let json = c.to_json("vb");
        assert_eq!(json["last_error"], "capture on 'vb' failed: x");
        assert_eq!(json["up"], true);
        assert!(json.get("error").is_none());
    }

    #[test]
    fn the_live_kinds_are_capture_error_kinds() {
        for kind in LIVE_FAILURE_KINDS {
            assert!(
                kind == LINK_TYPE_CHANGED || pv_capture::CaptureError::KINDS.contains(&kind),
                "{kind}"
            );
        }
    }
}
