//! `pktvisord`: the agent. pktvisor v3's command line (with pktvisor 4's flags), and the
//! choice of mode: live capture, a file's summary, a backfill to a hub, a policy file.

use crate::hub::PushArgs;
use crate::nft_trace::{TraceArgs, Tracing};
use crate::options::{AnalysisArgs, PERIOD_SECS};
use crate::record_args::RecordArgs;
use crate::visor_flags::{self, VisorFlags};
use crate::{policy, summarize};
use clap::Parser;
use pv_handlers::json::RenderMode;
use pv_pipeline::pv_policy::PolicyFile;
use std::path::PathBuf;
use std::process::ExitCode;

/// pktvisord summarizes your data streams.
///
/// TARGET is a network interface (`eth0`), `any`, `auto` (the busiest interface), or an
/// address of a local interface: pktvisord captures it live (needs root or CAP_NET_RAW) and
/// serves pktvisor's REST API on -l HOST -p PORT (`/api/v1/metrics/bucket/0` is the live
/// minute, `/api/v1/metrics/window/5` the last five) until SIGINT/SIGTERM.
///
/// TARGET may also be a capture file (.pcap, .pcapng, .cap, optionally gzip-compressed): the
/// whole file is read, summarized in packet time, printed as pktvisor's JSON, and pktvisord
/// exits.
#[derive(Parser, Debug)]
#[command(name = "pktvisord", version)]
struct Cli {
    #[command(flatten)]
    analysis: AnalysisArgs,

    /// Host for the metrics web server (live mode).
    #[arg(short = 'l', value_name = "HOST", default_value = "localhost")]
    host: String,

    /// Port for the metrics web server (live mode).
    #[arg(short = 'p', value_name = "PORT", default_value_t = 10853)]
    port: u16,

    /// Hold this many 60 second time periods of history (live: whole minutes; a file: from its
    /// first packet); a file is reported as the merged window of its newest P periods. 1 keeps
    /// one bucket for the whole stream, as in pktvisor.
    #[arg(long, value_name = "P", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    periods: u64,

    /// Summarize all packets into one bucket for the entire time period, instead of a window
    /// of P periods. Useful for an executive summary of a capture file.
    #[arg(long)]
    summary: bool,

    /// Run the policies of a pktvisor v4 policy file (`visor.taps`, `visor.policies`,
    /// `visor.global_handler_config`). Live: with an interface as TARGET, or no TARGET and taps
    /// that name one `config.iface`, every tap reads that interface and the file's policies run
    /// beside the command line policy `default`, served on the API like it. Files: each pcap
    /// tap reads its `config.pcap_file` (a capture file as TARGET overrides it) and pktvisor
    /// v4's JSON (`{"POLICY": {"MODULE": {...}}}`) is printed.
    #[arg(long = "config", value_name = "POLICY_FILE")]
    config: Option<PathBuf>,

    /// Worker threads summarizing a live capture (packets are sharded by flow).
    /// Default: the number of CPU cores. Given with a capture file, that many workers each read
    /// the file and summarize their own flows (default for files: one thread, no sharding).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,

    /// Kernel capture ring size, in MiB (live capture).
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    capture_buffer: u32,

    /// Bytes captured of each packet (live capture).
    #[arg(long, value_name = "BYTES", default_value_t = 65535,
          value_parser = clap::value_parser!(u32).range(64..=262144))]
    snaplen: u32,

    /// Do not put the interface in promiscuous mode (live capture).
    #[arg(long)]
    no_promisc: bool,

    /// Enable the admin REST API: POST /api/v1/policies starts a policy (pktvisor's YAML or
    /// JSON, reading tap `default`, the captured interface) and DELETE /api/v1/policies/NAME
    /// stops one, `default` included. Without it the API is read-only and those answer 404.
    #[arg(long)]
    admin_api: bool,

    /// Add an `instance="NAME"` label to every Prometheus sample (`/metrics`, live capture).
    #[arg(long, value_name = "NAME")]
    prom_instance: Option<String>,

    /// Record the capture (live) to DIR/YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS.pcap[.gz|.zst]
    /// alongside the summaries: the first --flow-cutoff-bytes of every flow, TCP SYN/FIN/RST
    /// always. Capture files are re-cut with `pktvisor record`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,

    #[command(flatten)]
    recording: RecordArgs,

    #[command(flatten)]
    trace: TraceArgs,

    #[command(flatten)]
    push: PushArgs,

    #[command(flatten)]
    visor: VisorFlags,

    /// An interface, `any`, `auto`, a local address, or a capture file (.pcap, .pcapng, .cap,
    /// .pcap.gz). Optional with --config.
    #[arg(value_name = "TARGET")]
    target: Option<PathBuf>,
}

