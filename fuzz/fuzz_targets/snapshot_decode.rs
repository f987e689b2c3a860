//! Arbitrary bytes as a policy snapshot's binary form (what a hub receives from agents): the
//! decoder must refuse damage with an error, never panic or allocate beyond the input, and what
//! it accepts must encode again to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_pipeline::PolicySnapshot;

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = PolicySnapshot::decode(data) {
        let mut again = Vec::new();
        snapshot.encode(&mut again);
        let twice = PolicySnapshot::decode(&again).expect("an encoding decodes");
        let mut third = Vec::new();
        twice.encode(&mut third);
        assert_eq!(again, third);
    }
});
