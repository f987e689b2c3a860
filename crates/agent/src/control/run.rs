//! Wiring: resolve the target, open the capture, start workers, the capture thread and the
//! HTTP server; stop cleanly on SIGINT/SIGTERM.

use crate::api::serve::{HttpLimits, serve};
use crate::api::{ApiState, router};
use crate::batch::BatchPool;
use crate::capture_loop::CaptureLoop;
use crate::control::error::{AgentError, io};
use crate::counters::CaptureCounters;
use crate::dnstap_source;
use crate::flow_source;
use crate::policy_info::CommandLinePolicy;
use crate::policy_registry::PolicyRegistry;
use crate::recording::{self, RecordingFeed, RecordingShared};
use crate::worker::Worker;
use pv_capture::{LiveCapture, LiveConfig, TimestampPrecision, resolve_target};
use pv_pipeline::pv_policy::PolicyFile;
use pv_pipeline::{LiveContext, PolicyRun, SummarizeOptions};
use pv_record::{RecordConfig, RecordStats, Recorder};
use pv_search::index::Indexer;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Interface name, `any`, `auto`, or an address of a local interface.
    pub target: String,
    /// What the workers summarize; its `bpf` is applied in the kernel instead.
    pub summarize: SummarizeOptions,
    pub workers: usize,
    pub listen_host: String,
    pub listen_port: u16,
    pub snaplen: u32,
    pub buffer_bytes: usize,
    pub promisc: bool,
    /// `instance` label of the Prometheus samples.
    pub prom_instance: Option<String>,
    /// `-H` as given ("" without it): shown in the tap's and input's config.
    pub host_spec_text: String,
    /// `--admin-api`: serve POST/DELETE of policies.
    pub admin_api: bool,
    /// `--config FILE`: the file's policies run on the captured interface too (every tap of
    /// the file reads it), beside the command-line policy.
    pub config_file: Option<PolicyFile>,
    /// `--record DIR`: record the capture too (its link type and timestamp precision are
    /// filled in from the opened capture).
    pub record: Option<RecordConfig>,
    /// Index every recorded file as it completes (`--no-index` turns it off).
    pub index_recordings: bool,
    /// Prometheus text of sources running beside the capture (`--nft-trace`), appended to
    /// `/metrics` like the recorder's.
    pub extra_metrics: Option<ExtraMetrics>,
    /// `--hub URL`: push every completed bucket to a hub.
    pub hub: Option<crate::HubPushConfig>,
    /// `--nft-trace`: the trace store the trace routes answer from.
    pub traces: Option<crate::api::traces::Traces>,
    /// `-v`: the settings at start and one log line per API request.
    pub verbose: bool,
    /// `--tls`: serve the API over HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// The counters of a source the agent does not own, read at every scrape; the source names
/// them, the agent writes them out (labels escaped, `instance` added).
#[derive(Clone)]
pub struct ExtraMetrics(pub Arc<ReadCounters>);

/// Reads a source's counter families.
pub type ReadCounters = dyn Fn() -> Vec<CounterFamily> + Send + Sync;

/// One family of a source's numbers: name, help, its samples (labels and value), and whether
/// it is a gauge (a size, a level) rather than a counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterFamily {
    pub name: String,
    pub help: String,
    pub samples: Vec<(Vec<(String, String)>, u64)>,
    pub gauge: bool,
}

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics")
    }
}

fn host_cidr(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}/32"),
        IpAddr::V6(a) => format!("{a}/128"),
    }
}

