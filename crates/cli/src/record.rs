//! `pktvisor record INPUT --out DIR`: re-cuts a capture file with the recorder's rules (flow
//! cutoff, rotation, compression, retention) into gotm's file layout.

use crate::progress::FileProgress;
use crate::record_args::RecordArgs;
use crate::stop_signal;
use pv_capture::FileFormat;
use pv_pipeline::{PipelineError, read_packets};
use pv_record::{MAX_SNAPLEN, RecordStats, Recorder};
use pv_search::index::Indexer;
use pv_wire::LinkType;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct RecordCmd {
    /// Output directory: files go to DIR/YYYY/MM/DD/YYYY-MM-DDTHH-MM-SS.pcap[.gz|.zst].
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub record: RecordArgs,

    /// Bytes kept of each packet (default: the input's snap length).
    #[arg(long, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SNAPLEN)))]
    pub snaplen: Option<u32>,

    /// A capture file (.pcap, .pcapng, optionally gzip-compressed).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
}

/// Records the whole file; damage in the input ends it with a warning, like a summary does.
/// SIGINT/SIGTERM end it early with the current file completed.
pub fn run(program: &str, cmd: &RecordCmd) -> Result<RecordStats, String> {
    // As the summary: a classic pcap of a link type we cannot decode is refused up front (its
    // files would be pcap files nothing reads); pcapng packets of such interfaces are skipped
    // and counted.
    let mut reader = pv_pipeline::open_capture(&cmd.input).map_err(|e| e.to_string())?;
    // pcapng timestamps may be finer than microseconds; pcap says which it has.
    let nanosecond = match reader.format() {
        FileFormat::Pcap => reader.pcap_header().is_some_and(|h| h.nanosecond),
        FileFormat::PcapNg => true,
    };
    let input_snaplen = reader.snaplen().filter(|&s| s > 0).unwrap_or(MAX_SNAPLEN);
    let snaplen = cmd.snaplen.map_or(input_snaplen, |s| s.min(MAX_SNAPLEN));
    let config = cmd.record.to_config(&cmd.out, snaplen, nanosecond);
    let log_program = program.to_string();
    let mut recorder = Recorder::new(
        config,
        Box::new(move |line| eprintln!("{log_program}: {line}")),
    )
    .map_err(|e| format!("cannot record to {}: {e}", cmd.out.display()))?;
    let indexer = match cmd.record.no_index {
        true => None,
        false => Some(indexing(program, &mut recorder)?),
    };
    let flusher =
        Flusher::start(recorder).map_err(|e| format!("cannot start the flush thread: {e}"))?;
    stop_signal::install();
    let mut progress = FileProgress::new();
    let mut unsupported = 0u64;
    // A regular file never makes a read wait for long: the recorder stays locked across 4096
    // packets. A pipe or FIFO can make it wait for ever: the lock is let go before every read,
    // so that the flusher can flush what came before the pause.
    let regular_file = reader.file_size().is_some();
    let mut held: Option<MutexGuard<'_, Recorder>> = None;
    let mut since_release = 0u32;
    let read = read_packets(
        &mut reader,
        &mut |read, total| progress.update(read, total),
        |p| {
            if stop_signal::requested() {
                return Err(PipelineError::Stopped);
            }
            if LinkType::from_linktype(p.linktype).is_none() {
                unsupported += 1;
                return Ok(());
            }
            let recorder = held.get_or_insert_with(|| flusher.lock());
            recorder.record(p.linktype, p.ts_ns, p.orig_len, p.data);
            since_release += 1;
            if !regular_file || since_release == 4096 {
                since_release = 0;
                held = None;
            }
            Ok(())
        },
    );
    drop(held);
    match read {
        Ok(None) | Err(PipelineError::Stopped) => {}
        Ok(Some(damage)) => {
            eprintln!("{program}: warning: {damage}; recorded the packets before it")
        }
        Err(e) => return Err(e.to_string()),
    }
    progress.finish();
    if unsupported > 0 {
        eprintln!(
            "{program}: warning: {unsupported} packets of link types we cannot decode were not recorded"
        );
    }
    if stop_signal::requested() {
        eprintln!("{program}: stopped by a signal; the current file is complete");
    }
    let stats = flusher.stop().finish();
    if let Some(indexer) = indexer {
        let done = indexer.finish();
        eprintln!(
            "{program}: indexed {} files ({} packets){}",
            done.files,
            done.packets,
            match done.failed {
                0 => String::new(),
                n => format!("; {n} could not be indexed"),
            }
        );
    }
    Ok(stats)
}

