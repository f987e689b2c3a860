//! pv_wire's dnstap reader on arbitrary bytes: a Frame Streams byte stream split into frames
//! (a small data limit, so that the refusal runs too), control frames read as the handshake
//! reads them, data frames decoded as dnstap messages with their DNS message and times. Any
//! panic is a bug (the bytes come from whoever connects to the socket).

#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;
use pv_wire::dnstap::{ControlFrame, Dnstap, Frame, next_frame};

fuzz_target!(|data: &[u8]| {
    // The whole input as one frame's payload too (the seeds are fixture.dnstap's frames).
    if let Ok(d) = Dnstap::parse(data) {
        black_box((d.message.dns_message(), d.message.time_ns()));
    }
    let mut rest = data;
    while let Ok(Some((frame, used))) = next_frame(rest, 4096) {
        match frame {
            Frame::Control(payload) => {
                if let Ok(c) = ControlFrame::parse(payload) {
                    black_box(c.accepts_dnstap());
                    for t in c.content_types() {
                        black_box(t.ok());
                    }
                }
            }
            Frame::Data(payload) => {
                if let Ok(d) = Dnstap::parse(payload) {
                    black_box((d.message.dns_message(), d.message.time_ns(), d.identity));
                }
            }
        }
        if used == 0 || used > rest.len() {
            break;
        }
        rest = &rest[used..];
    }
});
