//! IPFIX (RFC 7011): a 16-byte message header, then sets — templates (id 2), options
//! templates (id 3) and data (id 256 and up) read through the exporter's templates, with
//! variable-length fields and enterprise-specific elements. pktvisor: `process_netflow_v10`
//! in src/inputs/flow/NetflowData.h.

use super::cursor::Cursor;
use super::template_sets::{IPFIX, walk};
use super::templates::TemplateCache;
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 16;

pub(super) fn decode(
    payload: &[u8],
    exporter: IpAddr,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
) -> Result<DatagramInfo, FlowError> {
    let mut c = Cursor::new(payload);
    c.skip(2, "IPFIX version")?;
    let len = c.u16("IPFIX length")?;
    let secs = c.u32("IPFIX export time")?;
    c.skip(4, "IPFIX sequence")?;
    let domain = c.u32("IPFIX observation domain")?;
    if usize::from(len) < HEADER_LEN || usize::from(len) > payload.len() {
        return Err(FlowError::BadLength {
            what: "IPFIX message",
            value: u32::from(len),
        });
    }
    let body = payload
        .get(HEADER_LEN..usize::from(len))
        .ok_or(FlowError::Truncated {
            what: "IPFIX message",
        })?;
    let mut info = DatagramInfo {
        format: Some(FlowFormat::Ipfix),
        export_secs: Some(secs),
        ..DatagramInfo::default()
    };
    walk(
        &IPFIX,
        Cursor::new(body),
        exporter,
        domain,
        cache,
        out,
        &mut info,
    )?;
    Ok(info)
}
