//! Arbitrary bytes as a capture file, through the whole summary path: the reader (pcap, pcapng,
//! gzip detection), the decoders, the handlers, the JSON, and the summary's binary form (it
//! must decode to the same JSON). Damage must come back as an error value; any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_capture::FileReader;
use pv_handlers::json::RenderMode;
use pv_handlers::{Boundaries, HostSpec, WindowSpec};
use pv_pipeline::{PolicyRun, PolicySnapshot, SummarizeOptions};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = FileReader::from_reader("fuzz", Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let opts = SummarizeOptions {
        host_spec: HostSpec::parse("0.0.0.0/1,::/1").expect("a valid host spec"),
        window: WindowSpec {
            period: Some(60),
            keep: 5,
            boundaries: Boundaries::FromStream,
        },
        ..SummarizeOptions::default()
    };
    let mut run = PolicyRun::command_line(&opts).expect("no BPF to compile");
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => run.packet(&p).expect("no BPF, so no BPF error"),
            Ok(None) => break,
            Err(e) => {
                run.damaged(e.to_string());
                break;
            }
        }
    }
    run.end_of_input();
    let (snapshot, renderer) = (run.snapshot(), run.renderer());
    let json = snapshot.v3_merged_json(&renderer, 5, RenderMode::PLAIN);
    assert!(json.is_object());
    let mut bytes = Vec::new();
    snapshot.encode(&mut bytes);
    let back = PolicySnapshot::decode(&bytes).expect("our own encoding decodes");
    assert_eq!(back.v3_merged_json(&renderer, 5, RenderMode::PLAIN), json);
});
