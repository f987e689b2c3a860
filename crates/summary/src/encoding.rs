//! Snapshots in their binary form: what an agent sends a hub, which decodes and merges them
//! with [`PolicySnapshot::merge`] exactly as a process merges its workers' copies.
//!
//! A module snapshot: `b"PVm"` and the format version, the handler's type name, the module's
//! key, whether its window is the whole stream, its health counters by name, then its buckets
//! (span and body, as [`pv_handlers::frame`] writes them; the handler is named once). A policy
//! snapshot: `b"PVp"`, the version, the capture statistics, then its modules (each as above,
//! without its own header). Decoding reads all of the input or fails.

use crate::snapshot::{ModuleSnapshot, PolicySnapshot};
use crate::stats::CaptureStats;
use pv_handlers::frame::{
    FORMAT_VERSION, decode_time_bucket, encode_time_bucket, read_header, read_kind,
};
use pv_sketch::codec::{DecodeError, Reader, put_bytes, put_opt_var, put_u8, put_var};

const MODULE_MAGIC: &[u8; 3] = b"PVm";
const POLICY_MAGIC: &[u8; 3] = b"PVp";

impl ModuleSnapshot {
    /// Appends the module's binary form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MODULE_MAGIC);
        out.push(FORMAT_VERSION);
        self.encode_body(out);
    }

    /// Reads a module snapshot: all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<ModuleSnapshot, DecodeError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, MODULE_MAGIC)?;
        let m = Self::decode_body(&mut r)?;
        r.finish("module snapshot")?;
        Ok(m)
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_bytes(out, self.type_name.as_bytes());
        put_bytes(out, self.key.as_bytes());
        put_u8(out, u8::from(self.whole_stream));
        put_var(out, self.health.len() as u64);
        for (name, value) in &self.health {
            put_bytes(out, name.as_bytes());
            put_var(out, *value);
        }
        put_var(out, self.buckets.len() as u64);
        for b in &self.buckets {
            debug_assert_eq!(b.data.type_name(), self.type_name);
            encode_time_bucket(b, out);
        }
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<ModuleSnapshot, DecodeError> {
        let kind = read_kind(r)?;
        let key = r.str("module key")?.to_owned();
        let whole_stream = match r.u8("whole stream flag")? {
            0 => false,
            1 => true,
            tag => {
                return Err(DecodeError::BadTag {
                    what: "whole stream flag",
                    tag: u64::from(tag),
                });
            }
        };
        // Health counters are named by the handler's static names: an unknown one is refused.
        let n = r.count(2, "health counters")?;
        let mut health = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.bytes("health counter")?;
            let known =
                kind.health
                    .iter()
                    .find(|k| k.as_bytes() == name)
                    .ok_or(DecodeError::BadTag {
                        what: "health counter",
                        tag: name.len() as u64,
                    })?;
            health.push((*known, r.var("health counter")?));
        }
        // Each bucket takes at least its five span fields and a body length.
        let n = r.count(6, "buckets")?;
        let mut buckets = Vec::with_capacity(n);
        for _ in 0..n {
            buckets.push(decode_time_bucket(kind, r)?);
        }
        Ok(ModuleSnapshot {
            key,
            type_name: kind.type_name(),
            buckets,
            health,
            whole_stream,
        })
    }
}

impl CaptureStats {
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.packets_read,
            self.bpf_rejected,
            self.malformed,
            self.truncated,
            self.unsupported_link_type,
        ] {
            put_var(out, v);
        }
        put_var(out, self.link_types.len() as u64);
        for lt in &self.link_types {
            put_var(out, u64::from(*lt));
        }
        put_opt_var(out, self.first_ts_ns);
        put_opt_var(out, self.last_ts_ns);
        match &self.damage {
            None => put_u8(out, 0),
            Some(d) => {
                put_u8(out, 1);
                put_bytes(out, d.as_bytes());
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<CaptureStats, DecodeError> {
        let mut s = CaptureStats::default();
        for v in [
            &mut s.packets_read,
            &mut s.bpf_rejected,
            &mut s.malformed,
            &mut s.truncated,
            &mut s.unsupported_link_type,
        ] {
            *v = r.var("capture counter")?;
        }
        let n = r.count(1, "link types")?;
        for _ in 0..n {
            let lt = r.var_at_most(u64::from(u32::MAX), "link type")?;
            s.link_types.push(lt as u32);
        }
        s.first_ts_ns = r.opt_var("first packet time")?;
        s.last_ts_ns = r.opt_var("last packet time")?;
        s.damage = match r.u8("damage")? {
            0 => None,
            1 => Some(r.str("damage")?.to_owned()),
            tag => {
                return Err(DecodeError::BadTag {
                    what: "damage",
                    tag: u64::from(tag),
                });
            }
        };
        Ok(s)
    }
}

impl PolicySnapshot {
    /// Appends the policy's binary form: its capture statistics and every module.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(POLICY_MAGIC);
        out.push(FORMAT_VERSION);
        self.stats.encode(out);
        put_var(out, self.modules.len() as u64);
        for m in &self.modules {
            m.encode_body(out);
        }
    }

    /// Reads a policy snapshot: all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<PolicySnapshot, DecodeError> {
        let mut r = Reader::new(bytes);
        read_header(&mut r, POLICY_MAGIC)?;
        let stats = CaptureStats::decode(&mut r)?;
        // A module takes at least a type name, a key, a flag and two counts.
        let n = r.count(5, "modules")?;
        let mut modules = Vec::with_capacity(n);
        for _ in 0..n {
            modules.push(ModuleSnapshot::decode_body(&mut r)?);
        }
        r.finish("policy snapshot")?;
        Ok(PolicySnapshot { modules, stats })
    }
}
