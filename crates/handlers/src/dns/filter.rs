//! The dns handler's filters (pktvisor's policy `filter` keys). A filtered message counts as
//! an event and in `filtered`, nothing else.
//!
//! `geoloc_notfound`/`asn_notfound` select the queries whose EDNS Client Subnet address the
//! MaxMind database does not know: as in pktvisor, everything else is filtered, replies and
//! queries without an ECS address included, and so is every message when the database is not
//! loaded.

use crate::geo::{GeoCache, UNKNOWN};
use pv_wire::dns::DnsMessage;

const NOERROR: u8 = 0;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsFilters {
    /// Drop messages whose rcode is NOERROR (queries included, as in pktvisor).
    pub exclude_noerror: bool,
    /// Keep only replies with one of these rcodes (empty: no filter). pktvisor keeps a list
    /// (`_f_rcodes`); numbers of 16 and more never match the 4-bit header rcode.
    pub only_rcode: Vec<u16>,
    pub only_queries: bool,
    pub only_responses: bool,
    /// Keep only replies with an RRSIG record in the answer section.
    pub only_dnssec_response: bool,
    /// Keep only messages with exactly this many answers (pktvisor's `uint64_t
    /// _f_answer_count`: more than 65 535 never matches).
    pub answer_count: Option<u64>,
    /// Keep only messages whose first question has one of these types.
    pub only_qtype: Vec<u16>,
    /// Keep only these names (lower case, exact).
    pub only_qname: Vec<String>,
    /// Keep only names ending with one of these (lower case); the matched suffix also shifts
    /// qname aggregation.
    pub only_qname_suffix: Vec<String>,
    /// Keep only queries whose ECS address has no City database record.
    pub geoloc_notfound: bool,
    /// Keep only queries whose ECS address has no ASN database record.
    pub asn_notfound: bool,
    /// Keep only dnstap messages of this type family (`client`, `resolver`, ...); messages
    /// from packets are not affected.
    pub dnstap_msg_type: Option<String>,
}

impl DnsFilters {
    /// Whether the filters need the MaxMind databases.
    pub fn needs_geo(&self) -> bool {
        self.geoloc_notfound || self.asn_notfound
    }

    /// None: filtered out. Some(suffix_len): kept, with the length of the matched
    /// `only_qname_suffix` entry (0 when that filter is off). `geo` is None when no MaxMind
    /// database is loaded.
    pub fn check(
        &self,
        msg: &DnsMessage<'_>,
        qname: Option<&str>,
        geo: Option<&mut GeoCache>,
    ) -> Option<usize> {
        let h = &msg.header;
        let keep = !(self.exclude_noerror && h.rcode == NOERROR)
            && (self.only_rcode.is_empty()
                || (h.qr && self.only_rcode.contains(&u16::from(h.rcode))))
            && !(self.only_queries && h.qr)
            && (!self.only_responses || h.qr)
            && (!self.only_dnssec_response || (h.qr && h.ancount > 0 && msg.has_rrsig_answer))
            && self.answer_count.is_none_or(|n| u64::from(h.ancount) == n)
            && (self.only_qtype.is_empty()
                || msg
                    .question
                    .as_ref()
                    .is_some_and(|q| self.only_qtype.contains(&q.qtype)))
            && (self.only_qname.is_empty()
                || qname.is_some_and(|n| self.only_qname.iter().any(|f| f == n)));
        if !keep || (self.needs_geo() && !self.ecs_not_found(msg, geo)) {
            return None;
        }
        if self.only_qname_suffix.is_empty() {
            return Some(0);
        }
        let name = qname?;
        self.only_qname_suffix
            .iter()
            .find(|s| name.ends_with(s.as_str()))
            .map(|s| s.len())
    }
}

impl DnsFilters {
    /// The `*_notfound` test: a query with a non-empty ECS address that each selected database
    /// is loaded for and answers `Unknown` for.
    fn ecs_not_found(&self, msg: &DnsMessage<'_>, geo: Option<&mut GeoCache>) -> bool {
        let Some(geo) = geo else {
            return false;
        };
        let ecs = match msg.edns.as_ref().and_then(|e| e.client_subnet.as_ref()) {
            Some(cs) if !msg.header.qr && cs.address_len > 0 => cs.address,
            _ => return false,
        };
        let (loc, asn) = geo.lookup(ecs);
        let city_ok = !self.geoloc_notfound || loc.is_some_and(|l| l.location == UNKNOWN);
        let asn_ok = !self.asn_notfound || asn.is_some_and(|a| &**a == UNKNOWN);
        city_ok && asn_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_wire::dns::parse;

    /// A real reply from the dnssec fixture would do; a hand-built NXDOMAIN reply for
    /// "www.example.com" A, no answers.
    fn reply(rcode: u8) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80 | rcode, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        m
    }

    #[test]
    fn filters_as_pktvisor() {
        let bytes = reply(3);
        let msg = parse(&bytes, true).unwrap();
        let name = Some("www.example.com");
        let f = |filters: DnsFilters| filters.check(&msg, name, None);
        assert_eq!(f(DnsFilters::default()), Some(0));
        assert_eq!(
            f(DnsFilters {
                only_rcode: vec![3],
                ..Default::default()
            }),
            Some(0)
        );
        assert_eq!(
            f(DnsFilters {
                only_rcode: vec![2],
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            f(DnsFilters {
                only_rcode: vec![2, 3],
                ..Default::default()
            }),
            Some(0)
        );
        assert_eq!(
            f(DnsFilters {
                only_queries: true,
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            f(DnsFilters {
                only_responses: true,
                ..Default::default()
            }),
            Some(0)
        );
        assert_eq!(
            f(DnsFilters {
                only_dnssec_response: true,
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            f(DnsFilters {
                answer_count: Some(0),
                ..Default::default()
            }),
            Some(0)
        );
        assert_eq!(
            f(DnsFilters {
                answer_count: Some(65_536),
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            f(DnsFilters {
                only_qtype: vec![28],
                ..Default::default()
            }),
            None
        );
        assert_eq!(
            f(DnsFilters {
                only_qtype: vec![1, 28],
                ..Default::default()
            }),
            Some(0)
        );
        let suffix = DnsFilters {
            only_qname_suffix: vec![".example.com".into()],
            ..Default::default()
        };
        assert_eq!(f(suffix), Some(12));
        let other = DnsFilters {
            only_qname: vec!["example.com".into()],
            ..Default::default()
        };
        assert_eq!(f(other), None);
        let noerror = reply(0);
        let msg = parse(&noerror, true).unwrap();
        let excl = DnsFilters {
            exclude_noerror: true,
            ..Default::default()
        };
        assert_eq!(excl.check(&msg, name, None), None);
    }
}
