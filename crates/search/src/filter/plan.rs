//! Which packets of a segment can match a filter, from the index alone: a superset that the
//! filter then decides exactly, packet by packet. `pktvisor packets 'host X'` over a day of
//! recording reads one client's packets, not the day.
//!
//! The rule that keeps this exact: a part of the filter narrows only when every packet libpcap
//! could match is in the set — the index decodes the outermost IP header as libpcap does, and
//! what it did not decode (ARP, other link types, truncated headers) is always kept. Anything
//! not understood here (`len`, `tcp[13]`, host names, `ether`, `vlan`/`mpls`/`pppoes`, which
//! move libpcap's offsets for the rest of the expression) keeps every packet.
//!
//! | filter | candidates |
//! |---|---|
//! | `[ip\|ip6] [src\|dst] host A`, `src A`, `dst A` | `netsrc`/`netdst` = A, or not IP to the index |
//! | `[ip\|ip6] [src\|dst] net A/n` | an address of the field in A/n, or not IP |
//! | `[tcp\|udp] [src\|dst] port N` (N > 0) | `transsrc`/`transdst` = N, or neither TCP nor UDP to the index |
//! | `tcp`, `udp`, `icmp`, `icmp6` | every packet the index does not give another of the four (libpcap reads the protocol field, fragments too) |
//! | application fields | exactly what the filter reads: the index and the filter take them from one function (`index::packet_fields`) |

use super::{Build, Op, Parser, Tok, tokens};
use crate::error::SearchError;
use crate::index::{Damaged, Stored, WITHOUT, catalog};
use crate::pql::Bits;
use std::net::IpAddr;

/// The filter as the index can narrow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every packet (nothing to narrow by).
    All,
    /// An address in `fields` within `prefix` bits of `addr`.
    Addr {
        fields: &'static [&'static str],
        addr: IpAddr,
        prefix: u8,
    },
    Port {
        fields: &'static [&'static str],
        port: u16,
    },
    /// `transproto` is this (TCP, UDP, ICMP, ICMPv6).
    Proto(&'static str),
    App {
        field: &'static str,
        op: Op,
        value: String,
    },
    Not(Box<Plan>),
    And(Box<Plan>, Box<Plan>),
    Or(Box<Plan>, Box<Plan>),
}

const SRC: &[&str] = &["netsrc"];
const DST: &[&str] = &["netdst"];
const EITHER: &[&str] = &["netsrc", "netdst"];
const SPORT: &[&str] = &["transsrc"];
const DPORT: &[&str] = &["transdst"];
const PORTS: &[&str] = &["transsrc", "transdst"];
const PROTOS: [&str; 4] = ["TCP", "UDP", "ICMP", "ICMPv6"];

/// tcpdump words after which libpcap reads the rest of the expression at other offsets.
const SHIFTING: [&str; 6] = ["vlan", "mpls", "pppoes", "geneve", "vxlan", "ip6protochain"];

