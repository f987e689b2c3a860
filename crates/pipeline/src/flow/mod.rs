//! The flow input (pktvisor 4's `input_type: flow`, src/inputs/flow/FlowInputStream.cpp):
//! NetFlow v5/v9, IPFIX and sFlow v5 datagrams, from the UDP payloads of a capture file
//! (`pcap_file`, `pktvisor summarize -i flow FILE`: [`file`]) or a UDP listener (`bind` and
//! `port`: [`listen`]). Each datagram is decoded by [`FlowDecoder`] (one template cache per
//! input, so templates learnt from one datagram read the next ones) and its records fed through
//! [`PolicyRun::flow`](crate::PolicyRun::flow) to each module's
//! [`pv_handlers::Handler::flow_datagram`].
//!
//! pktvisor makes the tap choose between `flow_type: sflow` and `netflow`/`ipfix`; here every
//! datagram is told apart by its version field, and `flow_type` is accepted and checked only.

pub mod file;
pub mod listen;

use pv_wire::flow_export::{FlowError, FlowRecord, TemplateCache, decode_datagram};
use std::net::IpAddr;

/// Datagrams to records, with the templates of every exporter seen.
#[derive(Debug, Default)]
pub struct FlowDecoder {
    cache: TemplateCache,
    records: Vec<FlowRecord>,
}

/// One decoded datagram: the device it is counted under and its records.
pub struct Datagram<'a> {
    /// The sFlow agent address, else the sender's address (pktvisor's device id).
    pub device: IpAddr,
    pub records: &'a [FlowRecord],
}

impl FlowDecoder {
    /// Decodes a datagram sent by `sender`.
    pub fn decode(&mut self, payload: &[u8], sender: IpAddr) -> Result<Datagram<'_>, FlowError> {
        self.records.clear();
        let info = decode_datagram(payload, sender, &mut self.cache, &mut self.records)?;
        Ok(Datagram {
            device: info.agent.unwrap_or(sender),
            records: &self.records,
        })
    }

    /// Templates dropped to stay within the cache's cap.
    pub fn templates_evicted(&self) -> u64 {
        self.cache.evicted()
    }
}

/// pktvisor's `flow_type` values (`FlowInputStream::start`).
pub fn check_flow_type(flow_type: &str) -> Result<(), String> {
    match flow_type {
        "sflow" | "netflow" | "ipfix" => Ok(()),
        other => Err(format!(
            "invalid flow_type \"{other}\". Supported types: \"sflow\", \"netflow\" and \"ipfix\""
        )),
    }
}
