//! `pktvisor`: the client. Without a subcommand the terminal UI; one-shot subcommands.

use clap::{Parser, Subcommand};
use pktvisor_cli::options::{AnalysisArgs, PERIOD_SECS};
use pktvisor_cli::tui_cmd::{self, TuiArgs};
use pktvisor_cli::{output, policy, summarize};
use std::path::PathBuf;
use std::process::ExitCode;

/// pktvisor: network and DNS traffic visibility.
///
/// Without a subcommand: the terminal UI of a pktvisord agent (ours or pktvisor's), refreshed
/// every second. Press ? in it for the keys.
#[derive(Parser, Debug)]
#[command(name = "pktvisor", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    tui: TuiArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarize a capture file: totals, protocol mix, directions, packet-time rates, top IPs,
    /// sizes. A readable report by default; pktvisor's JSON with --json.
    Summarize(SummarizeCmd),
    /// Re-cut a capture file as the recorder does live: the first --flow-cutoff-bytes of each
    /// flow (TCP SYN/FIN/RST always) into rotated, optionally compressed pcap files under
    /// --out DIR in gotm's YYYY/MM/DD layout.
    Record(pktvisor_cli::record::RecordCmd),
    /// Find packets in recordings: every capture file below PATH (the recorder's rotated,
    /// compressed files too) in time order, through a tcpdump filter and --from/--to; counted
    /// (--count), as one pcap file (--pcap OUT, `-` for stdout) or JSON lines.
    Packets(pktvisor_cli::packets::PacketsCmd),
    /// Index every capture file below PATH (each index beside its file as NAME.pvx; rebuilt
    /// when the capture changed); --check verifies them.
    Index(pktvisor_cli::query::IndexCmd),
    /// Answer PQL (Pilosa's query language, as picap's users wrote it) on the captures below
    /// PATH: Count, Row, Intersect/Union/Difference/Xor/Not, TopN, Rows, Sum/Min/Max over
    /// netsrc, netdst, transproto, transsrc, transdst, tcp, length, dns-qname, ...
    Query(pktvisor_cli::query::QueryCmd),
    /// Run the hub: agents (`pktvisord --hub URL`) push their buckets to it; it stores them
    /// (SQLite) and answers pktvisor's REST paths for all agents merged
    /// (/api/v1/metrics/window/N), per agent (/api/v1/agents/ID/metrics/...), and history
    /// (/api/v1/metrics/history?from=&to=).
    Hub(pktvisor_cli::hub::HubCmd),
    /// nftables traces from an agent (`pktvisord --nft-trace`): aggregated lines
    /// (`[time] src=IP:PORT dst=IP:PORT proto=tcp verdict=drop rule="..." cnt=N`), --json
    /// records or --follow; filters as visor-cli's (`--dport 53,80`, `-q EXPR`).
    Traces(Box<pktvisor_cli::traces_cmd::TracesCmd>),
}

#[derive(clap::Args, Debug)]
struct SummarizeCmd {
    #[command(flatten)]
    analysis: AnalysisArgs,

    /// Report pktvisor's window of the newest P periods of 60 s instead of the whole file (the
    /// first period starts at the file's first packet; 1 is the whole file, as in pktvisor).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u64).range(1..=1440))]
    periods: Option<u64>,

    /// Print pktvisor's JSON instead of the readable report.
    #[arg(long)]
    json: bool,

    /// Browse the summary in the terminal UI instead of printing it.
    #[arg(long, conflicts_with_all = ["json", "config"])]
    tui: bool,

    /// Run the policies of a pktvisor v4 policy file (`visor.taps`, `visor.policies`,
    /// `visor.global_handler_config`) instead of the default summary. Each pcap tap reads its
    /// `config.pcap_file`; a FILE given on the command line overrides it for every pcap tap.
    /// With --json the output is pktvisor v4's `{"POLICY": {"MODULE": {...}}}`.
    #[arg(long = "config", value_name = "POLICY_FILE")]
    config: Option<PathBuf>,

