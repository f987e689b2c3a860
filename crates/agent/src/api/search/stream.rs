//! A pcap answer, streamed whatever its size: the search (on tokio's blocking pool) hands its
//! bytes over in chunks through a queue a few chunks deep, so memory stays bounded, a slow
//! client slows the search down, and a client that goes away ends it. The status is chosen once
//! the first chunk (or the error that ends the search before one) arrives; an error after that
//! ends the transfer early (the client sees it cut, not a clean end) and is logged.

use super::{Running, StopOnDrop, error};
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use pv_http::body::{ChannelBody, Next, OnClose, Piece};
use pv_record::PcapFormat;
use pv_search::{FilesSummary, OwnedPacket, Search, SearchError, pcap_format, scan};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Bytes of pcap gathered before they are handed to the connection.
const CHUNK_BYTES: usize = 64 << 10;

/// Chunks queued between a search and its connection. With the chunk being gathered, this
/// bounds what a pcap answer holds in memory (besides hyper's and the socket's buffers).
const QUEUED_CHUNKS: usize = 4;

/// Runs `search` over `dir` on the blocking pool (counted by `running`) and answers with its
/// matches as one pcap file, streamed. Dropped before the answer (the client gone while the
/// search finds nothing yet), or with the answer's body, it stops the search.
pub(super) async fn answer(dir: PathBuf, mut search: Search, running: Running) -> Response {
    let stop = StopOnDrop::arm(&mut search);
    let (tx, mut rx) = mpsc::channel(QUEUED_CHUNKS);
    // Not awaited: the search ends by itself, or at its next packet once `stop` is dropped.
    tokio::task::spawn_blocking(move || {
        let _running = running;
        stream_pcap(&dir, search, tx);
    });
    match rx.recv().await {
        Some(SearchPiece::Pcap(first)) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/vnd.tcpdump.pcap")],
            Body::new(pcap_body(first, rx, stop)),
        )
            .into_response(),
        Some(SearchPiece::Failed(SearchError::NoCaptures { .. })) => {
            error(StatusCode::NOT_FOUND, "nothing recorded yet")
        }
        Some(SearchPiece::Failed(e @ SearchError::MixedLinkTypes { .. })) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
        Some(SearchPiece::Failed(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        // The search panicked (or the runtime is ending) before it said anything.
        Some(SearchPiece::Done) | None => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "the search stopped")
        }
    }
}

/// What a pcap search hands its connection, in order: chunks of the file, then `Done` or
/// the error that ended it. The first is a chunk or an error, never `Done`.
enum SearchPiece {
    Pcap(Bytes),
    Done,
    Failed(SearchError),
}

/// Runs the search of a pcap answer (on the blocking pool), sending the file into `tx` as
/// it is found; returns when the search ends, its stop flag is set or the receiver is gone.
fn stream_pcap(dir: &Path, mut search: Search, tx: mpsc::Sender<SearchPiece>) {
    let mut out = ChunkWriter {
        tx,
        buf: Vec::with_capacity(CHUNK_BYTES),
        format: None,
        sent: false,
    };
    let scanned = scan(dir, &mut search, |files, p| out.packet(files, p));
    let ended = scanned.and_then(|stats| {
        // No match: the file is its global header alone, as tcpdump writes it.
        if out.format.is_none() {
            let header = pcap_format(&stats.files)?.global_header();
            out.buf.extend_from_slice(&header);
        }
        Ok(())
    });
    match ended {
        Ok(()) => {
            if out.buf.is_empty() || out.flush() {
                let _ = out.tx.blocking_send(SearchPiece::Done);
            }
        }
        Err(e) => {
            if out.sent {
                eprintln!("pktvisord: error: a pcap answer was cut short: {e}");
            }
            let _ = out.tx.blocking_send(SearchPiece::Failed(e));
        }
    }
}

/// The pcap file of an answer as the search writes it, handed over in chunks of about
/// [`CHUNK_BYTES`]; the first goes as soon as it holds a packet, so that the answer starts.
struct ChunkWriter {
    tx: mpsc::Sender<SearchPiece>,
    buf: Vec<u8>,
    format: Option<PcapFormat>,
    /// A chunk was handed over: the client has its status.
    sent: bool,
}

impl ChunkWriter {
    /// Writes one packet (the global header first); false once the client has gone, which
    /// ends the search.
    fn packet(&mut self, files: &FilesSummary, p: &OwnedPacket) -> Result<bool, SearchError> {
        if self.tx.is_closed() {
            return Ok(false);
        }
        let format = match self.format {
            Some(f) => f,
            None => {
                let f = pcap_format(files)?;
                self.buf.extend_from_slice(&f.global_header());
                *self.format.insert(f)
            }
        };
        // Writing into memory cannot fail.
        let _ = format.write_record(&mut self.buf, p.ts_ns, p.orig_len, &p.data);
        if !self.sent || self.buf.len() >= CHUNK_BYTES {
            return Ok(self.flush());
        }
        Ok(true)
    }

