//! IANA service names for the flow handler's ports, as pktvisor 4 gives them with
//! `--iana-service-port-registry FILE` (src/IpPort.{h,cpp}: `set_csv_iana_ports`,
//! `get_service`; used in `FlowMetricsBucket::process_interface`, FlowStreamHandler.cpp).
//!
//! The file is IANA's "Service Name and Transport Protocol Port Number Registry" CSV, or one
//! shaped like it (pktvisor's own adds ranges such as `registered-10k,10000-19999`). Its
//! columns are found by their header names; rows without a name, without a port or for
//! another protocol than tcp/udp are skipped, as are rows whose port does not parse
//! (pktvisor skips the line on its parse exception); the first row for a port wins (pktvisor
//! inserts into a `std::map`, which keeps the first).
//!
//! Lookup, as `get_service`: ranges are kept by their last port; a port gets the name of the
//! first entry ending at or after it if that entry starts at or before it, else it stays a
//! number. UDP ports are looked up among udp rows, every other protocol among tcp rows.
//!
//! Like pktvisor's static maps, the registry is one per process, installed once at start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

/// Service names by transport, each keyed by the last port of its range.
#[derive(Clone, Debug, Default)]
pub struct PortRegistry {
    tcp: BTreeMap<u16, Entry>,
    udp: BTreeMap<u16, Entry>,
    /// Rows left out because a port did not parse.
    skipped: usize,
}

#[derive(Clone, Debug)]
struct Entry {
    name: Box<str>,
    first: u16,
}

/// Why a registry file was refused.
#[derive(Debug)]
pub enum RegistryError {
    Io(std::io::Error),
    /// The header lacks one of the three columns read.
    MissingColumn(&'static str),
    /// A quoted field is not closed by the end of the file.
    UnclosedQuote,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Io(e) => write!(f, "{e}"),
            RegistryError::MissingColumn(c) => write!(f, "no column named {c:?} in its header"),
            RegistryError::UnclosedQuote => f.write_str("a quoted field is not closed"),
        }
    }
}

impl std::error::Error for RegistryError {}

const SERVICE: &str = "Service Name";
const PORT: &str = "Port Number";
const PROTOCOL: &str = "Transport Protocol";

impl PortRegistry {
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read(path).map_err(RegistryError::Io)?;
        // IANA's file is UTF-8; a stray byte elsewhere must not refuse the names.
        Self::parse(&String::from_utf8_lossy(&text))
    }

    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let mut rows = records(text);
        let header = rows.next().transpose()?.unwrap_or_default();
        let col = |name: &'static str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or(RegistryError::MissingColumn(name))
        };
        let (service, port, protocol) = (col(SERVICE)?, col(PORT)?, col(PROTOCOL)?);
        let mut reg = PortRegistry::default();
        for row in rows {
            let row = row?;
            let field = |i: usize| row.get(i).map_or("", |s| s.as_str());
            let (name, ports, proto) = (field(service), field(port), field(protocol));
            let table = match proto {
                "tcp" => &mut reg.tcp,
                "udp" => &mut reg.udp,
                _ => continue,
            };
            if name.is_empty() || ports.is_empty() {
                continue;
            }
            let range = match ports.split_once('-') {
                Some((a, b)) => a.parse::<u16>().ok().zip(b.parse::<u16>().ok()),
                None => ports.parse::<u16>().ok().map(|p| (p, p)),
            };
            let Some((first, last)) = range else {
                reg.skipped += 1;
                continue;
            };
            table.entry(last).or_insert(Entry {
                name: name.into(),
                first,
            });
        }
        Ok(reg)
    }

    /// Ports and ranges known, over both transports.
    pub fn len(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows left out because their port did not parse.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The service name of `port` for IP protocol `protocol` (17: udp rows; else tcp rows).
    pub fn service(&self, port: u16, protocol: u8) -> Option<&str> {
        let table = if protocol == 17 { &self.udp } else { &self.tcp };
        let (last, e) = table.range(port..).next()?;
        (*last == port || port >= e.first).then_some(&*e.name)
    }
}

static INSTALLED: OnceLock<PortRegistry> = OnceLock::new();

