//! Both search paths against a brute-force filter written here over the stored JSON (not
//! the store's SQL nor `sql::matches`), on records whose times are shuffled across three
//! epochs (so that the epoch walk must merge and may not stop early), with ties of time
//! broken by id; and the migration of a schema 1 file.

use super::filter::parse;
use super::search::{Path as SearchPath, search_by};
use super::tests::{TempDir, pages_of, record};
use super::*;
use serde_json::Value;
use std::net::IpAddr;

/// 10 000 records (ids 1..=10 000: epochs 0, 1 and 2), record `i` at a time that is a
/// permutation of `i`, halved so that pairs share a time.
const N: u64 = 10_000;

fn time_of(i: u64) -> u64 {
    5_000_000_000 + (i * 7_919 % N) / 2 * 1_000
}

/// The stored JSON of each record, in insertion order (id = index + 1).
fn fill(dir: &std::path::Path) -> (Connection, Vec<Value>) {
    let mut conn = open(dir).unwrap();
    let mut bodies = Vec::new();
    let mut batch = Vec::new();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1_000) {
        for &i in chunk {
            let mut r = record(i);
            r.time_ns = time_of(i);
            let (row, json) = stored(&r, "agent1").unwrap();
            bodies.push(serde_json::from_str(&json).unwrap());
            batch.push((row, body(&json).unwrap()));
        }
        let next = next_id(&conn).unwrap();
        insert(&mut conn, &batch, next).unwrap();
        batch.clear();
    }
    (conn, bodies)
}

fn num(j: &Value, key: &str) -> Option<u64> {
    j.get(key).and_then(Value::as_u64)
}

fn addr(j: &Value, key: &str) -> Option<IpAddr> {
    j.get(key)
        .and_then(Value::as_str)
        .map(|s| s.parse().unwrap())
}

/// The action of the final verdict: its last word (`policy drop` is a drop).
fn action(j: &Value) -> &str {
    j["verdict"].as_str().unwrap().rsplit(' ').next().unwrap()
}

fn in_v4(a: Option<IpAddr>, net: [u8; 3], last_below: u8) -> bool {
    matches!(a, Some(IpAddr::V4(v)) if v.octets()[..3] == net && v.octets()[3] < last_below)
}

/// A filter's question asked of a record's JSON by hand.
type ByHand = Box<dyn Fn(&Value) -> bool>;

/// Filters and the same question asked of the JSON by hand.
fn cases() -> Vec<(&'static str, ByHand)> {
    vec![
        (
            "ip_src == 198.51.100.0/30 and dport not in (80, 443)",
            Box::new(|j| {
                in_v4(addr(j, "ip_src"), [198, 51, 100], 4)
                    && !matches!(num(j, "dport"), Some(80 | 443))
            }),
        ),
        (
            "verdict == drop and dport == 5353",
            Box::new(|j| action(j) == "drop" && num(j, "dport") == Some(5353)),
        ),
        (
            "verdict == drop and dport == 80",
            Box::new(|j| action(j) == "drop" && num(j, "dport") == Some(80)),
        ),
        (
            "ip_src == 2001:db8::3",
            Box::new(|j| addr(j, "ip_src") == Some("2001:db8::3".parse().unwrap())),
        ),
        (
            "(sport >= 1010 and sport <= 1020) and ip_dst == '198.51.100.2' and dport not in (80, 443)",
            Box::new(|j| {
                num(j, "sport").is_some_and(|p| (1010..=1020).contains(&p))
                    && addr(j, "ip_dst") == Some("198.51.100.2".parse().unwrap())
                    && !matches!(num(j, "dport"), Some(80 | 443))
            }),
        ),
        (
            "dport in (22, 443) and ip_src == 198.51.100.0/24",
            Box::new(|j| {
                matches!(num(j, "dport"), Some(22 | 443))
                    && in_v4(addr(j, "ip_src"), [198, 51, 100], 255)
            }),
        ),
        (
            "trid == 7919",
            Box::new(|j| num(j, "trace_id") == Some(7_919)),
        ),
        ("verdict == accept", Box::new(|j| action(j) == "accept")),
        (
            "len > 150 or sport == 1049",
            Box::new(|j| num(j, "len").is_some_and(|l| l > 150) || num(j, "sport") == Some(1049)),
        ),
        ("", Box::new(|_| true)),
    ]
}

