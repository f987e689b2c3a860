//! A small per-handler cache in front of the shared databases: a lookup costs microseconds,
//! the packet path nanoseconds.

use super::*;

/// Addresses remembered by a [`GeoCache`]; a power of two.
pub const CACHE_SLOTS: usize = 4096;
/// Decoded records remembered by a [`GeoCache`], per database; a power of two.
pub const RECORD_SLOTS: usize = 1024;

#[derive(Clone, Default)]
pub(super) struct Slot {
    key: Option<IpAddr>,
    city: Option<Hashed<GeoLoc>>,
    asn: Option<Hashed<str>>,
}

type RecordSlot<T> = Option<(usize, Hashed<T>)>;

/// Answers by record: the many addresses of a network share one record of the database, found by
/// its offset in the data section.
pub(super) struct Records<T: ?Sized> {
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
pub(super) fn fib_index(key: u64, slots: usize) -> usize {
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
    pub(super) fn index(ip: IpAddr) -> usize {
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
