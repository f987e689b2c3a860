//! NetFlow v9 (RFC 3954): a 20-byte header, then flowsets — templates (id 0), options
//! templates (id 1) and data (id 256 and up) read through the exporter's templates.
//! pktvisor: `process_netflow_v9` in src/inputs/flow/NetflowData.h.

use super::cursor::Cursor;
use super::template_sets::{NETFLOW_V9, walk};
use super::templates::TemplateCache;
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 20;

pub(super) fn decode(
    payload: &[u8],
    exporter: IpAddr,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
) -> Result<DatagramInfo, FlowError> {
    let mut c = Cursor::new(payload);
    c.skip(4, "NetFlow v9 version/count")?;
    c.skip(4, "NetFlow v9 sysUptime")?;
    let secs = c.u32("NetFlow v9 unix_secs")?;
    c.skip(4, "NetFlow v9 sequence")?;
    let domain = c.u32("NetFlow v9 source id")?;
    let mut info = DatagramInfo {
        format: Some(FlowFormat::NetflowV9),
        export_secs: Some(secs),
        ..DatagramInfo::default()
    };
    walk(&NETFLOW_V9, c, exporter, domain, cache, out, &mut info)?;
    Ok(info)
}
