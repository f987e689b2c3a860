//! The recorder: each packet goes through the flow table's cutoff decision and, if kept, into
//! the current pcap file; files rotate by packet time and size, complete by a rename, and the
//! retention budget is enforced as each one completes.
//!
//! Write failures (a full disk, most often) never stop the caller: recording pauses with one
//! logged error, the packets offered meanwhile are counted as not written, and a new file is
//! tried again after [`RETRY_AFTER_NS`] of packet time. The file that failed is recovered on
//! the spot to its last whole packet, so what was written before the failure is kept.

use crate::compress::{Compression, Sink};
use crate::cut::{CutPackets, LiveCut};
use crate::flow_key::FlowKey;
use crate::flow_table::{FlowTable, FlowTableConfig};
use crate::pcap_writer::PcapFormat;
use crate::recovery::{Recovery, find_tmp_files, recover};
use crate::retention::{Retention, RetentionPolicy};
use crate::rotation::{NS_PER_SEC, RotationPolicy, file_path, tmp_path};
use crate::stats::RecordStats;
use pv_wire::{LinkType, decode};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After a write error, the next attempt waits this much packet time.
pub const RETRY_AFTER_NS: u64 = 10 * NS_PER_SEC;
/// The wall clock is read once per this many packets to decide on a durability flush.
const FLUSH_CHECK_EVERY: u32 = 256;

#[derive(Clone, Debug)]
pub struct RecordConfig {
    pub dir: PathBuf,
    pub flows: FlowTableConfig,
    pub rotation: RotationPolicy,
    pub compression: Compression,
    pub retention: RetentionPolicy,
    /// Bytes kept of each packet (the global header's snaplen).
    pub snaplen: u32,
    /// Whether the source's timestamps have nanosecond precision.
    pub nanosecond: bool,
    /// Wall time between durability flushes: what a `kill -9` can lose at most.
    pub flush_every: Duration,
}

/// Receives the recorder's log lines (rotations, deletions, recoveries, errors).
/// The latest packet time taken as real: 2200-01-01T00:00:00Z (pcap's 32-bit seconds end in
/// 2106; pcapng's 64-bit units can say anything).
pub const MAX_PLAUSIBLE_NS: u64 = 7_258_118_400 * NS_PER_SEC;

pub type Log = Box<dyn FnMut(&str) + Send>;

/// Told the path of every file completed (renamed from `.tmp`), with the packets past their
/// flow's cutoff that came while it was written: what indexes recordings.
pub type OnComplete = Box<dyn FnMut(&Path, CutPackets) + Send>;

struct OpenFile {
    sink: Sink,
    tmp: PathBuf,
    path: PathBuf,
    format: PcapFormat,
    /// Packet time at which this file's interval ends.
    interval_end_ns: u64,
    packets: u64,
    /// Uncompressed pcap bytes written (what `--rotate-size` limits).
    pcap_bytes: u64,
    /// Wire bytes of the packets handed to this file.
    wire_bytes: u64,
}

pub struct Recorder {
    config: RecordConfig,
    table: FlowTable,
    retention: Retention,
    stats: RecordStats,
    current: Option<OpenFile>,
    /// Whether the next file starts at an interval boundary (named by the aligned time).
    next_aligned: bool,
    /// While paused by a write error: the packet time of the next attempt.
    retry_at_ns: Option<u64>,
    newest_ns: u64,
    last_flush: Instant,
    until_flush_check: u32,
    log: Log,
    on_complete: Option<OnComplete>,
    /// Packets cut while the current file is written (kept only when someone indexes), since
    /// they were last published to `live`.
    cut: CutPackets,
    /// Where the current file's cut packets are published for queries of the open file.
    live: Option<Arc<Mutex<LiveCut>>>,
}

