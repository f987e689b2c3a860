//! A search over capture files: a BPF filter (tcpdump's expressions, compiled by libpcap for
//! each file's link type) and a time range, over the files' packets in time order.

use crate::error::SearchError;
use crate::files::capture_files;
use crate::filter::Filter;
use crate::merge::{FilesSummary, OwnedPacket, TimeMerge};
use std::path::Path;

/// What to look for.
pub struct Search {
    filter: Option<Filter>,
    /// Packets at or after this time (ns since the epoch).
    pub from_ns: Option<u64>,
    /// Packets before this time.
    pub to_ns: Option<u64>,
    /// Stop after this many matches.
    pub limit: Option<u64>,
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
        })
    }

    fn in_range(&self, ts_ns: u64) -> bool {
        self.from_ns.is_none_or(|f| ts_ns >= f) && self.to_ns.is_none_or(|t| ts_ns < t)
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
    let mut merge = TimeMerge::open(&files, &mut warn)?;
    // Learnt from every file's header and first packet when the merge opened; fixed since.
    let summary = merge.summary.clone();
    let (mut read, mut matched) = (0u64, 0u64);
    while search.limit.is_none_or(|l| matched < l) {
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
        warnings,
    })
}
