//! A bucket's binary frame: what travels from an agent to a hub, which decodes and merges.
//!
//! `b"PVb"`, the format version, the handler's policy type name (the reader finds the
//! decoder through the registry), then the [`TimeBucket`] span (start, from, until, first and
//! last packet times, as varints) and the bucket's own encoding prefixed by its length (the
//! decoder must consume exactly that). A new format version is a new number here: readers
//! refuse versions they do not know rather than misread them.

use crate::module::{HandlerKind, ModuleBucket};
use crate::registry;
use pv_sketch::codec::{DecodeError, Reader, put_bytes, put_opt_var, put_var};
use pv_sketch::window::TimeBucket;

pub const BUCKET_MAGIC: &[u8; 3] = b"PVb";
/// The encoding of every bucket and sketch, bumped whenever any of them changes.
pub const FORMAT_VERSION: u8 = 1;

/// Checks a magic and the format version at the front of `r`.
pub fn read_header(r: &mut Reader<'_>, magic: &[u8; 3]) -> Result<(), DecodeError> {
    if r.take(3, "magic")? != magic {
        return Err(DecodeError::BadTag {
            what: "magic",
            tag: 0,
        });
    }
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::BadVersion {
            found: u32::from(version),
        });
    }
    Ok(())
}

/// The handler kind a frame names.
pub fn read_kind(r: &mut Reader<'_>) -> Result<&'static HandlerKind, DecodeError> {
    let name = r.bytes("handler type name")?;
    std::str::from_utf8(name)
        .ok()
        .and_then(registry::find)
        .ok_or(DecodeError::BadTag {
            what: "handler type name",
            tag: name.len() as u64,
        })
}

/// A bucket with its span, without the header (a module snapshot names the handler once).
pub fn encode_time_bucket(b: &TimeBucket<Box<dyn ModuleBucket>>, out: &mut Vec<u8>) {
    put_var(out, b.start_sec);
    put_var(out, b.from_sec);
    put_var(out, b.until_sec);
    put_opt_var(out, b.first_ts_ns);
    put_var(out, b.last_ts_ns);
    let mut body = Vec::new();
    b.data.encode_dyn(&mut body);
    put_bytes(out, &body);
}

/// Reads [`encode_time_bucket`]'s form of a bucket of `kind`.
pub fn decode_time_bucket(
    kind: &HandlerKind,
    r: &mut Reader<'_>,
) -> Result<TimeBucket<Box<dyn ModuleBucket>>, DecodeError> {
    let start_sec = r.var("bucket start")?;
    let from_sec = r.var("bucket from")?;
    let until_sec = r.var("bucket until")?;
    let first_ts_ns = r.opt_var("bucket first packet")?;
    let last_ts_ns = r.var("bucket last packet")?;
    let mut body = Reader::new(r.bytes("bucket body")?);
    let data = (kind.decode)(&mut body)?;
    body.finish("bucket body")?;
    Ok(TimeBucket {
        start_sec,
        from_sec,
        until_sec,
        first_ts_ns,
        last_ts_ns,
        data,
    })
}

/// One bucket, framed: header, handler type name, span, body.
pub fn encode_bucket(b: &TimeBucket<Box<dyn ModuleBucket>>, out: &mut Vec<u8>) {
    out.extend_from_slice(BUCKET_MAGIC);
    out.push(FORMAT_VERSION);
    put_bytes(out, b.data.type_name().as_bytes());
    encode_time_bucket(b, out);
}

/// Reads one framed bucket: all of `bytes`, nothing after it.
pub fn decode_bucket(bytes: &[u8]) -> Result<TimeBucket<Box<dyn ModuleBucket>>, DecodeError> {
    let mut r = Reader::new(bytes);
    read_header(&mut r, BUCKET_MAGIC)?;
    let kind = read_kind(&mut r)?;
    let b = decode_time_bucket(kind, &mut r)?;
    r.finish("bucket frame")?;
    Ok(b)
}
