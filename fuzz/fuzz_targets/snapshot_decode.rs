//! Arbitrary bytes as a policy snapshot's binary form (what a hub receives from agents): the
//! decoder must refuse damage with an error, never panic or allocate beyond the input, and
//! what it accepts must encode to bytes it accepts again. (Not to the same bytes: a sketch
//! rebuilt from hostile bytes may lay out its table differently from the one that was
//! encoded, with the same counts.)

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_pipeline::PolicySnapshot;

fuzz_target!(|data: &[u8]| {
    if let Ok(snapshot) = PolicySnapshot::decode(data) {
        let mut again = Vec::new();
        snapshot.encode(&mut again);
        let twice = PolicySnapshot::decode(&again).expect("our own encoding decodes");
        assert_eq!(twice.modules.len(), snapshot.modules.len());
        assert_eq!(twice.stats, snapshot.stats);
    }
});
