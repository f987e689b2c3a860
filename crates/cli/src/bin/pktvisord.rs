//! `pktvisord`: the agent. pktvisor v3's command line.

use clap::Parser;
use pktvisor_cli::options::{AnalysisArgs, PERIOD_SECS};
use pktvisor_cli::{policy, summarize};
use std::path::PathBuf;
use std::process::ExitCode;

/// pktvisord summarizes your data streams.
///
/// TARGET is a capture file (.pcap, .pcapng, .cap, optionally gzip-compressed). The whole file
/// is read, summarized in packet time, printed as pktvisor's JSON, and pktvisord exits.
/// Live capture from a network interface is not available in this version.
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

    /// Hold this many 60 second time periods of history; a file is reported as the merged
    /// window of its newest P periods.
    #[arg(long, value_name = "P", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    periods: u64,

    /// Summarize all packets into one bucket for the entire time period, instead of a window
    /// of P periods. Useful for an executive summary of a capture file.
    #[arg(long)]
    summary: bool,

    /// Run the policies of a pktvisor v4 policy file (`visor.taps`, `visor.policies`,
    /// `visor.global_handler_config`) and print pktvisor v4's JSON
    /// (`{"POLICY": {"MODULE": {...}}}`). Each pcap tap reads its `config.pcap_file`; a TARGET
    /// given on the command line overrides it for every pcap tap.
    #[arg(long = "config", value_name = "POLICY_FILE")]
    config: Option<PathBuf>,

    /// A capture file (.pcap, .pcapng, .cap, .pcap.gz). Optional with --config.
    #[arg(value_name = "TARGET")]
    target: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(config) = &cli.config {
        return run_config(&cli, config);
    }
    let Some(target) = cli.target.clone() else {
        eprintln!("pktvisord: error: a TARGET capture file is required (or --config POLICY_FILE)");
        return ExitCode::FAILURE;
    };
    if !target.exists() {
        eprintln!(
            "pktvisord: error: {}: no such file (live capture from an interface is not available in this version)",
            target.display()
        );
        return ExitCode::FAILURE;
    }
    let period = (!cli.summary).then_some(PERIOD_SECS);
    let result = cli
        .analysis
        .to_options(period, cli.periods as usize)
        .and_then(|opts| summarize::run("pktvisord", &target, &opts));
    match result {
        Ok(json) => {
            summarize::print_json(&json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_config(cli: &Cli, config: &std::path::Path) -> ExitCode {
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
        Ok(summary) => {
            summarize::print_json(&summary.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pktvisord: error: {e}");
            ExitCode::FAILURE
        }
    }
}
