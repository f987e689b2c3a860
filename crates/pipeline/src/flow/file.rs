//! Flow datagrams from a capture file (`pcap_file`, `pktvisor summarize -i flow FILE`): every
//! UDP packet's payload is one datagram from the packet's source address, as pktvisor's
//! `FlowInputStream::_read_from_pcap_file` reads them. Packets that are not UDP, and UDP
//! payloads that are not flow datagrams, are counted as malformed and skipped.

use super::FlowDecoder;
use crate::error::PipelineError;
use crate::files::read::{open_capture, read_packets};
use crate::run::policy_run::PolicyRun;
use std::path::Path;

/// Feeds a capture file's flow datagrams to `run`. Returns the damage that ended reading
/// early, as [`read_packets`] does.
pub fn feed_flow_file(path: &Path, run: &mut PolicyRun) -> Result<Option<String>, PipelineError> {
    let mut reader = open_capture(path)?;
    let mut decoder = FlowDecoder::default();
    read_packets(&mut reader, &mut |_, _| {}, |p| {
        run.flow_packet(p, &mut decoder)
    })
}
