//! The flow handler's filters (pktvisor's `FlowStreamHandler::_filtering`): `only_ips` (the
//! record's source or destination in one of the CIDRs), `only_ports` (its source or
//! destination port in one of the ports or ranges), `only_directions` (`in`/`out`: the other
//! direction's interface is dropped from the record; a record left with neither is filtered).
//! A filtered record counts in its device's `records_filtered` only.

use crate::hostspec::HostSpec;
use pv_wire::flow_export::FlowRecord;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowFilter {
    pub only_ips: Option<HostSpec>,
    /// Inclusive port ranges.
    pub only_ports: Vec<(u16, u16)>,
    pub disable_in: bool,
    pub disable_out: bool,
}

impl FlowFilter {
    /// The record's interfaces as counted (`(in, out)`), or None when it is filtered.
    pub fn apply(&self, r: &FlowRecord) -> Option<(Option<u32>, Option<u32>)> {
        if let Some(spec) = &self.only_ips {
            let hit = |ip: Option<std::net::IpAddr>| ip.is_some_and(|ip| spec.contains(&ip));
            if !hit(r.src) && !hit(r.dst) {
                return None;
            }
        }
        if !self.only_ports.is_empty() {
            let hit = |p: u16| self.only_ports.iter().any(|&(lo, hi)| lo <= p && p <= hi);
            if !hit(r.src_port) && !hit(r.dst_port) {
                return None;
            }
        }
        if self.disable_in && self.disable_out {
            return None;
        }
        let if_in = if self.disable_in { None } else { r.if_in };
        let if_out = if self.disable_out { None } else { r.if_out };
        Some((if_in, if_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(src: &str, sport: u16) -> FlowRecord {
        FlowRecord {
            src: Some(src.parse().unwrap()),
            dst: Some("192.0.2.9".parse().unwrap()),
            src_port: sport,
            dst_port: 443,
            if_in: Some(1),
            if_out: Some(2),
            ..FlowRecord::EMPTY
        }
    }

    #[test]
    fn ips_ports_and_directions() {
        let f = FlowFilter {
            only_ips: Some(HostSpec::parse("10.4.3.0/24").unwrap()),
            ..FlowFilter::default()
        };
        assert!(f.apply(&rec("10.4.3.2", 1)).is_some());
        assert!(f.apply(&rec("10.4.4.2", 1)).is_none());
        let f = FlowFilter {
            only_ports: vec![(40265, 40265), (40400, 40500)],
            ..FlowFilter::default()
        };
        assert!(f.apply(&rec("10.0.0.1", 40450)).is_some());
        assert!(f.apply(&rec("10.0.0.1", 40300)).is_none());
        let f = FlowFilter {
            disable_out: true,
            ..FlowFilter::default()
        };
        assert_eq!(f.apply(&rec("10.0.0.1", 1)), Some((Some(1), None)));
    }
}
