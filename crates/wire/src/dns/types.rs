//! Names of RR types and rcodes, spelled as pktvisor prints them.
//!
//! Types: the IANA "Resource Record (RR) TYPEs" registry (every assigned
//! type, meta-types and QTYPEs included), with the mnemonics pktvisor's
//! `QTypeNames` uses; 255 is "ANY" (pktvisor 4 prints "*", which
//! [`qtype_from_name`] also accepts). Rcodes: pktvisor's `RCodeNames`,
//! including its spelling "SRVFAIL" for 2 (the IANA mnemonic "SERVFAIL" is
//! accepted by [`rcode_from_name`]); 16 is "BADVERS" (it is also BADSIG, in
//! TSIG records only).

/// Defines the (type, mnemonic) table and [`qtype_name`] as a `match` over
/// it (a jump table, for the per-packet path) from one list.
macro_rules! qtypes {
    ($(($number:literal, $name:literal)),* $(,)?) => {
        /// (type, mnemonic) for every assigned RR type, by number.
        const QTYPES: &[(u16, &str)] = &[$(($number, $name)),*];

        /// The mnemonic of an RR type ("A", "AAAA", "RRSIG"...), None when
        /// the number is unassigned.
        #[inline]
        pub fn qtype_name(qtype: u16) -> Option<&'static str> {
            match qtype {
                $($number => Some($name),)*
                _ => None,
            }
        }
    };
}

qtypes![
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (40, "SINK"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (66, "DSYNC"),
    (67, "HHIT"),
    (68, "BRID"),
    (99, "SPF"),
    (100, "UINFO"),
    (101, "UID"),
    (102, "GID"),
    (103, "UNSPEC"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (128, "NXNAME"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
    (258, "AVC"),
    (259, "DOA"),
    (260, "AMTRELAY"),
    (261, "RESINFO"),
    (262, "WALLET"),
    (263, "CLA"),
    (264, "IPN"),
    (32768, "TA"),
    (32769, "DLV"),
];

/// (rcode, mnemonic) by number, for [`rcode_from_name`]; the first entry for
/// a number is what [`rcode_name`] gives.
const RCODES: &[(u16, &str)] = &[
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SRVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (7, "YXRRSET"),
    (8, "NXRRSET"),
    (9, "NOTAUTH"),
    (10, "NOTZONE"),
    (11, "DSOTYPENI"),
    (16, "BADVERS"),
    (16, "BADSIG"),
    (17, "BADKEY"),
    (18, "BADTIME"),
    (19, "BADMODE"),
    (20, "BADNAME"),
    (21, "BADALG"),
    (22, "BADTRUNC"),
    (23, "BADCOOKIE"),
];

/// Well-known numbers used by the parser and handlers.
pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_DS: u16 = 43;
pub const TYPE_RRSIG: u16 = 46;
pub const TYPE_NSEC: u16 = 47;
pub const TYPE_DNSKEY: u16 = 48;
pub const TYPE_NSEC3: u16 = 50;
pub const TYPE_HTTPS: u16 = 65;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;

pub const RCODE_NOERROR: u16 = 0;
pub const RCODE_FORMERR: u16 = 1;
pub const RCODE_SERVFAIL: u16 = 2;
pub const RCODE_NXDOMAIN: u16 = 3;
pub const RCODE_NOTIMP: u16 = 4;
pub const RCODE_REFUSED: u16 = 5;

/// The RR type of a mnemonic, case-insensitively. Also accepts "*" for ANY
/// and the generic `TYPE<number>` form of RFC 3597 ("TYPE65" is 65).
pub fn qtype_from_name(name: &str) -> Option<u16> {
    if name == "*" {
        return Some(TYPE_ANY);
    }
    if let Some(&(number, _)) = QTYPES
        .iter()
        .find(|(_, mnemonic)| mnemonic.eq_ignore_ascii_case(name))
    {
        return Some(number);
    }
    let prefix = name.get(..4)?;
    let digits = name.get(4..)?;
    if prefix.eq_ignore_ascii_case("TYPE") && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse().ok();
    }
    None
}

/// The mnemonic of an rcode (header rcode, or the 12-bit one with EDNS),
/// pktvisor's spelling: 2 is "SRVFAIL". None when unassigned.
#[inline]
pub fn rcode_name(rcode: u16) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SRVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return None,
    })
}

