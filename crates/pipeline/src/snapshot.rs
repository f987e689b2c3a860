//! A copy of a summarizer's buckets, mergeable with the copies of other workers, and the JSON of
//! one bucket or of a window of the newest buckets (pktvisor's `/api/v1/metrics/bucket/N` and
//! `/api/v1/metrics/window/N`).

use crate::stats::CaptureStats;
use pv_handlers::NetBucket;
use pv_handlers::dns::{DnsBucket, DnsConfig};
use pv_handlers::net::NetConfig;
use pv_sketch::Bucket;
use pv_sketch::window::TimeBucket;
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
    /// Summary mode: one bucket for the whole input, starting at each worker's own first
    /// packet, so workers' buckets merge whatever their start.
    pub single_bucket: bool,
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

/// Merges `theirs` into `mine`, both newest first, matching buckets by their start time (every
/// worker's buckets are aligned to the same period boundaries), or, in summary mode
/// (`single_bucket`), into the one bucket, which then starts at the earliest worker's start.
pub(crate) fn merge_buckets<B: Bucket + Clone>(
    mine: &mut Vec<TimeBucket<B>>,
    theirs: &[TimeBucket<B>],
    single_bucket: bool,
) {
    for other in theirs {
        let same = mine
            .iter_mut()
            .find(|b| single_bucket || b.start_sec == other.start_sec);
        match same {
            Some(b) => {
                b.data.merge_from(&other.data);
                b.data.join_worker_spans();
                b.start_sec = b.start_sec.min(other.start_sec);
                b.first_ts_ns = match (b.first_ts_ns, other.first_ts_ns) {
                    (Some(a), Some(o)) => Some(a.min(o)),
                    (a, o) => a.or(o),
                };
                b.last_ts_ns = b.last_ts_ns.max(other.last_ts_ns);
            }
            None => mine.push(other.clone()),
        }
    }
    mine.sort_by_key(|b| std::cmp::Reverse(b.start_sec));
}

/// The newest `n` buckets merged into one, spanning from the oldest one's start.
pub(crate) fn merged<B: Bucket + Clone>(
    buckets: &[TimeBucket<B>],
    n: usize,
) -> Option<TimeBucket<B>> {
    let mut parts = buckets.iter().take(n.max(1));
    let mut all = parts.next()?.clone();
    for older in parts {
        all.data.merge_from(&older.data);
        all.start_sec = older.start_sec;
        all.first_ts_ns = match (all.first_ts_ns, older.first_ts_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        all.last_ts_ns = all.last_ts_ns.max(older.last_ts_ns);
    }
    Some(all)
}

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
        let single = self.single_bucket || other.single_bucket;
        self.single_bucket = single;
        merge_buckets(&mut self.net, &other.net, single);
        match (&mut self.dns, &other.dns) {
            (Some(mine), Some(theirs)) => merge_buckets(mine, theirs, single),
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
        let dns = self.dns.as_ref().map(|d| {
            d.iter()
                .find(|b| Some(b.start_sec) == net.as_ref().map(|n| n.start_sec))
        });
        let dns = dns.map(|b| b.map(|b| b.data.clone()).unwrap_or_default());
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
        let net = merged(&self.net, n);
        let dns = self
            .dns
            .as_ref()
            .map(|d| merged(d, n).map(|b| b.data).unwrap_or_default());
        self.render(r, &format!("{}m", n.max(1)), net, dns)
    }

    fn render(
        &self,
        r: &Renderer,
        key: &str,
        net: Option<TimeBucket<NetBucket>>,
        dns: Option<DnsBucket>,
    ) -> Value {
        let mut w = Map::new();
        match net {
            Some(b) => {
                w.insert("period".into(), period_json(&b));
                w.insert("packets".into(), b.data.to_json(&r.net));
            }
            None => {
                w.insert("period".into(), json!({"start_ts": 0, "length": 0}));
                w.insert("packets".into(), NetBucket::default().to_json(&r.net));
            }
        }
        if let (Some(cfg), Some(bucket)) = (&r.dns, dns) {
            w.insert("dns".into(), bucket.to_json(cfg));
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

/// `{"start_ts", "length"}` of a bucket (or merged window), in seconds of packet time.
pub(crate) fn period_json<B>(b: &TimeBucket<B>) -> Value {
    let start = b.first_ts_ns.unwrap_or(b.start_sec * 1_000_000_000) / 1_000_000_000;
    let end = (b.last_ts_ns / 1_000_000_000).max(start);
    json!({"start_ts": start, "length": end - start})
}