/// Every page of a search by `path`.
fn pages(conn: &Connection, q: Query, path: SearchPath) -> Vec<Value> {
    pages_of(q, |q| search_by(conn, q, path).unwrap())
}

#[test]
fn both_paths_equal_a_brute_force_filter_of_the_json() {
    let dir = TempDir::new("paths");
    let (conn, bodies) = fill(&dir.0);
    let epochs: i64 = conn
        .query_row("SELECT count(*) FROM epochs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(epochs, 3);
    // Newest first; equal times: the later insert (higher id) first.
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse((num(&bodies[k], "time_ns").unwrap(), k)));
    let (from, to) = (time_of(0) - 1_000_000, time_of(0) + 2_000_000);
    for (text, keep) in cases() {
        let filter = parse(text).unwrap();
        for (range, limit) in [((None, None), 97), ((Some(from), Some(to)), 13)] {
            let in_range = |t: u64| range.0.is_none_or(|f| t >= f) && range.1.is_none_or(|e| t < e);
            let expected: Vec<&Value> = order
                .iter()
                .map(|&k| &bodies[k])
                .filter(|j| in_range(num(j, "time_ns").unwrap()) && keep(j))
                .collect();
            for path in [SearchPath::ByEpoch, SearchPath::ByTime] {
                let q = Query {
                    filter: filter.clone(),
                    from_ns: range.0,
                    to_ns: range.1,
                    limit,
                    cursor: None,
                };
                let got = pages(&conn, q, path);
                assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    expected,
                    "{text} by {path:?} in {range:?}"
                );
            }
        }
    }
    // The cases are not all empty, and the shapes of addresses and ports take the epochs.
    let count = |text: &str| {
        let q = Query {
            filter: parse(text).unwrap(),
            from_ns: None,
            to_ns: None,
            limit: MAX_LIMIT,
            cursor: None,
        };
        search_by(&conn, &q, SearchPath::ByEpoch)
            .unwrap()
            .records
            .len()
    };
    assert_eq!(count("verdict == drop and dport == 80"), 1_667);
    assert_eq!(count("verdict == drop and dport == 5353"), 0);
    assert_eq!(count("ip_src == 2001:db8::3"), 286);
    for (text, _) in &cases()[..7] {
        assert_eq!(
            SearchPath::of(&parse(text).unwrap()),
            SearchPath::ByEpoch,
            "{text}"
        );
    }
    assert_eq!(
        SearchPath::of(&parse("len > 150 or sport == 1049").unwrap()),
        SearchPath::ByTime
    );
}

/// The same records split over four segments (ids going on across them, times overlapping
/// every segment since they are a permutation), searched together: the same pages as the
/// brute-force filter, newest first across segments, the cursor carried between them.
#[test]
fn segments_searched_together_equal_the_brute_force_filter() {
    let dir = TempDir::new("segments");
    std::fs::create_dir_all(&dir.0).unwrap();
    let mut conns = Vec::new();
    let mut bodies = Vec::new();
    for part in 0..4u64 {
        let first = (part * N / 4 + 1) as i64;
        let mut conn =
            schema::open_file(&dir.0.join(segments::name(first)), SCHEMA_VERSION).unwrap();
        let batch: Vec<(sql::Row, Vec<u8>)> = (part * N / 4..(part + 1) * N / 4)
            .map(|i| {
                let mut r = record(i);
                r.time_ns = time_of(i);
                let (row, json) = stored(&r, "agent1").unwrap();
                bodies.push(serde_json::from_str::<Value>(&json).unwrap());
                (row, body(&json).unwrap())
            })
            .collect();
        insert(&mut conn, &batch, first).unwrap();
        conns.push(conn);
    }
    // Given in any order: newest first is the search's business.
    conns.swap(0, 3);
    let refs: Vec<&Connection> = conns.iter().collect();
    let mut order: Vec<usize> = (0..bodies.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse((num(&bodies[k], "time_ns").unwrap(), k)));
    let mut nonempty = 0;
    for (text, keep) in cases() {
        let expected: Vec<&Value> = order
            .iter()
            .map(|&k| &bodies[k])
            .filter(|j| keep(j))
            .collect();
        nonempty += usize::from(!expected.is_empty());
        for path in [SearchPath::ByEpoch, SearchPath::ByTime] {
            let q = Query {
                filter: parse(text).unwrap(),
                from_ns: None,
                to_ns: None,
                limit: 61,
                cursor: None,
            };
            let got = pages_of(q, |q| search::search_in(&refs, q, path).unwrap());
            assert_eq!(
                got.iter().collect::<Vec<_>>(),
                expected,
                "{text} by {path:?}"
            );
        }
    }
    assert!(nonempty >= 5, "{nonempty}");
}

