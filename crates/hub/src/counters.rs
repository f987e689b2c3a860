//! The hub's own counters, served as Prometheus text on `/metrics`.

use crate::cache::CacheCounters;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Counters {
    pub pushes_received: AtomicU64,
    pub pushes_rejected: AtomicU64,
    pub duplicates: AtomicU64,
    pub rows_written: AtomicU64,
    pub heartbeats: AtomicU64,
    pub unauthorized: AtomicU64,
    pub store_write_errors: AtomicU64,
    store_writes: AtomicU64,
    store_write_ns: AtomicU64,
    pub rows_expired: AtomicU64,
    pub trace_batches: AtomicU64,
    pub trace_batches_rejected: AtomicU64,
    pub trace_batch_duplicates: AtomicU64,
    pub trace_records_written: AtomicU64,
    pub trace_records_expired: AtomicU64,
    /// Records followers skipped, reading slower than agents pushed them (shared with the
    /// followers' tasks).
    pub trace_follow_missed: Arc<AtomicU64>,
    /// Shared with the TLS listener's handshake tasks.
    pub tls_handshake_failures: Arc<AtomicU64>,
}

impl Counters {
    pub fn add(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// One store write and how long it took.
    pub fn write_took(&self, d: Duration) {
        self.store_writes.fetch_add(1, Relaxed);
        self.store_write_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Prometheus text; `agents` and the spool gauges come from the store, `followers` is
    /// the trace followers connected now.
    pub fn prometheus(
        &self,
        agents: &[(String, u64, u64)],
        cache: &CacheCounters,
        followers: usize,
    ) -> String {
        let mut out = String::new();
        let counters = [
            (
                "pktvisor_hub_pushes_received_total",
                "Bucket pushes received (accepted, duplicate or rejected).",
                &self.pushes_received,
            ),
            (
                "pktvisor_hub_pushes_rejected_total",
                "Bucket pushes refused: undecodable body, bad name or span.",
                &self.pushes_rejected,
            ),
            (
                "pktvisor_hub_duplicates_total",
                "Bucket pushes ignored because the (agent, policy, start) was stored.",
                &self.duplicates,
            ),
            (
                "pktvisor_hub_rows_written_total",
                "Buckets written to the store.",
                &self.rows_written,
            ),
            (
                "pktvisor_hub_heartbeats_total",
                "Agent heartbeats received.",
                &self.heartbeats,
            ),
            (
                "pktvisor_hub_unauthorized_total",
                "Requests answered 401 (missing or wrong bearer token).",
                &self.unauthorized,
            ),
            (
                "pktvisor_hub_store_write_errors_total",
                "Store writes that failed (the push was answered 503).",
                &self.store_write_errors,
            ),
            (
                "pktvisor_hub_rows_expired_total",
                "Buckets deleted by retention.",
                &self.rows_expired,
            ),
            (
                "pktvisor_hub_trace_batches_total",
                "Trace batches received (stored, duplicate or rejected).",
                &self.trace_batches,
            ),
            (
                "pktvisor_hub_trace_batches_rejected_total",
                "Trace batches refused: undecodable body, a record that is not one.",
                &self.trace_batches_rejected,
            ),
            (
                "pktvisor_hub_trace_batch_duplicates_total",
                "Trace batches ignored because their (agent, run, seq) was stored.",
                &self.trace_batch_duplicates,
            ),
            (
                "pktvisor_hub_trace_records_written_total",
                "Trace records written to the store.",
                &self.trace_records_written,
            ),
            (
                "pktvisor_hub_trace_records_expired_total",
                "Trace records deleted by retention.",
                &self.trace_records_expired,
            ),
            (
                "pktvisor_hub_trace_follow_missed_total",
                "Trace records followers of /api/v1/traces/follow skipped, reading slower than they came.",
                &*self.trace_follow_missed,
            ),
            (
                "pktvisor_hub_tls_handshake_failures_total",
                "TLS connections dropped before a request: a failed or timed-out handshake.",
                &*self.tls_handshake_failures,
            ),
        ];
        let cached = [
            (
                "pktvisor_hub_cache_hits_total",
                "Reads of a bucket start answered from the merged-bucket cache.",
                &cache.hits,
                "counter",
            ),
            (
                "pktvisor_hub_cache_misses_total",
                "Reads of a bucket start decoded and merged from the store.",
                &cache.misses,
                "counter",
            ),
            (
                "pktvisor_hub_cache_evictions_total",
                "Merged buckets dropped from the cache to stay within --cache-bytes.",
                &cache.evictions,
                "counter",
            ),
            (
                "pktvisor_hub_cache_invalidations_total",
                "Merged buckets dropped because a push of their start arrived or retention ran.",
                &cache.invalidations,
                "counter",
            ),
            (
                "pktvisor_hub_cache_bytes",
                "Encoded bytes of the merged buckets cached.",
                &cache.bytes,
                "gauge",
            ),
            (
                "pktvisor_hub_cache_entries",
                "Merged buckets cached.",
                &cache.entries,
                "gauge",
            ),
        ];
        let counters = counters.into_iter().map(|(n, h, c)| (n, h, c, "counter"));
        for (name, help, c, kind) in counters.chain(cached) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP pktvisor_hub_store_write_seconds Time spent writing pushes to the store.\n\
             # TYPE pktvisor_hub_store_write_seconds summary\n\
             pktvisor_hub_store_write_seconds_sum {}\n\
             pktvisor_hub_store_write_seconds_count {}",
            self.store_write_ns.load(Relaxed) as f64 / 1e9,
            self.store_writes.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP pktvisor_hub_agents_seen Agents that pushed or sent a heartbeat.\n\
             # TYPE pktvisor_hub_agents_seen gauge\npktvisor_hub_agents_seen {}",
            agents.len()
        );
        let _ = writeln!(
            out,
            "# HELP pktvisor_hub_trace_followers Readers of /api/v1/traces/follow connected now.\n\
             # TYPE pktvisor_hub_trace_followers gauge\npktvisor_hub_trace_followers {followers}"
        );
        for (name, help, pick) in [
            (
                "pktvisor_hub_agent_spool_bytes",
                "Bytes waiting in an agent's spool, as its last heartbeat said.",
                1,
            ),
            (
                "pktvisor_hub_agent_spool_dropped",
                "Pushes an agent dropped from its full spool, as its last heartbeat said.",
                2,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (agent, bytes, dropped) in agents {
                let v = if pick == 1 { bytes } else { dropped };
                // Agent ids are checked to [A-Za-z0-9._:-]: nothing to escape in a label.
                let _ = writeln!(out, "{name}{{agent=\"{agent}\"}} {v}");
            }
        }
        out
    }
}
