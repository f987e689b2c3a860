//! The walk NetFlow v9 and IPFIX share after their headers: sets (flowsets) of templates,
//! options templates and data, read through the exporter's templates. The two protocols
//! differ only in what a [`Dialect`] holds: their set ids, whether field specifiers carry
//! IPFIX's enterprise bit, how an options template declares its fields, and whether a
//! template of no fields withdraws one (RFC 3954 section 5, RFC 7011 sections 3.3-3.4, 8.1).

use super::cursor::Cursor;
use super::templates::{Field, Space, Template, TemplateCache, TemplateKey};
use super::{DatagramInfo, FlowError, FlowRecord};
use std::net::IpAddr;

/// Data sets start at this id in both protocols; ids between the options template set and it
/// are reserved and skipped, as pktvisor does.
const MIN_DATA_SET: u16 = 256;

/// How an options template record gives its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OptionsHeader {
    /// NetFlow v9: scope and option lengths in bytes, 4 bytes per field specifier.
    ScopeAndOptionBytes,
    /// IPFIX: the total field count (as a template record), then the scope field count.
    FieldCountThenScopeCount,
}

/// What tells NetFlow v9 from IPFIX past their headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dialect {
    pub space: Space,
    /// Named in errors: "NetFlow v9 template", "IPFIX template".
    pub template_what: &'static str,
    pub template_set: u16,
    pub options_template_set: u16,
    pub options_header: OptionsHeader,
    /// IPFIX: a field specifier's top bit says a 4-byte enterprise number follows.
    pub enterprise_bit: bool,
    /// IPFIX: a (options) template record with a field count of 0 withdraws the template.
    pub withdrawals: bool,
}

pub(super) const NETFLOW_V9: Dialect = Dialect {
    space: Space::NetflowV9,
    template_what: "NetFlow v9 template",
    template_set: 0,
    options_template_set: 1,
    options_header: OptionsHeader::ScopeAndOptionBytes,
    enterprise_bit: false,
    withdrawals: false,
};

pub(super) const IPFIX: Dialect = Dialect {
    space: Space::Ipfix,
    template_what: "IPFIX template",
    template_set: 2,
    options_template_set: 3,
    options_header: OptionsHeader::FieldCountThenScopeCount,
    enterprise_bit: true,
    withdrawals: true,
};

const ENTERPRISE_BIT: u16 = 0x8000;

/// Walks the sets of one message body from `exporter` (observation domain / source id
/// `domain`): learns its templates into `cache`, appends flow records to `out` and counts
/// the rest in `info`.
pub(super) fn walk(
    d: &Dialect,
    body: Cursor<'_>,
    exporter: IpAddr,
    domain: u32,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    info: &mut DatagramInfo,
) -> Result<(), FlowError> {
    let key = |id| TemplateKey {
        exporter,
        domain,
        id,
        space: d.space,
    };
    sets(body, |id, body| {
        if id == d.template_set || id == d.options_template_set {
            let options = id == d.options_template_set;
            let mut b = Cursor::new(body);
            // A set may end in padding shorter than a record's header.
            while b.remaining() >= header_len(d, options) {
                let tid = b.u16("template id")?;
                let n = match (options, d.options_header) {
                    (true, OptionsHeader::ScopeAndOptionBytes) => {
                        let scope = usize::from(b.u16("option scope length")?);
                        let option = usize::from(b.u16("option length")?);
                        (scope + option) / 4
                    }
                    _ => usize::from(b.u16("template field count")?),
                };
                if n == 0 && d.withdrawals {
                    cache.remove(&key(tid));
                    continue;
                }
                if options && d.options_header == OptionsHeader::FieldCountThenScopeCount {
                    b.skip(2, "scope field count")?;
                }
                let fields = fields(d, &mut b, n)?;
                cache.insert(key(tid), Template { fields, options });
                info.templates += 1;
            }
        } else if id >= MIN_DATA_SET {
            match cache.get(&key(id)) {
                Some(t) => data_records(t, body, out, &mut info.other_records)?,
                None => info.no_template += 1,
            }
        }
        Ok(())
    })
}