/// Runs the agent until a signal; Ok after a signal.
pub fn run(config: AgentConfig) -> Result<(), AgentError> {
    // A policy file whose taps are all dnstap, and no TARGET: no interface is captured.
    let dnstap_only = config.target.is_empty()
        && config
            .config_file
            .as_ref()
            .is_some_and(dnstap_source::only_dnstap);
    let iface = match dnstap_only {
        true => None,
        false => Some(resolve_target(&config.target)?),
    };
    let iface_name = iface
        .as_ref()
        .map_or_else(|| "dnstap".to_string(), |i| i.name.clone());
    let mut opts = config.summarize.clone();
    let mut host_ips = Vec::new();
    // The interface's own addresses are "this host" (as pktvisor does).
    for a in iface.iter().flat_map(|i| &i.addresses) {
        let cidr = host_cidr(&a.addr);
        opts.host_spec.add_cidr(&cidr)?;
        host_ips.push(cidr);
    }
    let context = LiveContext {
        local_cidrs: host_ips.clone(),
        geo: opts.net.geo.clone(),
    };
    host_ips.extend(
        config
            .host_spec_text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
    );
    let policy = CommandLinePolicy::new(
        &config.target,
        &config.host_spec_text,
        opts.bpf.as_deref().unwrap_or(""),
        host_ips,
        opts.deep_sample_percent,
        opts.window.keep,
        opts.dns.is_some(),
    )?;
    let mut live = LiveConfig::new(iface_name.clone());
    live.bpf = opts.bpf.take().filter(|b| !b.trim().is_empty());
    live.snaplen = config.snaplen;
    live.buffer_bytes = config.buffer_bytes;
    live.promisc = config.promisc;
    let capture = match dnstap_only {
        true => None,
        false => Some(LiveCapture::open(&live)?),
    };
    let (feed, record_thread, record_shared, indexer) = match (config.record.clone(), &capture) {
        (Some(rc), Some(capture)) => {
            let r = start_recording(rc, &config, capture)?;
            (Some(r.feed), Some(r.thread), Some(r.shared), r.indexer)
        }
        (Some(_), None) => {
            return Err(AgentError::Start(
                "--record records a captured interface; this policy file's taps are all dnstap"
                    .into(),
            ));
        }
        (None, _) => (None, None, None, None),
    };

    let pool = BatchPool::default();
    let mut workers = Vec::with_capacity(config.workers.max(1));
    let mut renderer = None;
    for i in 0..config.workers.max(1) {
        let command_line = PolicyRun::command_line(&opts)?;
        renderer.get_or_insert_with(|| command_line.renderer());
        let worker = Worker::spawn(i, vec![command_line], pool.returns())
            .map_err(io("cannot start a worker thread"))?;
        workers.push(worker);
    }
    let mut registry = PolicyRegistry::new(policy, context);
    let stop = Arc::new(AtomicBool::new(false));
    let mut dnstap_taps = Vec::new();
    // The listeners end with the stop flag; their threads are not joined (a blocked receive
    // wakes within its 200 ms poll).
    let mut flow_taps = Vec::new();
    if let Some(file) = &config.config_file {
        start_config_file(&mut registry, &workers, file)?;
        dnstap_taps = dnstap_source::start(file, &workers, &stop)?;
        flow_taps = flow_source::start(file, &workers, &stop)?;
    }
    let counters = Arc::new(CaptureCounters::default());
    let state = Arc::new(ApiState {
        workers: workers.iter().map(Worker::sender).collect(),
        // At least one worker was started above.
        renderer: renderer.unwrap_or_default(),
        counters: counters.clone(),
        http: Arc::default(),
        iface: iface_name.clone(),
        started: Instant::now(),
        prom_instance: config.prom_instance.clone(),
        registry: RwLock::new(registry),
        admin_api: config.admin_api,
        recording: record_shared,
        record_dir: config.record.as_ref().map(|rc| rc.dir.clone()),
        searches_running: Arc::default(),
        extra_metrics: dnstap_source::metrics(&dnstap_taps, config.extra_metrics.clone()),
    });

    let (runtime, listener, addr) = bind(&config.listen_host, config.listen_port)?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    match dnstap_only {
        true => eprintln!(
            "pktvisord: reading dnstap/flow listeners ({} workers), API on {scheme}://{addr}",
            workers.len()
        ),
        false => eprintln!(
            "pktvisord: capturing on {iface_name} ({} workers), API on {scheme}://{addr}",
            workers.len()
        ),
    }
    if config.verbose {
        let policies = state
            .registry
            .read()
            .map(|r| r.names().join(", "))
            .unwrap_or_default();
        eprintln!(
            "pktvisord: settings: {} periods of {} s, deep sample {} %, snaplen {}, kernel buffer {} MiB, promiscuous {}, admin API {}, recording {}, hub {}; policies: {policies}",
            opts.window.keep,
            opts.window.period.unwrap_or(0),
            opts.deep_sample_percent,
            config.snaplen,
            config.buffer_bytes >> 20,
            if config.promisc { "on" } else { "off" },
            if config.admin_api { "on" } else { "off" },
            config
                .record
                .as_ref()
                .map_or_else(|| "off".to_string(), |r| r.dir.display().to_string()),
            config.hub.as_ref().map_or("off", |_| "on"),
        );
    }

    let capture_thread = match capture {
        None => dnstap_source::ticker(workers, stop.clone())
            .map_err(io("cannot start the clock thread"))?,
        Some(capture) => {
            let stop = stop.clone();
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("pv-capture".into())
                .spawn(move || {
                    CaptureLoop {
                        capture,
                        config: live,
                        workers: &workers,
                        counters: &counters,
                        stop: &stop,
                        recording: feed,
                        pool,
                    }
                    .run();
                    workers
                })
                .map_err(io("cannot start the capture thread"))?
        }
    };

    let pusher = match config.hub.clone() {
        Some(cfg) => Some(
            crate::control::hub_push::spawn(state.clone(), cfg, stop.clone())
                .map_err(io("cannot start the hub pusher (spool)"))?,
        ),
        None => None,
    };
    let serve_state = state.clone();
    let signal_stop = stop.clone();
    let traces = config.traces.clone();
    let verbose = config.verbose;
    let tls = config.tls.clone();
    let served = runtime.block_on(async move {
        let http = serve_state.http.clone();
        let mut app = router(serve_state);
        let mut followers = None;
        if let Some(traces) = &traces {
            let (routes, f) = crate::api::traces::routes(traces);
            app = app.merge(routes);
            followers = Some(f);
        }
        if verbose {
            app = app.layer(axum::middleware::from_fn(
                crate::api::access_log::access_log,
            ));
        }
        serve(
            listener,
            app,
            HttpLimits::default(),
            http,
            tls.map(tokio_rustls::TlsAcceptor::from),
            crate::api::traces::shutdown_then_end(signal_stop, followers),
        )
        .await
    });
    stop.store(true, Ordering::Relaxed);
    // The pusher's last round asks the workers for buckets: it ends before they do.
    if let Some(p) = pusher
        && p.join().is_err()
    {
        eprintln!("pktvisord: error: the hub pusher panicked");
    }
    let workers = capture_thread
        .join()
        .map_err(|_| AgentError::Panicked("the capture thread"))?;
    for t in flow_taps {
        // The listener saw the stop flag within its poll.
        let errors = t.thread.join().unwrap_or(0);
        eprintln!(
            "pktvisord: tap '{}' (udp {}): flow listener stopped, {errors} receive errors",
            t.tap, t.at
        );
    }
    for t in dnstap_taps {
        let c = &t.counters;
        eprintln!(
            "pktvisord: tap '{}' ({}): {} dnstap connections, {} data frames, {} closed on protocol errors, {} refused",
            t.tap,
            t.at,
            c.connections.load(Ordering::Relaxed),
            c.data_frames.load(Ordering::Relaxed),
            c.protocol_errors.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed)
        );
        if t.thread.join().is_err() {
            eprintln!(
                "pktvisord: error: the dnstap listener of tap '{}' panicked",
                t.tap
            );
        }
    }
    drop(state);
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    for w in workers {
        w.join();
    }
    if let Some(thread) = record_thread {
        match thread.join() {
            Ok(stats) => eprintln!(
                "pktvisord: recording finished: {} packets seen, {} written, {} files",
                stats.packets, stats.packets_output, stats.files_written
            ),
            Err(_) => eprintln!("pktvisord: error: the recorder thread panicked"),
        }
    }
    // The recorder completed its last file: its index is written before the agent ends.
    if let Some(indexer) = indexer {
        let done = indexer.finish();
        eprintln!(
            "pktvisord: indexed {} recorded files ({} packets)",
            done.files, done.packets
        );
    }
    served.map_err(io("HTTP server"))
}

