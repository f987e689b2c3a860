//! [`PolicyRun`]: one policy over one packet stream — its input filter (BPF, in user space),
//! host spec, handler modules (independent, or a chain) and the stream's clock. The command
//! line's summary, a policy file read from captures, and every policy of the live agent (one
//! copy per worker, each seeing its shard of the packets) are all this.

use super::clock::StreamClock;
use super::dnstap;
use super::intake::{Intake, SharedDecode};
use super::module_run::ModuleRun;
use crate::error::PipelineError;
use crate::flow::FlowDecoder;
use pv_capture::{BpfError, BpfSet, Packet};
use pv_handlers::{FlowEvent, HostSpec, PacketEvent};
use pv_summary::{CaptureStats, PolicyRenderer, PolicySnapshot};
use pv_wire::flow_export::FlowRecord;
use pv_wire::{L4, LinkType};
use std::net::IpAddr;

/// What a live policy reads, as its configuration gives it (the policy's info shows it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveInput {
    pub tap: String,
    /// `host_spec` as given ("" when none).
    pub host_spec: String,
    /// The BPF expression applied in user space ("" when none).
    pub bpf: String,
}

pub struct PolicyRun {
    name: String,
    input: LiveInput,
    chained: bool,
    bpf: Option<BpfSet>,
    host_spec: HostSpec,
    modules: Vec<ModuleRun>,
    intake: Intake,
    clock: StreamClock,
    /// Whether the policy reads a dnstap tap (its messages, not packets).
    dnstap_input: bool,
    /// A dnstap input's `only_hosts` (None: every message).
    only_hosts: Option<HostSpec>,
    /// Whether the policy reads a flow tap (its datagrams, not packets).
    flow_input: bool,
}

impl PolicyRun {
    pub(crate) fn new(
        name: String,
        input: LiveInput,
        chained: bool,
        bpf: Option<BpfSet>,
        host_spec: HostSpec,
        modules: Vec<ModuleRun>,
    ) -> PolicyRun {
        PolicyRun {
            name,
            input,
            chained,
            bpf,
            host_spec,
            modules,
            intake: Intake::default(),
            clock: StreamClock::default(),
            dnstap_input: false,
            only_hosts: None,
            flow_input: false,
        }
    }

    /// Makes the policy one of a dnstap tap, with its `only_hosts` filter.
    pub(crate) fn set_dnstap_input(&mut self, only_hosts: Option<HostSpec>) {
        self.dnstap_input = true;
        self.only_hosts = only_hosts;
    }

    /// Whether the policy reads a dnstap tap: a live agent hands it that tap's messages
    /// ([`PolicyRun::dnstap`]) and none of the captured packets.
    pub fn reads_dnstap(&self) -> bool {
        self.dnstap_input
    }

    /// Processes one dnstap message: counted as read; dropped (counted with the filter's
    /// rejections) when `only_hosts` refuses it; counted as malformed when it carries no DNS
    /// message; else the stream's clock moves to its time and every module that reads DNS
    /// messages gets it.
    pub fn dnstap(&mut self, m: &pv_wire::dnstap::Message<'_>) {
        let stats = &mut self.intake.stats;
        stats.packets_read += 1;
        if let Some(spec) = &self.only_hosts
            && !dnstap::only_hosts_keeps(spec, m)
        {
            stats.bpf_rejected += 1;
            return;
        }
        let Some(decoded) = dnstap::decoded(m) else {
            stats.malformed += 1;
            return;
        };
        let ts_ns = dnstap::time_ns(m);
        if stats.first_ts_ns.is_none() {
            stats.first_ts_ns = Some(ts_ns);
        }
        stats.last_ts_ns = Some(stats.last_ts_ns.map_or(ts_ns, |l| l.max(ts_ns)));
        self.clock.packet(ts_ns, &mut self.modules);
        let ev = PacketEvent {
            ts_ns,
            cap_len: decoded.l4_payload.len() as u32,
            decoded: &decoded,
            dir: dnstap::direction(m),
            deep: true,
        };
        for module in self.modules.iter_mut() {
            if !module.dns_message(&ev, m.kind.family(), self.chained) && self.chained {
                break;
            }
        }
    }