impl Recorder {
    /// Creates the output directory, recovers `.tmp` files an earlier run left in it, and
    /// takes stock of the completed files for the retention budget.
    pub fn new(config: RecordConfig, mut log: Log) -> io::Result<Recorder> {
        std::fs::create_dir_all(&config.dir).map_err(|e| with_path(e, &config.dir))?;
        let mut stats = RecordStats::default();
        for tmp in find_tmp_files(&config.dir)? {
            match recover(&tmp) {
                Ok(Recovery::Recovered { path, packets, .. }) => {
                    stats.files_recovered += 1;
                    log(&format!(
                        "recovered {} ({packets} packets) from an unfinished earlier run",
                        path.display()
                    ));
                }
                Ok(Recovery::Empty) => log(&format!(
                    "removed {}: an earlier run left it without a whole pcap header",
                    tmp.display()
                )),
                Ok(Recovery::NotOurs) => {}
                Err(e) => {
                    stats.write_errors += 1;
                    log(&format!("cannot recover {}: {e}", tmp.display()));
                }
            }
        }
        let retention = Retention::scan(&config.dir, config.retention)?;
        stats.bytes_on_disk = retention.total_bytes();
        Ok(Recorder {
            table: FlowTable::new(config.flows),
            config,
            retention,
            stats,
            current: None,
            next_aligned: true,
            retry_at_ns: None,
            newest_ns: 0,
            last_flush: Instant::now(),
            until_flush_check: FLUSH_CHECK_EVERY,
            log,
            on_complete: None,
            cut: CutPackets::default(),
            live: None,
        })
    }

    /// Offers one packet; returns whether it was written.
    #[inline]
    pub fn record(&mut self, linktype: u32, ts_ns: u64, orig_len: u32, data: &[u8]) -> bool {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(orig_len);
        // A timestamp past any real capture (a pcapng interface with `if_tsresol` 0 saturates
        // them all at u64::MAX) would end an interval on every packet and name files after year
        // 500 000: such a packet is counted and filed at the newest plausible time instead, so
        // file creation stays bounded by the real clock.
        let ts_ns = if ts_ns > MAX_PLAUSIBLE_NS {
            self.stats.implausible_timestamps += 1;
            self.newest_ns
        } else {
            ts_ns
        };
        self.newest_ns = self.newest_ns.max(ts_ns);
        // Link types the decoder does not know carry no flow: their frames are all kept.
        let (key, flags) = match LinkType::from_linktype(linktype) {
            Some(link) => {
                let d = decode(link, data);
                (FlowKey::of(&d), d.tcp_flags)
            }
            None => (None, 0),
        };
        if !self.table.keep(key, ts_ns, orig_len, flags) {
            if self.on_complete.is_some() {
                let after = self.current.as_ref().map_or(0, |f| f.packets);
                if !self.cut.push(after, ts_ns, orig_len, linktype, data) {
                    self.stats.cut_not_indexed += 1;
                }
            }
            return false;
        }
        let written = self.write(linktype, ts_ns, orig_len, data);
        self.until_flush_check -= 1;
        if self.until_flush_check == 0 {
            self.until_flush_check = FLUSH_CHECK_EVERY;
            self.flush_if_due();
        }
        written
    }

    /// Calls `f` with the path of every file completed from now on (after its rename).
    pub fn on_file_complete(&mut self, f: OnComplete) {
        self.on_complete = Some(f);
    }

    /// The current file's packets past the cutoff, shared from now on (with `on_file_complete`
    /// set: nobody keeps them otherwise): published at each flush, with the file's stored
    /// packets, so that a query of the open file counts them too.
    pub fn share_cut(&mut self) -> Arc<Mutex<LiveCut>> {
        self.live
            .get_or_insert_with(|| Arc::new(Mutex::new(LiveCut::default())))
            .clone()
    }

    /// Flushes the current file if `flush_every` has passed; call it when idle too.
    pub fn flush_if_due(&mut self) {
        if self.last_flush.elapsed() < self.config.flush_every {
            return;
        }
        self.last_flush = Instant::now();
        if let Some(file) = self.current.as_mut()
            && let Err(e) = file.sink.flush_durable()
        {
            self.fail(e);
        }
        self.publish_cut();
    }

    /// Hands the packets cut since the last time to `live` (only those: a copy of the whole
    /// list each time would cost up to 200 MB a flush), with the open file they belong with.
    fn publish_cut(&mut self) {
        let Some(live) = &self.live else {
            return;
        };
        if let Ok(mut live) = live.lock() {
            live.tmp = self.current.as_ref().map(|f| f.tmp.clone());
            live.cut.append(std::mem::take(&mut self.cut));
        }
    }

