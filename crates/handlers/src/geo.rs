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

/// A value of a MaxMind record, typed as libmaxminddb reports it (pktvisor checks the type of
/// every field it reads: strings only as UTF-8 strings, coordinates only as doubles).
enum Value<'a> {
    Str(Cow<'a, str>),
    Double(f64),
    U16(u16),
    I32(i32),
    U32(u32),
    U64(u64),
    /// Any other type (map, array, float, uint128, boolean, bytes).
    Other,
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MaxMind DB value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Double(v))
    }
    fn visit_u16<E: de::Error>(self, v: u16) -> Result<Self::Value, E> {
        Ok(Value::U16(v))
    }
    fn visit_i32<E: de::Error>(self, v: i32) -> Result<Self::Value, E> {
        Ok(Value::I32(v))
    }
    fn visit_u32<E: de::Error>(self, v: u32) -> Result<Self::Value, E> {
        Ok(Value::U32(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::U64(v))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }
    fn visit_f32<E: de::Error>(self, _: f32) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Other)
    }
}

/// The value at `path`; None when the path is absent or does not match the data (libmaxminddb's
/// `has_data == false`). Each call walks the record from its root: [`Fields`] reads all the
/// values a string needs in one pass instead, and this is the fallback when that pass fails.
#[inline]
fn get<'a>(record: &LookupResult<'a, Vec<u8>>, path: &[PathElement<'_>]) -> Option<Value<'a>> {
    record.decode_path(path).ok().flatten()
}

fn push_part(out: &mut String, value: Option<Value<'_>>, separator: bool) {
    if let Some(Value::Str(s)) = value {
        if separator {
            out.push('/');
        }
        out.push_str(&s);
    }
}

fn coordinate(value: Option<Value<'_>>) -> Option<String> {
    match value {
        Some(Value::Double(v)) => Some(c_to_string(v)),
        _ => None,
    }
}

fn geo_loc(record: &LookupResult<'_, Vec<u8>>) -> GeoLoc {
    match record.decode::<CityFields<'_>>() {
        Ok(Some(f)) => f.geo_loc(),
        _ => geo_loc_by_path(record),
    }
}

fn asn_string(record: &LookupResult<'_, Vec<u8>>) -> String {
    match record.decode::<AsnFields<'_>>() {
        Ok(Some(f)) => f.asn_string(),
        _ => asn_string_by_path(record),
    }
}

fn geo_loc_by_path(record: &LookupResult<'_, Vec<u8>>) -> GeoLoc {
    use PathElement::{Index, Key};
    let mut location = String::new();
    push_part(
        &mut location,
        get(record, &[Key("continent"), Key("code")]),
        false,
    );
    let country = get(record, &[Key("country"), Key("names"), Key("en")])
        .or_else(|| get(record, &[Key("country"), Key("iso_code")]));
    push_part(&mut location, country, true);
    push_part(
        &mut location,
        get(record, &[Key("subdivisions"), Index(0), Key("iso_code")]),
        true,
    );
    push_part(
        &mut location,
        get(record, &[Key("city"), Key("names"), Key("en")]),
        true,
    );
    GeoLoc {
        location,
        lat: coordinate(get(record, &[Key("location"), Key("latitude")])),
        lon: coordinate(get(record, &[Key("location"), Key("longitude")])),
    }
}

fn asn_string_by_path(record: &LookupResult<'_, Vec<u8>>) -> String {
    asn_from(
        get(record, &[PathElement::Key("autonomous_system_number")]),
        get(
            record,
            &[PathElement::Key("autonomous_system_organization")],
        ),
    )
}

fn asn_from(number: Option<Value<'_>>, organization: Option<Value<'_>>) -> String {
    let mut out = String::new();
    match number {
        Some(Value::U16(n)) => out.push_str(&n.to_string()),
        Some(Value::I32(n)) => out.push_str(&n.to_string()),
        Some(Value::U32(n)) => out.push_str(&n.to_string()),
        Some(Value::U64(n)) => out.push_str(&n.to_string()),
        Some(Value::Str(s)) => out.push_str(&s),
        _ => {}
    }
    push_part(&mut out, organization, true);
    out
}