impl Plan {
    /// The plan of a filter that compiled (so its syntax is known good); `All` for anything
    /// it does not understand.
    pub(crate) fn of(text: &str) -> Plan {
        let Ok(toks) = tokens(text.trim()) else {
            return Plan::All;
        };
        if toks
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if SHIFTING.contains(&w.as_str())))
        {
            return Plan::All;
        }
        Parser::parse(text, toks, Plans).unwrap_or(Plan::All)
    }

    /// Whether a capture with this catalogue record can hold a packet that matches (false:
    /// certainly not, and its index need not be opened). Only what the record's Bloom filter
    /// answers narrows: one address (and no packet the index could not read as IP), an
    /// application field's value.
    pub(crate) fn may_match(&self, e: &catalog::Entry) -> bool {
        match self {
            Plan::Addr {
                fields,
                addr,
                prefix,
            } if usize::from(*prefix) == bits_of(addr) => {
                let text = addr.to_string();
                // ARP's addresses, and frames the index could not read, libpcap may match.
                fields.iter().any(|f| e.may_hold(f, &text))
                    || e.may_hold("netproto", "ARP")
                    || e.may_hold(WITHOUT, "netproto")
            }
            Plan::App {
                field,
                op: Op::Eq,
                value,
            } => e.may_hold(field, value),
            Plan::And(a, b) => a.may_match(e) && b.may_match(e),
            Plan::Or(a, b) => a.may_match(e) || b.may_match(e),
            _ => true,
        }
    }

    /// The packets of `seg` that can match; None for every packet.
    pub(crate) fn candidates(&self, seg: &Stored) -> Result<Option<Bits>, Damaged> {
        Ok(self.eval(seg)?.map(|(bits, _exact)| bits))
    }

    /// The set and whether it is exact (then its complement is exact too, and `not` narrows).
    fn eval(&self, seg: &Stored) -> Result<Option<(Bits, bool)>, Damaged> {
        let n = seg.packets;
        Ok(match self {
            Plan::All => None,
            Plan::Addr {
                fields,
                addr,
                prefix,
            } => {
                let mut b = Bits::none(n);
                for field in *fields {
                    let Some(view) = seg.field(field)? else {
                        continue;
                    };
                    if usize::from(*prefix) == bits_of(addr) {
                        if let Some(e) = view.get(&addr.to_string()) {
                            set_all(&mut b, &view.packets(e)?);
                        }
                    } else {
                        for e in view.entries() {
                            if view
                                .key(e)
                                .parse::<IpAddr>()
                                .is_ok_and(|a| in_prefix(&a, addr, *prefix))
                            {
                                set_all(&mut b, &view.packets(e)?);
                            }
                        }
                    }
                }
                // What the index did not read as IP, libpcap may (ARP's addresses, a link
                // type the index does not decode): every other netproto, and none.
                add_others(&mut b, seg, "netproto", &["IPv4", "IPv6"])?;
                Some((b, false))
            }
            Plan::Port { fields, port } => {
                let mut b = Bits::none(n);
                let value = port.to_string();
                for field in *fields {
                    if let Some(view) = seg.field(field)?
                        && let Some(e) = view.get(&value)
                    {
                        set_all(&mut b, &view.packets(e)?);
                    }
                }
                // SCTP's ports, and whatever the index did not read as TCP or UDP.
                add_others(&mut b, seg, "transproto", &["TCP", "UDP"])?;
                Some((b, false))
            }
            Plan::Proto(p) => {
                let others: Vec<&str> = PROTOS.iter().copied().filter(|o| o != p).collect();
                let mut b = Bits::none(n);
                add_others(&mut b, seg, "transproto", &others)?;
                Some((b, false))
            }
            Plan::App { field, op, value } => {
                let mut b = Bits::none(n);
                if let Some(view) = seg.field(field)? {
                    for e in view.entries() {
                        let key = view.key(e);
                        let hit = match op {
                            Op::Eq => key == value,
                            Op::Ne => key != value,
                            Op::Like if *field == "dns-qname" => key.ends_with(value.as_str()),
                            Op::Like => key.contains(value.as_str()),
                        };
                        if hit {
                            set_all(&mut b, &view.packets(e)?);
                        }
                    }
                }
                Some((b, true))
            }
            Plan::Not(inner) => match inner.eval(seg)? {
                Some((mut b, true)) => {
                    b.zip(&Bits::none(n), |a, _| !a);
                    b.trim(n);
                    Some((b, true))
                }
                _ => None,
            },
            Plan::And(a, b) => match (a.eval(seg)?, b.eval(seg)?) {
                (None, x) | (x, None) => x.map(|(bits, _)| (bits, false)),
                (Some((mut x, ex)), Some((y, ey))) => {
                    x.zip(&y, |p, q| p & q);
                    Some((x, ex && ey))
                }
            },
            Plan::Or(a, b) => match (a.eval(seg)?, b.eval(seg)?) {
                (Some((mut x, ex)), Some((y, ey))) => {
                    x.zip(&y, |p, q| p | q);
                    Some((x, ex && ey))
                }
                _ => None,
            },
        })
    }
}

