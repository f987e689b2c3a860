//! `pktvisord --nft-trace [--netns NAME ...]`: nftables trace records as JSON lines on
//! stdout (one finished record a line), stored under `--data-dir` and served on the API
//! (`/api/v1/traces`, `/api/v1/traces/follow`, `/api/v1/nft/ruleset`), alone or beside a
//! live capture.

use crate::trace_store::{Ingest, parse_age};
use pv_hub::client::traces::{TracePushConfig, TracePusher};
use pv_nftrace::correlator::{DEFAULT_MAX_OPEN, Limits};
use pv_nftrace::store::Retention;
use pv_nftrace::{Collector, CollectorConfig, TraceRecord};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// The trace flags of `pktvisord`.
#[derive(clap::Args, Debug, Clone)]
pub struct TraceArgs {
    /// Collect nftables traces (`meta nftrace set 1`): one JSON line per packet per base-chain
    /// traversal on stdout, with its path, deciding rule and verdict. Needs CAP_NET_ADMIN.
    /// Alone (no TARGET) it runs until SIGINT/SIGTERM; beside a live TARGET it runs with it.
    #[arg(long)]
    pub nft_trace: bool,

    /// Collect the traces of the named network namespace (`/run/netns/NAME`, as `ip netns
    /// add` makes) instead of the agent's own; repeatable, one listening thread each.
    #[arg(long, value_name = "NAME", requires = "nft_trace")]
    pub netns: Vec<String>,

    /// Open traversals kept at most; the least recently active is emitted with verdict
    /// `unknown` beyond it (counted).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_OPEN, requires = "nft_trace",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16_777_216))]
    pub trace_max_open: usize,

    /// Milliseconds a traversal may wait for its next event before it is emitted with
    /// verdict `unknown` (counted).
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "nft_trace",
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub trace_timeout_ms: u64,

    /// Receive buffer of each namespace's trace socket, in KiB (the kernel doubles it). When
    /// a burst overflows it, the kernel drops events: counted as overruns, never fatal.
    #[arg(long, value_name = "KIB", default_value_t = (pv_nftrace::collector::DEFAULT_RCVBUF >> 10) as u64,
          requires = "nft_trace", value_parser = clap::value_parser!(u64).range(4..=1_048_576))]
    pub trace_buffer: u64,

    /// Where the traces are stored (DIR/traces-*.db, SQLite segments; made if missing).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/pktvisor",
        requires = "nft_trace"
    )]
    pub data_dir: PathBuf,

    /// Traces older than this are deleted: 7d, 12h, 30m, 45s, or seconds.
    #[arg(long, value_name = "AGE", default_value = "7d", requires = "nft_trace",
          value_parser = parse_age)]
    pub trace_retention: u64,

    /// The store's files stay under this many bytes: the oldest segment (a 16th of it,
    /// 256 KiB to 64 MiB) is deleted whole when the next could pass it.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30, requires = "nft_trace",
          value_parser = clap::value_parser!(u64).range(1_048_576..))]
    pub trace_max_bytes: u64,
}

impl TraceArgs {
    fn config(&self) -> CollectorConfig {
        CollectorConfig {
            namespaces: self.netns.clone(),
            limits: Limits {
                max_open: self.trace_max_open,
                timeout: Duration::from_millis(self.trace_timeout_ms),
            },
            rcvbuf: usize::try_from(self.trace_buffer << 10).unwrap_or(usize::MAX),
        }
    }

