//! A value with its hash computed once, for the top lists that key on locations and ASNs.

use super::*;

/// A shared answer with its hash computed once, so that a top list counts it about as cheaply as
/// an integer (hashing the strings on every packet costs several times more). Equality and order
/// are those of the contents: equal answers from different lookups, threads or buckets are one
/// item.
pub struct Hashed<T: ?Sized> {
    pub(super) hash: u64,
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
