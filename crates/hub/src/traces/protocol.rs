//! The body of a trace push (`POST /api/v1/push/traces`, `application/octet-stream`): a
//! batch of an agent's trace records. `b"PVT"`, the format version ([`TRACE_PUSH_VERSION`]),
//! then in `pv_sketch::codec`'s primitives: the agent id (length-prefixed UTF-8), the run
//! (varint: the agent's start time in ns, so that a restarted agent's batches never take the
//! keys of an earlier run's), the batch's sequence number in the run (varint, from 1), the
//! record count (varint) and the records: zstd of their JSON texts, each length-prefixed,
//! exactly as the agent stored them (`pv_nftrace::store::stored`). The key (agent, run, seq)
//! is stored once: a retried batch is a duplicate, never stored twice.

use pv_nftrace::store::row_json::RowError;
use pv_nftrace::store::sql::Row;
use pv_sketch::codec::{DecodeError, Reader, put_bytes, put_var};

const MAGIC: &[u8; 3] = b"PVT";
/// Bumped with any change to the body; the hub refuses versions it does not know.
pub const TRACE_PUSH_VERSION: u8 = 1;
/// Records a batch holds at most (the agent sends at most 2 000).
pub const MAX_RECORDS: usize = 100_000;
/// The records' JSON decompressed is at most this large (a record is ~600 bytes).
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// One batch of one agent's records, as JSON texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceBatch {
    pub agent: String,
    pub run: u64,
    pub seq: u64,
    pub records: Vec<String>,
}

/// Why a trace push was refused (400).
#[derive(Debug, thiserror::Error)]
pub enum TracePushError {
    #[error("trace push: {0}")]
    Decode(#[from] DecodeError),
    #[error(
        "trace push: the agent id must be 1 to {} characters of A-Z a-z 0-9 . _ : -",
        crate::protocol::NAME_MAX
    )]
    BadName,
    #[error("trace push: the sequence number starts at 1")]
    BadSeq,
    #[error("trace push: more than {MAX_RECORDS} records, or {MAX_RECORD_BYTES} bytes of them")]
    TooLarge,
    #[error("trace push: the records do not decompress: {0}")]
    Compression(std::io::Error),
    #[error("trace push: record {index}: {error}")]
    Record { index: usize, error: RowError },
    #[error("trace push: record {index} is agent '{found}''s, in a batch of agent '{agent}'")]
    WrongAgent {
        index: usize,
        found: String,
        agent: String,
    },
}

impl TraceBatch {
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let mut records = Vec::new();
        for r in &self.records {
            put_bytes(&mut records, r.as_bytes());
        }
        // Level 1: JSON records shrink ~5 times in a batch (they share their keys).
        let packed = zstd::bulk::compress(&records, 1)?;
        let mut out = Vec::with_capacity(packed.len() + 64);
        out.extend_from_slice(MAGIC);
        out.push(TRACE_PUSH_VERSION);
        put_bytes(&mut out, self.agent.as_bytes());
        put_var(&mut out, self.run);
        put_var(&mut out, self.seq);
        put_var(&mut out, self.records.len() as u64);
        put_bytes(&mut out, &packed);
        Ok(out)
    }

    /// The record count a body announces, read from its header alone.
    pub fn count_of(bytes: &[u8]) -> Option<u64> {
        let mut r = Reader::new(bytes);
        (r.take(3, "magic").ok()? == MAGIC).then_some(())?;
        (r.u8("version").ok()? == TRACE_PUSH_VERSION).then_some(())?;
        r.str("agent id").ok()?;
        r.var("run").ok()?;
        r.var("sequence number").ok()?;
        r.var("record count").ok()
    }

    /// Reads and checks a batch: every record parses as a trace record of the batch's
    /// agent. Returns each record's row and JSON.
    pub fn decode(bytes: &[u8]) -> Result<(TraceBatch, Vec<Row>), TracePushError> {
        let mut r = Reader::new(bytes);
        let magic = r.take(3, "trace push magic")?;
        let version = r.u8("trace push version")?;
        if magic != MAGIC || version != TRACE_PUSH_VERSION {
            return Err(DecodeError::BadVersion {
                found: u32::from(version),
            }
            .into());
        }
        let agent = r.str("agent id")?.to_owned();
        let run = r.var("run")?;
        let seq = r.var("sequence number")?;
        let count = r.var("record count")?;
        let packed = r.bytes("records")?;
        r.finish("trace push")?;
        if !crate::protocol::valid_name(&agent) {
            return Err(TracePushError::BadName);
        }
        if seq == 0 {
            return Err(TracePushError::BadSeq);
        }
        let count = usize::try_from(count)
            .ok()
            .filter(|c| *c <= MAX_RECORDS)
            .ok_or(TracePushError::TooLarge)?;
        let plain = zstd::bulk::decompress(packed, MAX_RECORD_BYTES)
            .map_err(TracePushError::Compression)?;
        let mut r = Reader::new(&plain);
        let mut records = Vec::with_capacity(count);
        let mut rows = Vec::with_capacity(count);
        for index in 0..count {
            let json = r.str("record")?;
            let row = Row::from_json(json.as_bytes())
                .map_err(|error| TracePushError::Record { index, error })?;
            if row.agent_id != agent {
                return Err(TracePushError::WrongAgent {
                    index,
                    found: row.agent_id,
                    agent,
                });
            }
            rows.push(row);
            records.push(json.to_owned());
        }
        r.finish("records")?;
        let batch = TraceBatch {
            agent,
            run,
            seq,
            records,
        };
        Ok((batch, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(agent: &str, i: u64) -> String {
        format!(
            r#"{{"time_ns":{},"netns":"b","trace_id":{i},"family":"ip","table":"t","chain":"input","path":[],"verdict":"accept","ip_src":"198.51.100.1","sport":{},"agent_id":"{agent}"}}"#,
            1_000 + i,
            1000 + i
        )
    }

    #[test]
    fn a_batch_round_trips_and_every_truncation_is_refused() {
        let batch = TraceBatch {
            agent: "a1".into(),
            run: 1_796_605_323_000_000_000,
            seq: 7,
            records: (0..3).map(|i| record("a1", i)).collect(),
        };
        let bytes = batch.encode().unwrap();
        assert_eq!(TraceBatch::count_of(&bytes), Some(3));
        let (back, rows) = TraceBatch::decode(&bytes).unwrap();
        assert_eq!(back, batch);
        assert_eq!(rows[2].sport, Some(1002));
        assert_eq!(rows[1].ip_src, Some("198.51.100.1".parse().unwrap()));
        for cut in 0..bytes.len() {
            assert!(TraceBatch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn foreign_records_bad_names_and_sequence_zero_are_refused() {
        let mut batch = TraceBatch {
            agent: "a1".into(),
            run: 1,
            seq: 1,
            records: vec![record("a1", 0), record("other", 1)],
        };
        assert!(matches!(
            TraceBatch::decode(&batch.encode().unwrap()),
            Err(TracePushError::WrongAgent { index: 1, .. })
        ));
        batch.records = vec![r#"{"time_ns":1}"#.into()];
        assert!(matches!(
            TraceBatch::decode(&batch.encode().unwrap()),
            Err(TracePushError::Record { index: 0, .. })
        ));
        batch.records.clear();
        batch.seq = 0;
        assert!(matches!(
            TraceBatch::decode(&batch.encode().unwrap()),
            Err(TracePushError::BadSeq)
        ));
        batch.seq = 1;
        batch.agent = "a b".into();
        assert!(matches!(
            TraceBatch::decode(&batch.encode().unwrap()),
            Err(TracePushError::BadName)
        ));
    }
}
