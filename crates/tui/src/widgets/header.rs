//! The header blocks: totals and protocol mix of the `packets` object, and the DNS summary,
//! as lines of `label value` pairs. Values the agent did not send read `-`.

use crate::app::App;
use crate::format::{count, ms_from_us, share, value};
use crate::history::LiveRates;
use crate::model::{Quantiles, Window, dns, net};
use pv_handlers::{dns::metrics as d, net::metrics as n};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// Builds a line of `label value` pairs; a label gets the dim style so numbers stand out.
struct LineBuilder {
    spans: Vec<Span<'static>>,
}

impl LineBuilder {
    fn new() -> Self {
        LineBuilder { spans: Vec::new() }
    }

    fn label(mut self, text: &str) -> Self {
        if !self.spans.is_empty() {
            self.spans.push(Span::raw("  "));
        }
        self.spans.push(Span::styled(
            text.to_string(),
            Style::default().add_modifier(Modifier::DIM),
        ));
        self
    }

    fn val(mut self, text: String) -> Self {
        self.spans.push(Span::raw(" "));
        self.spans.push(Span::styled(
            text,
            Style::default().add_modifier(Modifier::BOLD),
        ));
        self
    }

    fn line(self) -> Line<'static> {
        Line::from(self.spans)
    }
}

/// `p50/p90/p95/p99` of a quantile set, each written by `f`.
fn quads(q: Option<Quantiles>, f: fn(Option<f64>) -> String) -> String {
    let q = q.unwrap_or_default();
    q.all().map(f).join("/")
}

pub fn net_lines(app: &App) -> Vec<Line<'static>> {
    let w: Option<&Window> = app.window.as_ref();
    let c = |m| w.and_then(|w| w.count(net(m)));
    let total = c(n::TOTAL);
    let live = app.history.live;
    // The agent's own live rate when it sends one (pktvisor's C++ agent), else ours measured
    // between refreshes.
    let rate = |m, f: fn(&LiveRates) -> f64| {
        let sent = w.and_then(|w| w.live_rate(net(m)));
        value(sent.or(live.as_ref().map(|r| f(r).round())))
    };
    let drops = app
        .app_info
        .as_ref()
        .and_then(|a| a.drops)
        .or(w.and_then(|w| w.pcap_drops()));
    vec![
        LineBuilder::new()
            .label("Packets")
            .val(count(total))
            .label("UDP")
            .val(format!("{} {}", count(c(n::UDP)), share(c(n::UDP), total)))
            .label("TCP")
            .val(format!("{} {}", count(c(n::TCP)), share(c(n::TCP), total)))
            .label("other")
            .val(count(c(n::OTHER_L4)))
            .line(),
        LineBuilder::new()
            .label("IPv4")
            .val(format!(
                "{} {}",
                count(c(n::IPV4)),
                share(c(n::IPV4), total)
            ))
            .label("IPv6")
            .val(format!(
                "{} {}",
                count(c(n::IPV6)),
                share(c(n::IPV6), total)
            ))
            .label("in")
            .val(count(c(n::IN)))
            .label("out")
            .val(count(c(n::OUT)))
            .label("unknown")
            .val(count(c(n::UNKNOWN_DIR)))
            .line(),
        LineBuilder::new()
            .label("Deep samples")
            .val(format!(
                "{} {}",
                count(c(n::DEEP_SAMPLES)),
                share(c(n::DEEP_SAMPLES), total)
            ))
            .label("Distinct IPs in")
            .val(count(c(n::CARDINALITY_SRC_IPS_IN)))
            .label("out")
            .val(count(c(n::CARDINALITY_DST_IPS_OUT)))
            .label("Drops")
            .val(count(drops))
            .line(),
        LineBuilder::new()
            .label("pps live")
            .val(rate(n::RATES_PPS_TOTAL, |r| r.pps))
            .label("in")
            .val(rate(n::RATES_PPS_IN, |r| r.pps_in))
            .label("out")
            .val(rate(n::RATES_PPS_OUT, |r| r.pps_out))
            .line(),
        LineBuilder::new()
            .label("pps p50/90/95/99 in")
            .val(quads(
                w.and_then(|w| w.quantiles(net(n::RATES_PPS_IN))),
                value,
            ))
            .label("out")
            .val(quads(
                w.and_then(|w| w.quantiles(net(n::RATES_PPS_OUT))),
                value,
            ))
            .line(),
    ]
}

pub fn dns_lines(app: &App) -> Vec<Line<'static>> {
    let w: Option<&Window> = app.window.as_ref();
    let c = |m| w.and_then(|w| w.count(dns(m)));
    let replies = c(d::WIRE_PACKETS_REPLIES);
    let live = w
        .and_then(|w| w.live_rate(dns(d::RATES_TOTAL)))
        .or(app.history.live.map(|r| r.dns.round()));
    let latency = |m| quads(w.and_then(|w| w.quantiles(dns(m))), ms_from_us);
    vec![
        LineBuilder::new()
            .label("DNS packets")
            .val(count(c(d::WIRE_PACKETS_TOTAL)))
            .label("live/s")
            .val(value(live))
            .label("UDP")
            .val(count(c(d::WIRE_PACKETS_UDP)))
            .label("TCP")
            .val(count(c(d::WIRE_PACKETS_TCP)))
            .label("queries")
            .val(count(c(d::WIRE_PACKETS_QUERIES)))
            .label("replies")
            .val(count(replies))
            .line(),
        LineBuilder::new()
            .label("Xacts")
            .val(count(c(d::XACT_COUNTS_TOTAL)))
            .label("timed out")
            .val(count(c(d::XACT_COUNTS_TIMED_OUT)))
            .label("in")
            .val(count(c(d::XACT_IN_TOTAL)))
            .label("out")
            .val(count(c(d::XACT_OUT_TOTAL)))
            .label("Distinct qnames")
            .val(count(c(d::CARDINALITY_QNAME)))
            .line(),
        LineBuilder::new()
            .label("Latency ms p50/90/95/99 in")
            .val(latency(d::XACT_IN_QUANTILES_US))
            .label("out")
            .val(latency(d::XACT_OUT_QUANTILES_US))
            .line(),
        LineBuilder::new()
            .label("NOERROR")
            .val(share(c(d::WIRE_PACKETS_NOERROR), replies))
            .label("SRVFAIL")
            .val(share(c(d::WIRE_PACKETS_SRVFAIL), replies))
            .label("NXDOMAIN")
            .val(share(c(d::WIRE_PACKETS_NXDOMAIN), replies))
            .label("REFUSED")
            .val(share(c(d::WIRE_PACKETS_REFUSED), replies))
            .label("of replies")
            .line(),
    ]
}
