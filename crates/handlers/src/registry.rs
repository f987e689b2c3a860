//! Every handler type this build runs: one line per handler. Policies name them by
//! `type`; nothing else in the workspace lists them.

use crate::module::HandlerKind;

pub static HANDLERS: &[HandlerKind] = &[
    crate::net::kind::KIND,
    crate::dns::kind::KIND,
    crate::dhcp::kind::KIND,
    crate::pcap::kind::KIND,
    crate::flow::kind::KIND,
];

/// The handler type a policy module names.
pub fn find(type_name: &str) -> Option<&'static HandlerKind> {
    HANDLERS.iter().find(|k| k.type_name() == type_name)
}
