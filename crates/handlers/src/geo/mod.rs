//! GeoIP and ASN enrichment from MaxMind databases (pktvisor's `--geo-city` and `--geo-asn`).
//!
//! The strings are built exactly as pktvisor's `GeoDB.cpp` builds them:
//!
//! - location: `continent.code`, then `/` + `country.names.en` (or `/` + `country.iso_code` when
//!   the English name is absent), then `/` + `subdivisions[0].iso_code`, then `/` +
//!   `city.names.en`; each part only when present as a string. No part at all gives `""`, and a
//!   missing continent with a country present gives a leading `/` (pktvisor does the same).
//! - latitude/longitude: `location.latitude`/`location.longitude` when stored as doubles,
//!   printed as C's `std::to_string(double)` prints them (`%f`: six decimals, `"58.416700"`).
//! - ASN: `autonomous_system_number` (an unsigned/signed integer printed in decimal, or a
//!   string), then `/` + `autonomous_system_organization` when present (`"1221/Telstra Pty Ltd"`,
//!   `"1221"` without an organization, `""` when the record has neither).
//! - An address the database has no record for (or cannot look up, such as IPv6 in an IPv4-only
//!   database) is [`UNKNOWN`].
//!
//! [`GeoDbs`] is read-only and shared between threads; [`GeoCache`] is a small per-handler cache
//! in front of it (lookups cost microseconds, the packet path nanoseconds).

use maxminddb::{LookupResult, PathElement, Reader};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod cache;
mod hashed;
mod record;
#[cfg(test)]
mod tests;

pub use cache::{CACHE_SLOTS, GeoCache, RECORD_SLOTS};
pub use hashed::Hashed;
pub use record::c_to_string;
use record::*;

/// What pktvisor reports for an address the database has no record for.
pub const UNKNOWN: &str = "Unknown";

/// A city database answer: pktvisor's `visor::geo::City`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GeoLoc {
    /// `continent/country/subdivision/city`, or [`UNKNOWN`].
    pub location: String,
    /// `location.latitude` as `%f` prints it, when the record has one.
    pub lat: Option<String>,
    /// `location.longitude` as `%f` prints it, when the record has one.
    pub lon: Option<String>,
}

impl GeoLoc {
    /// The answer for an address that is not in the database.
    pub fn unknown() -> Self {
        Self {
            location: UNKNOWN.to_string(),
            lat: None,
            lon: None,
        }
    }
}

/// A database that could not be opened: the file and the reason.
#[derive(Debug)]
pub struct GeoError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for GeoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for GeoError {}

struct Db {
    path: PathBuf,
    reader: Reader<Vec<u8>>,
}

impl Db {
    fn open(path: &Path) -> Result<Self, GeoError> {
        let error = |reason: String| GeoError {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?;
        let reader = Reader::from_source(bytes)
            .map_err(|e| error(format!("not a MaxMind database: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
        })
    }

    /// The record for `ip`, or None when there is none (pktvisor: `!found_entry` or an error).
    #[inline]
    fn record(&self, ip: IpAddr) -> Option<LookupResult<'_, Vec<u8>>> {
        self.reader.lookup(ip).ok().filter(LookupResult::has_data)
    }
}

/// The optional city and ASN databases, opened once and shared read-only (`Arc<GeoDbs>`).
pub struct GeoDbs {
    city: Option<Db>,
    asn: Option<Db>,
}

impl fmt::Debug for GeoDbs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let describe = |db: &Option<Db>| {
            db.as_ref().map(|db| {
                format!(
                    "{} ({})",
                    db.path.display(),
                    db.reader.metadata().database_type
                )
            })
        };

        f.debug_struct("GeoDbs")
            .field("city", &describe(&self.city))
            .field("asn", &describe(&self.asn))
            .finish()
    }
}

impl GeoDbs {
    /// Opens the databases given (a GeoIP2/GeoLite2 City database, a GeoIP2 ISP or GeoLite2 ASN
    /// database). The whole file is read into memory.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Self, GeoError> {
        Ok(Self {
            city: city.map(Db::open).transpose()?,
            asn: asn.map(Db::open).transpose()?,
        })
    }

    pub fn has_city(&self) -> bool {
        self.city.is_some()
    }

    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// True when neither database is loaded.
    pub fn is_empty(&self) -> bool {
        self.city.is_none() && self.asn.is_none()
    }

    /// The `database_type` metadata of the city database (e.g. `GeoIP2-City`), if loaded.
    pub fn city_database_type(&self) -> Option<&str> {
        self.city
            .as_ref()
            .map(|db| db.reader.metadata().database_type.as_str())
    }

    /// The `database_type` metadata of the ASN database (e.g. `GeoLite2-ASN`), if loaded.
    pub fn asn_database_type(&self) -> Option<&str> {
        self.asn
            .as_ref()
            .map(|db| db.reader.metadata().database_type.as_str())
    }

    /// The location of `ip`; None when no city database is loaded.
    pub fn city(&self, ip: IpAddr) -> Option<GeoLoc> {
        let db = self.city.as_ref()?;
        Some(match db.record(ip) {
            Some(record) => geo_loc(&record),
            None => GeoLoc::unknown(),
        })
    }

    /// `ASN/Organization` of `ip`; None when no ASN database is loaded.
    pub fn asn(&self, ip: IpAddr) -> Option<String> {
        let db = self.asn.as_ref()?;
        Some(match db.record(ip) {
            Some(record) => asn_string(&record),
            None => UNKNOWN.to_string(),
        })
    }
}
