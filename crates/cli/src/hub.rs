//! `pktvisor hub` (the hub's flags), and the agent's `--hub` flags with the file backfill
//! (`pktvisord --hub URL FILE`).

use crate::options::{AnalysisArgs, PERIOD_SECS};
use clap::Args;
use pv_hub::client::spool::Spool;
use pv_hub::client::{PushTarget, drain, send_heartbeat, spool_snapshot};
use pv_hub::protocol::{Heartbeat, valid_name};
use pv_hub::store::StoreSpec;
use pv_hub::{HubConfig, read_token};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct HubCmd {
    /// Address and port to serve agents and readers on. Anything but a loopback address needs
    /// --token-file.
    #[arg(long, value_name = "ADDR:PORT", default_value = pv_hub::DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// Where buckets are stored: sqlite:PATH, or
    /// clickhouse+http://[USER[:PASSWORD]@]HOST:PORT/DATABASE (ClickHouse's HTTP interface,
    /// which must answer at start). The database, tables and schema are created and migrated
    /// on first start.
    #[arg(
        long,
        value_name = "STORE",
        default_value = "sqlite:pktvisor-hub.sqlite"
    )]
    store: StoreSpec,

    /// Every request (push or read) needs `Authorization: Bearer TOKEN`, TOKEN being this
    /// file's content (surrounding white space ignored).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// Delete buckets received longer ago than this (s, m, h, d: 30d).
    #[arg(long, value_name = "AGE", default_value = "30d",
          value_parser = pv_hub::time::parse_duration)]
    retention: u64,

    /// Bucket starts the global window may merge (/api/v1/metrics/window/N, N <= P).
    #[arg(long, value_name = "P", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    periods: u64,

    /// Bound of the cache of decoded, merged buckets (encoded bytes; decoded they take a few
    /// times more memory). Buckets never change once stored, so a window re-reads only the
    /// starts pushed since.
    #[arg(long, value_name = "BYTES", default_value_t = pv_hub::cache::DEFAULT_CACHE_BYTES)]
    cache_bytes: usize,

    /// Serve HTTPS with this PEM certificate (chain) ...
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// ... and this PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Runs the hub until SIGINT/SIGTERM.
pub fn run_hub(cmd: &HubCmd) -> ExitCode {
    let cfg = HubConfig {
        listen: cmd.listen,
        store: cmd.store.clone(),
        token_file: cmd.token_file.clone(),
        retention_secs: cmd.retention,
        periods: cmd.periods as usize,
        cache_bytes: cmd.cache_bytes,
        tls: cmd.tls_cert.clone().zip(cmd.tls_key.clone()),
    };
    match pv_hub::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktvisor hub: error: {e}");
            // A certificate or key that cannot be used is a usage error, as a bad flag is.
            match e {
                pv_hub::HubError::Tls(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// The agent's flags for pushing to a hub.
#[derive(Args, Clone, Debug)]
pub struct PushArgs {
    /// Push every completed bucket of every policy to the hub at this URL (http://HOST:PORT or
    /// https://HOST:PORT), with a heartbeat. With a capture FILE: push the file's buckets (backfill) and exit.
    #[arg(long, value_name = "URL")]
    pub hub: Option<pv_hub::client::http::HubUrl>,

    /// Send `Authorization: Bearer TOKEN` with every push, TOKEN being this file's content.
    #[arg(long, value_name = "FILE", requires = "hub")]
    pub hub_token_file: Option<PathBuf>,

    /// For an https hub: trust the PEM certificate(s) in this file (the hub's CA, or its
    /// self-signed certificate) instead of the system's roots.
    #[arg(long, value_name = "FILE", requires = "hub")]
    pub hub_ca: Option<PathBuf>,

    /// This agent's name at the hub (A-Z a-z 0-9 . _ : -), and on the traces it stores
    /// (`--nft-trace`). Default: the host name.
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,

    /// Keep pushes the hub has not acknowledged in this directory (they survive a restart and
    /// are sent first, in order). Without it they wait in memory.
    #[arg(long, value_name = "DIR", requires = "hub")]
    pub spool_dir: Option<PathBuf>,

    /// Bound of the spool; past it the oldest pushes are dropped (and counted).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    pub spool_max_bytes: u64,
}

/// The host name, made a valid agent id (other characters become `-`).
/// The host name: the default agent id.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name: String = if rc == 0 { &buf[..len] } else { &b"agent"[..] }
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-') {
                char::from(b)
            } else {
                '-'
            }
        })
        .take(pv_hub::protocol::NAME_MAX)
        .collect();
    if name.is_empty() {
        "agent".into()
    } else {
        name
    }
}

