//! Arbitrary text as a policy file and as a `POST /api/v1/policies` body (YAML or JSON — JSON
//! is YAML to the loader), through the validator and on to building every policy it accepts
//! for a live capture (handler settings, filters, host specs, windows). A bad policy must come
//! back as an error value with a message; any panic, hang or unbounded allocation is a bug
//! (the loader bounds alias expansion and nesting itself).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_pipeline::pv_policy::{self, PolicyFile};
use pv_pipeline::{LiveContext, PolicyRun, catalog};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = catalog();
    match pv_policy::parse_policy_str("fuzz", text, &catalog) {
        Ok(file) => {
            for policy in &file.policies {
                // Refusals (a tap count pktvisord cannot capture, a BPF libpcap refuses) are
                // fine; panics are not.
                let _ = PolicyRun::live(&file, policy, &LiveContext::default());
            }
        }
        Err(e) => assert!(!e.message().is_empty()),
    }
    if let Err(e) = pv_policy::parse_policy_request("fuzz", text, &PolicyFile::default(), &catalog)
    {
        assert!(!e.message().is_empty());
    }
});
