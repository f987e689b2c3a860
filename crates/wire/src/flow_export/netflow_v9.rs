//! NetFlow v9 (RFC 3954): a 20-byte header, then flowsets — templates (id 0), options
//! templates (id 1) and data (id 256 and up) read through the exporter's templates.
//! pktvisor: `process_netflow_v9` in src/inputs/flow/NetflowData.h.

use super::cursor::Cursor;
use super::templates::{Field, Space, Template, TemplateCache, TemplateKey, data_records, sets};
use super::{DatagramInfo, FlowError, FlowFormat, FlowRecord};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 20;
const TEMPLATE_SET: u16 = 0;
const OPTIONS_TEMPLATE_SET: u16 = 1;
const MIN_DATA_SET: u16 = 256;

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
    let key = |id| TemplateKey {
        exporter,
        domain,
        id,
        space: Space::NetflowV9,
    };
    sets(c, |id, body| {
        match id {
            TEMPLATE_SET => {
                let mut b = Cursor::new(body);
                // Up to 3 bytes of padding may end the set.
                while b.remaining() >= 4 {
                    let tid = b.u16("template id")?;
                    let n = b.u16("template field count")?;
                    let fields = fields(&mut b, usize::from(n))?;
                    cache.insert(
                        key(tid),
                        Template {
                            fields,
                            options: false,
                        },
                    );
                    info.templates += 1;
                }
            }
            OPTIONS_TEMPLATE_SET => {
                let mut b = Cursor::new(body);
                while b.remaining() >= 6 {
                    let tid = b.u16("options template id")?;
                    let scope_len = b.u16("option scope length")?;
                    let opt_len = b.u16("option length")?;
                    let n = (usize::from(scope_len) + usize::from(opt_len)) / 4;
                    let fields = fields(&mut b, n)?;
                    cache.insert(
                        key(tid),
                        Template {
                            fields,
                            options: true,
                        },
                    );
                    info.templates += 1;
                }
            }
            id if id >= MIN_DATA_SET => match cache.get(&key(id)) {
                Some(t) => data_records(t, body, out, &mut info.other_records)?,
                None => info.no_template += 1,
            },
            // 2..=255 are reserved: skipped, as pktvisor does.
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

fn fields(b: &mut Cursor<'_>, n: usize) -> Result<Vec<Field>, FlowError> {
    // Each field takes 4 bytes: a count beyond what is left is a lie, not an allocation.
    if n * 4 > b.remaining() {
        return Err(FlowError::BadLength {
            what: "NetFlow v9 template",
            value: n as u32,
        });
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let element = b.u16("field type")?;
        let len = b.u16("field length")?;
        v.push(Field {
            element,
            enterprise: false,
            len,
        });
    }
    Ok(v)
}
