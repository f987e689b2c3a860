//! IPFIX (RFC 7011): a 16-byte message header, then sets — templates (id 2), options
//! templates (id 3) and data (id 256 and up) read through the exporter's templates, with
//! variable-length fields and enterprise-specific elements. pktvisor: `process_netflow_v10`
//! in src/inputs/flow/NetflowData.h.

use super::cursor::Cursor;
use super::templates::{Field, Space, Template, TemplateCache, TemplateKey, data_records, sets};
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 16;
const TEMPLATE_SET: u16 = 2;
const OPTIONS_TEMPLATE_SET: u16 = 3;
const MIN_DATA_SET: u16 = 256;
const ENTERPRISE_BIT: u16 = 0x8000;

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
    let key = |id| TemplateKey {
        exporter,
        domain,
        id,
        space: Space::Ipfix,
    };
    sets(Cursor::new(body), |id, body| {
        match id {
            TEMPLATE_SET | OPTIONS_TEMPLATE_SET => {
                let options = id == OPTIONS_TEMPLATE_SET;
                let mut b = Cursor::new(body);
                while b.remaining() >= 4 {
                    let tid = b.u16("template id")?;
                    let n = b.u16("template field count")?;
                    if n == 0 {
                        // A withdrawal (RFC 7011 section 8.1).
                        cache.remove(&key(tid));
                        continue;
                    }
                    if options {
                        b.skip(2, "scope field count")?;
                    }
                    let fields = fields(&mut b, usize::from(n))?;
                    cache.insert(key(tid), Template { fields, options });
                    info.templates += 1;
                }
            }
            id if id >= MIN_DATA_SET => match cache.get(&key(id)) {
                Some(t) => data_records(t, body, out, &mut info.other_records)?,
                None => info.no_template += 1,
            },
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

fn fields(b: &mut Cursor<'_>, n: usize) -> Result<Vec<Field>, FlowError> {
    if n * 4 > b.remaining() {
        return Err(FlowError::BadLength {
            what: "IPFIX template",
            value: n as u32,
        });
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let id = b.u16("field specifier")?;
        let len = b.u16("field length")?;
        let enterprise = id & ENTERPRISE_BIT != 0;
        if enterprise {
            b.skip(4, "enterprise number")?;
        }
        v.push(Field {
            element: id & !ENTERPRISE_BIT,
            enterprise,
            len,
        });
    }
    Ok(v)
}
