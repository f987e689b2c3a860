//! A search over capture files: a BPF filter (tcpdump's expressions, compiled by libpcap for
//! each file's link type) and a time range, over the files' packets in time order.

use crate::error::SearchError;
use crate::files::capture_files;
use crate::filter::{Filter, Plan};
use crate::index::catalog::Catalog;
use crate::index::{Damaged, OpenError, Stored, WITHOUT, segment_path};
use crate::merge::{FilesSummary, OwnedPacket, PcapHeaderFacts, Picks, TimeMerge};
use crate::pql::Bits;
use pv_capture::PcapAt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What to look for.
pub struct Search {
    filter: Option<Filter>,
    /// Packets at or after this time (ns since the epoch).
    pub from_ns: Option<u64>,
    /// Packets before this time.
    pub to_ns: Option<u64>,
    /// Stop after this many matches.
    pub limit: Option<u64>,
    /// Set by the caller (another thread) to end the scan before its next packet, matched or
    /// not, as if `each` had returned false: a search whose client went away.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Search {
    /// A search for packets matching `filter` (a tcpdump expression, application fields
    /// allowed: see `filter.rs`; None or blank: all).
    pub fn new(
        filter: Option<&str>,
        from_ns: Option<u64>,
        to_ns: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Search, SearchError> {
        // Compiled for Ethernet now, so that a syntax error is reported before any file is
        // read; other link types compile when met.
        let filter = Filter::new(filter.unwrap_or(""))?;
        Ok(Search {
            filter,
            from_ns,
            to_ns,
            limit,
            stop: None,
        })
    }

    /// No packet of a file whose times span `min..=max` is in the time range.
    fn outside(&self, min: u64, max: u64) -> bool {
        self.to_ns.is_some_and(|t| min >= t) || self.from_ns.is_some_and(|f| max < f)
    }

    fn in_range(&self, ts_ns: u64) -> bool {
        self.from_ns.is_none_or(|f| ts_ns >= f) && self.to_ns.is_none_or(|t| ts_ns < t)
    }

    /// The packets of `capture` (`len` bytes now) worth reading, from its index: None to read
    /// the whole file (no current index, compressed or pcapng, nothing to narrow by).
    fn picks(
        &self,
        plan: &Plan,
        capture: &Path,
        len: Option<u64>,
        warn: &mut dyn FnMut(String),
    ) -> Result<Option<(Picks, Stored)>, SearchError> {
        // The recorder's open file grows: its index is built at each query, not kept.
        if capture.extension().is_some_and(|e| e == "tmp") {
            return Ok(None);
        }
        let index = segment_path(capture);
        let damaged = |d: Damaged, warn: &mut dyn FnMut(String)| {
            warn(format!(
                "{}: index damaged ({d}); the capture is read whole",
                index.display()
            ));
            Ok(None)
        };
        let seg = match Stored::open(&index) {
            Ok(s) => s,
            Err(OpenError::Damaged(d)) => return damaged(d, warn),
            Err(OpenError::OtherVersion) => {
                warn(format!(
                    "{}: index of another release, not used; `pktvisor index` rebuilds it",
                    index.display()
                ));
                return Ok(None);
            }
            Err(OpenError::Io(_)) => return Ok(None),
        };
        if Some(seg.source_len) != len || seg.packets == 0 {
            return Ok(None);
        }
        let Some(file) = PcapAt::open(capture)? else {
            return Ok(None);
        };
        let outside = self.outside(seg.min_ts, seg.max_ts);
        let inside = self.from_ns.is_none_or(|f| seg.min_ts >= f)
            && self.to_ns.is_none_or(|t| seg.max_ts < t);
        let mut wanted = if outside {
            // Only its header counts (in the output's header).
            Bits::none(0)
        } else {
            match self.wanted(plan, &seg, inside) {
                Ok(Some(w)) => w,
                Ok(None) => return Ok(None),
                Err(d) => return damaged(d, warn),
            }
        };
        // Packets past their flow's cutoff are in the index, not in the file.
        let stored = match stored_only(&seg, &mut wanted) {
            Ok(s) => s,
            Err(d) => return damaged(d, warn),
        };
        let at = if outside {
            Vec::new()
        } else {
            match seg.offsets_of(&wanted.ones().collect::<Vec<u32>>()) {
                Ok(at) => at,
                Err(d) => return damaged(d, warn),
            }
        };
        let picks = match stored {
            None => Picks {
                file,
                ts: None,
                at,
                wanted,
                first_ts: seg.first_ts,
            },
            // Numbered among the stored packets, and given their turns by their times: the
            // file holds only those.
            Some((keep, ts)) => {
                let mut stored_ts = Vec::with_capacity(ts.len());
                let mut stored_wanted = Bits::none(keep.count() as u32);
                for i in keep.ones() {
                    if wanted.has(i) {
                        stored_wanted.set(stored_ts.len() as u32);
                    }
                    stored_ts.push(ts[i as usize]);
                }
                Picks {
                    file,
                    first_ts: stored_ts.first().copied().unwrap_or(seg.first_ts),
                    ts: Some(std::rc::Rc::new(stored_ts)),
                    at,
                    wanted: stored_wanted,
                }
            }
        };
        Ok(Some((picks, seg)))
    }

    /// The packets of `seg` the filter and the time range can match; None for all of them.
    fn wanted(&self, plan: &Plan, seg: &Stored, inside: bool) -> Result<Option<Bits>, Damaged> {
        let mut bits = plan.candidates(seg)?;
        if !inside {
            let ts = seg.ts()?;
            let b = bits.get_or_insert_with(|| Bits::all(seg.packets));
            for (i, &t) in ts.iter().enumerate() {
                if !self.in_range(t) {
                    b.0[i / 64] &= !(1 << (i % 64));
                }
            }
        }
        Ok(bits)
    }
}

/// The packets of a segment its file holds, and every packet's time.
type StoredPackets = (Bits, std::rc::Rc<Vec<u64>>);

/// When some of `seg`'s packets are not in its file (past their flow's cutoff): the stored ones
/// and every packet's time, `wanted` cut to the stored. None when all are stored.
fn stored_only(seg: &Stored, wanted: &mut Bits) -> Result<Option<StoredPackets>, Damaged> {
    let Some(view) = seg.field(WITHOUT)? else {
        return Ok(None);
    };
    let Some(entry) = view.get("bytes") else {
        return Ok(None);
    };
    let mut keep = Bits::all(seg.packets);
    for n in view.packets(entry)? {
        keep.0[n as usize / 64] &= !(1 << (n % 64));
    }
    wanted.zip(&keep, |w, k| w & k);
    let ts = seg.ts()?;
    if ts.len() != seg.packets as usize {
        return Err(Damaged("fewer times than packets"));
    }
    Ok(Some((keep, ts)))
}

/// Gives every picked file that overlaps another in time its packets' times, so that the merge
/// can give them their turns; a file alone in its time span needs none (the usual case for a
/// rotated recording but at the files' edges — reading every packet's time cost 50 ms of a 60
/// ms search for one client over the 2.4 M-packet benchmark recording). A file read whole has
/// no known span and overlaps every other. A picked file whose times are damaged is read whole.
fn times_where_needed(
    list: &mut [(PathBuf, Option<(Picks, Stored)>)],
    warn: &mut dyn FnMut(String),
) {
    loop {
        let whole = list.iter().any(|(_, p)| p.is_none());
        let mut spans: Vec<(u64, u64, usize)> = list
            .iter()
            .enumerate()
            .filter_map(|(i, (_, p))| {
                p.as_ref()
                    .filter(|(picks, _)| !picks.at.is_empty())
                    .map(|(_, seg)| (seg.min_ts, seg.max_ts, i))
            })
            .collect();
        spans.sort_unstable();
        let mut overlapping = Vec::new();
        let mut max_before: Option<u64> = None;
        for (k, &(min, max, i)) in spans.iter().enumerate() {
            let after = spans
                .get(k + 1)
                .is_some_and(|&(next_min, _, _)| next_min <= max);
            if whole || after || max_before.is_some_and(|m| m >= min) {
                overlapping.push(i);
            }
            max_before = Some(max_before.map_or(max, |m| m.max(max)));
        }
        let mut failed = false;
        for i in overlapping {
            let (path, entry) = &mut list[i];
            let Some((picks, seg)) = entry else { continue };
            if picks.ts.is_some() {
                continue;
            }
            match seg.ts() {
                Ok(ts) if ts.len() == seg.packets as usize => picks.ts = Some(ts),
                Ok(_) | Err(_) => {
                    warn(format!(
                        "{}: index damaged (times); the capture is read whole",
                        segment_path(path).display()
                    ));
                    *entry = None;
                    failed = true;
                }
            }
        }
        // A file now read whole overlaps every other: once more.
        if !failed {
            return;
        }
    }
}

/// The header of one pcap file holding packets of `files`: their one link type, their largest
/// snap length, nanoseconds if any has them. Files of several link types cannot share one.
pub fn pcap_format(files: &FilesSummary) -> Result<pv_record::PcapFormat, SearchError> {
    let linktype = match files.linktypes.as_slice() {
        [] => pv_capture::LINKTYPE_ETHERNET,
        [one] => *one,
        [first, other, ..] => {
            return Err(SearchError::MixedLinkTypes {
                first: *first,
                other: *other,
            });
        }
    };
    Ok(pv_record::PcapFormat {
        linktype,
        snaplen: if files.snaplen == 0 {
            pv_record::MAX_SNAPLEN
        } else {
            files.snaplen
        },
        nanosecond: files.nanosecond,
    })
}

/// What a search went through.
#[derive(Clone, Debug, Default)]
pub struct ScanStats {
    pub files: FilesSummary,
    pub packets_read: u64,
    pub matched: u64,
    /// Files not opened at all: their catalogue record says none of their packets can match.
    pub files_skipped: usize,
    /// Damage and skipped files, one line each.
    pub warnings: Vec<String>,
}

/// Calls `each` with what the files hold (an output's header needs it) and every packet below
/// `path` that `search` matches, in time order, until it returns false or `search.limit`
/// matches were given.
pub fn scan(
    path: &Path,
    search: &mut Search,
    mut each: impl FnMut(&FilesSummary, &OwnedPacket) -> Result<bool, SearchError>,
) -> Result<ScanStats, SearchError> {
    let files = capture_files(path)?;
    let mut warnings = Vec::new();
    let mut warn = |w: String| warnings.push(w);
    // With a filter the index can narrow, or a time range, each indexed plain pcap gives only
    // the packets that can match; the filter below still decides each of them.
    let plan = search.filter.as_ref().map_or(Plan::All, |f| f.plan.clone());
    let narrows = plan != Plan::All || search.from_ns.is_some() || search.to_ns.is_some();
    let mut list: Vec<(PathBuf, Option<(Picks, Stored)>)> = Vec::with_capacity(files.len());
    // Files the catalogues say cannot match are not opened: only their headers count.
    let mut unread = Vec::new();
    let mut catalogs: HashMap<PathBuf, Catalog> = HashMap::new();
    for f in files {
        // The capture's size, read once: its catalogue record and its index must both name it.
        let len = narrows
            .then(|| std::fs::metadata(&f).map(|m| m.len()).ok())
            .flatten();
        if let (Some(len), Some(dir)) = (len, f.parent()) {
            let catalog = catalogs
                .entry(dir.to_path_buf())
                .or_insert_with(|| Catalog::load(dir));
            // (An empty capture goes the usual way: it counts in no summary.)
            if let Some(e) = catalog.get(&f, len)
                && e.packets > 0
                && (search.outside(e.min_ts, e.max_ts) || !plan.may_match(e))
            {
                unread.push(PcapHeaderFacts {
                    linktype: e.linktype,
                    snaplen: e.snaplen,
                    nanosecond: e.nanosecond,
                });
                continue;
            }
        }
        let picks = if narrows {
            search.picks(&plan, &f, len, &mut warn)?
        } else {
            None
        };
        list.push((f, picks));
    }
    times_where_needed(&mut list, &mut warn);
    let list = list
        .into_iter()
        .map(|(f, p)| (f, p.map(|(picks, _)| picks)))
        .collect();
    let mut merge = TimeMerge::open_picking(list, &unread, &mut warn)?;
    // Learnt from every file's header and first packet when the merge opened; fixed since.
    let summary = merge.summary.clone();
    let (mut read, mut matched) = (0u64, 0u64);
    while search.limit.is_none_or(|l| matched < l) {
        if let Some(stop) = &search.stop
            && stop.load(std::sync::atomic::Ordering::Relaxed)
        {
            break;
        }
        let Some(p) = merge.next_packet(&mut warn)? else {
            break;
        };
        read += 1;
        if !search.in_range(p.ts_ns) {
            continue;
        }
        if let Some(filter) = &mut search.filter
            && !filter.matches(p)?
        {
            continue;
        }
        matched += 1;
        if !each(&summary, p)? {
            break;
        }
    }
    drop(merge);
    Ok(ScanStats {
        files: summary,
        packets_read: read,
        matched,
        files_skipped: unread.len(),
        warnings,
    })
}
