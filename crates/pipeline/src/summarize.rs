//! Summarizing a packet stream: decode once, decide direction and sampling once, feed handlers.

use crate::error::PipelineError;
use crate::intake::Intake;
use crate::snapshot::{Renderer, Snapshot};
use crate::stats::CaptureStats;
use pv_capture::{BpfSet, FileFormat, FileReader, Packet};
use pv_handlers::dns::{DnsConfig, DnsHandler};
use pv_handlers::net::NetConfig;
use pv_handlers::{DeepSampler, HostSpec, NetHandler, WindowSpec};
use pv_wire::LinkType;
use serde_json::Value;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct SummarizeOptions {
    /// libpcap filter expression, as tcpdump takes it.
    pub bpf: Option<String>,
    pub host_spec: HostSpec,
    /// Seconds per bucket, buckets kept (and merged into a file's reported window), where
    /// buckets begin: one bucket for the whole input by default (pktvisor's `--summary`).
    pub window: WindowSpec,
    /// Percentage of packets inspected in depth (top lists, cardinality, TCP flags).
    pub deep_sample_percent: u8,
    pub net: NetConfig,
    /// The dns handler's configuration; None turns the handler off.
    pub dns: Option<DnsConfig>,
}

impl Default for SummarizeOptions {
    fn default() -> Self {
        Self {
            bpf: None,
            host_spec: HostSpec::default(),
            window: WindowSpec::WHOLE_STREAM,
            deep_sample_percent: 100,
            net: NetConfig::default(),
            dns: Some(DnsConfig::default()),
        }
    }
}

/// Accepts packets one by one; owns the handlers.
pub struct Summarizer {
    host_spec: HostSpec,
    sampler: DeepSampler,
    bpf: Option<BpfSet>,
    net: NetHandler,
    dns: Option<DnsHandler>,
    intake: Intake,
    periods: usize,
    /// The second of packet time every handler's window has been moved to (see
    /// [`Summarizer::clock`]).
    clock_sec: Option<u64>,
}

impl Summarizer {
    pub fn new(opts: &SummarizeOptions) -> Result<Self, PipelineError> {
        let bpf = match &opts.bpf {
            Some(expr) if !expr.trim().is_empty() => Some(BpfSet::new(expr)?),
            _ => None,
        };
        let periods = match opts.window.period {
            None => 1,
            Some(_) => opts.window.keep.max(1),
        };
        Ok(Self {
            host_spec: opts.host_spec.clone(),
            sampler: DeepSampler::new(opts.deep_sample_percent),
            bpf,
            net: NetHandler::new(opts.net.clone(), opts.window),
            dns: opts
                .dns
                .clone()
                .map(|cfg| DnsHandler::new(cfg, opts.window)),
            intake: Intake::default(),
            periods,
            clock_sec: None,
        })
    }

    /// Processes one captured packet.
    #[inline]
    pub fn packet(&mut self, p: &Packet<'_>) -> Result<(), PipelineError> {
        self.intake.stats.packets_read += 1;
        if let Some(bpf) = &mut self.bpf
            && !bpf.matches(p.linktype, p.data, p.orig_len)?
        {
            self.intake.stats.bpf_rejected += 1;
            return Ok(());
        }
        // The stream is what passes the filter (pktvisor's libpcap filters before its
        // handlers see a packet, so its first bucket starts at the first packet kept).
        self.clock(p.ts_ns);
        let (sampler, net, dns) = (&mut self.sampler, &mut self.net, &mut self.dns);
        self.intake.event(
            p,
            &self.host_spec,
            || sampler.sample(),
            |ev| {
                net.process(ev);
                if let Some(dns) = dns {
                    dns.process(ev);
                }
            },
        );
        Ok(())
    }

    /// Records damage that ended reading early; the summary of what came before stands.
    pub fn damaged(&mut self, reason: String) {
        self.intake.stats.damage = Some(reason);
    }

    /// A packet of another worker's shard (a file read by several workers): it moves the
    /// clock as it would for a single reader, if it passes the filter.
    pub fn other_shard(&mut self, p: &Packet<'_>) -> Result<(), PipelineError> {
        if let Some(bpf) = &mut self.bpf
            && !bpf.matches(p.linktype, p.data, p.orig_len)?
        {
            return Ok(());
        }
        self.clock(p.ts_ns);
        Ok(())
    }

    /// A copy of the buckets and counters so far (an agent's worker answers readers with it).
    pub fn snapshot(&self) -> Snapshot {
        snapshot_of(&self.net, self.dns.as_ref(), &self.intake.stats)
    }

