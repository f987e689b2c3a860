//! Finding packets in recordings (issue 15's first step): every capture file below a directory
//! — the recorder's rotated `.pcap`, `.pcap.gz` and `.pcap.zst` files, the one being written
//! (`.tmp`), or files made elsewhere (`tcpdump -G`) — read as one stream in time order,
//! through a BPF filter and a time range.
//!
//! This first step scans the files; the field index that lets a query skip what cannot match
//! comes next and will answer the same questions faster, so the answers here are the reference
//! its tests compare with.
//!
//! ```no_run
//! use pv_search::{Search, scan};
//! let mut search = Search::new(Some("udp port 53"), None, None, None)?;
//! let dir = std::path::Path::new("/var/lib/pv/rec");
//! let stats = scan(dir, &mut search, |_files, _packet| Ok(true))?;
//! eprintln!("{} of {} packets", stats.matched, stats.packets_read);
//! # Ok::<(), pv_search::SearchError>(())
//! ```

mod error;
mod files;
pub mod filter;
pub mod index;
mod merge;
pub mod pql;
mod scan;
pub mod time;

pub use error::SearchError;
pub use files::capture_files;
pub use merge::{FilesSummary, OwnedPacket, TimeMerge};
pub use scan::{ScanStats, Search, pcap_format, scan};
