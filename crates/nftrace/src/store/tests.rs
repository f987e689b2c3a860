//! The store against its own in-memory filter (every expression gives the same records in
//! SQL and in `sql::matches`), pagination, retention, reopening.

use super::filter::{Expr, parse};
use super::sql::matches;
use super::*;
use crate::packet::Packet;
use crate::record::{DecidingRule, Step, TraceRecord};
use std::path::Path;
use std::sync::Arc;

pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("pv-nftrace-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn record(i: u64) -> TraceRecord {
    let v6 = i.is_multiple_of(5);
    let proto = [6u8, 17, 1][(i % 3) as usize];
    let drop = i.is_multiple_of(4);
    TraceRecord {
        time_ns: 1_000_000_000 + i * 1000 / 3,
        netns: "b".into(),
        trace_id: (i * 7919) as u32,
        family: if v6 { "ip6" } else { "ip" }.into(),
        table: "pvfilt".into(),
        chain: "input".into(),
        hook: Some("input".into()),
        generation: Some(1),
        path: vec![Step {
            chain: "input".into(),
            kind: "rule",
            handle: Some(3),
            rule: None,
            verdict: "jump".into(),
            target: (i.is_multiple_of(2)).then(|| "web".to_owned()),
        }],
        rule: (!drop || i.is_multiple_of(8)).then(|| DecidingRule {
            table: "pvfilt".into(),
            chain: "web".into(),
            handle: 10 + i % 3,
            text: "x".into(),
        }),
        verdict: if drop {
            if i.is_multiple_of(8) {
                "drop"
            } else {
                "policy drop"
            }
        } else {
            "accept"
        }
        .into(),
        nfproto: None,
        iif: Some("vb".into()),
        oif: None,
        mark: None,
        packet: Packet {
            ip_src: Some(if v6 {
                format!("2001:db8::{}", i % 7).parse().unwrap()
            } else {
                format!("198.51.100.{}", i % 7).parse().unwrap()
            }),
            ip_dst: Some(
                if v6 { "2001:db8::2" } else { "198.51.100.2" }
                    .parse()
                    .unwrap(),
            ),
            proto: Some(proto),
            sport: (proto != 1).then_some(1000 + (i % 50) as u16),
            dport: (proto != 1).then_some([80u16, 443, 5353, 22][(i % 4) as usize]),
            len: Some(60 + (i % 100) as u32),
            ..Packet::default()
        },
        ct: Default::default(),
    }
}

fn fill(dir: &Path, n: u64) -> (Connection, Vec<Row>) {
    let mut conn = open(dir).unwrap();
    let batch: Vec<(Row, Vec<u8>)> = (0..n)
        .map(|i| {
            let (row, json) = stored(&record(i), "agent1").unwrap();
            (row, body(&json).unwrap())
        })
        .collect();
    let next = next_id(&conn).unwrap();
    insert(&mut conn, &batch, next).unwrap();
    (conn, batch.into_iter().map(|(r, _)| r).collect())
}

