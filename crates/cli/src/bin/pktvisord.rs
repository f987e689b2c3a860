//! `pktvisord`: the agent. pktvisor v3's command line.

use clap::Parser;
use pktvisor_cli::options::{AnalysisArgs, PERIOD_SECS};
use pktvisor_cli::summarize;
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

    /// A capture file (.pcap, .pcapng, .cap, .pcap.gz).
    #[arg(value_name = "TARGET")]
    target: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.target.exists() {
        eprintln!(
            "pktvisord: error: {}: no such file (live capture from an interface is not available in this version)",
            cli.target.display()
        );
        return ExitCode::FAILURE;
    }
    let period = (!cli.summary).then_some(PERIOD_SECS);
    let result = cli
        .analysis
        .to_options(period, cli.periods as usize)
        .and_then(|opts| summarize::run("pktvisord", &cli.target, &opts));
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