/// The rcode of a mnemonic, case-insensitively; "SERVFAIL" is accepted as
/// well as "SRVFAIL", and "BADSIG" as well as "BADVERS".
pub fn rcode_from_name(name: &str) -> Option<u16> {
    if name.eq_ignore_ascii_case("SERVFAIL") {
        return Some(RCODE_SERVFAIL);
    }
    RCODES
        .iter()
        .find(|(_, mnemonic)| mnemonic.eq_ignore_ascii_case(name))
        .map(|&(number, _)| number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(QTYPES.windows(2).all(|w| w[0].0 < w[1].0));
        for &(number, name) in QTYPES {
            assert_eq!(qtype_name(number), Some(name));
            assert_eq!(qtype_from_name(name), Some(number));
            assert_eq!(qtype_from_name(&name.to_lowercase()), Some(number));
        }
        let mut previous = None;
        for &(number, name) in RCODES {
            assert_eq!(rcode_from_name(name), Some(number));
            if previous != Some(number) {
                assert_eq!(rcode_name(number), Some(name));
            }
            previous = Some(number);
        }
    }

    #[test]
    fn pktvisor_spellings() {
        let expected = [
            (1, "A"),
            (28, "AAAA"),
            (5, "CNAME"),
            (15, "MX"),
            (16, "TXT"),
            (2, "NS"),
            (6, "SOA"),
            (12, "PTR"),
            (33, "SRV"),
            (35, "NAPTR"),
            (43, "DS"),
            (46, "RRSIG"),
            (47, "NSEC"),
            (48, "DNSKEY"),
            (50, "NSEC3"),
            (52, "TLSA"),
            (64, "SVCB"),
            (65, "HTTPS"),
            (99, "SPF"),
            (252, "AXFR"),
            (251, "IXFR"),
            (255, "ANY"),
            (257, "CAA"),
            (23, "NSAP-PTR"),
            (32769, "DLV"),
        ];
        for (number, name) in expected {
            assert_eq!(qtype_name(number), Some(name));
        }
        for unassigned in [0, 54, 69, 98, 110, 127, 129, 248, 265, 32767, 32770, 65535] {
            assert_eq!(qtype_name(unassigned), None, "{unassigned}");
        }
        assert_eq!(qtype_from_name("*"), Some(255));
        assert_eq!(qtype_from_name("any"), Some(255));
        assert_eq!(qtype_from_name("nsap-ptr"), Some(23));
        assert_eq!(qtype_from_name("TYPE65"), Some(65));
        assert_eq!(qtype_from_name("type65534"), Some(65534));
        for bad in ["", "TYPE", "TYPE65536", "TYPE+1", "TYPE-1", "AAAAA", "ä"] {
            assert_eq!(qtype_from_name(bad), None, "{bad}");
        }

        let rcodes = [
            (0, "NOERROR"),
            (1, "FORMERR"),
            (2, "SRVFAIL"),
            (3, "NXDOMAIN"),
            (4, "NOTIMP"),
            (5, "REFUSED"),
            (6, "YXDOMAIN"),
            (7, "YXRRSET"),
            (8, "NXRRSET"),
            (9, "NOTAUTH"),
            (10, "NOTZONE"),
            (11, "DSOTYPENI"),
            (16, "BADVERS"),
            (17, "BADKEY"),
            (18, "BADTIME"),
            (19, "BADMODE"),
            (20, "BADNAME"),
            (21, "BADALG"),
            (22, "BADTRUNC"),
            (23, "BADCOOKIE"),
        ];
        for (number, name) in rcodes {
            assert_eq!(rcode_name(number), Some(name));
        }
        for unassigned in [12, 13, 14, 15, 24, 4095, 65535] {
            assert_eq!(rcode_name(unassigned), None);
        }
        assert_eq!(rcode_from_name("servfail"), Some(2));
        assert_eq!(rcode_from_name("SrvFail"), Some(2));
        assert_eq!(rcode_from_name("badsig"), Some(16));
        assert_eq!(rcode_from_name("nope"), None);
    }
}