    /// How the snapshots of this summarizer are rendered.
    pub fn renderer(&self) -> Renderer {
        Renderer {
            net: self.net.config().clone(),
            dns: self.dns.as_ref().map(|d| d.config().clone()),
            periods: self.periods,
        }
    }

    /// The stream's packet time reached `ts_ns`: every handler's window moves there together,
    /// so that all of them (and every worker reading a shard of one file, which calls this for
    /// the packets of the other shards too) rotate at the same packet, whichever handler sees
    /// it. One comparison a packet; the handlers are called once a second of packet time.
    #[inline]
    pub fn clock(&mut self, ts_ns: u64) {
        let sec = ts_ns / 1_000_000_000;
        if self.clock_sec.is_none_or(|s| sec > s) {
            self.clock_sec = Some(sec);
            self.net.clock(sec);
            if let Some(dns) = &mut self.dns {
                dns.clock(sec);
            }
        }
    }

    /// A tick of wall time (live capture): windows rotate and open transactions expire even
    /// when no packet arrives.
    pub fn tick(&mut self, sec: u64) {
        self.net.tick(sec);
        if let Some(dns) = &mut self.dns {
            dns.tick(sec);
        }
    }

    /// The input ended (a file): queries unanswered for longer than the TTL count as timed out.
    pub fn end_of_input(&mut self) {
        if let Some(dns) = &mut self.dns {
            dns.finish();
        }
    }

    /// The time of the last DNS message this summarizer saw.
    pub fn last_dns_message_ns(&self) -> Option<u64> {
        self.dns.as_ref().and_then(DnsHandler::last_message_ns)
    }

    /// [`Summarizer::end_of_input`] at the last DNS message of the whole input, which workers
    /// summarizing shards of one file agree on.
    pub fn end_of_input_at(&mut self, end_ns: Option<u64>) {
        if let Some(dns) = &mut self.dns {
            dns.finish_at(end_ns);
        }
    }

    pub fn finish(mut self) -> Summary {
        self.end_of_input();
        Summary {
            net: self.net,
            dns: self.dns,
            stats: self.intake.stats,
            periods: self.periods,
        }
    }
}

pub struct Summary {
    net: NetHandler,
    dns: Option<DnsHandler>,
    stats: CaptureStats,
    periods: usize,
}

impl Summary {
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// `{"<window>": {"period": {...}, "packets": {...}, "capture": {...}}}` over the newest
    /// `periods` buckets.
    pub fn to_json(&self) -> Value {
        let renderer = Renderer {
            net: self.net.config().clone(),
            dns: self.dns.as_ref().map(|d| d.config().clone()),
            periods: self.periods,
        };
        snapshot_of(&self.net, self.dns.as_ref(), &self.stats).merged_json(&renderer, self.periods)
    }
}

/// A copy of the handlers' buckets and the counters.
fn snapshot_of(net: &NetHandler, dns: Option<&DnsHandler>, stats: &CaptureStats) -> Snapshot {
    Snapshot {
        net: net.window().buckets().cloned().collect(),
        dns: dns.map(|d| d.buckets().cloned().collect()),
        stats: stats.clone(),
        reassembly: dns.map(|d| d.reassembly_stats()),
        whole_stream: net.window().period().is_none(),
    }
}

/// Reads a whole capture file. `progress` is called now and then with (bytes read, file size).
pub fn summarize_file(
    path: &Path,
    opts: &SummarizeOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Summary, PipelineError> {
    let mut reader = FileReader::open(path)?;
    // A classic pcap has one link type for the whole file: refuse it up front if we cannot
    // decode it. pcapng interfaces are checked per packet and counted.
    if matches!(reader.format(), FileFormat::Pcap)
        && let Some(lt) = reader.linktype()
        && LinkType::from_linktype(lt).is_none()
    {
        return Err(PipelineError::UnsupportedLinkType {
            path: path.display().to_string(),
            linktype: lt,
        });
    }
    let mut summarizer = Summarizer::new(opts)?;
    let mut since_progress = 0u32;
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => summarizer.packet(&p)?,
            Ok(None) => break,
            Err(e) => {
                summarizer.damaged(e.to_string());
                break;
            }
        }
        since_progress += 1;
        if since_progress == 1 << 16 {
            since_progress = 0;
            progress(reader.file_bytes_read(), reader.file_size());
        }
    }
    progress(reader.file_bytes_read(), reader.file_size());
    Ok(summarizer.finish())
}