    /// One packet of a flow input's capture file: counted and filtered as a packet (the
    /// policy's BPF sees the packet that carried the datagram), then its UDP payload decoded
    /// as one flow datagram from its source address. A packet that is not UDP, or whose
    /// payload is not a flow datagram, is counted as malformed and skipped.
    pub fn flow_packet(
        &mut self,
        p: &Packet<'_>,
        decoder: &mut FlowDecoder,
    ) -> Result<(), PipelineError> {
        if !self.admit(p)? {
            return Ok(());
        }
        let Some(link) = LinkType::from_linktype(p.linktype) else {
            self.intake.stats.unsupported_link_type += 1;
            return Ok(());
        };
        if !self.intake.stats.link_types.contains(&p.linktype) {
            self.intake.stats.link_types.push(p.linktype);
        }
        let d = pv_wire::decode(link, p.data);
        if d.l4 != L4::Udp {
            self.intake.stats.malformed += 1;
            return Ok(());
        }
        match decoder.decode(d.l4_payload, d.src) {
            Ok(dg) => self.flow(p.ts_ns, dg.device, dg.records),
            Err(_) => self.intake.stats.malformed += 1,
        }
        Ok(())
    }

    /// One datagram a flow listener received from `sender` at `ts_ns`: counted as read, then
    /// decoded and fed, or counted as malformed.
    pub fn flow_received(
        &mut self,
        ts_ns: u64,
        sender: IpAddr,
        payload: &[u8],
        decoder: &mut FlowDecoder,
    ) {
        self.intake.stats.packets_read += 1;
        match decoder.decode(payload, sender) {
            Ok(dg) => self.flow(ts_ns, dg.device, dg.records),
            Err(_) => self.intake.stats.malformed += 1,
        }
    }

    /// One decoded flow datagram: the stream's clock moves to its time and every module that
    /// reads flows gets its records (a chain stopping at the first that drops them).
    pub fn flow(&mut self, ts_ns: u64, device: IpAddr, records: &[FlowRecord]) {
        let stats = &mut self.intake.stats;
        if stats.first_ts_ns.is_none() {
            stats.first_ts_ns = Some(ts_ns);
        }
        stats.last_ts_ns = Some(stats.last_ts_ns.map_or(ts_ns, |l| l.max(ts_ns)));
        self.clock.packet(ts_ns, &mut self.modules);
        let ev = FlowEvent {
            ts_ns,
            device,
            records,
            deep: true,
        };
        for module in self.modules.iter_mut() {
            if !module.flow_datagram(&ev, self.chained) && self.chained {
                break;
            }
        }
    }

    /// Replaces the policy's modules (the command line's flow policy has only a flow module).
    pub(crate) fn replace_modules(&mut self, modules: Vec<ModuleRun>) {
        self.modules = modules;
    }

    /// Makes the policy one of a flow tap: a live agent hands it that tap's datagrams and
    /// none of the captured packets.
    pub(crate) fn set_flow_input(&mut self) {
        self.flow_input = true;
    }

    /// Whether the policy reads a flow tap.
    pub fn reads_flow(&self) -> bool {
        self.flow_input
    }