    /// Hands the bytes gathered over, waiting while the queue is full (the client's pace);
    /// false once the client has gone.
    fn flush(&mut self) -> bool {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.sent = true;
        self.tx
            .blocking_send(SearchPiece::Pcap(Bytes::from(chunk)))
            .is_ok()
    }
}

/// The search's pieces to its body: chunks, then a clean end or an error that cuts the
/// transfer.
impl Piece for SearchPiece {
    fn next(self) -> Next {
        match self {
            SearchPiece::Pcap(chunk) => Next::Data(chunk),
            SearchPiece::Done => Next::Done,
            // Logged by the search.
            SearchPiece::Failed(e) => Next::Failed(e.to_string().into()),
        }
    }
}

/// The body of a pcap answer: its first chunk, then what the search sends. An error, or the
/// search stopping without saying it is done, ends the body with an error, so that hyper
/// cuts the transfer instead of ending it cleanly. Dropped with the connection, which closes
/// the queue and stops the search.
fn pcap_body(
    first: Bytes,
    rx: mpsc::Receiver<SearchPiece>,
    stop: StopOnDrop,
) -> ChannelBody<SearchPiece> {
    let cut = OnClose::Cut {
        what: "a pcap answer",
        why: "the search stopped",
    };
    ChannelBody::new(rx, cut).first(first).guard(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A directory of its own under the temp directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("pv-agent-search-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Writes `file` holding `n` packets of `len` bytes, 1 ms apart; returns its bytes.
    fn write_pcap(file: &Path, linktype: u32, n: u32, len: usize) -> Vec<u8> {
        let format = PcapFormat {
            linktype,
            snaplen: 65535,
            nanosecond: true,
        };
        let mut bytes = format.global_header().to_vec();
        for i in 0..n {
            let data: Vec<u8> = (0..len).map(|b| (b as u32 ^ i) as u8).collect();
            let ts = 1_700_000_000_000_000_000 + u64::from(i) * 1_000_000;
            format
                .write_record(&mut bytes, ts, len as u32, &data)
                .unwrap();
        }
        std::fs::write(file, &bytes).unwrap();
        bytes
    }

    /// Starts the search of a pcap answer over `dir` on a thread of its own.
    fn start(
        dir: &Path,
        search: Search,
    ) -> (mpsc::Receiver<SearchPiece>, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
        let dir = dir.to_path_buf();
        let thread = std::thread::spawn(move || stream_pcap(&dir, search, tx));
        (rx, thread)
    }

    fn all() -> Search {
        Search::new(None, None, None, None).unwrap()
    }

    #[test]
    fn a_large_answer_comes_in_bounded_chunks_that_make_the_whole_file() {
        let dir = TempDir::new("large");
        let file = write_pcap(&dir.0.join("a.pcap"), 1, 20_000, 600);
        let (mut rx, thread) = start(&dir.0, all());
        let mut got = Vec::new();
        let mut chunks = 0;
        loop {
            match rx.blocking_recv() {
                Some(SearchPiece::Pcap(chunk)) => {
                    // The first goes as soon as it holds a packet; the others near the size.
                    let most = if chunks == 0 {
                        24 + 16 + 600
                    } else {
                        CHUNK_BYTES + 616
                    };
                    assert!(chunk.len() <= most, "chunk {chunks}: {} bytes", chunk.len());
                    got.extend_from_slice(&chunk);
                    chunks += 1;
                }
                Some(SearchPiece::Done) => break,
                Some(SearchPiece::Failed(e)) => panic!("{e}"),
                None => panic!("ended without Done"),
            }
        }
        thread.join().unwrap();
        assert!(file.len() > 10 << 20);
        assert!(got == file, "{} bytes vs {}", got.len(), file.len());
        assert!(chunks > file.len() / (CHUNK_BYTES + 616));
    }

    #[test]
    fn a_receiver_that_goes_away_ends_the_search() {
        let dir = TempDir::new("gone");
        write_pcap(&dir.0.join("a.pcap"), 1, 20_000, 600);
        let (mut rx, thread) = start(&dir.0, all());
        assert!(matches!(rx.blocking_recv(), Some(SearchPiece::Pcap(_))));
        // The queue fills and the search waits on it: it has not finished on its own.
        std::thread::sleep(Duration::from_millis(200));
        assert!(!thread.is_finished());
        drop(rx);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the search still runs");
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().unwrap();
    }

    #[test]
    fn a_stop_ends_the_scan_at_its_next_packet_matched_or_not() {
        let dir = TempDir::new("stop");
        write_pcap(&dir.0.join("a.pcap"), 1, 1000, 60);
        // The first packet alone matches; the search would read on to the end of the file.
        let first = 1_700_000_000_000_000_000;
        let mut search = Search::new(None, None, Some(first + 1), None).unwrap();
        let read = |search: &mut Search, stop: Option<StopOnDrop>| {
            let mut stop = stop;
            let stats = scan(&dir.0, search, |_, _| {
                // The client leaves as the match is sent.
                stop = None;
                Ok(true)
            });
            stats.unwrap().packets_read
        };
        assert_eq!(read(&mut search, None), 1000);
        let stop = StopOnDrop::arm(&mut search);
        assert_eq!(read(&mut search, Some(stop)), 1);
    }

    #[test]
    fn no_match_is_the_global_header_alone() {
        let dir = TempDir::new("none");
        let file = write_pcap(&dir.0.join("a.pcap"), 1, 10, 60);
        let search = Search::new(None, Some(u64::MAX - 1), None, None).unwrap();
        let (mut rx, thread) = start(&dir.0, search);
        match rx.blocking_recv() {
            Some(SearchPiece::Pcap(chunk)) => assert_eq!(chunk[..], file[..24]),
            _ => panic!("no header"),
        }
        assert!(matches!(rx.blocking_recv(), Some(SearchPiece::Done)));
        thread.join().unwrap();
    }

    #[test]
    fn mixed_link_types_fail_before_any_byte() {
        let dir = TempDir::new("mixed");
        write_pcap(&dir.0.join("a.pcap"), 1, 10, 60);
        write_pcap(&dir.0.join("b.pcap"), 101, 10, 60);
        let (mut rx, thread) = start(&dir.0, all());
        assert!(matches!(
            rx.blocking_recv(),
            Some(SearchPiece::Failed(SearchError::MixedLinkTypes { .. }))
        ));
        thread.join().unwrap();
    }

    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Polls `body` once (every piece is already queued, so it is ready).
    fn frame(body: &mut ChannelBody<SearchPiece>) -> Option<Result<Bytes, String>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match hyper::body::Body::poll_frame(Pin::new(body), &mut cx) {
            Poll::Ready(f) => {
                f.map(|f| f.map(|f| f.into_data().unwrap()).map_err(|e| e.to_string()))
            }
            Poll::Pending => panic!("pending"),
        }
    }

    #[test]
    fn the_body_ends_cleanly_after_done_and_with_an_error_otherwise() {
        let body = |pieces: Vec<SearchPiece>| {
            let (tx, rx) = mpsc::channel(8);
            for p in pieces {
                tx.try_send(p).ok().unwrap();
            }
            pcap_body(
                Bytes::from_static(b"head"),
                rx,
                StopOnDrop(Default::default()),
            )
        };
        let data = |b: &'static [u8]| Some(Ok(Bytes::from_static(b)));
        let mut done = body(vec![
            SearchPiece::Pcap(Bytes::from_static(b"more")),
            SearchPiece::Done,
        ]);
        assert_eq!(frame(&mut done), data(b"head"));
        assert_eq!(frame(&mut done), data(b"more"));
        assert_eq!(frame(&mut done), None);
        assert!(hyper::body::Body::is_end_stream(&done));

        let failed = SearchError::Filter {
            message: "disk gone".into(),
        };
        let mut cut = body(vec![SearchPiece::Failed(failed)]);
        assert_eq!(frame(&mut cut), data(b"head"));
        assert!(matches!(frame(&mut cut), Some(Err(e)) if e.contains("disk gone")));
        assert_eq!(frame(&mut cut), None);

        // The search stopped (a panic) without saying it was done: cut too.
        let mut stopped = body(Vec::new());
        assert_eq!(frame(&mut stopped), data(b"head"));
        assert!(matches!(frame(&mut stopped), Some(Err(_))));
    }

    /// The raw HTTP answer to `GET /` from a server whose body is a pcap body of `pieces`.
    fn served(pieces: fn() -> Vec<SearchPiece>) -> String {
        use std::io::{Read, Write};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move {
                let (tx, rx) = mpsc::channel(8);
                // Each piece a moment after the last, as a search finds them.
                tokio::spawn(async move {
                    for p in pieces() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let _ = tx.send(p).await;
                    }
                });
                Body::new(pcap_body(
                    Bytes::from_static(b"head"),
                    rx,
                    StopOnDrop(Default::default()),
                ))
            }),
        );
        std::thread::spawn(move || runtime.block_on(async { axum::serve(listener, app).await }));
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn an_error_after_the_first_byte_cuts_the_transfer() {
        let whole = served(|| {
            vec![
                SearchPiece::Pcap(Bytes::from_static(b"more")),
                SearchPiece::Done,
            ]
        });
        assert!(whole.starts_with("HTTP/1.1 200"), "{whole}");
        assert!(whole.contains("transfer-encoding: chunked"), "{whole}");
        // The last chunk, of length 0, ends a whole answer.
        assert!(whole.ends_with("4\r\nmore\r\n0\r\n\r\n"), "{whole:?}");

        let cut = served(|| {
            vec![
                SearchPiece::Pcap(Bytes::from_static(b"more")),
                SearchPiece::Failed(SearchError::Filter {
                    message: "disk gone".into(),
                }),
            ]
        });
        assert!(cut.starts_with("HTTP/1.1 200"), "{cut}");
        // The connection closes after what was sent, without the last chunk.
        assert!(cut.ends_with("4\r\nmore\r\n"), "{cut:?}");
    }
}
