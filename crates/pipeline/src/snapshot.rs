//! A copy of a summarizer's buckets, mergeable with the copies of other workers, and the JSON of
//! one bucket or of a window of the newest buckets (pktvisor's `/api/v1/metrics/bucket/N` and
//! `/api/v1/metrics/window/N`).

use crate::stats::CaptureStats;
use pv_handlers::NetBucket;
use pv_handlers::dns::{DnsBucket, DnsConfig};
use pv_handlers::net::NetConfig;
use pv_sketch::window::{TimeBucket, merge_newest, merge_workers};
use pv_wire::tcp_stream::ReassemblyStats;
use serde_json::{Map, Value, json};

/// The buckets of one summarizer (or several merged), newest first.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub net: Vec<TimeBucket<NetBucket>>,
    /// None when the dns handler is off.
    pub dns: Option<Vec<TimeBucket<DnsBucket>>>,
    pub stats: CaptureStats,
    pub reassembly: Option<ReassemblyStats>,
    /// One bucket for the whole input: workers' buckets merge whatever their start.
    pub whole_stream: bool,
}

/// What renders a snapshot: the handlers' configurations and the window's size.
#[derive(Clone, Debug)]
pub struct Renderer {
    pub net: NetConfig,
    pub dns: Option<DnsConfig>,
    /// Buckets kept (pktvisor's `--periods`); 1 in summary mode.
    pub periods: usize,
}

/// A bucket or window that does not exist (yet): pktvisor answers these with 425 Too Early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl std::fmt::Display for PeriodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeriodError {}

fn sum_reassembly(a: &mut ReassemblyStats, b: &ReassemblyStats) {
    a.streams_opened += b.streams_opened;
    a.streams_closed += b.streams_closed;
    a.streams_evicted += b.streams_evicted;
    a.streams_timed_out += b.streams_timed_out;
    a.messages += b.messages;
    a.bytes_dropped += b.bytes_dropped;
    a.gaps += b.gaps;
    a.retransmissions += b.retransmissions;
    a.out_of_order += b.out_of_order;
    a.oversize += b.oversize;
    a.not_dns += b.not_dns;
}

fn reassembly_json(r: &ReassemblyStats) -> Value {
    json!({
        "streams_opened": r.streams_opened,
        "streams_closed": r.streams_closed,
        "streams_evicted": r.streams_evicted,
        "streams_timed_out": r.streams_timed_out,
        "messages": r.messages,
        "bytes_dropped": r.bytes_dropped,
        "gaps": r.gaps,
        "retransmissions": r.retransmissions,
        "out_of_order": r.out_of_order,
        "oversize": r.oversize,
        "not_dns": r.not_dns,
    })
}

impl Snapshot {
    /// Folds another worker's snapshot into this one.
    pub fn merge(&mut self, other: &Snapshot) {
        let whole = self.whole_stream || other.whole_stream;
        self.whole_stream = whole;
        merge_workers(&mut self.net, &other.net, whole);
        match (&mut self.dns, &other.dns) {
            (Some(mine), Some(theirs)) => merge_workers(mine, theirs, whole),
            (None, Some(theirs)) => self.dns = Some(theirs.clone()),
            _ => {}
        }
        self.stats.merge(&other.stats);
        match (&mut self.reassembly, &other.reassembly) {
            (Some(mine), Some(theirs)) => sum_reassembly(mine, theirs),
            (None, Some(theirs)) => self.reassembly = Some(*theirs),
            _ => {}
        }
    }

    /// Drops buckets beyond the newest `keep` (workers that rotated later hold older ones).
    pub fn truncate(&mut self, keep: usize) {
        self.net.truncate(keep);
        if let Some(dns) = &mut self.dns {
            dns.truncate(keep);
        }
    }

    /// Buckets held (the live one included).
    pub fn len(&self) -> usize {
        self.net.len()
    }

    pub fn is_empty(&self) -> bool {
        self.net.is_empty()
    }

    /// `{"1m": {...}}` for bucket `index` (0: live), pktvisor's 3.0 bucket shape.
    pub fn bucket_json(&self, r: &Renderer, index: usize) -> Result<Value, PeriodError> {
        self.check_bucket(r, index)?;
        let net = self.net.get(index).cloned();
        // Every handler's window rotates with the stream's clock: the dns bucket of a period
        // is the one that starts where the net bucket starts.
        let dns = self.dns.as_ref().map(|d| {
            d.iter()
                .find(|b| Some(b.start_sec) == net.as_ref().map(|n| n.start_sec))
                .cloned()
                .unwrap_or_else(|| empty_like(net.as_ref()))
        });
        Ok(self.render(r, "1m", net, dns))
    }

    /// `{"<n>m": {...}}`: the newest `n` buckets merged (pktvisor: 2 <= n <= periods).
    pub fn window_json(&self, r: &Renderer, n: usize) -> Result<Value, PeriodError> {
        self.check_window(r, n)?;
        Ok(self.merged_json(r, n))
    }