/// The bytes before a (options) template record's field specifiers, up to its field count.
fn header_len(d: &Dialect, options: bool) -> usize {
    match (options, d.options_header) {
        (true, OptionsHeader::ScopeAndOptionBytes) => 6,
        _ => 4,
    }
}

fn fields(d: &Dialect, b: &mut Cursor<'_>, n: usize) -> Result<Vec<Field>, FlowError> {
    // Each field takes at least 4 bytes: a count beyond what is left is a lie, not an
    // allocation.
    if n * 4 > b.remaining() {
        return Err(FlowError::BadLength {
            what: d.template_what,
            value: n as u32,
        });
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let id = b.u16("field specifier")?;
        let len = b.u16("field length")?;
        let enterprise = d.enterprise_bit && id & ENTERPRISE_BIT != 0;
        if enterprise {
            b.skip(4, "enterprise number")?;
        }
        v.push(Field {
            element: if d.enterprise_bit {
                id & !ENTERPRISE_BIT
            } else {
                id
            },
            enterprise,
            len,
        });
    }
    Ok(v)
}

/// Reads the records of a data set body through `template` into `out` (flow templates) or
/// counts them in `other` (options templates). Bytes after the last whole record are padding
/// (RFC 3954 section 5.3, RFC 7011 section 3.3.1).
fn data_records(
    template: &Template,
    body: &[u8],
    out: &mut Vec<FlowRecord>,
    other: &mut usize,
) -> Result<(), FlowError> {
    let min = template.min_len();
    if min == 0 {
        // A template of zero-length fields would make endless empty records.
        return Err(FlowError::Invalid {
            what: "template record length",
            value: 0,
        });
    }
    let mut c = Cursor::new(body);
    while c.remaining() >= min {
        let r = template.read_record(&mut c)?;
        if template.options {
            *other += 1;
        } else {
            out.push(r);
        }
    }
    Ok(())
}