    /// A dnstap data frame that is not a message we read (damaged protobuf, not a MESSAGE,
    /// a bad address): counted as read and malformed, and skipped (pktvisor logs and skips it).
    pub fn dnstap_skipped(&mut self) {
        self.intake.stats.packets_read += 1;
        self.intake.stats.malformed += 1;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn input(&self) -> &LiveInput {
        &self.input
    }

    /// Processes one captured packet. A filter that cannot be run on it (a link type the BPF
    /// compiler refuses) is an error: a file's summary stops there.
    #[inline]
    pub fn packet(&mut self, p: &Packet<'_>) -> Result<(), PipelineError> {
        if self.admit(p)? {
            self.kept(p);
        }
        Ok(())
    }

    /// [`PolicyRun::packet`] for a live capture, where a worker offers each packet to every
    /// policy it runs and decodes it once for all of them: a packet the filter cannot be run
    /// on is counted as rejected, and the capture goes on.
    #[inline]
    pub fn live_packet(&mut self, shared: &mut SharedDecode<'_>) {
        if self.dnstap_input || self.flow_input {
            return;
        }
        let p = shared.p;
        match self.admit(p) {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => {
                self.intake.stats.bpf_rejected += 1;
                return;
            }
        }
        self.clock.packet(p.ts_ns, &mut self.modules);
        let (modules, chained) = (&mut self.modules, self.chained);
        self.intake
            .shared_event(shared, &self.host_spec, |ev| feed(modules, chained, ev));
    }

    /// Counts a packet read and runs the policy's filter on it: false when the filter rejects
    /// it (counted).
    #[inline]
    fn admit(&mut self, p: &Packet<'_>) -> Result<bool, BpfError> {
        self.intake.stats.packets_read += 1;
        if let Some(bpf) = &mut self.bpf
            && !bpf.matches(p.linktype, p.data, p.orig_len)?
        {
            self.intake.stats.bpf_rejected += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A packet that passed the filter: the stream's clock moves (pktvisor's libpcap filters
    /// before its handlers see a packet, so its first bucket starts at the first packet
    /// kept), then every module gets it, a chain stopping at the first module that drops it.
    #[inline]
    fn kept(&mut self, p: &Packet<'_>) {
        self.clock.packet(p.ts_ns, &mut self.modules);
        let (modules, chained) = (&mut self.modules, self.chained);
        self.intake
            .event(p, &self.host_spec, |ev| feed(modules, chained, ev));
    }

    /// A packet of another worker's shard (a file read by several workers): it moves the
    /// clock as it would for a single reader, if it passes the filter.
    pub fn other_shard(&mut self, p: &Packet<'_>) -> Result<(), PipelineError> {
        if let Some(bpf) = &mut self.bpf
            && !bpf.matches(p.linktype, p.data, p.orig_len)?
        {
            return Ok(());
        }
        self.clock.packet(p.ts_ns, &mut self.modules);
        Ok(())
    }

    /// A tick of wall time: every module's window rotates, open transactions expire.
    pub fn tick(&mut self, sec: u64) {
        self.modules.iter_mut().for_each(|m| m.tick(sec));
    }

    /// The live capture's drop counters at wall-clock second `sec` (the pcap handler's
    /// `os_drops` and `if_drops`).
    pub fn capture_drops(&mut self, sec: u64, drops: pv_handlers::CaptureDrops) {
        self.modules
            .iter_mut()
            .for_each(|m| m.capture_drops(sec, drops));
    }

    /// Records damage that ended reading early; the summary of what came before stands.
    pub fn damaged(&mut self, reason: String) {
        self.intake.stats.damage = Some(reason);
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.intake.stats
    }

    /// The newest event any module ends the input at (the last DNS message).
    pub fn last_event_ns(&self) -> Option<u64> {
        self.modules
            .iter()
            .filter_map(ModuleRun::last_event_ns)
            .max()
    }

    /// The input ended: each module ends it at its own last event (a query unanswered for
    /// longer than the TTL then times out).
    pub fn end_of_input(&mut self) {
        for m in &mut self.modules {
            let end = m.last_event_ns();
            m.end_of_input_at(end);
        }
    }

    /// The input ended at `end_ns`, the last event of the whole input (several workers each
    /// see a part of it, and must end it at the same time to add up).
    pub fn end_of_input_at(&mut self, end_ns: Option<u64>) {
        self.modules
            .iter_mut()
            .for_each(|m| m.end_of_input_at(end_ns));
    }

    /// A copy of every module's buckets, mergeable with the other workers' copies.
    pub fn snapshot(&self) -> PolicySnapshot {
        self.snapshot_newest(usize::MAX)
    }

    /// Every module's buckets moved out, for a run that is over (a file's summary): the
    /// snapshot without copying each sketch (3.6 M instructions for the dns bucket of the
    /// 300 k-packet benchmark slice). The run holds no buckets after.
    pub fn take_snapshot(&mut self) -> PolicySnapshot {
        PolicySnapshot {
            modules: self
                .modules
                .iter_mut()
                .map(ModuleRun::take_snapshot)
                .collect(),
            stats: self.intake.stats.clone(),
        }
    }

    /// A copy of every module's newest `newest` buckets (what a request reads: copying the
    /// whole window for bucket 0 would copy every sketch five times over).
    pub fn snapshot_newest(&self, newest: usize) -> PolicySnapshot {
        PolicySnapshot {
            modules: self.modules.iter().map(|m| m.snapshot(newest)).collect(),
            stats: self.intake.stats.clone(),
        }
    }

    /// How this policy's snapshots render.
    pub fn renderer(&self) -> PolicyRenderer {
        PolicyRenderer {
            modules: self.modules.iter().map(ModuleRun::rendering).collect(),
        }
    }
}

/// Every module gets the packet; a chain stops at the first module that drops it.
#[inline]
fn feed(modules: &mut [ModuleRun], chained: bool, ev: &PacketEvent<'_>) {
    for m in modules.iter_mut() {
        if !m.process(ev, chained) && chained {
            break;
        }
    }
}