    /// pktvisor's checks of a single bucket's index (`window_single_json`).
    pub(crate) fn check_bucket(&self, r: &Renderer, index: usize) -> Result<(), PeriodError> {
        check_bucket(r.periods, self.len(), index)
    }

    /// pktvisor's checks of a merged window's size (`window_merged_json`).
    pub(crate) fn check_window(&self, r: &Renderer, n: usize) -> Result<(), PeriodError> {
        check_window(r.periods, self.len(), n)
    }

    /// The newest `n` buckets merged, under the key `"<n>m"` (`"1m"` for one), whatever is
    /// there: the file summary's output.
    pub fn merged_json(&self, r: &Renderer, n: usize) -> Value {
        let net = merge_newest(&self.net, n);
        let dns = self
            .dns
            .as_ref()
            .map(|d| merge_newest(d, n).unwrap_or_else(|| empty_like(net.as_ref())));
        self.render(r, &format!("{}m", n.max(1)), net, dns)
    }

    fn render(
        &self,
        r: &Renderer,
        key: &str,
        net: Option<TimeBucket<NetBucket>>,
        dns: Option<TimeBucket<DnsBucket>>,
    ) -> Value {
        let mut w = Map::new();
        // pktvisor's legacy bucket path hoists the first handler's period to the window
        // (`CoreServer.cpp`, "3.0.x compatible"); every handler object carries its own too
        // (`AbstractMetricsManager::window_single_json`).
        let net = match net {
            Some(b) => schema_object(Some(&b), b.data.to_json(&r.net)),
            None => schema_object::<NetBucket>(None, NetBucket::default().to_json(&r.net)),
        };
        w.insert("period".into(), net["period"].clone());
        w.insert("packets".into(), net);
        if let (Some(cfg), Some(bucket)) = (&r.dns, dns) {
            w.insert(
                "dns".into(),
                schema_object(Some(&bucket), bucket.data.to_json(cfg)),
            );
        }
        let mut capture = self.stats.to_json();
        if let Some(reassembly) = &self.reassembly {
            // DNS-over-TCP reassembly is bounded: what it evicted or gave up on is shown here.
            capture["dns_tcp_reassembly"] = reassembly_json(reassembly);
        }
        w.insert("capture".into(), capture);
        let mut top = Map::new();
        top.insert(key.to_string(), Value::Object(w));
        Value::Object(top)
    }
}

/// pktvisor's checks of a single bucket's index (`window_single_json`) in a window that keeps
/// `periods` buckets and holds `held`.
pub(crate) fn check_bucket(periods: usize, held: usize, index: usize) -> Result<(), PeriodError> {
    if index >= periods {
        return Err(PeriodError(format!(
            "invalid metrics period, specify [0, {}]",
            periods.saturating_sub(1)
        )));
    }
    if index >= held {
        return Err(not_accumulated(0, held.saturating_sub(1)));
    }
    Ok(())
}

/// pktvisor's checks of a merged window's size (`window_merged_json`).
pub(crate) fn check_window(periods: usize, held: usize, n: usize) -> Result<(), PeriodError> {
    if n < 2 || n > periods {
        return Err(PeriodError(format!(
            "invalid metrics period, specify [2, {periods}]"
        )));
    }
    if n > held {
        return Err(not_accumulated(2, held));
    }
    Ok(())
}

fn not_accumulated(low: usize, high: usize) -> PeriodError {
    PeriodError(format!(
        "requested metrics period has not yet accumulated, current range is [{low}, {high}]"
    ))
}

/// `{"start_ts", "length"}` of a bucket (or merged window), in seconds: the span it covers.
pub(crate) fn period_json<B>(b: &TimeBucket<B>) -> Value {
    let (start, length) = b.period();
    json!({"start_ts": start, "length": length})
}

/// `{"period": ..., ...body}`: pktvisor writes the period first in every schema object.
pub(crate) fn schema_object<B>(bucket: Option<&TimeBucket<B>>, body: Value) -> Value {
    let mut out = Map::new();
    let period = bucket.map_or_else(|| json!({"start_ts": 0, "length": 0}), period_json);
    out.insert("period".into(), period);
    if let Value::Object(m) = body {
        out.extend(m);
    }
    Value::Object(out)
}

/// A bucket with no traffic over another handler's bucket's span (a handler that saw nothing
/// in a period the window holds).
pub(crate) fn empty_like<A, B: Default>(other: Option<&TimeBucket<A>>) -> TimeBucket<B> {
    TimeBucket {
        start_sec: other.map_or(0, |b| b.start_sec),
        from_sec: other.map_or(0, |b| b.from_sec),
        until_sec: other.map_or(0, |b| b.until_sec),
        first_ts_ns: None,
        last_ts_ns: 0,
        data: B::default(),
    }
}
