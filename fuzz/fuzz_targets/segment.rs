//! Arbitrary bytes as a stored index segment (`NAME.pvx`, what a query opens beside every
//! capture, perhaps damaged by a crash or a disk): every section and every packet list is
//! read; damage must come back as an error, never a panic or an allocation beyond the input.
//! Seeded with real segments of the fixtures.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_search::index::{Stored, decode_segment};

fuzz_target!(|data: &[u8]| {
    if let Ok(stored) = Stored::from_bytes(data.to_vec()) {
        let _ = stored.ts();
        let _ = stored.length();
        for name in stored.field_names() {
            if let Ok(Some(view)) = stored.field(&name) {
                for entry in view.entries() {
                    if let Ok(packets) = view.packets(entry) {
                        assert!(packets.iter().all(|&p| p < stored.packets));
                    }
                }
            }
        }
    }
    let _ = decode_segment(data);
});
