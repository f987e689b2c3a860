//! `pktvisor`: the client. One-shot subcommands; the terminal UI comes later.

use clap::{Parser, Subcommand};
use pktvisor_cli::options::{AnalysisArgs, PERIOD_SECS};
use pktvisor_cli::summarize;
use std::path::PathBuf;
use std::process::ExitCode;

/// pktvisor: network and DNS traffic visibility.
#[derive(Parser, Debug)]
#[command(name = "pktvisor", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarize a capture file: totals, protocol mix, directions, packet-time rates, top IPs,
    /// sizes. A readable report by default; pktvisor's JSON with --json.
    Summarize(SummarizeCmd),
}

#[derive(clap::Args, Debug)]
struct SummarizeCmd {
    #[command(flatten)]
    analysis: AnalysisArgs,

    /// Report pktvisor's window of the newest P periods of 60 s instead of the whole file.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u64).range(1..=1440))]
    periods: Option<u64>,

    /// Print pktvisor's JSON instead of the readable report.
    #[arg(long)]
    json: bool,

    /// A capture file (.pcap, .pcapng, .cap, .pcap.gz).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Summarize(cmd) = cli.command;
    let (period, periods) = match cmd.periods {
        Some(p) => (Some(PERIOD_SECS), p as usize),
        None => (None, 1),
    };
    let result = cmd
        .analysis
        .to_options(period, periods)
        .and_then(|opts| summarize::run("pktvisor", &cmd.file, &opts));
    match result {
        Ok(json) if cmd.json => {
            summarize::print_json(&json);
            ExitCode::SUCCESS
        }
        Ok(json) => {
            print!(
                "{}",
                pv_report::render(&cmd.file.display().to_string(), &json)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