/// Every page of a search, following the cursors.
pub(super) fn pages_of(
    mut q: Query,
    mut run: impl FnMut(&Query) -> Page,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    loop {
        let page = run(&q);
        assert!(page.records.len() <= q.limit);
        out.extend(page.records);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

fn all(conn: &Connection, filter: Expr) -> Vec<serde_json::Value> {
    let q = Query {
        filter,
        from_ns: None,
        to_ns: None,
        limit: 7,
        cursor: None,
    };
    pages_of(q, |q| search(conn, q).unwrap())
}

#[test]
fn sql_and_memory_agree() {
    let dir = TempDir::new("agree");
    let (conn, rows) = fill(&dir.0, 300);
    for text in [
        "",
        "verdict == drop",
        "verdict == 'policy drop'",
        "verdict != drop",
        "(sport>=1010 and sport<=1020) and ip_dst=='198.51.100.2' and dport not in (80,443)",
        "ip_src == 198.51.100.0/30 or ip_src == 2001:db8::/126",
        "ip_src != 198.51.100.3",
        "proto == icmp",
        "sport != 1001",
        "not (dport in (22, 5353)) and len > 100",
        "jt == web and handle == 11",
        "jt != web",
        "trid < 100000 and family == ip6",
        "agent_id == agent1 and netns == b and table == pvfilt and chain == input and iif == vb",
        "oif == vb",
        "agent_id == other",
    ] {
        let e = parse(text).unwrap();
        let expected: Vec<u32> = rows
            .iter()
            .rev()
            .filter(|r| matches(&e, r))
            .map(|r| r.trace_id)
            .collect();
        let got: Vec<u32> = all(&conn, e)
            .iter()
            .map(|j| j["trace_id"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(got, expected, "{text}");
    }
    // The filters find something: the comparisons above are not all empty.
    assert_eq!(all(&conn, parse("verdict == drop").unwrap()).len(), 75);
    assert_eq!(
        all(&conn, parse("verdict == 'policy drop'").unwrap()).len(),
        37
    );
    assert_eq!(all(&conn, parse("proto == icmp").unwrap()).len(), 100);
}

#[test]
fn pages_newest_first_each_once_and_time_range() {
    let dir = TempDir::new("pages");
    let (conn, rows) = fill(&dir.0, 100);
    let got = all(&conn, Expr::True);
    assert_eq!(got.len(), 100);
    let times: Vec<u64> = got.iter().map(|j| j["time_ns"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let mut ids: Vec<u64> = got
        .iter()
        .map(|j| j["trace_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert_eq!(got[0]["agent_id"], "agent1");
    let q = Query {
        filter: Expr::True,
        from_ns: Some(rows[10].time_ns),
        to_ns: Some(rows[20].time_ns),
        limit: 1000,
        cursor: None,
    };
    let page = search(&conn, &q).unwrap();
    assert_eq!(page.records.len(), 10);
    assert!(page.next.is_none());
    let bad = Query {
        cursor: Some("zz".into()),
        ..q
    };
    assert!(matches!(search(&conn, &bad), Err(StoreError::Cursor(_))));
}

#[test]
fn reopen_keeps_records_and_schema_version() {
    let dir = TempDir::new("reopen");
    drop(fill(&dir.0, 10));
    let conn = open(&dir.0).unwrap();
    let v: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert_eq!(all(&conn, Expr::True).len(), 10);
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(open(&dir.0), Err(StoreError::Newer { .. })));
}

/// Records 0..n written through a writer with this age's retention, finished.
fn write(dir: &Path, max_age_ns: u64, n: u64) -> writer::StoreWriter {
    let mut w = writer::StoreWriter::start(
        dir,
        Retention {
            max_age_ns,
            max_bytes: u64::MAX,
        },
    )
    .unwrap();
    for i in 0..n {
        let (row, json) = stored(&record(i), "a").unwrap();
        assert!(w.push(row, &json));
    }
    w.finish();
    w
}

#[test]
fn writer_batches_and_reader_reads() {
    let dir = TempDir::new("writer");
    let w = write(&dir.0, u64::MAX, 2500);
    assert_eq!(
        w.counters
            .written
            .load(std::sync::atomic::Ordering::Relaxed),
        2500
    );
    let r = writer::StoreReader::open(&dir.0).unwrap();
    let page = r
        .search(&Query {
            filter: parse("verdict == drop").unwrap(),
            from_ns: None,
            to_ns: None,
            limit: 10_000,
            cursor: None,
        })
        .unwrap();
    assert_eq!(page.records.len(), 625);
    assert!(r.size() > 0);
}

#[test]
fn writer_retention_counts_what_it_deletes() {
    let dir = TempDir::new("writer-retention");
    // The records are of 1970: a day's retention deletes every one, at the latest when
    // the writer finishes.
    let w = write(&dir.0, 86_400 * 1_000_000_000, 50);
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (load(&w.counters.written), load(&w.counters.deleted)),
        (50, 50)
    );
    let r = writer::StoreReader::open(&dir.0).unwrap();
    let q = Query {
        filter: Expr::True,
        from_ns: None,
        to_ns: None,
        limit: 100,
        cursor: None,
    };
    assert!(r.search(&q).unwrap().records.is_empty());
}

/// Every record the reader finds, newest first, by trace id (unique in `record`).
fn read_all(dir: &Path) -> Vec<u64> {
    let r = writer::StoreReader::open(dir).unwrap();
    let q = Query {
        filter: Expr::True,
        from_ns: None,
        to_ns: None,
        limit: MAX_LIMIT,
        cursor: None,
    };
    pages_of(q, |q| r.search(q).unwrap())
        .iter()
        .map(|j| j["trace_id"].as_u64().unwrap())
        .collect()
}

/// A 1 MiB store (256 KiB segments) written far past its cap: the files, measured from
/// another thread all along, never pass the cap; the records left are exactly the newest
/// ones (oldest deleted first, whole segments); written = left + deleted.
#[test]
fn size_retention_deletes_oldest_segments_under_the_cap() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let dir = TempDir::new("cap");
    let cap = 1 << 20;
    let n = 12_000;
    let mut w = writer::StoreWriter::start(
        &dir.0,
        Retention {
            max_age_ns: u64::MAX,
            max_bytes: cap,
        },
    )
    .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, dir) = (done.clone(), dir.0.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(Relaxed) {
                most = most.max(segments::store_bytes(&dir));
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            most
        })
    };
    for i in 0..n {
        let (row, json) = stored(&record(i), "a").unwrap();
        assert!(w.push(row, &json));
        if i % 500 == 0 {
            // Batches of a few hundred, as a live flood gives.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    w.finish();
    done.store(true, Relaxed);
    let most = watcher.join().unwrap();
    assert!(most <= cap, "{most} > {cap}");
    assert!(segments::store_bytes(&dir.0) <= cap);
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    let (written, deleted) = (load(&w.counters.written), load(&w.counters.deleted));
    assert_eq!(written, n);
    assert!(load(&w.counters.segments_deleted) >= 3);
    let left = read_all(&dir.0);
    assert_eq!(left.len() as u64 + deleted, n);
    // The newest records, each once: record i has trace id i * 7919.
    let want: Vec<u64> = (n - left.len() as u64..n)
        .rev()
        .map(|i| (i * 7919) as u32 as u64)
        .collect();
    assert_eq!(left, want);
    assert!(left.len() > 500, "{}", left.len());
}

/// A writer started again goes on: ids continue (no record twice, none lost), and a
/// `traces.db` of earlier builds is read as the oldest segment and deleted first.
#[test]
fn restart_and_legacy_file() {
    let dir = TempDir::new("restart");
    std::fs::create_dir_all(&dir.0).unwrap();
    {
        let mut conn = open_file(&dir.0.join(segments::LEGACY), SCHEMA_VERSION).unwrap();
        let batch: Vec<(Row, Vec<u8>)> = (0..100)
            .map(|i| {
                let (row, json) = stored(&record(i), "old").unwrap();
                (row, body(&json).unwrap())
            })
            .collect();
        insert(&mut conn, &batch, 1).unwrap();
    }
    let unbounded = Retention {
        max_age_ns: u64::MAX,
        max_bytes: u64::MAX,
    };
    for part in 1..3u64 {
        let mut w = writer::StoreWriter::start(&dir.0, unbounded).unwrap();
        for i in part * 100..(part + 1) * 100 {
            let (row, json) = stored(&record(i), "a").unwrap();
            assert!(w.push(row, &json));
        }
        w.finish();
    }
    let want: Vec<u64> = (0..300).rev().map(|i| (i * 7919) as u32 as u64).collect();
    assert_eq!(read_all(&dir.0), want);
    // The second start went on in the first's segment (smaller than a segment).
    let listed = segments::list(&dir.0).unwrap();
    assert_eq!(listed.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [0, 101]);
    // A small cap: the legacy file goes first.
    let mut w = writer::StoreWriter::start(
        &dir.0,
        Retention {
            max_age_ns: u64::MAX,
            max_bytes: 1 << 20,
        },
    )
    .unwrap();
    for i in 300..6_000 {
        let (row, json) = stored(&record(i), "a").unwrap();
        assert!(w.push(row, &json));
    }
    w.finish();
    let listed = segments::list(&dir.0).unwrap();
    assert!(listed.first().is_some_and(|(f, _)| *f > 0), "{listed:?}");
    let left = read_all(&dir.0);
    let deleted = w
        .counters
        .deleted
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(left.len() as u64 + deleted, 6_000);
    assert_eq!(left[0], (5_999u64 * 7919) as u32 as u64);
}

/// Records pushed faster than the writer writes, into a queue of 256 KiB (a few hundred
/// records): what it could not take is counted as dropped, nothing else is missing, and
/// the queue's gauge is back to 0.
#[test]
fn every_record_pushed_is_written_or_counted_as_dropped() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = TempDir::new("dropped");
    let unbounded = Retention {
        max_age_ns: u64::MAX,
        max_bytes: u64::MAX,
    };
    let mut w = writer::StoreWriter::start_with_queue(&dir.0, unbounded, 256 << 10).unwrap();
    let n = 20_000;
    let mut taken = Vec::new();
    for i in 0..n {
        let (row, json) = stored(&record(i), "a").unwrap();
        if w.push(row, &json) {
            taken.push(i);
        }
    }
    w.finish();
    let c = &w.counters;
    let (written, dropped) = (c.written.load(Relaxed), c.dropped.load(Relaxed));
    assert!(dropped > 0, "the producer never outran the writer");
    assert_eq!(written + dropped, n);
    assert_eq!(written, taken.len() as u64);
    assert_eq!(c.queued_bytes.load(Relaxed), 0);
    // The store holds exactly the records the queue took.
    let want: Vec<u64> = taken
        .iter()
        .rev()
        .map(|i| (i * 7919) as u32 as u64)
        .collect();
    assert_eq!(read_all(&dir.0), want);
}
