//! `pktvisord --nft-trace [--netns NAME ...]`: nftables trace records as JSON lines on
//! stdout (one finished record a line), alone or beside a live capture. Storage and the
//! `/api/v1/traces` endpoints come next (issue 16); until then stdout is the interface.

use crate::stop_signal;
use pv_nftrace::correlator::{DEFAULT_MAX_OPEN, Limits};
use pv_nftrace::{Collector, CollectorConfig, TraceRecord};
use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
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

/// Writes one record as a JSON line; false once stdout is gone.
fn print(out: &mut impl Write, record: &TraceRecord) -> bool {
    serde_json::to_writer(&mut *out, record).is_ok()
        && out.write_all(b"\n").is_ok()
        && out.flush().is_ok()
}

fn summary(collector: &Collector) {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &collector.counters;
    eprintln!(
        "pktvisord: nft-trace: {} events, {} records, {} overruns (ENOBUFS, events lost), {} decode errors, {} timed out, {} evicted, {} cut short",
        c.events.load(Relaxed),
        c.records.load(Relaxed),
        c.lost.load(Relaxed),
        c.decode_errors.load(Relaxed),
        c.timeouts.load(Relaxed),
        c.evictions.load(Relaxed),
        c.incomplete.load(Relaxed),
    );
}

/// Alone: prints records until SIGINT/SIGTERM, then the open traversals (as `unknown`) and
/// the counters (stderr).
pub fn run_alone(mut collector: Collector, records: Receiver<TraceRecord>) -> ExitCode {
    stop_signal::install();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while !stop_signal::requested() {
        match records.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => {
                if !print(&mut out, &r) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    collector.stop();
    for r in records.try_iter() {
        if !print(&mut out, &r) {
            break;
        }
    }
    summary(&collector);
    ExitCode::SUCCESS
}

/// The trace counters as the agent's `/metrics` shows them beside the capture's.
pub fn agent_metrics(collector: &Collector) -> pv_agent::ExtraMetrics {
    let counters = collector.counters.clone();
    pv_agent::ExtraMetrics(std::sync::Arc::new(move || {
        counters
            .families()
            .into_iter()
            .map(|(name, help, samples)| pv_agent::CounterFamily {
                name: name.to_owned(),
                help: help.to_owned(),
                samples,
            })
            .collect()
    }))
}

/// Beside a live capture: a thread prints the records while the agent runs.
pub fn print_in_background(collector: Collector, records: Receiver<TraceRecord>) {
    let spawned = std::thread::Builder::new()
        .name("nftrace print".into())
        .spawn(move || {
            // The collector lives as long as the printer: the agent's exit ends both.
            let _collector = collector;
            let stdout = std::io::stdout();
            for r in records {
                if !print(&mut stdout.lock(), &r) {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("pktvisord: warning: nft-trace printer not started: {e}");
    }
}
