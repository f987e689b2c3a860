//! Central collection. The hub (`pktvisor hub`): agents push every completed bucket of every
//! policy as its binary snapshot ([`protocol`]); the hub stores them ([`store`], SQLite) keyed
//! by (agent, policy, bucket start) so retries never count twice, and answers pktvisor's read
//! paths by merging stored buckets exactly as an agent merges its workers ([`view`]). The
//! agent's side — an HTTP client, a disk spool and the push loop — is [`client`].
//!
//! Nothing here links libpcap: buckets are decoded and rendered by `pv-summary` and the
//! handlers' registry.

pub mod cache;
pub mod client;
pub mod counters;
pub mod protocol;
pub mod server;
pub mod store;
pub mod time;
pub mod traces;
pub mod view;

use server::HubState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::StoreSpec;

/// The default `--listen`: loopback, one port above the agent's 10853.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10854";

#[derive(Clone, Debug)]
pub struct HubConfig {
    pub listen: SocketAddr,
    pub store: StoreSpec,
    pub token_file: Option<PathBuf>,
    /// Buckets received longer ago than this are deleted (seconds).
    pub retention_secs: u64,
    /// Bucket starts a window may merge (pktvisor's `--periods`).
    pub periods: usize,
    /// Bound of the merged-bucket cache, in encoded bytes.
    pub cache_bytes: usize,
    /// `--tls-cert`, `--tls-key`: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "--listen {0} is not a loopback address: give --token-file so that only agents and readers with the token get in"
    )]
    TokenRequired(SocketAddr),
    #[error("cannot read the token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the token file {0} is empty")]
    EmptyToken(PathBuf),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] pv_http::tls::TlsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A bearer token from a file: its content without surrounding white space.
pub fn read_token(path: &std::path::Path) -> Result<Vec<u8>, HubError> {
    let text = std::fs::read_to_string(path).map_err(|source| HubError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(HubError::EmptyToken(path.to_path_buf()));
    }
    Ok(token.as_bytes().to_vec())
}

/// How often retention runs.
const EXPIRE_EVERY: Duration = Duration::from_secs(600);

/// Runs the hub until SIGINT or SIGTERM. Prints `listening on ADDR` (the bound port, for
/// `--listen HOST:0`) to stderr once it accepts connections.
pub fn run(cfg: HubConfig) -> Result<(), HubError> {
    let token = cfg.token_file.as_deref().map(read_token).transpose()?;
    if token.is_none() && !cfg.listen.ip().is_loopback() {
        return Err(HubError::TokenRequired(cfg.listen));
    }
    // Before the store: a certificate that cannot be read stops the hub with nothing opened.
    let tls = cfg
        .tls
        .as_ref()
        .map(|(cert, key)| pv_http::tls::server_config(cert, key))
        .transpose()?;
    let store = cfg.store.open()?;
    let state = Arc::new(HubState {
        store: Mutex::new(store),
        token,
        periods: cfg.periods.max(1),
        counters: counters::Counters::default(),
        cache: Mutex::new(cache::SnapshotCache::new(cfg.cache_bytes)),
        followers: traces::Followers::new(),
        rulesets: traces::rulesets::HubRulesets::default(),
    });
    // One thread serves requests; store calls run on tokio's blocking threads.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| HubError::Listen {
                addr: cfg.listen,
                source,
            })?;
        eprintln!("pktvisor hub: listening on {}", listener.local_addr()?);
        tokio::spawn(expire_loop(state.clone(), cfg.retention_secs));
        // Serving starts once the warming holds the store, so that every request waits for it.
        let (locked, holding) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking({
            let state = state.clone();
            move || warm_cache(&state, locked)
        });
        let _ = holding.await;
        let router = server::router(state.clone());
        match tls {
            Some(config) => {
                let failures = state.counters.tls_handshake_failures.clone();
                let listener = pv_http::tls::TlsListener::new(listener, config, failures)?;
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop_then_end(state.clone()))
                    .await?
            }
            None => {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop_then_end(state.clone()))
                    .await?
            }
        }
        Ok(())
    })
}

/// Decodes the global window of the default policy into the cache after a start, so that
/// the first reads after a restart are as fast as later ones (measured: 412 ms for the first
/// window/5 over 100 agents, 5 ms for the next; docs/performance.md "The hub"). Requests
/// wait for it.
fn warm_cache(state: &HubState, locked: tokio::sync::oneshot::Sender<()>) {
    let store = state.store.lock().unwrap_or_else(|p| p.into_inner());
    let _ = locked.send(());
    let q = store::BucketQuery {
        policy: server::DEFAULT_POLICY.to_string(),
        ..store::BucketQuery::default()
    };
    if let Err(e) = view::warm(store.as_ref(), &mut state.cache(), &q, state.periods) {
        eprintln!("pktvisor hub: warning: warming the cache: {e}");
    }
}

async fn expire_loop(state: Arc<HubState>, retention: u64) {
    loop {
        let s = state.clone();
        let before = server::now_secs().saturating_sub(retention);
        let expired = tokio::task::spawn_blocking(move || {
            let mut store = s.store.lock().unwrap_or_else(|p| p.into_inner());
            let n = store.expire(before);
            if n.as_ref().is_ok_and(|n| *n > 0) {
                s.cache().clear();
            }
            // Trace records go by their own time, as in the agents' stores.
            match store.expire_traces(before.saturating_mul(1_000_000_000), before) {
                Ok(t) => {
                    s.counters
                        .trace_records_expired
                        .fetch_add(t, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => eprintln!("pktvisor hub: warning: trace retention: {e}"),
            }
            n
        })
        .await;
        match expired {
            Ok(Ok(n)) => {
                state
                    .counters
                    .rows_expired
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(Err(e)) => eprintln!("pktvisor hub: warning: retention: {e}"),
            Err(_) => eprintln!("pktvisor hub: warning: retention task failed"),
        }
        tokio::time::sleep(EXPIRE_EVERY).await;
    }
}

/// Resolves at SIGINT/SIGTERM, after ending the trace followers' answers (the graceful
/// shutdown would otherwise wait for them).
async fn stop_then_end(state: Arc<HubState>) {
    stop_signal().await;
    state.followers.end();
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        // Without signal handlers the process ends by the default action.
        _ => std::future::pending::<()>().await,
    }
}
