//! Reading the strings pktvisor builds out of a MaxMind record (see the module's documentation
//! for the rules), straight from the database's bytes.

use super::*;

/// A value of a MaxMind record, typed as libmaxminddb reports it (pktvisor checks the type of
/// every field it reads: strings only as UTF-8 strings, coordinates only as doubles).
pub(super) enum Value<'a> {
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

pub(super) struct ValueVisitor;

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
pub(super) fn get<'a>(
    record: &LookupResult<'a, Vec<u8>>,
    path: &[PathElement<'_>],
) -> Option<Value<'a>> {
    record.decode_path(path).ok().flatten()
}

pub(super) fn push_part(out: &mut String, value: Option<Value<'_>>, separator: bool) {
    if let Some(Value::Str(s)) = value {
        if separator {
            out.push('/');
        }
        out.push_str(&s);
    }
}

pub(super) fn coordinate(value: Option<Value<'_>>) -> Option<String> {
    match value {
        Some(Value::Double(v)) => Some(c_to_string(v)),
        _ => None,
    }
}

pub(super) fn geo_loc(record: &LookupResult<'_, Vec<u8>>) -> GeoLoc {
    match record.decode::<CityFields<'_>>() {
        Ok(Some(f)) => f.geo_loc(),
        _ => geo_loc_by_path(record),
    }
}

pub(super) fn asn_string(record: &LookupResult<'_, Vec<u8>>) -> String {
    match record.decode::<AsnFields<'_>>() {
        Ok(Some(f)) => f.asn_string(),
        _ => asn_string_by_path(record),
    }
}

pub(super) fn geo_loc_by_path(record: &LookupResult<'_, Vec<u8>>) -> GeoLoc {
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

pub(super) fn asn_string_by_path(record: &LookupResult<'_, Vec<u8>>) -> String {
    asn_from(
        get(record, &[PathElement::Key("autonomous_system_number")]),
        get(
            record,
            &[PathElement::Key("autonomous_system_organization")],
        ),
    )
}

pub(super) fn asn_from(number: Option<Value<'_>>, organization: Option<Value<'_>>) -> String {
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
pub(super) struct CityFields<'a> {
    continent_code: Option<Value<'a>>,
    country_name: Option<Value<'a>>,
    country_iso: Option<Value<'a>>,
    subdivision_iso: Option<Value<'a>>,
    city_name: Option<Value<'a>>,
    lat: Option<Value<'a>>,
    lon: Option<Value<'a>>,
}

impl CityFields<'_> {
    pub(super) fn geo_loc(self) -> GeoLoc {
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
pub(super) struct AsnFields<'a> {
    number: Option<Value<'a>>,
    organization: Option<Value<'a>>,
}

impl AsnFields<'_> {
    pub(super) fn asn_string(self) -> String {
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
pub(super) enum Fields<'o, 'a> {
    /// Keep this value.
    Value(&'o mut Option<Value<'a>>),
    /// A map: these keys lead on (at most [`MAX_KEYS`]).
    Map(&'o mut [(&'static str, Fields<'o, 'a>)]),
    /// An array: its first element leads on.
    First(&'o mut Fields<'o, 'a>),
}

pub(super) const MAX_KEYS: usize = 8;

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
pub(super) struct KeySeed<'k>(&'k [&'static str]);

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

pub(super) struct FieldsVisitor<'f, 'o, 'a>(&'f mut Fields<'o, 'a>);

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