/// The HTTP server's runtime (one thread) and its listening socket on HOST:PORT.
pub(crate) fn bind(
    host: &str,
    port: u16,
) -> Result<(tokio::runtime::Runtime, tokio::net::TcpListener, String), AgentError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(io("cannot start the HTTP runtime"))?;
    let addr = format!("{host}:{port}");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&addr))
        .map_err(|source| AgentError::Listen {
            addr: addr.clone(),
            source,
        })?;
    Ok((runtime, listener, addr))
}

/// Starts the policies of a `--config` file on every worker.
fn start_config_file(
    registry: &mut PolicyRegistry,
    workers: &[Worker],
    file: &PolicyFile,
) -> Result<(), AgentError> {
    registry.set_config_file(file)?;
    let senders: Vec<_> = workers.iter().map(Worker::sender).collect();
    for policy in &file.policies {
        crate::admin::start_policy(registry, &senders, policy.clone())
            .map_err(|(_, message)| AgentError::Start(format!("{}: {message}", file.source)))?;
    }
    Ok(())
}

/// Opens the recorder (recovering what an earlier run left in its directory) with the
/// capture's snap length and timestamp precision, and starts its thread.
fn start_recording(
    mut rc: RecordConfig,
    config: &AgentConfig,
    capture: &LiveCapture,
) -> Result<Recording, AgentError> {
    rc.snaplen = config.snaplen;
    rc.nanosecond = capture.precision() == TimestampPrecision::Nano;
    let dir = rc.dir.clone();
    let mut recorder =
        Recorder::new(rc, Box::new(|line| eprintln!("pktvisord: {line}"))).map_err(|source| {
            AgentError::Record {
                dir: dir.clone(),
                source,
            }
        })?;
    // Completed files are indexed on a thread of their own, so that the recorder's keeps up.
    let indexer = if config.index_recordings {
        let indexer = Indexer::spawn(Box::new(|line| eprintln!("pktvisord: {line}")))
            .map_err(io("cannot start the index thread"))?;
        recorder.on_file_complete(indexer.hook());
        Some(indexer)
    } else {
        None
    };
    // With an indexer, queries of the open file count its packets past the cutoff too.
    let live_cut = indexer.as_ref().map(|_| recorder.share_cut());
    let shared = Arc::new(RecordingShared::new(live_cut));
    let (feed, thread) = recording::spawn(recorder, shared.clone())
        .map_err(io("cannot start the recorder thread"))?;
    eprintln!("pktvisord: recording to {}", dir.display());
    Ok(Recording {
        feed,
        thread,
        shared,
        indexer,
    })
}

/// The recorder's parts: the capture thread's feed, its thread, the counters the API reads,
/// and the thread indexing what it completes.
struct Recording {
    feed: RecordingFeed,
    thread: JoinHandle<RecordStats>,
    shared: Arc<RecordingShared>,
    indexer: Option<Indexer>,
}

/// Resolves on SIGINT or SIGTERM and stops the capture. A capture that failed does not end
/// the agent: the API goes on serving what was summarized and the error, until a signal.
pub(crate) async fn shutdown_signal(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    if let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
}
