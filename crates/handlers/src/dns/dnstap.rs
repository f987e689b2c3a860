//! DNS messages that do not come from packets (the dnstap input): the dns handler's entry for
//! them, beside its packet path in `mod.rs`.

use super::*;

impl DnsHandler {
    /// One whole DNS message from an input that is not packets (dnstap: see
    /// [`crate::module::Handler::dns_message`]): no DNS port check and no reassembly; the
    /// message is counted as a UDP or TCP one by its event's transport. A message of another
    /// dnstap type family than the module's `dnstap_msg_type` is counted as filtered, as
    /// pktvisor's `DnsStreamHandler::process_dnstap_cb` does; false then.
    pub fn dns_message(&mut self, ev: &PacketEvent<'_>, family: &str) -> bool {
        if let Some(wanted) = &self.core.config.filters.dnstap_msg_type
            && wanted != family
        {
            self.core.advance(ev.ts_ns);
            self.core.window.current().filtered(ev.ts_ns);
            return false;
        }
        let d = ev.decoded;
        let transport = match d.l4 {
            L4::Tcp => Transport::Tcp,
            _ => Transport::Udp,
        };
        // The client's port, as for packets (pktvisor's `process_dnstap` takes the dnstap
        // `query_port`): the source of a query, the destination of a reply.
        let reply = d.l4_payload.get(2).is_some_and(|b| b & 0x80 != 0);
        let port = if reply { d.dst_port } else { d.src_port };
        let name = &mut self.name;
        self.core
            .message(ev, ev.ts_ns, d.l4_payload, transport, port, name);
        true
    }

    /// Whether a chain passes on a message given to [`DnsHandler::dns_message`].
    pub fn chain_keeps_message(&mut self, ev: &PacketEvent<'_>) -> bool {
        settings::filters_keep(
            &self.core.config,
            ev.decoded.l4_payload,
            self.core.geo.as_mut(),
        )
    }
}
