//! Arbitrary bytes as a capture file, through the whole summary path: the reader (pcap, pcapng,
//! gzip detection), the decoders, the net handler and the JSON. Damage must come back as an
//! error value; any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pv_capture::FileReader;
use pv_handlers::HostSpec;
use pv_pipeline::{SummarizeOptions, Summarizer};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = FileReader::from_reader("fuzz", Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let opts = SummarizeOptions {
        host_spec: HostSpec::parse("0.0.0.0/1,::/1").expect("a valid host spec"),
        period: Some(60),
        ..SummarizeOptions::default()
    };
    let mut summarizer = Summarizer::new(&opts).expect("no BPF to compile");
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => summarizer.packet(&p).expect("no BPF, so no BPF error"),
            Ok(None) => break,
            Err(e) => {
                summarizer.damaged(e.to_string());
                break;
            }
        }
    }
    let json = summarizer.finish().to_json();
    assert!(json.is_object());
});