/// Makes `registry` the process's (pktvisord's `--iana-service-port-registry`); false if one
/// was installed already (it stays).
pub fn install(registry: PortRegistry) -> bool {
    INSTALLED.set(registry).is_ok()
}

/// The process's registry, if pktvisord was given one.
pub fn installed() -> Option<&'static PortRegistry> {
    INSTALLED.get()
}

/// CSV records (RFC 4180): fields separated by commas, records by CRLF or LF, a quoted field
/// may hold commas, line breaks and doubled quotes (IANA's descriptions do).
fn records(text: &str) -> impl Iterator<Item = Result<Vec<String>, RegistryError>> + '_ {
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || {
        chars.peek()?;
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Some(Err(RegistryError::UnclosedQuote));
                }
                row.push(field);
                return Some(Ok(row));
            };
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') if chars.peek() == Some(&'\n') => {}
                (false, '\n') => {
                    row.push(field);
                    return Some(Ok(row));
                }
                (false, c) => field.push(c),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rows shaped like IANA's registry (its header; a description with a quoted comma and a
    // line break), pktvisor's custom ranges, and rows pktvisor skips.
    const CSV: &str = "Service Name,Port Number,Transport Protocol,Description\r\n\
        ,0,tcp,Reserved\r\n\
        domain,53,tcp,\"Domain Name Server, \"\"DNS\"\"\nsecond line\"\r\n\
        domain,53,udp,Domain Name Server\r\n\
        other,53,tcp,a later row for 53/tcp: the first stays\r\n\
        sctp-only,80,sctp,not tcp or udp\r\n\
        broken,8x,tcp,a port that does not parse\r\n\
        distinct,9999,udp,\r\n\
        registered-10k,10000-19999,tcp,Pktvisor custom defined\r\n\
        memcache,11211,tcp,a single port inside a later range\r\n";

    #[test]
    fn parses_quotes_ranges_and_skips_what_pktvisor_skips() {
        let r = PortRegistry::parse(CSV).unwrap();
        assert_eq!(r.service(53, 6), Some("domain"));
        assert_eq!(r.service(53, 17), Some("domain"));
        assert_eq!(r.service(0, 6), None, "no name");
        assert_eq!(r.service(80, 6), None, "sctp rows are not read");
        assert_eq!(r.skipped(), 1);
        assert_eq!(r.service(9999, 17), Some("distinct"));
        assert_eq!(r.service(9999, 6), None, "udp only");
        // ICMP and every other protocol use the tcp rows, as get_service's default.
        assert_eq!(r.service(53, 1), Some("domain"));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn ranges_by_their_last_port_as_get_service() {
        let r = PortRegistry::parse(CSV).unwrap();
        assert_eq!(r.service(11211, 6), Some("memcache"));
        assert_eq!(r.service(19999, 6), Some("registered-10k"));
        assert_eq!(r.service(20000, 6), None, "past every entry");
        // 10000 and 11000: the first entry ending at or after them is memcache
        // (11211..=11211), which starts after them, so pktvisor's lookup leaves them numbers.
        assert_eq!(r.service(10000, 6), None);
        assert_eq!(r.service(11000, 6), None);
        assert_eq!(r.service(12000, 6), Some("registered-10k"));
    }

    #[test]
    fn refuses_a_file_without_the_columns() {
        assert!(matches!(
            PortRegistry::parse("Name,Port\nx,1\n"),
            Err(RegistryError::MissingColumn(SERVICE))
        ));
        assert!(matches!(
            PortRegistry::parse("Service Name,Port Number,Transport Protocol\n\"x,1,tcp\n"),
            Err(RegistryError::UnclosedQuote)
        ));
    }

    /// pktvisor's own fixture and the values its test_ipport.cpp checks on it.
    #[test]
    fn pktvisor_fixture_as_its_test_ipport() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fixtures/pktvisor-port-service-names.csv");
        let r = PortRegistry::load(&path).unwrap();
        assert_eq!(r.service(53, 6), Some("domain"));
        assert_eq!(r.service(11000, 6), Some("registered-10k"));
        assert_eq!(r.service(25227, 17), Some("registered-20k"));
        // The names test_flows.cpp expects on its flows.
        assert_eq!(r.service(5001, 6), Some("commplex-link"));
        assert_eq!(r.service(60000, 17), Some("dynamic-client"));
    }
}