/// The values pktvisor reads from a City record, collected in one pass over the record.
#[derive(Default)]
struct CityFields<'a> {
    continent_code: Option<Value<'a>>,
    country_name: Option<Value<'a>>,
    country_iso: Option<Value<'a>>,
    subdivision_iso: Option<Value<'a>>,
    city_name: Option<Value<'a>>,
    lat: Option<Value<'a>>,
    lon: Option<Value<'a>>,
}

impl CityFields<'_> {
    fn geo_loc(self) -> GeoLoc {
        let mut location = String::new();
        push_part(&mut location, self.continent_code, false);
        // The ISO code stands in only when there is no English name at all.
        push_part(&mut location, self.country_name.or(self.country_iso), true);
        push_part(&mut location, self.subdivision_iso, true);
        push_part(&mut location, self.city_name, true);
        GeoLoc {
            location,
            lat: coordinate(self.lat),
            lon: coordinate(self.lon),
        }
    }
}

impl<'de> Deserialize<'de> for CityFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut f = CityFields::default();
        {
            let mut continent = [("code", Fields::Value(&mut f.continent_code))];
            let mut names = [("en", Fields::Value(&mut f.country_name))];
            let mut country = [
                ("names", Fields::Map(&mut names)),
                ("iso_code", Fields::Value(&mut f.country_iso)),
            ];
            let mut subdivision = [("iso_code", Fields::Value(&mut f.subdivision_iso))];
            let mut subdivision = Fields::Map(&mut subdivision);
            let mut city_names = [("en", Fields::Value(&mut f.city_name))];
            let mut city = [("names", Fields::Map(&mut city_names))];
            let mut location = [
                ("latitude", Fields::Value(&mut f.lat)),
                ("longitude", Fields::Value(&mut f.lon)),
            ];
            let mut record = [
                ("continent", Fields::Map(&mut continent)),
                ("country", Fields::Map(&mut country)),
                ("subdivisions", Fields::First(&mut subdivision)),
                ("city", Fields::Map(&mut city)),
                ("location", Fields::Map(&mut location)),
            ];
            Fields::Map(&mut record).deserialize(d)?;
        }
        Ok(f)
    }
}

/// The two values of an ASN (GeoLite2-ASN, GeoIP2-ISP) record.
#[derive(Default)]
struct AsnFields<'a> {
    number: Option<Value<'a>>,
    organization: Option<Value<'a>>,
}

impl AsnFields<'_> {
    fn asn_string(self) -> String {
        asn_from(self.number, self.organization)
    }
}

impl<'de> Deserialize<'de> for AsnFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut f = AsnFields::default();
        {
            let mut record = [
                ("autonomous_system_number", Fields::Value(&mut f.number)),
                (
                    "autonomous_system_organization",
                    Fields::Value(&mut f.organization),
                ),
            ];
            Fields::Map(&mut record).deserialize(d)?;
        }
        Ok(f)
    }
}

/// Which values of a record to keep, as a tree of the paths that lead to them. Anything that does
/// not match (a missing key, a scalar where a map was expected) leaves the value None, as
/// libmaxminddb's `MMDB_get_value` then reports no data; of duplicate keys the first wins, as
/// there.
enum Fields<'o, 'a> {
    /// Keep this value.
    Value(&'o mut Option<Value<'a>>),
    /// A map: these keys lead on (at most [`MAX_KEYS`]).
    Map(&'o mut [(&'static str, Fields<'o, 'a>)]),
    /// An array: its first element leads on.
    First(&'o mut Fields<'o, 'a>),
}

const MAX_KEYS: usize = 8;