#[test]
fn schema_1_files_are_migrated() {
    let dir = TempDir::new("migrate");
    let conn = schema::open_at(&dir.0, 1).unwrap();
    let mut bodies = Vec::new();
    for i in 0..5_000 {
        let mut r = record(i);
        r.time_ns = time_of(i);
        let (row, json) = stored(&r, "old").unwrap();
        conn.execute(
            "INSERT INTO traces (time_ns, agent_id, netns, trace_id, family, tbl, chain,
               verdict, action, handle, jt, ip_src, ip_dst, sport, dport, len, proto, json)
             VALUES (?1, 'old', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
               ?16, ?17)",
            rusqlite::params![
                row.time_ns as i64,
                row.netns,
                row.trace_id,
                row.family,
                row.table,
                row.chain,
                row.verdict,
                sql::Row::action(&row.verdict),
                row.handle.map(|h| h as i64),
                row.jt_column(),
                row.ip_src.map(|a| sql::address_key(a).to_vec()),
                row.ip_dst.map(|a| sql::address_key(a).to_vec()),
                row.sport,
                row.dport,
                row.len,
                row.proto,
                json,
            ],
        )
        .unwrap();
        bodies.push(serde_json::from_str::<Value>(&json).unwrap());
    }
    drop(conn);
    // A copy as the `traces.db` of builds before segments, for the end.
    let before = TempDir::new("migrate-legacy");
    std::fs::create_dir_all(&before.0).unwrap();
    std::fs::copy(
        dir.0.join(segments::name(1)),
        before.0.join(segments::LEGACY),
    )
    .unwrap();
    let conn = open(&dir.0).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // The epochs of the migration are those of the writer (EPOCH_BITS).
    let bad: i64 = conn
        .query_row(
            "SELECT count(*) FROM traces WHERE ep != id >> ?",
            [EPOCH_BITS],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 0);
    let q = Query {
        filter: parse("verdict == drop and dport == 80").unwrap(),
        from_ns: None,
        to_ns: None,
        limit: 50,
        cursor: None,
    };
    let got = pages(&conn, q.clone(), SearchPath::ByEpoch);
    let mut want: Vec<(u64, usize)> = (0..bodies.len())
        .filter(|&k| action(&bodies[k]) == "drop" && num(&bodies[k], "dport") == Some(80))
        .map(|k| (num(&bodies[k], "time_ns").unwrap(), k))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(got.len(), 834);
    assert_eq!(
        got,
        want.iter()
            .map(|&(_, k)| bodies[k].clone())
            .collect::<Vec<_>>()
    );
    // Written after the migration: ids go on, each record once.
    let mut conn = conn;
    let (row, json) = stored(&record(9), "new").unwrap();
    let next = next_id(&conn).unwrap();
    insert(&mut conn, &[(row, body(&json).unwrap())], next).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM traces JOIN bodies USING (id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 5_001);
    // The schema 1 file as a `traces.db` of builds before segments: migrated at the
    // writer's start, read as the oldest segment.
    let w = writer::StoreWriter::start(
        &before.0,
        Retention {
            max_age_ns: u64::MAX,
            max_bytes: u64::MAX,
        },
    )
    .unwrap();
    drop(w);
    let r = writer::StoreReader::open(&before.0).unwrap();
    assert_eq!(pages_of(q, |q| r.search(q).unwrap()).len(), 834);
}
