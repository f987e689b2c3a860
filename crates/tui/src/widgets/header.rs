//! The header blocks: totals and protocol mix of the `packets` object, and the DNS summary,
//! as lines of `label value` pairs. Values the agent did not send read `-`.

use crate::app::App;
use crate::format::{count, ms_from_us, share, value};
use crate::history::LiveRates;
use crate::model::{Quantiles, Window};
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
    let c = |p: &str| w.and_then(|w| w.count(p));
    let total = c("packets.total");
    let live = app.history.live;
    // The agent's own live rate when it sends one (pktvisor's C++ agent), else ours measured
    // between refreshes.
    let rate = |path: &str, f: fn(&LiveRates) -> f64| {
        let sent = w.and_then(|w| w.number(&format!("packets.rates.{path}.live")));
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
            .val(format!(
                "{} {}",
                count(c("packets.udp")),
                share(c("packets.udp"), total)
            ))
            .label("TCP")
            .val(format!(
                "{} {}",
                count(c("packets.tcp")),
                share(c("packets.tcp"), total)
            ))
            .label("other")
            .val(count(c("packets.other_l4")))
            .line(),
        LineBuilder::new()
            .label("IPv4")
            .val(format!(
                "{} {}",
                count(c("packets.ipv4")),
                share(c("packets.ipv4"), total)
            ))
            .label("IPv6")
            .val(format!(
                "{} {}",
                count(c("packets.ipv6")),
                share(c("packets.ipv6"), total)
            ))
            .label("in")
            .val(count(c("packets.in")))
            .label("out")
            .val(count(c("packets.out")))
            .label("unknown")
            .val(count(c("packets.unknown_dir")))
            .line(),
        LineBuilder::new()
            .label("Deep samples")
            .val(format!(
                "{} {}",
                count(c("packets.deep_samples")),
                share(c("packets.deep_samples"), total)
            ))
            .label("Distinct IPs in")
            .val(count(c("packets.cardinality.src_ips_in")))
            .label("out")
            .val(count(c("packets.cardinality.dst_ips_out")))
            .label("Drops")
            .val(count(drops))
            .line(),
        LineBuilder::new()
            .label("pps live")
            .val(rate("pps_total", |r| r.pps))
            .label("in")
            .val(rate("pps_in", |r| r.pps_in))
            .label("out")
            .val(rate("pps_out", |r| r.pps_out))
            .line(),
        LineBuilder::new()
            .label("pps p50/90/95/99 in")
            .val(quads(
                w.and_then(|w| w.quantiles("packets.rates.pps_in")),
                value,
            ))
            .label("out")
            .val(quads(
                w.and_then(|w| w.quantiles("packets.rates.pps_out")),
                value,
            ))
            .line(),
    ]
}

pub fn dns_lines(app: &App) -> Vec<Line<'static>> {
    let w: Option<&Window> = app.window.as_ref();
    let c = |p: &str| w.and_then(|w| w.count(p));
    let replies = c("dns.wire_packets.replies");
    let live = w
        .and_then(|w| w.number("dns.rates.total.live"))
        .or(app.history.live.map(|r| r.dns.round()));
    let latency = |side: &str| {
        quads(
            w.and_then(|w| w.quantiles(&format!("dns.xact.{side}.quantiles_us"))),
            ms_from_us,
        )
    };
    vec![
        LineBuilder::new()
            .label("DNS packets")
            .val(count(c("dns.wire_packets.total")))
            .label("live/s")
            .val(value(live))
            .label("UDP")
            .val(count(c("dns.wire_packets.udp")))
            .label("TCP")
            .val(count(c("dns.wire_packets.tcp")))
            .label("queries")
            .val(count(c("dns.wire_packets.queries")))
            .label("replies")
            .val(count(replies))
            .line(),
        LineBuilder::new()
            .label("Xacts")
            .val(count(c("dns.xact.counts.total")))
            .label("timed out")
            .val(count(c("dns.xact.counts.timed_out")))
            .label("in")
            .val(count(c("dns.xact.in.total")))
            .label("out")
            .val(count(c("dns.xact.out.total")))
            .label("Distinct qnames")
            .val(count(c("dns.cardinality.qname")))
            .line(),
        LineBuilder::new()
            .label("Latency ms p50/90/95/99 in")
            .val(latency("in"))
            .label("out")
            .val(latency("out"))
            .line(),
        LineBuilder::new()
            .label("NOERROR")
            .val(share(c("dns.wire_packets.noerror"), replies))
            .label("SRVFAIL")
            .val(share(c("dns.wire_packets.srvfail"), replies))
            .label("NXDOMAIN")
            .val(share(c("dns.wire_packets.nxdomain"), replies))
            .label("REFUSED")
            .val(share(c("dns.wire_packets.refused"), replies))
            .label("of replies")
            .line(),
    ]
}
