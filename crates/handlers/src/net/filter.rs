//! The net handler's filters (pktvisor's `NetStreamHandler::_filtering`): keep only packets
//! whose remote address (the source of inbound packets, the destination of outbound ones)
//! has a location starting with one of `only_geoloc_prefix` (or is `Unknown` with
//! `geoloc_notfound`), and/or an ASN string starting with `N/` for one of `only_asn_number`
//! (or is `Unknown` with `asn_notfound`). As in pktvisor, a packet of unknown direction, or
//! any packet when the needed MaxMind database is not loaded, is filtered; a packet with no
//! IP layer passes. A filtered packet counts in `events` and `filtered` only.

use crate::event::{Direction, PacketEvent};
use crate::geo::{GeoCache, UNKNOWN};
use pv_wire::L3;
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetFilter {
    /// Location prefixes (`only_geoloc_prefix`, plus `Unknown` for `geoloc_notfound`).
    pub geoloc_prefix: Vec<String>,
    /// ASN string prefixes: `N/` for each `only_asn_number`, plus `Unknown` for
    /// `asn_notfound`.
    pub asn_prefix: Vec<String>,
}

impl NetFilter {
    pub fn is_active(&self) -> bool {
        !self.geoloc_prefix.is_empty() || !self.asn_prefix.is_empty()
    }

    /// True when the packet is filtered out. `geo` is None when no database is loaded.
    pub fn filters(&self, ev: &PacketEvent<'_>, geo: Option<&mut GeoCache>) -> bool {
        let d = ev.decoded;
        let remote: Option<IpAddr> = match (ev.dir, d.l3) {
            (_, L3::None) => None,
            (Direction::In, _) => Some(d.src),
            (Direction::Out, _) => Some(d.dst),
            (Direction::Unknown, _) => None,
        };
        let mut geo = geo;
        if !self.geoloc_prefix.is_empty() {
            let has_city = geo.as_ref().is_some_and(|g| g.dbs().has_city());
            if !has_city || ev.dir == Direction::Unknown {
                return true;
            }
            if let (Some(ip), Some(g)) = (remote, geo.as_deref_mut()) {
                let loc = g
                    .lookup(ip)
                    .0
                    .map(|l| l.location.as_str())
                    .unwrap_or(UNKNOWN);
                if !self
                    .geoloc_prefix
                    .iter()
                    .any(|p| loc.starts_with(p.as_str()))
                {
                    return true;
                }
            }
        }
        if !self.asn_prefix.is_empty() {
            let has_asn = geo.as_ref().is_some_and(|g| g.dbs().has_asn());
            if !has_asn || ev.dir == Direction::Unknown {
                return true;
            }
            if let (Some(ip), Some(g)) = (remote, geo) {
                let asn = g.lookup(ip).1.map(|a| &**a).unwrap_or(UNKNOWN);
                if !self.asn_prefix.iter().any(|p| asn.starts_with(p.as_str())) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{Direction, PacketEvent};
    use crate::geo::GeoDbs;
    use crate::net::settings::{SCHEMA, net_config};
    use crate::net::{NetConfig, NetHandler};
    use crate::windowed::Windowed;
    use pv_wire::{Decoded, L3, L4};
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn dbs() -> Arc<GeoDbs> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/geo");
        Arc::new(
            GeoDbs::open(
                Some(&dir.join("GeoIP2-City-Test.mmdb")),
                Some(&dir.join("GeoIP2-ISP-Test.mmdb")),
            )
            .unwrap(),
        )
    }

    /// The net module `n` of a policy with the given filter, through pv-policy and
    /// [`net_config`].
    fn config(filter: &str) -> NetConfig {
        let text = format!(
            "version: \"1.0\"\nvisor:\n  taps: {{t: {{input_type: pcap, config: {{iface: x}}}}}}\n  policies:\n    p:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      handlers:\n        modules:\n          n: {{type: net, filter: {filter}}}\n"
        );
        let catalog = pv_policy::Catalog::new(&["pcap"], &[SCHEMA]);
        let file = pv_policy::parse_policy_str("t.yaml", &text, &catalog).unwrap();
        net_config(&file.policies[0].modules[0]).unwrap()
    }

    /// (events, total, filtered) after one inbound packet from each remote address and one
    /// packet of unknown direction.
    fn run(filter: &str, geo: bool, remotes: &[&str]) -> (u64, u64, u64) {
        let mut cfg = config(filter);
        if geo {
            cfg.geo = Some(dbs());
        }
        let mut h = NetHandler::new(cfg, crate::WindowSpec::WHOLE_STREAM);
        let host: IpAddr = "192.168.0.10".parse().unwrap();
        let mut feed = |src: IpAddr, dir| {
            let d = Decoded {
                l3: if src.is_ipv4() { L3::Ipv4 } else { L3::Ipv6 },
                l4: L4::Udp,
                src,
                dst: host,
                ..Decoded::EMPTY
            };
            h.process(&PacketEvent {
                ts_ns: 1_000_000_000,
                cap_len: 100,
                decoded: &d,
                dir,
                deep: true,
            });
        };
        for r in remotes {
            feed(r.parse().unwrap(), Direction::In);
        }
        feed("89.160.20.112".parse().unwrap(), Direction::Unknown);
        let b = h.merged(1).unwrap().data;
        let c = b.counters();
        (c.events, c.total, c.filtered)
    }

    const REMOTES: [&str; 3] = ["89.160.20.112", "216.160.83.56", "10.1.2.3"];

    #[test]
    fn geo_filters_as_pktvisor() {
        // Sweden (AS29518) kept; the US address and the unknown direction filtered.
        assert_eq!(run("{only_geoloc_prefix: [EU]}", true, &REMOTES), (4, 1, 3));
        assert_eq!(
            run("{only_asn_number: [\"29518\"]}", true, &REMOTES),
            (4, 1, 3)
        );
        // Private space is not in the databases.
        assert_eq!(run("{geoloc_notfound: true}", true, &REMOTES), (4, 1, 3));
        assert_eq!(run("{asn_notfound: true}", true, &REMOTES), (4, 1, 3));
        // Both prefixes: either one matches.
        assert_eq!(
            run("{only_geoloc_prefix: [EU, NA]}", true, &REMOTES),
            (4, 2, 2)
        );
        // Without databases everything is filtered, as in pktvisor.
        assert_eq!(
            run("{only_geoloc_prefix: [EU]}", false, &REMOTES),
            (4, 0, 4)
        );
        // No filter: everything counts.
        assert_eq!(run("{}", false, &REMOTES), (4, 4, 0));
    }

    #[test]
    fn bad_asn_number() {
        let text = "version: \"1.0\"\nvisor:\n  taps: {t: {input_type: pcap, config: {iface: x}}}\n  policies:\n    p:\n      kind: collection\n      input: {tap: t, input_type: pcap}\n      handlers:\n        modules:\n          n: {type: net, filter: {only_asn_number: [AS1]}}\n";
        let catalog = pv_policy::Catalog::new(&["pcap"], &[SCHEMA]);
        let file = pv_policy::parse_policy_str("t.yaml", text, &catalog).unwrap();
        let e = net_config(&file.policies[0].modules[0]).unwrap_err();
        assert_eq!(
            e.message,
            "NetStreamHandler: only_asn_number filter contained an invalid/unsupported value: AS1"
        );
    }
}