/// A TARGET that cannot be an interface: a path with a directory, or a capture file's name
/// (interface names have no '/', and `eth0.100` is a VLAN interface, so a dot alone is not
/// enough). Such a target that does not exist is a missing file, not a missing interface.
fn names_a_file(target: &std::path::Path) -> bool {
    const CAPTURE_EXTENSIONS: [&str; 6] = ["pcap", "pcapng", "cap", "dmp", "gz", "zst"];
    target.to_string_lossy().contains('/')
        || target
            .extension()
            .is_some_and(|e| CAPTURE_EXTENSIONS.iter().any(|c| e.eq_ignore_ascii_case(c)))
}

/// The whole `pktvisord` program: parses its arguments and runs the mode they choose.
pub fn main() -> ExitCode {
    let (args, warnings) = match visor_flags::with_config_file::<Cli>(std::env::args_os().collect())
    {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cli = Cli::parse_from(args);
    for w in warnings {
        eprintln!("pktvisord: warning: {w}");
    }
    if cli.visor.module_list {
        for line in visor_flags::module_list() {
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    }
    let file_target = cli.target.as_ref().is_some_and(|t| t.is_file());
    let notes = match cli.visor.check(file_target) {
        Ok(notes) => notes,
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = cli.visor.load_port_registry() {
        eprintln!("pktvisord: error: {e}");
        return ExitCode::FAILURE;
    }
    cli.visor
        .fill_geo(&mut cli.analysis.geo_city, &mut cli.analysis.geo_asn);
    let tls = match cli.visor.tls_config() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("pktvisord: error: --tls: {e}");
            return ExitCode::from(2);
        }
    };
    // Before any thread starts: -d forks.
    let log = match crate::daemon::start_log(&cli.visor) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for note in notes {
        eprintln!("pktvisord: note: {note}");
    }
    let code = run(&cli, tls);
    if let Some(log) = log {
        log.finish();
    }
    code
}

/// Collection of traces (`--nft-trace`), then the agent's modes.
fn run(cli: &Cli, tls: Option<Tls>) -> ExitCode {
    let mut extra_metrics = None;
    let mut traces = None;
    if cli.trace.nft_trace {
        if let Some(file) = cli.target.as_ref().filter(|t| t.exists()) {
            eprintln!(
                "pktvisord: error: --nft-trace collects live traces; '{}' is a capture file",
                file.display()
            );
            return ExitCode::FAILURE;
        }
        let (collector, records) = match cli.trace.start() {
            Ok(started) => started,
            Err(code) => return code,
        };
        let push = match cli.push.traces() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("pktvisord: error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let tracing = match Tracing::start(
            &cli.trace,
            cli.push
                .agent_id
                .clone()
                .unwrap_or_else(crate::hub::host_name),
            collector,
            records,
            push,
        ) {
            Ok(t) => t,
            Err(code) => return code,
        };
        if cli.target.is_none() && cli.config.is_none() {
            return crate::nft_trace::run_alone(tracing, &cli.host, cli.port, tls);
        }
        extra_metrics = Some(tracing.metrics());
        traces = Some(tracing.ingest.api.clone());
        let code = run_agent(cli, extra_metrics, traces, tls);
        tracing.stop();
        return code;
    }
    run_agent(cli, extra_metrics, traces, tls)
}

/// `--tls`'s server configuration.
type Tls = std::sync::Arc<pv_http::tls::ServerConfig>;

/// The agent's modes after `--nft-trace` started (or not): `--config`, live, a file.
fn run_agent(
    cli: &Cli,
    extra_metrics: Option<pv_agent::ExtraMetrics>,
    traces: Option<pv_agent::Traces>,
    tls: Option<Tls>,
) -> ExitCode {
    if let Some(config) = &cli.config {
        return run_config(cli, config, extra_metrics, traces, tls);
    }
    let Some(target) = cli.target.clone() else {
        eprintln!("pktvisord: error: a TARGET capture file is required (or --config POLICY_FILE)");
        return ExitCode::FAILURE;
    };
    if !target.exists() {
        if names_a_file(&target) {
            eprintln!(
                "pktvisord: error: {}: no such capture file (nor an interface of that name)",
                target.display()
            );
            return ExitCode::FAILURE;
        }
        return run_live(
            cli,
            &target.to_string_lossy(),
            None,
            extra_metrics,
            traces,
            tls,
        );
    }
    if cli.record.is_some() {
        eprintln!(
            "pktvisord: error: --record records a live capture; '{}' is a file: use `pktvisor record {} --out DIR`",
            target.display(),
            target.display()
        );
        return ExitCode::FAILURE;
    }
    if cli.push.hub.is_some() {
        return run_backfill(cli, &target);
    }
    let period = (!cli.summary).then_some(PERIOD_SECS);
    let result = cli
        .analysis
        .to_options(period, cli.periods as usize)
        .and_then(|opts| match cli.workers {
            // Explicit workers: the agent's sharded pipeline (measures how it scales).
            Some(n) => summarize_sharded(&target, &opts, usize::from(n)),
            None => summarize::run("pktvisord", &target, &opts),
        });
    match result {
        Ok(json) => summarize::print_json("pktvisord", &json),
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `pktvisord --hub URL FILE`: the file's buckets pushed to the hub.
fn run_backfill(cli: &Cli, target: &std::path::Path) -> ExitCode {
    if cli.summary {
        eprintln!(
            "pktvisord: error: --summary cannot be used with --hub: the hub merges minute buckets"
        );
        return ExitCode::FAILURE;
    }
    let result = cli.push.target().and_then(|t| {
        // `target` is Some with --hub (clap's `requires`).
        let t = t.ok_or_else(|| "--hub is required".to_string())?;
        let workers = cli.workers.map_or(1, usize::from);
        crate::hub::backfill("pktvisord", target, &cli.analysis, workers, &cli.push, &t)
    });
    match result {
        Ok(line) => {
            eprintln!("pktvisord: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn summarize_sharded(
    target: &std::path::Path,
    opts: &pv_pipeline::SummarizeOptions,
    workers: usize,
) -> Result<serde_json::Value, String> {
    let (snapshot, renderer) =
        pv_agent::summarize_file_sharded(target, opts, workers).map_err(|e| e.to_string())?;
    if let Some(damage) = &snapshot.stats.damage {
        eprintln!(
            "pktvisord: warning: {damage}; the summary covers the {} packets before it",
            snapshot.stats.packets_read
        );
    }
    Ok(snapshot.v3_merged_json(&renderer, renderer.periods(), RenderMode::PLAIN))
}

fn run_live(
    cli: &Cli,
    target: &str,
    config_file: Option<PolicyFile>,
    extra_metrics: Option<pv_agent::ExtraMetrics>,
    traces: Option<pv_agent::Traces>,
    tls: Option<Tls>,
) -> ExitCode {
    if cli.summary {
        eprintln!(
            "pktvisord: error: --summary needs a capture file; '{target}' is not a file (live capture runs until stopped)"
        );
        return ExitCode::FAILURE;
    }
    let workers = cli.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let result = cli
        .analysis
        .to_options(Some(PERIOD_SECS), cli.periods as usize)
        .map(|mut summarize| {
            // Live buckets begin at whole minutes, so that every worker's (and every agent's)
            // buckets cover the same spans and merge.
            summarize.window.boundaries = pv_handlers::Boundaries::Aligned;
            summarize
        })
        .and_then(|summarize| {
            let hub = cli.push.live()?;
            pv_agent::run(pv_agent::AgentConfig {
                target: target.to_string(),
                summarize,
                workers,
                listen_host: cli.host.clone(),
                listen_port: cli.port,
                snaplen: cli.snaplen,
                buffer_bytes: cli.capture_buffer as usize * 1024 * 1024,
                promisc: !cli.no_promisc,
                prom_instance: cli.prom_instance.clone(),
                host_spec_text: cli.analysis.host_spec.clone().unwrap_or_default(),
                admin_api: cli.admin_api,
                config_file,
                // Snap length and timestamp precision come from the capture when it opens.
                record: cli
                    .record
                    .as_ref()
                    .map(|dir| cli.recording.to_config(dir, cli.snaplen, true)),
                index_recordings: !cli.recording.no_index,
                extra_metrics: extra_metrics.clone(),
                hub,
                traces: traces.clone(),
                verbose: cli.visor.verbose,
                tls: tls.clone(),
            })
            .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// With `--config`: a live capture when TARGET is an interface (not a file), or when there is
/// no TARGET and the file's taps name one interface; then the file's policies and the policy
/// file itself. None: the file's taps read capture files.
fn live_config(
    cli: &Cli,
    config: &std::path::Path,
) -> Result<Option<(String, PolicyFile)>, String> {
    if cli.target.as_ref().is_some_and(|t| t.exists()) {
        return Ok(None);
    }
    let file = pv_pipeline::load_policy_file(config).map_err(|e| e.to_string())?;
    let target = match &cli.target {
        Some(t) => Some(t.to_string_lossy().into_owned()),
        // Taps that all listen for dnstap: the agent runs, capturing no interface ("").
        None if policy::listens_for_dnstap(&file) => Some(String::new()),
        None => policy::live_interface(&file)?,
    };
    for w in &file.warnings {
        eprintln!("pktvisord: warning: {}: {w}", file.source);
    }
    Ok(target.map(|t| (t, file)))
}

fn run_config(
    cli: &Cli,
    config: &std::path::Path,
    extra_metrics: Option<pv_agent::ExtraMetrics>,
    traces: Option<pv_agent::Traces>,
    tls: Option<Tls>,
) -> ExitCode {
    match live_config(cli, config) {
        Ok(Some((target, file))) => {
            return run_live(cli, &target, Some(file), extra_metrics, traces, tls);
        }
        Ok(None) if cli.trace.nft_trace => {
            eprintln!(
                "pktvisord: error: --nft-trace collects live traces; this policy file's taps read capture files"
            );
            return ExitCode::FAILURE;
        }
        Ok(None) if cli.visor.daemon => {
            eprintln!(
                "pktvisord: error: -d runs a live agent in the background; this policy file's taps read capture files, whose summary is printed on stdout"
            );
            return ExitCode::FAILURE;
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if cli.push.hub.is_some() {
        eprintln!(
            "pktvisord: error: --hub with --config pushes a live capture's policies; a policy file's capture files cannot be pushed yet (push the file with the command line's policy: pktvisord --hub URL FILE)"
        );
        return ExitCode::FAILURE;
    }
    let periods_given = std::env::args().any(|a| a == "--periods" || a.starts_with("--periods="));
    let result = policy::check_flags(&cli.analysis, periods_given)
        .and_then(|()| {
            if cli.summary {
                Err("--summary cannot be used with --config".to_string())
            } else {
                Ok(())
            }
        })
        .and_then(|()| policy::run("pktvisord", config, cli.target.as_deref(), &cli.analysis));
    match result {
        Ok(summary) => summarize::print_json("pktvisord", &summary.to_json()),
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}