    /// What FILE holds, as pktvisor-reader's `--input-type`: `pcap` (pcap or pcapng),
    /// `dnstap` (a Frame Streams file of dnstap messages, as `dnstap_file` in a tap; its DNS
    /// messages feed the dns handler) or `flow` (a capture whose UDP payloads are NetFlow
    /// v5/v9, IPFIX or sFlow v5 datagrams, as `pcap_file` in a flow tap; they feed the flow
    /// handler).
    #[arg(short = 'i', long = "input-type", value_enum, default_value_t = InputType::Pcap,
          conflicts_with = "config")]
    input_type: InputType,

    /// A capture file (pcap or pcapng, plain, .gz or .zst), or - for standard input. Optional
    /// with --config.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// `pktvisor summarize -i TYPE`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum InputType {
    Pcap,
    Dnstap,
    Flow,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match cli.command {
        None => return tui_cmd::run_agent(&cli.tui),
        Some(Command::Summarize(cmd)) => cmd,
        Some(Command::Record(cmd)) => return run_record(&cmd),
        Some(Command::Packets(cmd)) => return pktvisor_cli::packets::run("pktvisor", &cmd),
        Some(Command::Index(cmd)) => return pktvisor_cli::query::run_index("pktvisor", &cmd),
        Some(Command::Query(cmd)) => return pktvisor_cli::query::run_query("pktvisor", &cmd),
        Some(Command::Hub(cmd)) => return pktvisor_cli::hub::run_hub(&cmd),
        Some(Command::Traces(cmd)) => return pktvisor_cli::traces_cmd::run(&cmd),
    };
    if let Some(config) = &cmd.config {
        return run_config(&cmd, config);
    }
    let Some(file) = cmd.file.clone() else {
        eprintln!("pktvisor: error: a capture FILE is required (or --config POLICY_FILE)");
        return ExitCode::FAILURE;
    };
    let (period, periods) = match cmd.periods {
        Some(p) => (Some(PERIOD_SECS), p as usize),
        None => (None, 1),
    };
    let result = cmd
        .analysis
        .to_options(period, periods)
        .and_then(|opts| match cmd.input_type {
            InputType::Pcap => summarize::run("pktvisor", &file, &opts),
            InputType::Dnstap => summarize::run_dnstap("pktvisor", &file, &opts),
            InputType::Flow => summarize::run_flow("pktvisor", &file, &opts),
        });
    match result {
        Ok(json) if cmd.json => summarize::print_json("pktvisor", &json),
        Ok(json) if cmd.tui => tui_cmd::browse_file(&file.display().to_string(), &json),
        Ok(json) if cmd.input_type == InputType::Flow => output::print(
            "pktvisor",
            // The window's object, under its "<P>m" key.
            &summarize::flow_report(
                &file.display().to_string(),
                json.as_object()
                    .and_then(|m| m.values().next())
                    .unwrap_or(&json),
            ),
        ),
        Ok(json) => output::print(
            "pktvisor",
            &pv_report::render(&file.display().to_string(), &json),
        ),
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_config(cmd: &SummarizeCmd, config: &std::path::Path) -> ExitCode {
    let result = policy::check_flags(&cmd.analysis, cmd.periods.is_some())
        .and_then(|()| policy::run("pktvisor", config, cmd.file.as_deref(), &cmd.analysis));
    match result {
        Ok(summary) if cmd.json => summarize::print_json("pktvisor", &summary.to_json()),
        Ok(summary) => output::print("pktvisor", &policy::render(&summary)),
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_record(cmd: &pktvisor_cli::record::RecordCmd) -> ExitCode {
    match pktvisor_cli::record::run("pktvisor", cmd) {
        Ok(stats) => {
            let printed = output::print(
                "pktvisor",
                &format!("{}\n", pktvisor_cli::record::summary_line(&stats)),
            );
            // A file command that could not record everything it was asked to fails, saying
            // how much it wrote and why (the live agent pauses and resumes instead).
            match pktvisor_cli::record::incomplete(&stats) {
                Some(why) => {
                    eprintln!("pktvisor: error: {why}");
                    ExitCode::FAILURE
                }
                None => printed,
            }
        }
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