    /// All the current file's cut packets, published or not; `live` holds none after.
    fn take_cut(&mut self) -> CutPackets {
        let tail = std::mem::take(&mut self.cut);
        let Some(live) = &self.live else {
            return tail;
        };
        let Ok(mut live) = live.lock() else {
            return tail;
        };
        live.tmp = None;
        let mut all = std::mem::take(&mut live.cut);
        all.append(tail);
        all
    }

    /// A copy of the counters.
    pub fn stats(&self) -> RecordStats {
        let mut s = self.stats.clone();
        s.flows = self.table.stats().clone();
        s
    }

    /// Completes the current file and returns the final counters.
    pub fn finish(mut self) -> RecordStats {
        self.close_current();
        self.table.finish();
        self.stats()
    }

    fn write(&mut self, linktype: u32, ts_ns: u64, orig_len: u32, data: &[u8]) -> bool {
        if let Some(retry_at) = self.retry_at_ns {
            if ts_ns < retry_at {
                self.stats.packets_paused += 1;
                return false;
            }
            self.retry_at_ns = None;
        }
        if let Some(file) = &self.current {
            if ts_ns >= file.interval_end_ns {
                self.close_current();
                self.next_aligned = true;
            } else if file.format.linktype != linktype {
                self.close_current();
                self.next_aligned = false;
            }
        }
        if self.current.is_none() {
            match self.open(linktype, ts_ns) {
                Ok(file) => {
                    if self.stats.paused {
                        self.stats.paused = false;
                        (self.log)(&format!("recording again, into {}", file.tmp.display()));
                    }
                    self.current = Some(file);
                }
                Err(e) => {
                    self.fail(e);
                    self.stats.packets_paused += 1;
                    return false;
                }
            }
        }
        let Some(file) = self.current.as_mut() else {
            return false;
        };
        match file
            .format
            .write_record(&mut file.sink, ts_ns, orig_len, data)
        {
            Ok(n) => file.pcap_bytes += n as u64,
            Err(e) => {
                self.fail(e);
                self.stats.packets_paused += 1;
                return false;
            }
        }
        file.packets += 1;
        file.wire_bytes += u64::from(orig_len);
        self.stats.packets_output += 1;
        self.stats.bytes_output += u64::from(orig_len);
        let size_limit = self.config.rotation.size_bytes;
        // Counted before compression: the compressor releases its output a block at a time,
        // so only this count is exact, and a compressed file is then never larger.
        if size_limit > 0 && file.pcap_bytes >= size_limit {
            self.close_current();
            self.next_aligned = false;
        }
        true
    }