/// Splits a datagram's body into its sets (flowsets): `(id, body)` each, a set's length
/// counting its 4-byte header.
fn sets<'a>(
    mut c: Cursor<'a>,
    mut each: impl FnMut(u16, &'a [u8]) -> Result<(), FlowError>,
) -> Result<(), FlowError> {
    while !c.is_empty() {
        let id = c.u16("set id")?;
        let len = c.u16("set length")?;
        if len < 4 {
            return Err(FlowError::BadLength {
                what: "set",
                value: u32::from(len),
            });
        }
        let body = c.take(usize::from(len) - 4, "set")?;
        each(id, body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn run(d: &Dialect, body: &[u8], cache: &mut TemplateCache) -> (DatagramInfo, Vec<FlowRecord>) {
        let mut info = DatagramInfo::default();
        let mut out = Vec::new();
        walk(
            d,
            Cursor::new(body),
            EXPORTER,
            7,
            cache,
            &mut out,
            &mut info,
        )
        .unwrap();
        (info, out)
    }

    fn key(d: &Dialect, id: u16) -> TemplateKey {
        TemplateKey {
            exporter: EXPORTER,
            domain: 7,
            id,
            space: d.space,
        }
    }

    // RFC 3954 section 6.1 layout: an options template flowset (id 1), template 257 with a
    // 4-byte scope (one specifier: System, length 4) and 8 bytes of options (two specifiers:
    // SAMPLING_INTERVAL 34 len 4, SAMPLING_ALGORITHM 35 len 1), padded to 4 bytes; then a
    // data flowset 257 with one 9-byte record and 3 bytes of padding.
    #[test]
    fn netflow_v9_options_template_and_its_record() {
        let body = [
            0, 1, 0, 24, // flowset id 1, length 4 + 6 + 12 + 2 of padding
            1, 1, 0, 4, 0, 8, // template 257, scope length 4, option length 8
            0, 1, 0, 4, // scope: System, 4 bytes
            0, 34, 0, 4, 0, 35, 0, 1, // SAMPLING_INTERVAL/4, SAMPLING_ALGORITHM/1
            0, 0, // padding
            1, 1, 0, 16, // data flowset 257, length 16
            0, 0, 0, 9, 0, 0, 0, 100, 2, // System 9, interval 100, algorithm 2
            0, 0, 0, // padding
        ];
        let mut cache = TemplateCache::default();
        let (info, out) = run(&NETFLOW_V9, &body, &mut cache);
        assert_eq!(info.templates, 1);
        assert_eq!(info.other_records, 1, "an options record is not a flow");
        assert!(out.is_empty());
        let t = cache.get(&key(&NETFLOW_V9, 257)).unwrap();
        assert!(t.options);
        assert_eq!(t.fields.len(), 3);
        assert_eq!(t.min_len(), 9);
    }

    // RFC 7011 section 3.4.1: a template record with an enterprise-specific field specifier
    // (top bit set, then a 4-byte Private Enterprise Number); section 8.1: a template record
    // with a field count of 0 withdraws the template.
    #[test]
    fn ipfix_enterprise_fields_and_withdrawal() {
        let learn = [
            0, 2, 0, 24, // set id 2 (template), length 24
            1, 0, 0, 3, // template 256, 3 fields
            0, 8, 0, 4, // sourceIPv4Address, 4 bytes
            0x80, 7, 0, 2, 0, 0, 0x71, 0x48, // enterprise element 7 (PEN 29000), 2 bytes
            0, 2, 0, 8, // packetDeltaCount, 8 bytes
            1, 0, 0, 18, // data set 256, length 18: one 14-byte record
            198, 51, 100, 7, 0x1F, 0x90, 0, 0, 0, 0, 0, 0, 0, 5,
        ];
        let mut cache = TemplateCache::default();
        let (info, out) = run(&IPFIX, &learn, &mut cache);
        assert_eq!(info.templates, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].src, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(out[0].packets, 5);
        assert_eq!(
            out[0].src_port, 0,
            "enterprise element 7 is not sourceTransportPort"
        );
        let fields = &cache.get(&key(&IPFIX, 256)).unwrap().fields;
        assert_eq!(
            fields[1],
            Field {
                element: 7,
                enterprise: true,
                len: 2
            }
        );

        let withdraw = [0, 2, 0, 8, 1, 0, 0, 0];
        let (info, _) = run(&IPFIX, &withdraw, &mut cache);
        assert_eq!(info.templates, 0);
        assert!(cache.get(&key(&IPFIX, 256)).is_none());
        let (info, out) = run(&IPFIX, &learn[24..], &mut cache);
        assert_eq!((info.no_template, out.len()), (1, 0));
    }

    #[test]
    fn the_dialects_set_ids_are_their_own() {
        // NetFlow v9's template set id (0) is reserved in IPFIX, and IPFIX's (2) in v9:
        // each skips the other's, learning nothing.
        let v9_template = [0, 0, 0, 12, 1, 0, 0, 1, 0, 1, 0, 4];
        let mut cache = TemplateCache::default();
        assert_eq!(run(&IPFIX, &v9_template, &mut cache).0.templates, 0);
        assert_eq!(run(&NETFLOW_V9, &v9_template, &mut cache).0.templates, 1);
        let ipfix_template = [0, 2, 0, 12, 1, 0, 0, 1, 0, 1, 0, 4];
        let mut cache = TemplateCache::default();
        assert_eq!(run(&NETFLOW_V9, &ipfix_template, &mut cache).0.templates, 0);
        assert_eq!(run(&IPFIX, &ipfix_template, &mut cache).0.templates, 1);
    }

    #[test]
    fn a_field_count_beyond_the_set_is_an_error() {
        let lie = [0, 2, 0, 12, 1, 0, 0x10, 0, 0, 1, 0, 4];
        let mut info = DatagramInfo::default();
        let mut cache = TemplateCache::default();
        let r = walk(
            &IPFIX,
            Cursor::new(&lie),
            EXPORTER,
            7,
            &mut cache,
            &mut Vec::new(),
            &mut info,
        );
        assert_eq!(
            r,
            Err(FlowError::BadLength {
                what: "IPFIX template",
                value: 0x1000
            })
        );
    }
}
