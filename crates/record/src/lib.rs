//! Packet recording (gotm's job): every flow's first bytes to rotated, optionally compressed,
//! standard pcap files, within a disk budget.
//!
//! - [`flow_key`]: the bidirectional key of a frame, from `pv-wire`'s decoded view.
//! - [`flow_table`]: bounded table, idle timeout in packet time, the cutoff decision.
//! - [`pcap_writer`]: the pcap global header and records (ns magic when the source has ns).
//! - [`compress`]: the file sink, plain, gzip or zstd, with durability flush points.
//! - [`rotation`]: when files end and gotm's `YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS.pcap` names.
//! - [`retention`]: the size and age budget, oldest first.
//! - `dir_walk`: the files below the recording directory (retention and recovery).
//! - [`recovery`]: `.tmp` files left by a killed recorder, cut to their last whole packet.
//! - [`stats`]: gotm's counters and the flow-size histogram, as Prometheus text.
//! - [`recorder`]: ties them together.
//!
//! Pure of live capture: the file command and the live agent both hand packets to a
//! [`Recorder`].

pub mod compress;
pub mod cut;
mod dir_walk;
pub mod flow_key;
pub mod flow_table;
pub mod pcap_writer;
pub mod recorder;
#[cfg(test)]
mod recorder_tests;
pub mod recovery;
pub mod retention;
pub mod rotation;
pub mod stats;

pub use compress::Compression;
pub use cut::{CutPacket, CutPackets, LiveCut};
pub use flow_key::FlowKey;
pub use flow_table::{FlowTable, FlowTableConfig};
pub use pcap_writer::{MAX_SNAPLEN, PcapFormat};
pub use recorder::{Log, OnComplete, RecordConfig, Recorder};
pub use retention::{CATALOG_NAME, INDEX_SUFFIX, RetentionPolicy};
pub use rotation::RotationPolicy;
pub use stats::{FLOW_SIZE_HELP, Metric, RecordStats};