    fn open(&mut self, linktype: u32, ts_ns: u64) -> io::Result<OpenFile> {
        let rotation = self.config.rotation;
        let name_secs = rotation.name_time(ts_ns, self.next_aligned) / NS_PER_SEC;
        let suffix = self.config.compression.suffix();
        let (path, tmp) = (0..)
            .map(|attempt| {
                let path = file_path(&self.config.dir, name_secs, suffix, attempt);
                let tmp = tmp_path(&path);
                (path, tmp)
            })
            .find(|(path, tmp)| !path.exists() && !tmp.exists())
            .unwrap_or_default();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| with_path(e, parent))?;
        }
        let format = PcapFormat {
            linktype,
            snaplen: self.config.snaplen,
            nanosecond: self.config.nanosecond,
        };
        let mut sink =
            Sink::create(&tmp, self.config.compression).map_err(|e| with_path(e, &tmp))?;
        // Pushed to the kernel at once (one flush per file): a `kill -9` between a rotation and
        // the next timed flush then leaves a file that recovery keeps (with the packets flushed
        // since), not one it must delete for want of a header.
        let header = std::io::Write::write_all(&mut sink, &format.global_header())
            .and_then(|()| sink.flush_durable());
        if let Err(e) = header {
            // A full disk: the file holds no packet and maybe part of a header. It goes, so
            // that every file left is whole; recording pauses and tries a new one later.
            drop(sink);
            let _ = std::fs::remove_file(&tmp);
            return Err(with_path(e, &tmp));
        }
        Ok(OpenFile {
            sink,
            tmp,
            path,
            format,
            interval_end_ns: rotation.interval_end(ts_ns),
            packets: 0,
            pcap_bytes: crate::pcap_writer::GLOBAL_HEADER_LEN as u64,
            wire_bytes: 0,
        })
    }

    /// Ends the current file: completes its stream, renames it, enforces the budget, and logs
    /// one line as gotm does per rotation.
    fn close_current(&mut self) {
        let Some(file) = self.current.take() else {
            return;
        };
        let done = file
            .sink
            .finish()
            .and_then(|size| std::fs::rename(&file.tmp, &file.path).map(|()| size));
        let size = match done {
            Ok(size) => size,
            Err(e) => {
                self.pause(&with_path(e, &file.tmp));
                self.salvage(&file.tmp, file.packets, file.wire_bytes);
                // Their file is not indexed now (the next start recovers and indexes it).
                self.stats.cut_not_indexed += self.take_cut().len() as u64;
                return;
            }
        };
        self.stats.files_written += 1;
        let s = self.table.stats();
        (self.log)(&format!(
            "wrote {} ({} packets, {size} bytes; {} packets seen, {} written, {} active flows)",
            file.path.display(),
            file.packets,
            self.stats.packets,
            self.stats.packets_output,
            s.active
        ));
        let cut = self.take_cut();
        if let Some(f) = &mut self.on_complete {
            f(&file.path, cut);
        }
        self.retention.add(&file.path, size);
        let log = &mut self.log;
        let enforced = self.retention.enforce(self.newest_ns, &mut |l| log(l));
        self.stats.files_deleted += enforced.deleted;
        self.stats.write_errors += enforced.errors;
        self.stats.bytes_on_disk = self.retention.total_bytes();
    }

    /// A write failed: pause recording, keep what the current file holds.
    fn fail(&mut self, error: io::Error) {
        self.pause(&error);
        if let Some(file) = self.current.take() {
            // Whatever the compressor and the buffer hold can no longer be trusted to reach
            // the file.
            drop(file.sink);
            self.salvage(&file.tmp, file.packets, file.wire_bytes);
        }
    }

    /// Stops writing until [`RETRY_AFTER_NS`] of packet time has passed; logged once per pause.
    fn pause(&mut self, error: &io::Error) {
        self.stats.write_errors += 1;
        if self.stats.first_error.is_none() {
            self.stats.first_error = Some(error.to_string());
        }
        if !self.stats.paused {
            (self.log)(&format!(
                "error: recording paused: {error}; retrying in {} s of packet time",
                RETRY_AFTER_NS / NS_PER_SEC
            ));
        }
        self.stats.paused = true;
        self.retry_at_ns = Some(self.newest_ns.saturating_add(RETRY_AFTER_NS));
        self.next_aligned = false;
    }

    /// Keeps the whole packets of a file that could not be completed normally; of the packets
    /// (and wire bytes) handed to its writer, those that did not reach it move from written to
    /// lost.
    fn salvage(&mut self, tmp: &Path, handed: u64, handed_bytes: u64) {
        let recovered = recover(tmp);
        let (kept, kept_bytes) = match &recovered {
            Ok(Recovery::Recovered {
                packets,
                wire_bytes,
                ..
            }) => (*packets, *wire_bytes),
            _ => (0, 0),
        };
        let lost = handed.saturating_sub(kept);
        let lost_bytes = handed_bytes.saturating_sub(kept_bytes);
        self.stats.packets_output = self.stats.packets_output.saturating_sub(lost);
        self.stats.bytes_output = self.stats.bytes_output.saturating_sub(lost_bytes);
        self.stats.packets_paused += lost;
        match recovered {
            Ok(Recovery::Recovered { path, packets, .. }) => {
                if let Ok(m) = std::fs::metadata(&path) {
                    self.retention.add(&path, m.len());
                    self.stats.bytes_on_disk = self.retention.total_bytes();
                }
                self.stats.files_written += 1;
                (self.log)(&format!(
                    "kept {} ({packets} whole packets) after the error",
                    path.display()
                ));
            }
            Ok(_) => {}
            Err(e) => (self.log)(&format!(
                "{} is left for recovery at the next start: {e}",
                tmp.display()
            )),
        }
    }
}

impl Drop for Recorder {
    /// An unwinding caller still gets a complete last file.
    fn drop(&mut self) {
        self.close_current();
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