impl PushArgs {
    /// Where to push, with the token read; None without --hub.
    pub fn target(&self) -> Result<Option<PushTarget>, String> {
        let Some(hub) = &self.hub else {
            return Ok(None);
        };
        let token = self
            .hub_token_file
            .as_deref()
            .map(read_token)
            .transpose()
            .map_err(|e| e.to_string())?;
        let agent = self.agent_id.clone().unwrap_or_else(host_name);
        if !valid_name(&agent) {
            return Err(format!(
                "--agent-id '{agent}': 1 to {} characters of A-Z a-z 0-9 . _ : -",
                pv_hub::protocol::NAME_MAX
            ));
        }
        let hub = hub
            .clone()
            .trusting(self.hub_ca.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(Some(PushTarget { hub, token, agent }))
    }

    /// The live agent's pushing, None without --hub.
    pub fn live(&self) -> Result<Option<pv_agent::HubPushConfig>, String> {
        Ok(self.target()?.map(|target| pv_agent::HubPushConfig {
            target,
            spool_dir: self.spool_dir.clone(),
            spool_max_bytes: self.spool_max_bytes,
        }))
    }

    /// The trace pusher's configuration (`--nft-trace --hub`), None without --hub.
    pub fn traces(&self) -> Result<Option<pv_hub::client::traces::TracePushConfig>, String> {
        Ok(self
            .target()?
            .map(|target| pv_hub::client::traces::TracePushConfig {
                target,
                spool_dir: self.spool_dir.clone(),
                spool_max_bytes: self.spool_max_bytes,
            }))
    }

    pub fn open_spool(&self) -> Result<Spool, String> {
        Spool::open(self.spool_dir.as_deref(), self.spool_max_bytes).map_err(|e| {
            format!(
                "cannot open the spool {}: {e}",
                self.spool_dir
                    .as_deref()
                    .map_or("(memory)".into(), |d| d.display().to_string())
            )
        })
    }
}

/// Buckets a backfill holds at once: a day of minutes. A longer file is refused rather than
/// pushed in part (its oldest buckets would have rotated out).
pub const BACKFILL_BUCKETS: usize = 1440;

/// `pktvisord --hub URL FILE`: summarizes the file in minute buckets aligned as a live
/// agent's (so they merge with other agents' at the hub) and pushes them, oldest first, after
/// whatever the spool held; waits for the hub while it is unreachable.
pub fn backfill(
    program: &str,
    file: &Path,
    analysis: &AnalysisArgs,
    workers: usize,
    push: &PushArgs,
    target: &PushTarget,
) -> Result<String, String> {
    let mut opts = analysis.to_options(Some(PERIOD_SECS), BACKFILL_BUCKETS)?;
    opts.window.boundaries = pv_handlers::Boundaries::Aligned;
    let (snapshot, _) =
        pv_agent::summarize_file_sharded(file, &opts, workers).map_err(|e| e.to_string())?;
    if let Some(damage) = &snapshot.stats.damage {
        eprintln!(
            "{program}: warning: {damage}; the buckets cover the {} packets before it",
            snapshot.stats.packets_read
        );
    }
    let oldest = snapshot
        .modules
        .iter()
        .filter_map(|m| m.buckets.last())
        .map(|b| b.start_sec)
        .min();
    if let (Some(first_ns), Some(oldest)) = (snapshot.stats.first_ts_ns, oldest)
        && first_ns / 1_000_000_000 < oldest
    {
        return Err(format!(
            "{} spans more than {BACKFILL_BUCKETS} minutes; split it (editcap -i) and push the parts",
            file.display()
        ));
    }
    let mut spool = push.open_spool()?;
    let queued = spool.len();
    let buckets = spool_snapshot(
        &mut spool,
        target,
        pv_pipeline::COMMAND_LINE_POLICY,
        &snapshot,
    )
    .map_err(|e| format!("spool: {e}"))?;
    let mut warned = false;
    let done = drain(&mut spool, target, &mut |e, wait| {
        if !warned {
            eprintln!(
                "{program}: warning: {e}; retrying (every {} s at most) until the hub answers",
                wait.as_secs().max(10)
            );
            warned = true;
        }
    })
    .map_err(|e| e.to_string())?;
    let hb = Heartbeat {
        agent: target.agent.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        interfaces: vec![file.display().to_string()],
        policies: vec![pv_pipeline::COMMAND_LINE_POLICY.to_string()],
        drops: 0,
        spool_bytes: spool.bytes(),
        spool_dropped: spool.dropped,
    };
    if let Err(e) = send_heartbeat(target, &hb) {
        eprintln!("{program}: warning: heartbeat: {e}");
    }
    Ok(format!(
        "{buckets} bucket(s) of {} queued; {} push(es) delivered to {} as agent {} ({queued} \
         queued before; {} already stored, {} refused, {} dropped from the spool)",
        file.display(),
        done.delivered,
        target.hub.authority,
        target.agent,
        done.duplicates,
        done.refused,
        spool.dropped
    ))
}
