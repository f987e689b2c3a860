//! `pktvisor` without a subcommand: the terminal UI against an agent, with pktvisor-cli's
//! flags (`-H HOST`, `-p PORT`, `-P POLICY`, `--tls`, `--tls-noverify`); and
//! `pktvisor summarize --tui FILE`: the same screens over a file summary.

use clap::Args;
use pv_tui::ClientConfig;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// How long one request may take before the agent counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the agent is (`-H HOST -p PORT`): the terminal UI's and `pktvisor traces`'.
#[derive(Args, Clone, Debug)]
pub struct AgentAddr {
    /// Query the pktvisord metrics web server on this host.
    #[arg(
        short = 'H',
        long = "host",
        value_name = "HOST",
        default_value = "localhost"
    )]
    pub host: String,

    /// Query the pktvisord metrics web server on this port.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        default_value_t = 10853
    )]
    pub port: u16,

    /// Talk to the agent (or hub) over HTTPS, trusting the system's certificates.
    #[arg(long)]
    pub tls: bool,

    /// HTTPS without checking the agent's certificate (self-signed agents).
    #[arg(long = "tls-noverify")]
    pub tls_noverify: bool,

    /// Send `Authorization: Bearer TOKEN` with every request, TOKEN read from FILE (a hub
    /// started with `--token-file`).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
}

impl AgentAddr {
    /// The client's configuration; the token file's error (unreadable, empty) as its text.
    pub fn client_config(&self, policy: Option<String>) -> Result<ClientConfig, String> {
        let token = match &self.token_file {
            Some(path) => {
                let bytes = pv_hub::read_token(path).map_err(|e| e.to_string())?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            None => None,
        };
        Ok(ClientConfig {
            host: self.host.clone(),
            port: self.port,
            policy,
            tls: self.tls,
            tls_noverify: self.tls_noverify,
            timeout: REQUEST_TIMEOUT,
            token,
        })
    }
}

#[derive(Args, Clone, Debug)]
pub struct TuiArgs {
    #[command(flatten)]
    pub agent: AgentAddr,

    /// Show this pktvisor 4 policy (`/api/v1/policies/POLICY/metrics/...`) instead of the
    /// v3 paths (`/api/v1/metrics/...`).
    #[arg(short = 'P', long = "policy", value_name = "POLICY")]
    pub policy: Option<String>,

    /// Milliseconds between refreshes.
    #[arg(long = "refresh-ms", value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub refresh_ms: u64,
}

/// Runs the terminal UI against the agent until the user quits.
pub fn run_agent(args: &TuiArgs) -> ExitCode {
    let cfg = match args.agent.client_config(args.policy.clone()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("pktvisor: error: {e}");
            return ExitCode::from(2);
        }
    };
    exit(pv_tui::run_agent(
        &cfg,
        Duration::from_millis(args.refresh_ms),
    ))
}

/// Browses a file summary (pktvisor's window JSON) until the user quits.
pub fn browse_file(name: &str, summary: &Value) -> ExitCode {
    exit(pv_tui::run_file(name, summary))
}

fn exit(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktvisor: error: terminal: {e}");
            ExitCode::FAILURE
        }
    }
}