    /// Opens every namespace's socket; one line and exit 1 when that fails (no
    /// CAP_NET_ADMIN, a namespace that does not exist).
    pub fn start(&self) -> Result<(Collector, Receiver<TraceRecord>), ExitCode> {
        match Collector::start(self.config()) {
            Ok(started) => {
                let where_ = if self.netns.is_empty() {
                    "this network namespace".to_owned()
                } else {
                    format!("network namespaces {}", self.netns.join(", "))
                };
                eprintln!("pktvisord: collecting nftables traces in {where_}");
                Ok(started)
            }
            Err(e) => {
                eprintln!("pktvisord: error: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    }
}

fn summary(collector: &Collector, ingest: &Ingest) {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &collector.counters;
    let st = &ingest.store;
    eprintln!(
        "pktvisord: nft-trace: {} events, {} records, {} overruns (ENOBUFS) losing {} events, {} decode errors, {} timed out, {} evicted, {} cut short; stored {}, dropped {} (store queue full), {} unwritten, deleted {} in {} segments (retention), {} store errors",
        c.events.load(Relaxed),
        c.records.load(Relaxed),
        c.lost.load(Relaxed),
        c.lost_events.load(Relaxed),
        c.decode_errors.load(Relaxed),
        c.timeouts.load(Relaxed),
        c.evictions.load(Relaxed),
        c.incomplete.load(Relaxed),
        st.written.load(Relaxed),
        st.dropped.load(Relaxed),
        st.unwritten.load(Relaxed),
        st.deleted.load(Relaxed),
        st.segments_deleted.load(Relaxed),
        st.errors.load(Relaxed),
    );
}

/// The collector, the ingest thread and its store: what `--nft-trace` runs.
pub struct Tracing {
    collector: Collector,
    pub ingest: Ingest,
}

impl Tracing {
    /// Opens the store and starts the ingest of the collector's records; one line and exit
    /// 1 when the store cannot be opened.
    /// `agent_id` is stored with every record (`--agent-id`, shared with `--hub`).
    pub fn start(
        args: &TraceArgs,
        agent_id: String,
        collector: Collector,
        records: Receiver<TraceRecord>,
        push: Option<TracePushConfig>,
    ) -> Result<Tracing, ExitCode> {
        let rulesets = collector.rulesets.clone();
        let pusher = match push.map(|p| TracePusher::start(p, rulesets)).transpose() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("pktvisord: error: cannot open the trace spool: {e}");
                return Err(ExitCode::FAILURE);
            }
        };
        let retention = Retention {
            max_age_ns: args.trace_retention,
            max_bytes: args.trace_max_bytes,
        };
        match Ingest::start(
            &args.data_dir,
            retention,
            agent_id,
            collector.rulesets.clone(),
            records,
            pusher,
        ) {
            Ok(ingest) => {
                eprintln!(
                    "pktvisord: storing traces in {} (traces-*.db)",
                    args.data_dir.display()
                );
                Ok(Tracing { collector, ingest })
            }
            Err(e) => {
                eprintln!("pktvisord: error: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    }

    /// The trace and store counters as the agent's `/metrics` shows them.
    pub fn metrics(&self) -> pv_agent::ExtraMetrics {
        let counters = self.collector.counters.clone();
        let store = self.ingest.store.clone();
        let (missed, unencodable) = (
            self.ingest.follow_missed.clone(),
            self.ingest.unencodable.clone(),
        );
        let dir = self.ingest.dir.clone();
        let push = self.ingest.push.clone();
        pv_agent::ExtraMetrics(std::sync::Arc::new(move || {
            use std::sync::atomic::Ordering::Relaxed;
            let mut families = counters.families();
            let one = |c: &std::sync::atomic::AtomicU64| vec![(Vec::new(), c.load(Relaxed))];
            families.extend([
                (
                    "pv_nft_trace_stored_total",
                    "Trace records written to the store.",
                    one(&store.written),
                ),
                (
                    "pv_nft_trace_store_dropped_total",
                    "Trace records not stored: the store's queue was full.",
                    one(&store.dropped),
                ),
                (
                    "pv_nft_trace_store_unwritten_total",
                    "Trace records not stored: their batch failed or could not be compressed.",
                    one(&store.unwritten),
                ),
                (
                    "pv_nft_trace_store_segments_deleted_total",
                    "Store segments deleted whole by retention (age or size).",
                    one(&store.segments_deleted),
                ),
                (
                    "pv_nft_trace_store_deleted_total",
                    "Trace records deleted by retention (age or size).",
                    one(&store.deleted),
                ),
                (
                    "pv_nft_trace_store_errors_total",
                    "Store batches or retention steps that failed.",
                    one(&store.errors),
                ),
                (
                    "pv_nft_trace_follow_missed_total",
                    "Trace records followers skipped, reading slower than records came.",
                    one(&missed),
                ),
                (
                    "pv_nft_trace_unencodable_total",
                    "Trace records that could not be encoded as JSON (not stored).",
                    one(&unencodable),
                ),
            ]);
            let family = |(name, help, samples): (&str, &str, _), gauge| pv_agent::CounterFamily {
                name: name.to_owned(),
                help: help.to_owned(),
                samples,
                gauge,
            };
            if let Some(p) = &push {
                families.extend([
                    (
                        "pv_nft_trace_hub_records_total",
                        "Trace records the hub took (stored, or had already).",
                        one(&p.records),
                    ),
                    (
                        "pv_nft_trace_hub_dropped_total",
                        "Trace records not pushed to the hub: its queue was full.",
                        one(&p.dropped),
                    ),
                    (
                        "pv_nft_trace_hub_spool_dropped_total",
                        "Trace batches dropped from the spool to stay within --spool-max-bytes.",
                        one(&p.spool_dropped),
                    ),
                    (
                        "pv_nft_trace_hub_refused_total",
                        "Trace batches the hub refused as malformed (dropped).",
                        one(&p.refused),
                    ),
                    (
                        "pv_nft_trace_hub_ruleset_pushes_total",
                        "Pushes of the agent's nftables rulesets the hub took.",
                        one(&p.rulesets),
                    ),
                ]);
            }
            let mut out: Vec<pv_agent::CounterFamily> =
                families.into_iter().map(|f| family(f, false)).collect();
            let load = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
            let records = load(&store.written).saturating_sub(load(&store.deleted));
            out.extend([
                family(
                    (
                        "pv_nft_trace_store_bytes",
                        "Bytes of the trace store's segment files (databases, logs, indexes).",
                        vec![(Vec::new(), pv_nftrace::store::segments::store_bytes(&dir))],
                    ),
                    true,
                ),
                family(
                    (
                        "pv_nft_trace_store_queued_bytes",
                        "Bytes of trace records queued for the store's writer.",
                        vec![(Vec::new(), load(&store.queued_bytes))],
                    ),
                    true,
                ),
                family(
                    (
                        "pv_nft_trace_store_records",
                        "Trace records in the store (written less deleted by retention).",
                        vec![(Vec::new(), records)],
                    ),
                    true,
                ),
            ]);
            out
        }))
    }

    /// Stops the collector (its open traversals are emitted as `unknown`), waits until
    /// every record is stored, prints the counters.
    pub fn stop(mut self) {
        self.collector.stop();
        self.ingest.finish();
        summary(&self.collector, &self.ingest);
    }
}

/// Alone: serves the trace API on HOST:PORT until SIGINT/SIGTERM, then stops.
pub fn run_alone(
    tracing: Tracing,
    host: &str,
    port: u16,
    tls: Option<std::sync::Arc<pv_http::tls::ServerConfig>>,
) -> ExitCode {
    let served = pv_agent::serve_traces(
        host,
        port,
        &tracing.ingest.api,
        Some(tracing.metrics()),
        tls,
    );
    tracing.stop();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}
