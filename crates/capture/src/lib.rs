//! Capture input for pktvisor: a zero-copy reader of pcap and pcapng files (plain or
//! gzip-compressed, told apart by content, not name) that is exact about where a damaged file
//! stops being readable, BPF filtering with libpcap's compiler and interpreter, and live
//! capture from interfaces through libpcap ([`LiveCapture`], [`resolve_target`]).
//!
//! ```
//! use pv_capture::{BpfSet, FileReader};
//!
//! let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
//!     .join("../../testdata/fixtures/dns_udp_tcp_random.pcap");
//! let mut reader = FileReader::open(&path)?;
//! let mut filter = BpfSet::new("udp port 53")?;
//! let (mut packets, mut matched) = (0, 0);
//! loop {
//!     match reader.next_packet() {
//!         Ok(Some(p)) => {
//!             packets += 1;
//!             if filter.matches(p.linktype, p.data, p.orig_len)? {
//!                 matched += 1;
//!             }
//!         }
//!         Ok(None) => break,
//!         // Damage ends the file; what was read before it is good.
//!         Err(e) if e.is_damage() => {
//!             eprintln!("{e}");
//!             break;
//!         }
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! assert_eq!((packets, matched), (16147, 2971)); // as tcpdump counts them
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bpf;
mod buffer;
mod error;
mod interfaces;
mod live;
mod live_errors;
mod live_stats;
mod netdev;
mod packet;
mod pcap_at;
mod pcap_file;
mod pcapng;
mod reader;
mod record;
mod shared_pcap;
mod source;

pub use bpf::{BpfFilter, BpfSet, LINKTYPE_ETHERNET};
pub use error::{BpfError, CaptureError};
pub use interfaces::{
    ANY_INTERFACE, AUTO_SAMPLE_INTERVAL, InterfaceAddr, InterfaceInfo, list_interfaces,
    resolve_target, resolve_target_with,
};
pub use live::{LiveCapture, LiveConfig, TimestampPrecision};
pub use live_stats::LiveStats;
pub use packet::{FileFormat, Packet};
pub use pcap_at::PcapAt;
pub use pcap_file::{MAX_CAPLEN, PcapHeader};
pub use pcapng::MAX_BLOCK_LEN;
pub use reader::{FileReader, PacketReader};
pub use shared_pcap::{PcapCursor, SharedPcap, Tagger};

#[cfg(test)]
mod send_tests {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    #[test]
    fn reader_and_filters_can_move_to_worker_threads() {
        assert_send::<super::FileReader>();
        assert_sync::<super::SharedPcap>();
        assert_send::<super::PcapCursor<'static>>();
        assert_send::<super::LiveCapture>();
        assert_send::<super::BpfFilter>();
        assert_sync::<super::BpfFilter>();
        assert_send::<super::BpfSet>();
        assert_send::<super::CaptureError>();
        assert_send::<super::BpfError>();
    }
}