fn bits_of(a: &IpAddr) -> usize {
    if a.is_ipv4() { 32 } else { 128 }
}

fn in_prefix(a: &IpAddr, net: &IpAddr, prefix: u8) -> bool {
    let keep = |bits: u32, total: u32| -> u128 {
        if bits == 0 {
            0
        } else {
            (!0u128) << (total - bits.min(total))
        }
    };
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let m = keep(u32::from(prefix), 32);
            (u128::from(u32::from(*a)) & m) == (u128::from(u32::from(*n)) & m)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let m = keep(u32::from(prefix), 128);
            (u128::from(*a) & m) == (u128::from(*n) & m)
        }
        _ => false,
    }
}

fn set_all(b: &mut Bits, packets: &[u32]) {
    for &p in packets {
        b.set(p);
    }
}

/// Adds to `b` the packets not having any of `values` in `field`: those with another value,
/// and those without one (the index lists them: `index::WITHOUT`). Only those lists are
/// decoded — for `host X` on a capture of IP, none.
fn add_others(b: &mut Bits, seg: &Stored, field: &str, values: &[&str]) -> Result<(), Damaged> {
    if let Some(view) = seg.field(field)? {
        for e in view.entries() {
            if !values.contains(&view.key(e)) {
                set_all(b, &view.packets(e)?);
            }
        }
    }
    if let Some(view) = seg.field(WITHOUT)?
        && let Some(e) = view.get(field)
    {
        set_all(b, &view.packets(e)?);
    }
    Ok(())
}

/// Plans from the filter's parser.
struct Plans;