impl<'de> DeserializeSeed<'de> for &mut Fields<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self {
            Fields::Value(slot) => {
                let value = Value::deserialize(d)?;
                if slot.is_none() {
                    **slot = Some(value);
                }
                Ok(())
            }
            other => d.deserialize_any(FieldsVisitor(other)),
        }
    }
}

/// Map keys: the index of the wanted key they are, if any.
struct KeySeed<'k>(&'k [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| k.as_bytes() == v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        self.visit_bytes(v.as_bytes())
    }
}

struct FieldsVisitor<'f, 'o, 'a>(&'f mut Fields<'o, 'a>);

impl<'de> Visitor<'de> for FieldsVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MaxMind DB value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Fields::Map(fields) = self.0 else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut keys = [""; MAX_KEYS];
        let keys = &mut keys[..fields.len()];
        for (key, (name, _)) in keys.iter_mut().zip(fields.iter()) {
            *key = name;
        }
        while let Some(found) = map.next_key_seed(KeySeed(keys))? {
            match found {
                Some(i) => map.next_value_seed(&mut fields[i].1)?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Fields::First(first) = self.0
            && seq.next_element_seed(&mut **first)?.is_none()
        {
            return Ok(());
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    // A scalar where a map or an array was expected: the path does not match.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
}

/// A double as C++'s `std::to_string(double)` (`"%f"`) prints it: six decimals, rounded to
/// nearest (ties to even, as glibc does), `nan`/`inf` spelled the C way.
pub fn c_to_string(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_string()
    } else if v.is_infinite() {
        if v < 0.0 { "-inf" } else { "inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// A shared answer with its hash computed once, so that a top list counts it about as cheaply as
/// an integer (hashing the strings on every packet costs several times more). Equality and order
/// are those of the contents: equal answers from different lookups, threads or buckets are one
/// item.
pub struct Hashed<T: ?Sized> {
    hash: u64,
    value: Arc<T>,
}

impl<T: ?Sized + Hash> Hashed<T> {
    pub fn new(value: Arc<T>) -> Self {
        // SipHash with fixed keys: the same contents hash alike in every handler.
        let mut h = std::hash::DefaultHasher::new();
        value.hash(&mut h);
        Self {
            hash: h.finish(),
            value,
        }
    }
}

impl<T: ?Sized> Clone for Hashed<T> {
    fn clone(&self) -> Self {
        Self {
            hash: self.hash,
            value: Arc::clone(&self.value),
        }
    }
}

impl<T: ?Sized> Deref for Hashed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> Hash for Hashed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<T: ?Sized + PartialEq> PartialEq for Hashed<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.value, &other.value)
            || (self.hash == other.hash && *self.value == *other.value)
    }
}

impl<T: ?Sized + Eq> Eq for Hashed<T> {}

impl<T: ?Sized + Ord> PartialOrd for Hashed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: ?Sized + Ord> Ord for Hashed<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (*self.value).cmp(&*other.value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Hashed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// Locations travel as their texts; the hash is computed again on reading (fixed keys).
impl pv_sketch::codec::Encode for Hashed<GeoLoc> {
    fn encode(&self, out: &mut Vec<u8>) {
        use pv_sketch::codec::{put_bytes, put_u8};
        put_bytes(out, self.location.as_bytes());
        for part in [&self.lat, &self.lon] {
            match part {
                None => put_u8(out, 0),
                Some(text) => {
                    put_u8(out, 1);
                    put_bytes(out, text.as_bytes());
                }
            }
        }
    }
}

impl pv_sketch::codec::Decode for Hashed<GeoLoc> {
    fn decode(r: &mut pv_sketch::codec::Reader<'_>) -> Result<Self, pv_sketch::codec::DecodeError> {
        let location = r.str("geo location")?.to_owned();
        let mut part = || -> Result<Option<String>, pv_sketch::codec::DecodeError> {
            match r.u8("geo coordinate")? {
                0 => Ok(None),
                1 => Ok(Some(r.str("geo coordinate")?.to_owned())),
                tag => Err(pv_sketch::codec::DecodeError::BadTag {
                    what: "geo coordinate",
                    tag: u64::from(tag),
                }),
            }
        };
        let lat = part()?;
        let lon = part()?;
        Ok(Hashed::new(Arc::new(GeoLoc { location, lat, lon })))
    }
}

impl pv_sketch::codec::Encode for Hashed<str> {
    fn encode(&self, out: &mut Vec<u8>) {
        pv_sketch::codec::put_bytes(out, self.as_bytes());
    }
}

impl pv_sketch::codec::Decode for Hashed<str> {
    fn decode(r: &mut pv_sketch::codec::Reader<'_>) -> Result<Self, pv_sketch::codec::DecodeError> {
        Ok(Hashed::new(Arc::from(r.str("ASN")?)))
    }
}

/// Addresses remembered by a [`GeoCache`]; a power of two.
pub const CACHE_SLOTS: usize = 4096;
/// Decoded records remembered by a [`GeoCache`], per database; a power of two.
pub const RECORD_SLOTS: usize = 1024;

#[derive(Clone, Default)]
struct Slot {
    key: Option<IpAddr>,
    city: Option<Hashed<GeoLoc>>,
    asn: Option<Hashed<str>>,
}

type RecordSlot<T> = Option<(usize, Hashed<T>)>;

/// Answers by record: the many addresses of a network share one record of the database, found by
/// its offset in the data section.
struct Records<T: ?Sized> {
    /// (data-section offset, answer), by offset.
    slots: Box<[RecordSlot<T>]>,
    unknown: Hashed<T>,
}

impl<T: ?Sized + Hash> Records<T> {
    fn new(unknown: Hashed<T>) -> Self {
        Self {
            slots: vec![None; RECORD_SLOTS].into_boxed_slice(),
            unknown,
        }
    }

    /// The answer for `ip` in `db`: [`UNKNOWN`] without a record, else the record's answer,
    /// decoded by `decode` unless remembered.
    #[inline]
    fn answer(
        &mut self,
        db: &Db,
        ip: IpAddr,
        decode: impl FnOnce(&LookupResult<'_, Vec<u8>>) -> Arc<T>,
    ) -> Hashed<T> {
        let Some(record) = db.record(ip) else {
            return self.unknown.clone();
        };
        let Some(offset) = record.offset() else {
            return self.unknown.clone();
        };
        let slot = &mut self.slots[fib_index(offset as u64, RECORD_SLOTS)];
        match slot {
            Some((o, answer)) if *o == offset => answer.clone(),
            _ => {
                let answer = Hashed::new(decode(&record));
                *slot = Some((offset, answer.clone()));
                answer
            }
        }
    }
}

/// Fibonacci hashing: the top bits of the product pick one of `slots` (a power of two).
#[inline]
fn fib_index(key: u64, slots: usize) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - slots.trailing_zeros())) as usize
}

