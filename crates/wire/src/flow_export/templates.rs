//! NetFlow v9 and IPFIX templates: what a data record's fields are, learnt from template sets
//! and kept per exporter.
//!
//! pktvisor keeps one process-wide map keyed by (source id, template id)
//! (`nf9_template_map` in src/inputs/flow/NetflowData.h), so two exporters that use the same
//! source id and template id overwrite each other's templates. Here the key also holds the
//! exporter's address and the protocol (RFC 7011 section 8: templates are scoped by the
//! transport session and observation domain), and the cache is bounded: at its cap the
//! least recently used template goes, counted in [`TemplateCache::evicted`].

use super::FlowError;
use super::FlowRecord;
use super::cursor::{Cursor, uint_be};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Templates kept by default: a router exports a few dozen; 4096 leaves room for a hundred
/// exporters and bounds what a hostile sender can make us hold (about 1 MiB).
pub const DEFAULT_CAP: usize = 4096;

/// IPFIX's marker of a variable-length field (RFC 7011 section 7).
pub const VARIABLE_LEN: u16 = 0xFFFF;

/// One field of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The information element id (without IPFIX's enterprise bit).
    pub element: u16,
    /// An enterprise-specific element (IPFIX): never read as a standard one.
    pub enterprise: bool,
    /// Its length in bytes, or [`VARIABLE_LEN`].
    pub len: u16,
}

/// A template: its fields in order, and whether it is an options template (its records
/// describe the exporter, not flows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub fields: Vec<Field>,
    pub options: bool,
}

impl Template {
    /// The fewest bytes a record takes (a variable-length field takes at least 1).
    pub fn min_len(&self) -> usize {
        self.fields
            .iter()
            .map(|f| match f.len {
                VARIABLE_LEN => 1,
                n => usize::from(n),
            })
            .sum()
    }

    /// Reads one data record. The fields pktvisor reads (`nf9_rec_to_flow`,
    /// `nf10_rec_to_flow`) by their IANA element ids; the others are skipped.
    pub fn read_record(&self, c: &mut Cursor<'_>) -> Result<FlowRecord, FlowError> {
        let mut r = FlowRecord::EMPTY;
        for f in &self.fields {
            let len = match f.len {
                VARIABLE_LEN => match c.u8("variable-length field length")? {
                    255 => usize::from(c.u16("variable-length field long length")?),
                    n => usize::from(n),
                },
                n => usize::from(n),
            };
            let v = c.take(len, "data record field")?;
            if !f.enterprise {
                apply(&mut r, f.element, v);
            }
        }
        Ok(r)
    }
}

fn apply(r: &mut FlowRecord, element: u16, v: &[u8]) {
    let n = uint_be(v);
    match element {
        1 => r.bytes = n,
        2 => r.packets = n,
        4 => r.protocol = n as u8,
        5 => r.tos = Some(n as u8),
        7 => r.src_port = n as u16,
        11 => r.dst_port = n as u16,
        10 => r.if_in = Some(n as u32),
        14 => r.if_out = Some(n as u32),
        8 => r.src = v4(v).or(r.src),
        12 => r.dst = v4(v).or(r.dst),
        27 => r.src = v6(v).or(r.src),
        28 => r.dst = v6(v).or(r.dst),
        _ => {}
    }
}

fn v4(v: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = v.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(a)))
}

fn v6(v: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = v.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(a)))
}

/// Which protocol's template id space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Space {
    NetflowV9,
    Ipfix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    pub exporter: IpAddr,
    /// NetFlow v9 source id, IPFIX observation domain id.
    pub domain: u32,
    pub id: u16,
    pub space: Space,
}

/// The templates of every exporter, bounded.
#[derive(Clone, Debug)]
pub struct TemplateCache {
    map: HashMap<TemplateKey, (Template, u64)>,
    cap: usize,
    clock: u64,
    evicted: u64,
}

impl Default for TemplateCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAP)
    }
}

impl TemplateCache {
    pub fn new(cap: usize) -> Self {
        TemplateCache {
            map: HashMap::new(),
            cap: cap.max(1),
            clock: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Templates dropped to stay within the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Learns (or replaces) a template.
    pub fn insert(&mut self, key: TemplateKey, t: Template) {
        self.clock += 1;
        if !self.map.contains_key(&key) && self.map.len() >= self.cap {
            // The least recently used goes. A scan of the map, only when it is full: a
            // steady exporter never gets here.
            if let Some(old) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                self.map.remove(&old);
                self.evicted += 1;
            }
        }
        self.map.insert(key, (t, self.clock));
    }

    /// Forgets a template (an IPFIX withdrawal).
    pub fn remove(&mut self, key: &TemplateKey) {
        self.map.remove(key);
    }

    /// The template, marked as used.
    pub fn get(&mut self, key: &TemplateKey) -> Option<&Template> {
        self.clock += 1;
        let clock = self.clock;
        self.map.get_mut(key).map(|(t, used)| {
            *used = clock;
            &*t
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> TemplateKey {
        TemplateKey {
            exporter: IpAddr::V4(Ipv4Addr::LOCALHOST),
            domain: 1,
            id,
            space: Space::NetflowV9,
        }
    }

    fn t(n: u16) -> Template {
        Template {
            fields: vec![Field {
                element: 1,
                enterprise: false,
                len: n,
            }],
            options: false,
        }
    }

    #[test]
    fn cap_evicts_the_least_recently_used_and_counts_it() {
        let mut c = TemplateCache::new(2);
        c.insert(key(256), t(4));
        c.insert(key(257), t(4));
        assert!(c.get(&key(256)).is_some()); // 257 is now the oldest use
        c.insert(key(258), t(4));
        assert_eq!(c.len(), 2);
        assert_eq!(c.evicted(), 1);
        assert!(c.get(&key(257)).is_none());
        assert!(c.get(&key(256)).is_some());
        // Replacing a known template evicts nothing.
        c.insert(key(258), t(8));
        assert_eq!(c.evicted(), 1);
    }

    #[test]
    fn exporters_do_not_share_templates() {
        let mut c = TemplateCache::default();
        c.insert(key(256), t(4));
        let other = TemplateKey {
            exporter: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            ..key(256)
        };
        assert!(c.get(&other).is_none());
    }

    #[test]
    fn record_fields_by_element() {
        let tpl = Template {
            fields: vec![
                Field {
                    element: 8,
                    enterprise: false,
                    len: 4,
                },
                Field {
                    element: 1,
                    enterprise: false,
                    len: 8,
                },
                Field {
                    element: 7,
                    enterprise: true,
                    len: 2,
                },
                Field {
                    element: 82,
                    enterprise: false,
                    len: VARIABLE_LEN,
                },
                Field {
                    element: 4,
                    enterprise: false,
                    len: 1,
                },
            ],
            options: false,
        };
        assert_eq!(tpl.min_len(), 16);
        let bytes = [
            192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 1, 0, 0x1F, 0x90, 3, b'e', b't', b'h', 17,
        ];
        let mut c = Cursor::new(&bytes);
        let r = tpl.read_record(&mut c).unwrap();
        assert!(c.is_empty());
        assert_eq!(r.src, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(r.bytes, 256);
        assert_eq!(r.src_port, 0, "an enterprise element is not srcPort");
        assert_eq!(r.protocol, 17);
        let mut short = Cursor::new(&bytes[..15]);
        assert!(tpl.read_record(&mut short).is_err());
    }
}
