//! The agent's own health, shared between the capture thread (writer) and readers.

use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Packets read from the capture ring.
    pub packets: AtomicU64,
    /// Packets dropped because a worker's queue was full.
    pub queue_drops: AtomicU64,
    /// libpcap's counters: received by the filter, dropped by the kernel (ring full), dropped
    /// by the interface (driver).
    pub kernel_received: AtomicU64,
    pub kernel_dropped: AtomicU64,
    pub if_dropped: AtomicU64,
    /// Why capture stopped, if it failed.
    pub error: Mutex<Option<String>>,
}

impl CaptureCounters {
    pub fn set_error(&self, message: String) {
        if let Ok(mut e) = self.error.lock() {
            *e = Some(message);
        }
    }

    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    pub fn to_json(&self, iface: &str) -> Value {
        let mut v = json!({
            "interface": iface,
            "packets": self.packets.load(Ordering::Relaxed),
            "queue_drops": self.queue_drops.load(Ordering::Relaxed),
            "kernel_received": self.kernel_received.load(Ordering::Relaxed),
            "kernel_dropped": self.kernel_dropped.load(Ordering::Relaxed),
            "if_dropped": self.if_dropped.load(Ordering::Relaxed),
        });
        if let Some(e) = self.error() {
            v["error"] = json!(e);
        }
        v
    }
}