impl Build for Plans {
    type Node = Plan;
    fn words(&mut self, words: &[String]) -> Result<Plan, SearchError> {
        Ok(primitive(
            &words.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
    }
    fn app(&mut self, field: &'static str, op: Op, value: String) -> Plan {
        Plan::App { field, op, value }
    }
    fn not(&mut self, n: Plan) -> Plan {
        Plan::Not(Box::new(n))
    }
    fn and(&mut self, a: Plan, b: Plan) -> Plan {
        Plan::And(Box::new(a), Box::new(b))
    }
    fn or(&mut self, a: Plan, b: Plan) -> Plan {
        Plan::Or(Box::new(a), Box::new(b))
    }
}

/// One of tcpdump's primitives (a run of words between connectives), `All` unless it is one
/// of those in the table above.
fn primitive(words: &[&str]) -> Plan {
    let mut w = words;
    // `ip`/`ip6` before an address primitive only narrow what libpcap matches.
    let mut family = None;
    if let [f @ ("ip" | "ip6"), rest @ ..] = w
        && !rest.is_empty()
    {
        family = Some(*f);
        w = rest;
    }
    let mut transport = None;
    if family.is_none()
        && let [t @ ("tcp" | "udp"), rest @ ..] = w
        && !rest.is_empty()
    {
        transport = Some(*t);
        w = rest;
    }
    let (dir, w) = match w {
        ["src", rest @ ..] => (Some("src"), rest),
        ["dst", rest @ ..] => (Some("dst"), rest),
        _ => (None, w),
    };
    let addr_fields = match dir {
        Some("src") => SRC,
        Some("dst") => DST,
        _ => EITHER,
    };
    let addr_of = |a: &str| {
        a.parse::<IpAddr>().ok().filter(|ip| match family {
            Some("ip") => ip.is_ipv4(),
            Some("ip6") => ip.is_ipv6(),
            _ => true,
        })
    };
    match (transport, w) {
        (None, ["host", a]) => addr_of(a).map_or(Plan::All, |addr| Plan::Addr {
            fields: addr_fields,
            prefix: bits_of(&addr) as u8,
            addr,
        }),
        // `src 10.0.0.1`: `host` implied.
        (None, [a]) if dir.is_some() => addr_of(a).map_or(Plan::All, |addr| Plan::Addr {
            fields: addr_fields,
            prefix: bits_of(&addr) as u8,
            addr,
        }),
        (None, ["net", n]) => {
            let (a, len) = n.split_once('/').unwrap_or((n, ""));
            match (addr_of(a), len) {
                (Some(addr), "") => Plan::Addr {
                    fields: addr_fields,
                    prefix: bits_of(&addr) as u8,
                    addr,
                },
                (Some(addr), len) => match len.parse::<u8>() {
                    Ok(p) if usize::from(p) <= bits_of(&addr) => Plan::Addr {
                        fields: addr_fields,
                        addr,
                        prefix: p,
                    },
                    _ => Plan::All,
                },
                _ => Plan::All,
            }
        }
        (_, ["port", n]) if family.is_none() => match n.parse::<u16>() {
            Ok(port) if port > 0 => Plan::Port {
                fields: match dir {
                    Some("src") => SPORT,
                    Some("dst") => DPORT,
                    _ => PORTS,
                },
                port,
            },
            _ => Plan::All,
        },
        (None, [p]) if dir.is_none() && family.is_none() => match *p {
            "tcp" => Plan::Proto("TCP"),
            "udp" => Plan::Proto("UDP"),
            "icmp" => Plan::Proto("ICMP"),
            "icmp6" => Plan::Proto("ICMPv6"),
            _ => Plan::All,
        },
        _ => Plan::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(fields: &'static [&'static str], a: &str, prefix: u8) -> Plan {
        Plan::Addr {
            fields,
            addr: a.parse().unwrap(),
            prefix,
        }
    }

    #[test]
    fn what_narrows_and_what_does_not() {
        assert_eq!(Plan::of("host 10.0.0.1"), addr(EITHER, "10.0.0.1", 32));
        assert_eq!(Plan::of("src 2001:db8::1"), addr(SRC, "2001:db8::1", 128));
        assert_eq!(Plan::of("ip dst host 10.0.0.1"), addr(DST, "10.0.0.1", 32));
        assert_eq!(Plan::of("net 10.0.0.0/8"), addr(EITHER, "10.0.0.0", 8));
        assert_eq!(
            Plan::of("udp dst port 53"),
            Plan::Port {
                fields: DPORT,
                port: 53
            }
        );
        assert_eq!(
            Plan::of("host 10.0.0.1 and not port 53"),
            Plan::And(
                Box::new(addr(EITHER, "10.0.0.1", 32)),
                Box::new(Plan::Not(Box::new(Plan::Port {
                    fields: PORTS,
                    port: 53
                })))
            )
        );
        // Not understood, or libpcap reads it otherwise: every packet.
        for f in [
            "host example.com",
            "ip6 host 10.0.0.1",
            "ether host 00:11:22:33:44:55",
            "vlan 10 and host 10.0.0.1",
            "mpls and host 10.0.0.1",
            "port 0",
            "port domain",
            "len > 100",
            "tcp[13] & 2 != 0",
            "arp host 10.0.0.1",
            "net 10.0.0.0/33",
        ] {
            assert_eq!(Plan::of(f), Plan::All, "{f}");
        }
        assert_eq!(
            Plan::of("dns.qname ~ \".Example\" or host 10.0.0.1"),
            Plan::Or(
                Box::new(Plan::App {
                    field: "dns-qname",
                    op: Op::Like,
                    value: ".example".into()
                }),
                Box::new(addr(EITHER, "10.0.0.1", 32))
            )
        );
    }

    #[test]
    fn prefixes() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_prefix(&a("10.1.2.3"), &a("10.0.0.0"), 8));
        assert!(!in_prefix(&a("11.1.2.3"), &a("10.0.0.0"), 8));
        assert!(in_prefix(&a("11.1.2.3"), &a("10.0.0.0"), 0));
        assert!(in_prefix(&a("2001:db8::5"), &a("2001:db8::"), 32));
        assert!(!in_prefix(&a("2001:db9::5"), &a("2001:db8::"), 32));
        assert!(!in_prefix(&a("10.1.2.3"), &a("2001:db8::"), 0));
    }
}
