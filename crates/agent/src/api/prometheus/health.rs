//! The agent's own health as Prometheus families (`pktvisord_*`): capture and queue counters,
//! what the bounded DNS state evicted, memory and up time. Present even before the first
//! bucket completes, so a scrape can tell a healthy idle agent from a broken one.

use super::text::Exposition;
use crate::api::serve::HttpTotals;
use crate::counters::{CaptureCounters, CaptureHealth};
use pv_pipeline::{PolicyRenderer, PolicySnapshot};
use std::sync::atomic::Ordering;
use std::time::Instant;

pub struct Health {
    pub interface: String,
    pub packets: u64,
    pub kernel_received: u64,
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    pub queue_drops: u64,
    pub capture: CaptureHealth,
    /// Filled in by the caller that owns the HTTP server (0 in tests without one).
    pub http: HttpTotals,
    pub dns_tcp_streams_evicted: u64,
    pub dns_xact_evicted: u64,
    pub resident_bytes: Option<u64>,
    pub up_time_seconds: f64,
    /// The client libraries' `process_*` families (None where /proc is unreadable).
    pub process: Option<super::process::Process>,
}

impl Health {
    pub fn gather(
        counters: &CaptureCounters,
        interface: &str,
        started: Instant,
        snapshot: &PolicySnapshot,
        renderer: &PolicyRenderer,
    ) -> Health {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        Health {
            interface: interface.to_string(),
            packets: load(&counters.packets),
            kernel_received: load(&counters.kernel_received),
            kernel_dropped: load(&counters.kernel_dropped),
            if_dropped: load(&counters.if_dropped),
            queue_drops: load(&counters.queue_drops),
            capture: counters.health(),
            http: HttpTotals::default(),
            dns_tcp_streams_evicted: snapshot.health(
                renderer,
                "dns_tcp_reassembly",
                "streams_evicted",
            ),
            dns_xact_evicted: evicted(snapshot, renderer),
            resident_bytes: resident_memory_bytes(),
            up_time_seconds: started.elapsed().as_secs_f64(),
            process: super::process::Process::gather(),
        }
    }

    pub fn write(&self, exp: &mut Exposition) {
        let counters = [
            (
                "pktvisord_capture_packets_total",
                "Packets read from the capture ring",
                self.packets,
            ),
            (
                "pktvisord_capture_kernel_received_total",
                "Packets the kernel filter passed (libpcap ps_recv)",
                self.kernel_received,
            ),
            (
                "pktvisord_capture_kernel_dropped_total",
                "Packets dropped because the capture ring was full (libpcap ps_drop)",
                self.kernel_dropped,
            ),
            (
                "pktvisord_capture_if_dropped_total",
                "Packets dropped by the interface or its driver (libpcap ps_ifdrop)",
                self.if_dropped,
            ),
            (
                "pktvisord_worker_queue_drops_total",
                "Packets dropped because a worker's queue was full",
                self.queue_drops,
            ),
            (
                "pktvisord_http_refused_connections_total",
                "HTTP connections closed on accept because 256 were open",
                self.http.refused_connections,
            ),
            (
                "pktvisord_http_timed_out_requests_total",
                "HTTP requests answered 408 for taking over 30 s to arrive and be answered",
                self.http.timed_out_requests,
            ),
            (
                "pktvisord_http_ambiguous_length_requests_total",
                "HTTP requests refused (400) for carrying both Transfer-Encoding and Content-Length",
                self.http.ambiguous_length_requests,
            ),
            (
                "pktvisord_http_tls_handshake_failures_total",
                "HTTPS connections closed because their TLS handshake failed or took over 10 s (--tls)",
                self.http.tls_handshake_failures,
            ),
            (
                "pktvisord_dns_tcp_streams_evicted_total",
                "DNS-over-TCP streams evicted by the bounded reassembly, since start",
                self.dns_tcp_streams_evicted,
            ),
        ];
        let iface = [("interface", self.interface.as_str())];
        exp.table("counter", &iface, counters);
        self.write_capture_state(exp, &iface);
        // Transactions are counted per bucket: this sum falls as old buckets leave the window.
        let name = "pktvisord_dns_xact_evicted_total";
        exp.family(
            name,
            "gauge",
            "DNS transactions evicted unanswered from the bounded table, in the buckets held",
        );
        exp.sample(name, &iface, &self.dns_xact_evicted.to_string());
        if let Some(bytes) = self.resident_bytes {
            let name = "pktvisord_resident_memory_bytes";
            exp.family(name, "gauge", "Resident set size of the agent");
            exp.sample(name, &iface, &bytes.to_string());
        }
        let name = "pktvisord_up_time_seconds";
        exp.family(name, "gauge", "Seconds since the agent started");
        exp.sample(name, &iface, &format!("{:.3}", self.up_time_seconds));
        if let Some(process) = &self.process {
            process.write(exp);
        }
    }
}

impl Health {
    /// Whether the capture runs, and its outages: what an alert on a silent agent reads.
    fn write_capture_state(&self, exp: &mut Exposition, iface: &[(&str, &str)]) {
        let c = &self.capture;
        let name = "pktvisord_capture_up";
        exp.family(
            name,
            "gauge",
            "1 while the interface is captured, 0 while it is down or gone (reopened when back)",
        );
        exp.sample(name, iface, if c.up { "1" } else { "0" });
        let name = "pktvisord_capture_errors_total";
        exp.family(
            name,
            "counter",
            "Times the capture stopped, by kind of failure (one per outage)",
        );
        for (kind, n) in &c.errors {
            let labels = [iface[0], ("kind", *kind)];
            exp.sample(name, &labels, &n.to_string());
        }
        let name = "pktvisord_capture_reopens_total";
        exp.family(
            name,
            "counter",
            "Times the capture was reopened after an outage",
        );
        exp.sample(name, iface, &c.reopens.to_string());
        let name = "pktvisord_capture_down_seconds_total";
        exp.family(
            name,
            "counter",
            "Seconds the capture was down since the agent started, the current outage included",
        );
        exp.sample(name, iface, &format!("{:.3}", c.down_seconds));
    }
}

/// The second field of /proc/self/statm (resident pages) times the page size.
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| p * pages)
}

/// What the modules' bounded tables evicted, counted in the buckets held
/// ([`pv_handlers::Render::evicted`]: the dns handler's open transactions).
fn evicted(snapshot: &PolicySnapshot, renderer: &PolicyRenderer) -> u64 {
    snapshot
        .modules
        .iter()
        .zip(&renderer.modules)
        .flat_map(|(m, how)| {
            m.buckets
                .iter()
                .map(|b| how.render.evicted(b.data.as_ref()))
        })
        .sum()
}
