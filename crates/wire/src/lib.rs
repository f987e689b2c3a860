//! Zero-copy, allocation-free decoding of captured frames.
//!
//! Each header has its own module with a checked view over the bytes (the
//! view only exists once the fixed part of the header is captured, so its
//! accessors cannot fail). [`decode`] chains the views into the summary every
//! consumer needs: link layer, outermost IP layer, transport ports and flags,
//! and the transport payload.
//!
//! Nothing here panics or allocates, whatever the input: every read goes
//! through `get`, `first_chunk` or slice patterns.

#![forbid(unsafe_code)]
// Decoding runs on hostile input: keep every panic path out of non-test code.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod civil_time;
pub mod dhcp;
pub mod dhcpv6;
pub mod dns;
pub mod dnstap;
pub mod ethernet;
pub mod flow;
pub mod flow_export;
pub mod http;
pub mod ipv4;
pub mod ipv6;
pub mod layers;
pub mod linktype;
pub mod mpls;
pub mod null;
pub mod pppoe;
pub mod sll;
pub mod sll2;
pub mod tcp;
pub mod tcp_stream;
#[cfg(test)]
mod testing;
pub mod time_text;
pub mod tls;
pub mod udp;
pub mod vlan;

pub use layers::{DecodeProblem, Decoded, Fragment, L3, L4, decode};
pub use linktype::LinkType;
