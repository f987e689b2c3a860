//! The push protocol's bodies: what an agent sends and the hub checks before storing.
//!
//! A bucket push (`POST /api/v1/push/buckets`, `application/octet-stream`) is `b"PVH"`, the
//! push format version ([`PUSH_VERSION`]), then, in `pv_sketch::codec`'s primitives: the agent
//! id and the policy name (length-prefixed UTF-8), the bucket's start and end (Unix seconds,
//! varints) and the policy snapshot of that one bucket (length-prefixed, `PolicySnapshot`'s
//! own versioned `"PVp"` form). Decoding reads all of the input or fails. A heartbeat
//! (`POST /api/v1/push/heartbeat`) is JSON ([`Heartbeat`]): small, and read by people too.

use pv_sketch::codec::{DecodeError, Reader, put_bytes, put_var};
use pv_summary::PolicySnapshot;
use serde::{Deserialize, Serialize};

const PUSH_MAGIC: &[u8; 3] = b"PVH";
/// Bumped with any change to the push body; the hub refuses versions it does not know.
pub const PUSH_VERSION: u8 = 1;
/// Agent ids and policy names: 1 to this many bytes of `[A-Za-z0-9._:-]`.
pub const NAME_MAX: usize = 128;

/// One completed bucket of one policy of one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketPush {
    pub agent: String,
    pub policy: String,
    /// Unix seconds: the bucket's start (the key, with agent and policy) and end.
    pub start: u64,
    pub end: u64,
    /// `PolicySnapshot::encode` of the policy with only this bucket in each module.
    pub snapshot: Vec<u8>,
}

/// Why a push body was refused (400).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("push body: {0}")]
    Decode(#[from] DecodeError),
    #[error("push body: {what} must be 1 to {NAME_MAX} characters of A-Z a-z 0-9 . _ : -")]
    BadName { what: &'static str },
    #[error("push body: the bucket ends ({end}) before it starts ({start})")]
    BadSpan { start: u64, end: u64 },
    #[error("push body: the snapshot holds a bucket starting at {found}, not the pushed {start}")]
    WrongBucket { start: u64, found: u64 },
}

/// A checked agent id or policy name (they appear in URLs and Prometheus labels).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= NAME_MAX
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl BucketPush {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.snapshot.len() + 64);
        out.extend_from_slice(PUSH_MAGIC);
        out.push(PUSH_VERSION);
        put_bytes(&mut out, self.agent.as_bytes());
        put_bytes(&mut out, self.policy.as_bytes());
        put_var(&mut out, self.start);
        put_var(&mut out, self.end);
        put_bytes(&mut out, &self.snapshot);
        out
    }

    /// Reads and checks a push: its names, its span, and that its snapshot decodes and holds
    /// buckets of the pushed start only. Returns the decoded snapshot too.
    pub fn decode(bytes: &[u8]) -> Result<(BucketPush, PolicySnapshot), PushError> {
        let mut r = Reader::new(bytes);
        let magic = r.take(3, "push magic")?;
        let version = r.u8("push version")?;
        if magic != PUSH_MAGIC || version != PUSH_VERSION {
            return Err(DecodeError::BadVersion {
                found: u32::from(version),
            }
            .into());
        }
        let agent = r.str("agent id")?.to_owned();
        let policy = r.str("policy")?.to_owned();
        let start = r.var("bucket start")?;
        let end = r.var("bucket end")?;
        let snapshot = r.bytes("snapshot")?.to_vec();
        r.finish("push")?;
        if !valid_name(&agent) {
            return Err(PushError::BadName { what: "agent id" });
        }
        if !valid_name(&policy) {
            return Err(PushError::BadName { what: "policy" });
        }
        if end < start {
            return Err(PushError::BadSpan { start, end });
        }
        let decoded = PolicySnapshot::decode(&snapshot)?;
        if let Some(found) = decoded
            .modules
            .iter()
            .flat_map(|m| &m.buckets)
            .map(|b| b.start_sec)
            .find(|s| *s != start)
        {
            return Err(PushError::WrongBucket { start, found });
        }
        let push = BucketPush {
            agent,
            policy,
            start,
            end,
            snapshot,
        };
        Ok((push, decoded))
    }
}

/// What an agent says about itself, every few seconds and at start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub agent: String,
    /// The agent's version (`pktvisord --version`).
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub policies: Vec<String>,
    /// Packets the capture dropped (kernel and interface), since the agent started.
    #[serde(default)]
    pub drops: u64,
    /// Bytes waiting in the agent's spool, and pushes it dropped to stay in its bound.
    #[serde(default)]
    pub spool_bytes: u64,
    #[serde(default)]
    pub spool_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_snapshot() -> Vec<u8> {
        let mut out = Vec::new();
        PolicySnapshot::default().encode(&mut out);
        out
    }

    #[test]
    fn a_push_round_trips_and_every_truncation_is_refused() {
        let push = BucketPush {
            agent: "host-1".into(),
            policy: "default".into(),
            start: 1_567_706_400,
            end: 1_567_706_460,
            snapshot: empty_snapshot(),
        };
        let bytes = push.encode();
        assert_eq!(BucketPush::decode(&bytes).unwrap().0, push);
        for cut in 0..bytes.len() {
            assert!(BucketPush::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(BucketPush::decode(&longer).is_err());
        let mut other_version = bytes;
        other_version[3] = PUSH_VERSION + 1;
        assert!(matches!(
            BucketPush::decode(&other_version),
            Err(PushError::Decode(DecodeError::BadVersion { found: 2 }))
        ));
    }

    #[test]
    fn names_and_spans_are_checked() {
        let base = BucketPush {
            agent: "a".into(),
            policy: "default".into(),
            start: 120,
            end: 180,
            snapshot: empty_snapshot(),
        };
        let bad_agent = BucketPush {
            agent: "a/../b".into(),
            ..base.clone()
        };
        assert!(matches!(
            BucketPush::decode(&bad_agent.encode()),
            Err(PushError::BadName { what: "agent id" })
        ));
        let backwards = BucketPush { end: 60, ..base };
        assert!(matches!(
            BucketPush::decode(&backwards.encode()),
            Err(PushError::BadSpan { .. })
        ));
    }
}
