//! PQL prunes with the catalogue (stenographer issue #164): `pktvisor query` over a recording
//! opens only the segments whose catalogue records say they may change the answer. On every
//! query fixture, recorded in files of one second: the answers equal those with no catalogue
//! (every segment opened) and tshark's counts on the input; the segments opened are exactly
//! those holding the key asked for (counted one file at a time), none for a key nowhere, all
//! for calls that need every segment (`Not`, `TopN` and `Sum` without a filter).

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The answers of `pql` over `path` (with `args`), and how many segments were opened and not.
fn query_counting(path: &Path, pql: &str, args: &[&str]) -> (Vec<Value>, usize, usize) {
    let mut all = vec!["query", path.to_str().unwrap(), pql];
    all.extend_from_slice(args);
    let out = run("pktvisor", &all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{pql}: {err}");
    // "pktvisor: answered from N indexes (M not opened: ..."
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("pktvisor: answered from "))
        .unwrap_or_else(|| panic!("{pql}: no count of indexes in: {err}"));
    let mut words = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty());
    let opened = words.next().unwrap().parse().unwrap();
    let skipped = words.next().unwrap().parse().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["results"].as_array().unwrap().clone(), opened, skipped)
}

/// The recorded captures below `dir` (not their indexes or the catalogue).
fn captures_below(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = files_below(dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    files
}

/// How many of the recorded files hold a packet of `row` (each file queried alone).
fn files_holding(files: &[PathBuf], row: &str) -> usize {
    files
        .iter()
        .filter(|f| query_counting(f, &format!("Count({row})"), &[]).0[0] != 0)
        .count()
}

/// The least frequent key of a TopN answer: found in few of the files.
fn rarest(top: &Value) -> Option<String> {
    top.as_array()?
        .last()
        .map(|r| r["Key"].as_str().unwrap().to_string())
}

#[test]
fn queries_open_only_the_segments_that_can_answer() {
    if !require("tshark") {
        return;
    }
    let tmp = temp_dir("queryprune");
    // Key queries that left some segment unopened, over all fixtures (a key in every file
    // prunes nothing: the test must see pruning happen, not only its absence).
    let mut pruned_somewhere = 0;
    for name in QUERY_CAPTURES {
        let input = repo_root().join("testdata").join(name);
        let rec = tmp.join(name.replace('/', "-"));
        record(
            &input,
            &rec,
            &["--flow-cutoff-bytes", "0", "--rotate-interval", "1"],
        );
        let files = captures_below(&rec);
        let total = files.len();
        let (tops, _, _) = query_counting(&rec, "TopN(netsrc) TopN(dns-qname)", &[]);
        let host = rarest(&tops[0]).expect("every fixture has IP sources");
        let qname = rarest(&tops[1]);
        let ctx = |what: &str| format!("{name} ({total} files): {what}");
        // Against tshark on the input: the host's packets (by the outer source, as TopN(netsrc)
        // in query.rs), the name's.
        let host_count = tshark_values(&input, &[], "", &["ip.src", "ipv6.src"])
            .iter()
            .filter(|s| **s == host)
            .count();
        let host_row = format!("Row(netsrc=\"{host}\")");
        let mut calls = vec![
            // Pruned: rows of keys.
            (
                format!("Count({host_row})"),
                Some(files_holding(&files, &host_row)),
            ),
            (host_row.clone(), Some(files_holding(&files, &host_row))),
            (
                format!("Count(Intersect({host_row}, Not(Row(tcp=SYN))))"),
                Some(files_holding(&files, &host_row)),
            ),
            (
                format!("TopN(transdst, {host_row}, n=3)"),
                Some(files_holding(&files, &host_row)),
            ),
            ("Count(Row(netsrc=\"203.0.113.254\"))".to_string(), Some(0)),
            // Every segment in the time range.
            (format!("Count(Not({host_row}))"), Some(total)),
            ("TopN(netsrc, n=3)".to_string(), Some(total)),
            ("Sum(field=length)".to_string(), Some(total)),
            // Several calls: the segments any of them needs.
            (
                format!("Count({host_row}) Count(Row(netsrc=\"203.0.113.254\"))"),
                Some(files_holding(&files, &host_row)),
            ),
        ];
        if let Some(q) = &qname {
            let qrow = format!("Row(dns-qname=\"{q}\")");
            let union = format!("Union({host_row}, {qrow})");
            calls.extend([
                (format!("Count({qrow})"), Some(files_holding(&files, &qrow))),
                (
                    format!("Sum({qrow}, field=length)"),
                    Some(files_holding(&files, &qrow)),
                ),
                (
                    format!("Count({union})"),
                    Some(files_holding(&files, &union)),
                ),
                (
                    format!("Count(Difference({qrow}, {host_row}))"),
                    Some(files_holding(&files, &qrow)),
                ),
            ]);
        }
        let pruned: Vec<_> = calls
            .iter()
            .map(|(pql, want)| {
                let (answer, opened, skipped) = query_counting(&rec, pql, &[]);
                assert_eq!(opened + skipped, total, "{}", ctx(pql));
                if let Some(want) = want {
                    assert_eq!(opened, *want, "{}", ctx(&format!("{pql}: segments opened")));
                    pruned_somewhere += usize::from(*want > 0 && *want < total);
                }
                answer
            })
            .collect();
        assert_eq!(pruned[0][0], host_count as u64, "{}", ctx("host vs tshark"));
        if let Some(q) = &qname {
            let names = tshark_values(&input, &[], "udp && dns", &["dns.qry.name"]);
            let n = names.iter().filter(|n| n.eq_ignore_ascii_case(q)).count();
            assert_eq!(pruned[9][0], n as u64, "{}", ctx("name vs tshark"));
        }
        // A time range: the last second of the recording only.
        let last = files.last().unwrap().clone();
        let from_ns = query_ts_of_first_packet(&last);
        let from = format!("{}.{:09}", from_ns / 1_000_000_000, from_ns % 1_000_000_000);
        let ranged = ["--from", from.as_str()];
        let ranged_pql = "Count(All()) TopN(netsrc) Rows(netsrc)";
        let (in_range, opened, _) = query_counting(&rec, ranged_pql, &ranged);
        let later = format!("frame.time_epoch >= {from}");
        let later_frames = tshark_values(&input, &[], &later, &["frame.number"]);
        assert_eq!(
            in_range[0],
            later_frames.len() as u64,
            "{}",
            ctx("--from vs tshark")
        );
        // The sources of those packets only (by the outer header, as TopN(netsrc)).
        let mut sources = tshark_values(&input, &[], &later, &["ip.src", "ipv6.src"]);
        sources.sort();
        sources.dedup();
        assert_eq!(
            in_range[2]["keys"],
            serde_json::json!(sources),
            "{}",
            ctx("Rows(netsrc) --from vs tshark")
        );
        assert!(
            opened < total || total == 1,
            "{}",
            ctx(&format!("--from opened {opened}"))
        );
        // The same answers with no catalogue: every segment opened.
        let catalogue = rec_catalogues(&rec);
        for c in &catalogue {
            std::fs::remove_file(c).unwrap();
        }
        for ((pql, _), answer) in calls.iter().zip(&pruned) {
            let (unpruned, opened, _) = query_counting(&rec, pql, &[]);
            assert_eq!(opened, total, "{}", ctx(pql));
            assert_eq!(&unpruned, answer, "{}", ctx(&format!("{pql}, unpruned")));
        }
        let (unpruned, _, _) = query_counting(&rec, ranged_pql, &ranged);
        assert_eq!(unpruned, in_range, "{}", ctx("--from, unpruned"));
    }
    assert!(pruned_somewhere > 0);
    std::fs::remove_dir_all(tmp).unwrap();
}

/// The time of a recorded file's first packet (ns), from tshark.
fn query_ts_of_first_packet(file: &Path) -> u64 {
    let t = tshark_values(file, &["-c", "1"], "", &["frame.time_epoch"]);
    let (s, frac) = t[0].split_once('.').unwrap();
    let frac = format!("{frac:0<9}");
    s.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap()
}

/// The catalogues below a recording.
fn rec_catalogues(rec: &Path) -> Vec<PathBuf> {
    all_files_below(rec)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "catalog.pvc"))
        .collect()
}
