//! HTTP that the agent (`pv-agent`) and the hub (`pv-hub`) share, so that each is written
//! once: [`body::ChannelBody`], a response body a producer feeds through a bounded queue;
//! [`follow`], the trace followers of `GET /api/v1/traces/follow` (the records as they
//! arrive, as NDJSON or server-sent events; it does not know what a trace record is: the
//! caller hands in the JSON lines and a filter over its own fields); and [`tls`], the server
//! and client configurations (`--tls-cert`/`--tls-key`, `--hub https://`) and the TLS
//! listener under `axum::serve`.

pub mod body;
pub mod follow;
pub mod tls;
