//! The command line's policy (`pktvisord IFACE -b .. -H ..`, `pktvisord FILE`, `pktvisor
//! summarize FILE`): an ordinary policy named `default` reading tap `default`, with pktvisord's
//! default modules in its order (`default_tap_policy` in cmd/pktvisord/main.cpp: `net`, `dhcp`,
//! `dns`, and `pcap_stats` of type `pcap`), the dns one unless `--no-dns`, named as pktvisor
//! names their instances.

use crate::error::PipelineError;
use crate::run::module_run::ModuleRun;
use crate::run::policy_run::{LiveInput, PolicyRun};
use pv_capture::BpfSet;
use pv_handlers::dhcp::{DhcpConfig, DhcpHandler};
use pv_handlers::dns::{DnsConfig, DnsHandler};
use pv_handlers::flow::{FlowConfig, FlowHandler};
use pv_handlers::net::NetConfig;
use pv_handlers::pcap::PcapHandler;
use pv_handlers::{HostSpec, NetHandler, WindowSpec};

/// pktvisor's name of the command line's policy, and of its tap.
pub const COMMAND_LINE_POLICY: &str = "default";
pub const COMMAND_LINE_TAP: &str = "default";

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

impl PolicyRun {
    /// The command line's policy for a flow input (`pktvisor summarize -i flow`): one flow
    /// module, `default-default-flow`, with pktvisor's default flow groups.
    pub fn command_line_flow(opts: &SummarizeOptions) -> Result<PolicyRun, PipelineError> {
        let mut run = PolicyRun::command_line(opts)?;
        let periods = match opts.window.period {
            None => 1,
            Some(_) => opts.window.keep.max(1),
        };
        let config = FlowConfig {
            geo: opts.net.geo.clone(),
            ..FlowConfig::default()
        };
        run.replace_modules(vec![ModuleRun::new(
            format!("{COMMAND_LINE_POLICY}-{COMMAND_LINE_TAP}-flow"),
            opts.deep_sample_percent,
            periods,
            Box::new(FlowHandler::new(config, opts.window)),
        )]);
        run.set_flow_input();
        Ok(run)
    }

    /// The command line's policy.
    pub fn command_line(opts: &SummarizeOptions) -> Result<PolicyRun, PipelineError> {
        let bpf = match &opts.bpf {
            Some(expr) if !expr.trim().is_empty() => Some(BpfSet::new(expr)?),
            _ => None,
        };
        let periods = match opts.window.period {
            None => 1,
            Some(_) => opts.window.keep.max(1),
        };
        let key = |module: &str| format!("{COMMAND_LINE_POLICY}-{COMMAND_LINE_TAP}-{module}");
        let mut modules = vec![
            ModuleRun::new(
                key("net"),
                opts.deep_sample_percent,
                periods,
                Box::new(NetHandler::new(opts.net.clone(), opts.window)),
            ),
            ModuleRun::new(
                key("dhcp"),
                opts.deep_sample_percent,
                periods,
                Box::new(DhcpHandler::new(DhcpConfig::default(), opts.window)),
            ),
        ];
        if let Some(dns) = &opts.dns {
            modules.push(ModuleRun::new(
                key("dns"),
                opts.deep_sample_percent,
                periods,
                Box::new(DnsHandler::new(dns.clone(), opts.window)),
            ));
        }
        modules.push(ModuleRun::new(
            key("pcap_stats"),
            opts.deep_sample_percent,
            periods,
            Box::new(PcapHandler::new(opts.window)),
        ));
        let input = LiveInput {
            tap: COMMAND_LINE_TAP.to_string(),
            host_spec: String::new(),
            bpf: opts.bpf.clone().unwrap_or_default(),
        };
        Ok(PolicyRun::new(
            COMMAND_LINE_POLICY.to_string(),
            input,
            false,
            bpf,
            opts.host_spec.clone(),
            modules,
        ))
    }
}