/// A per-handler cache in front of [`GeoDbs`], in two direct-mapped levels of fixed size: recent
/// addresses ([`CACHE_SLOTS`], a new address replacing whatever shared its slot) and recently
/// decoded records ([`RECORD_SLOTS`] per database, so that a new address in a known network costs
/// a tree walk but no decoding). Answers are shared with the top lists that count them
/// ([`Hashed`]); all addresses without a record share one [`UNKNOWN`] answer.
pub struct GeoCache {
    dbs: Arc<GeoDbs>,
    slots: Box<[Slot]>,
    city: Records<GeoLoc>,
    asn: Records<str>,
}

impl fmt::Debug for GeoCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoCache")
            .field("dbs", &self.dbs)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl GeoCache {
    pub fn new(dbs: Arc<GeoDbs>) -> Self {
        Self {
            dbs,
            slots: vec![Slot::default(); CACHE_SLOTS].into_boxed_slice(),
            city: Records::new(Hashed::new(Arc::new(GeoLoc::unknown()))),
            asn: Records::new(Hashed::new(Arc::from(UNKNOWN))),
        }
    }

    pub fn dbs(&self) -> &Arc<GeoDbs> {
        &self.dbs
    }

    #[inline]
    fn index(ip: IpAddr) -> usize {
        let folded = match ip {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let v = u128::from(a);
                (v as u64) ^ ((v >> 64) as u64).rotate_left(29) ^ 0x5bd1_e995
            }
        };
        fib_index(folded, CACHE_SLOTS)
    }

    /// The city and ASN answers for `ip` (None for a database that is not loaded); the same as
    /// [`GeoDbs::city`] and [`GeoDbs::asn`] give.
    #[inline]
    pub fn lookup(&mut self, ip: IpAddr) -> (Option<&Hashed<GeoLoc>>, Option<&Hashed<str>>) {
        let slot = &mut self.slots[Self::index(ip)];
        if slot.key != Some(ip) {
            slot.key = Some(ip);
            slot.city = self
                .dbs
                .city
                .as_ref()
                .map(|db| self.city.answer(db, ip, |record| Arc::new(geo_loc(record))));
            slot.asn = self.dbs.asn.as_ref().map(|db| {
                self.asn
                    .answer(db, ip, |record| Arc::from(asn_string(record)))
            });
        }
        (slot.city.as_ref(), slot.asn.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_style_doubles() {
        assert_eq!(c_to_string(58.4167), "58.416700");
        assert_eq!(c_to_string(-122.3149), "-122.314900");
        assert_eq!(c_to_string(100.0), "100.000000");
        assert_eq!(c_to_string(0.0), "0.000000");
        assert_eq!(c_to_string(-0.0), "-0.000000");
        assert_eq!(c_to_string(-1e-9), "-0.000000");
        // Exact binary ties round to even, as glibc's printf does.
        assert_eq!(c_to_string(0.0078125), "0.007812");
        assert_eq!(c_to_string(0.0234375), "0.023438");
        assert_eq!(c_to_string(f64::NAN), "nan");
        assert_eq!(c_to_string(f64::NEG_INFINITY), "-inf");
    }

    fn test_db(name: &str) -> Reader<Vec<u8>> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/geo")
            .join(name);
        Reader::open_readfile(path).unwrap()
    }

    #[test]
    fn one_pass_matches_path_lookups_on_every_record() {
        for (name, city) in [
            ("GeoIP2-City-Test.mmdb", true),
            ("GeoIP2-ISP-Test.mmdb", false),
        ] {
            let reader = test_db(name);
            let mut records = 0;
            for result in reader.networks(Default::default()).unwrap() {
                let record = result.unwrap();
                if !record.has_data() {
                    continue;
                }
                records += 1;
                // Both databases through both readers: a City reader on an ISP record (and the
                // other way round) must agree too.
                let fast = record
                    .decode::<CityFields<'_>>()
                    .unwrap()
                    .unwrap()
                    .geo_loc();
                assert_eq!(fast, geo_loc_by_path(&record));
                let fast = record.decode::<AsnFields<'_>>().unwrap().unwrap();
                assert_eq!(fast.asn_string(), asn_string_by_path(&record));
            }
            assert!(records > if city { 200 } else { 2000 }, "{name}: {records}");
        }
    }

    fn from_json(v: serde_json::Value) -> (GeoLoc, String) {
        let city = CityFields::deserialize(v.clone()).unwrap().geo_loc();
        let asn = AsnFields::deserialize(v).unwrap().asn_string();
        (city, asn)
    }

    #[test]
    fn odd_records_follow_libmaxminddb_paths() {
        use serde_json::json;
        let loc = |l: &str| GeoLoc {
            location: l.to_string(),
            lat: None,
            lon: None,
        };
        // No continent: the country still gets its separator.
        let (c, _) = from_json(json!({"country": {"names": {"en": "Sweden"}}}));
        assert_eq!(c, loc("/Sweden"));
        // No English name: the ISO code.
        let (c, _) = from_json(json!({"continent": {"code": "EU"},
            "country": {"iso_code": "SE", "names": {"de": "Schweden"}}}));
        assert_eq!(c, loc("EU/SE"));
        // An English name that is not a string: no country, and no fallback either.
        let (c, _) = from_json(json!({"continent": {"code": "EU"},
            "country": {"iso_code": "SE", "names": {"en": 7}}}));
        assert_eq!(c, loc("EU"));
        // Shapes that do not match the paths.
        let (c, _) = from_json(json!({"continent": "EU", "country": ["Sweden"],
            "subdivisions": {"iso_code": "E"}, "city": {"names": "Linköping"}}));
        assert_eq!(c, loc(""));
        // Only the first subdivision counts; an empty list is none.
        let (c, _) = from_json(json!({"subdivisions": [{"names": {}}, {"iso_code": "X"}],
            "city": {"names": {"en": "Town"}}}));
        assert_eq!(c, loc("/Town"));
        let (c, _) = from_json(json!({"subdivisions": [], "location": {"latitude": 1.5}}));
        assert_eq!(
            c,
            GeoLoc {
                location: String::new(),
                lat: Some("1.500000".into()),
                lon: None,
            }
        );
        // Coordinates only as doubles.
        let (c, _) = from_json(json!({"location": {"latitude": "1.5", "longitude": 2}}));
        assert_eq!((c.lat, c.lon), (None, None));
        // ASN: a string number, an organization alone, a number of an unsupported type.
        let (_, a) = from_json(json!({"autonomous_system_number": "AS1"}));
        assert_eq!(a, "AS1");
        let (_, a) = from_json(json!({"autonomous_system_organization": "Org"}));
        assert_eq!(a, "/Org");
        let (_, a) = from_json(json!({"autonomous_system_number": 1.5,
            "autonomous_system_organization": "Org"}));
        assert_eq!(a, "/Org");
        let (_, a) = from_json(json!({"autonomous_system_number": 4_200_000_000u64}));
        assert_eq!(a, "4200000000");
    }

    #[test]
    fn geo_dbs_are_shareable() {
        fn check<T: Send + Sync>() {}
        check::<GeoDbs>();
        check::<Arc<GeoDbs>>();
        check::<GeoLoc>();
        check::<GeoCache>();
    }

    #[test]
    fn cache_index_in_range_and_spread() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..1024u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let idx = GeoCache::index(ip);
            assert!(idx < CACHE_SLOTS);
            seen.insert(idx);
        }
        // Consecutive addresses land in distinct slots.
        assert_eq!(seen.len(), 1024);
    }

    #[test]
    fn answers_travel_and_hash_as_the_originals() {
        use pv_sketch::codec::{Decode, Encode, Reader};
        let with = Hashed::new(Arc::new(GeoLoc {
            location: "EU/Sweden/E/Linköping".into(),
            lat: Some("58.416700".into()),
            lon: None,
        }));
        let asn: Hashed<str> = Hashed::new(Arc::from("1221/Telstra Pty Ltd"));
        let mut bytes = Vec::new();
        with.encode(&mut bytes);
        asn.encode(&mut bytes);
        let mut r = Reader::new(&bytes);
        let (loc, name) = (
            Hashed::<GeoLoc>::decode(&mut r).expect("location"),
            Hashed::<str>::decode(&mut r).expect("asn"),
        );
        r.finish("end").expect("all read");
        assert!(loc == with && loc.hash == with.hash && *loc == *with);
        assert!(name == asn && name.hash == asn.hash);
        // A coordinate flag other than 0/1 is refused.
        let mut bad = Vec::new();
        with.encode(&mut bad);
        let flag = bad.len() - 1;
        bad[flag] = 7;
        assert!(Hashed::<GeoLoc>::decode(&mut Reader::new(&bad)).is_err());
    }
}