/// Every file the recorder completes is indexed by a thread of its own.
pub fn indexing(program: &str, recorder: &mut Recorder) -> Result<Indexer, String> {
    let log_program = program.to_string();
    let indexer = Indexer::spawn(Box::new(move |line| eprintln!("{log_program}: {line}")))
        .map_err(|e| format!("cannot start the index thread: {e}"))?;
    recorder.on_file_complete(indexer.hook());
    Ok(indexer)
}

/// The recorder, shared with a thread that flushes it on time: reading a FIFO or a slow pipe
/// blocks between packets, and what was recorded before such a pause must reach the disk
/// within `--flush-every` (a `kill -9` during a 3 s pause lost 1 184 of 1 000 000 packets
/// when flushes came only with packets). Locking per packet cost 25 % (2.4 M packets of
/// dns_60s.pcap recorded whole, `--flow-cutoff-bytes 0`: 0.40 s became 0.51 s), so a regular
/// file holds the lock across 4096 packets (0.40 s); a pipe locks per packet, which its
/// writer's pace hides.
struct Flusher {
    recorder: Arc<Mutex<Recorder>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Flusher {
    /// How often the thread looks; the recorder flushes when its interval has passed.
    const LOOK_EVERY: Duration = Duration::from_millis(100);

    fn start(recorder: Recorder) -> std::io::Result<Flusher> {
        let recorder = Arc::new(Mutex::new(recorder));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (recorder, stop) = (recorder.clone(), stop.clone());
            std::thread::Builder::new()
                .name("pv-flush".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Self::LOOK_EVERY);
                        lock(&recorder).flush_if_due();
                    }
                })?
        };
        Ok(Flusher {
            recorder,
            stop,
            thread,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Recorder> {
        lock(&self.recorder)
    }

    /// Ends the thread and gives the recorder back.
    fn stop(self) -> Recorder {
        self.stop.store(true, Ordering::Relaxed);
        // The thread only sleeps and flushes; a panic there is the recorder's own, which the
        // lock then carries.
        let _ = self.thread.join();
        match Arc::try_unwrap(self.recorder) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(_) => unreachable!("the flush thread has ended and dropped its handle"),
        }
    }
}

/// A recorder whose user panicked is still consistent for what follows (counters and files
/// are updated packet by packet), so the poison is ignored.
fn lock(recorder: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    recorder.lock().unwrap_or_else(|p| p.into_inner())
}

/// The closing line: what went in, what came out.
pub fn summary_line(s: &RecordStats) -> String {
    format!(
        "packets in {} out {}, bytes in {} out {}, flows {} (expired {}, evicted {}), files written {} deleted {} recovered {}, bytes on disk {}",
        s.packets,
        s.packets_output,
        s.bytes,
        s.bytes_output,
        s.flows.created,
        s.flows.expired,
        s.flows.evicted,
        s.files_written,
        s.files_deleted,
        s.files_recovered,
        s.bytes_on_disk
    )
}

/// Why a recording is incomplete (packets lost to write errors, or a failed rename or
/// deletion), None when everything offered was handled.
pub fn incomplete(s: &RecordStats) -> Option<String> {
    if s.packets_paused == 0 && s.write_errors == 0 {
        return None;
    }
    let first = s
        .first_error
        .as_deref()
        .unwrap_or("a rename or deletion failed");
    Some(format!(
        "recorded {} of the {} packets to keep; {} not written, {} write error(s), the first: {first}",
        s.packets_output,
        s.packets_output + s.packets_paused,
        s.packets_paused,
        s.write_errors
    ))
}
