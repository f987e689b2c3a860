use super::*;
use crate::TopN;
use datasketches::frequencies::FrequentItemsSketch;

#[test]
fn names_match_the_generic_top_list() {
    // Exact while fewer than 6144 distinct names: the same rows as TopN<String>, with
    // weights, and through a merge.
    let (mut a, mut b) = (TopNames::new(), TopNames::new());
    let (mut ga, mut gb) = (TopN::<String>::new(), TopN::<String>::new());
    for i in 0..40_000u32 {
        let name = format!("h{:05}.example.com", (i * 7919) % 5000);
        let weight = u64::from(i % 3);
        if i % 2 == 0 {
            a.update_ref_by(&name, weight);
            ga.update_ref_by(name.as_str(), weight);
        } else {
            b.update_ref(&name);
            gb.update_ref(name.as_str());
        }
    }
    assert_eq!(a.top(50, 0), ga.top(50, 0));
    a.merge(&b);
    ga.merge(&gb);
    assert_eq!(a.top(6000, 0), ga.top(6000, 0));
    assert_eq!(a.top(6000, 9), ga.top(6000, 9));
    assert_eq!(a.maximum_error(), 0);
    assert_eq!(a.clone().top(3, 0), ga.top(3, 0));
}

#[test]
fn ties_at_the_cut_are_named_and_ordered_as_the_generic_list() {
    let (mut t, mut g) = (TopNames::new(), TopN::<String>::new());
    // Counts 1..=4, many names each: every cut falls inside a tie.
    for i in 0..400u32 {
        let name = format!("n{:03}", (i * 37) % 100);
        t.update_ref(&name);
        g.update_ref(name.as_str());
    }
    for i in 0..100u32 {
        for _ in 0..i % 4 {
            let name = format!("n{i:03}");
            t.update_ref(&name);
            g.update_ref(name.as_str());
        }
    }
    for n in [0, 1, 3, 10, 25, 26, 99, 100, 500] {
        assert_eq!(t.top(n, 0), g.top(n, 0), "n = {n}");
        assert_eq!(t.top(n, 6), g.top(n, 6), "n = {n}");
    }
}

#[test]
fn heavy_hitters_survive_many_distinct_names_in_bounded_memory() {
    let mut t = TopNames::new();
    for i in 0..200_000u32 {
        t.update_ref(&format!("n{i}"));
        if i % 10 == 0 {
            t.update_ref_by("heavy", 2);
        }
        if i % 100 == 0 {
            t.update_ref_by("second", 3);
        }
        assert!(t.dictionary_len() <= DICT_CAP);
    }
    let top = t.top(2, 0);
    assert_eq!(top[0].0, "heavy");
    assert_eq!(top[1].0, "second");
    let err = t.maximum_error();
    assert!(err > 0, "200k distinct names cannot be exact");
    assert!(top[0].1 >= 40_000 && top[0].1 <= 40_000 + err);
    assert!(top[1].1 >= 6_000 && top[1].1 <= 6_000 + err);
    // Every name the sketch reports still has its text.
    assert_eq!(t.top(usize::MAX, 0).len(), t.sketch_now().rows().count());
}

#[test]
fn merge_keeps_names_of_both_sides_past_the_dictionary_cap() {
    let (mut a, mut b) = (TopNames::new(), TopNames::new());
    for i in 0..30_000u32 {
        a.update_ref(&format!("a{i}"));
        b.update_ref(&format!("b{i}"));
    }
    a.update_ref_by("only-a", 5_000);
    b.update_ref_by("only-b", 7_000);
    a.merge(&b);
    let top: Vec<String> = a.top(2, 0).into_iter().map(|(n, _)| n).collect();
    assert_eq!(top, ["only-b", "only-a"]);
    assert!(a.dictionary_len() <= DICT_CAP);
}

#[test]
fn runs_of_one_name_count_as_the_sketch_would() {
    let mut t = TopNames::new();
    let mut g = TopN::<String>::new();
    for (i, name) in ["a", "a", "a", "b", "a", "b", "b", "c"].iter().enumerate() {
        t.update_ref_by(name, 1 + i as u64 % 2);
        g.update_ref_by(*name, 1 + i as u64 % 2);
    }
    assert_eq!(t.top(10, 0), g.top(10, 0));
    // a 1+2+1+1, b 2+2+1, c 2 per copy; merged twice into a list holding one c.
    let mut m = TopNames::new();
    m.update_ref("c");
    m.merge(&t);
    m.merge(&t);
    assert_eq!(
        m.top(3, 0),
        vec![("a".into(), 10), ("b".into(), 10), ("c".into(), 5)]
    );
}

/// The sketch of a list that counted exactly and then spilled is, byte for byte, the sketch
/// that took every update (a run of one name as one update, as the list did before it
/// counted exactly): before the spill, at it, and through many purges after it.
#[test]
fn exact_counting_leaves_the_sketch_as_updates_one_by_one() {
    let cap = FrequentItemsSketch::<u64>::new(1 << LG_MAX_MAP)
        .unwrap()
        .maximum_map_capacity();
    assert_eq!(EXACT_CAP, cap);
    // A small deterministic generator (xorshift): skewed names, weights 1..=3, runs.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (distinct, updates) in [
        (50u64, 2_000u32),
        (6_144, 90_000),
        (6_146, 90_000),
        (40_000, 120_000),
    ] {
        let mut t = TopNames::new();
        let mut reference = FrequentItemsSketch::<u64>::new(1 << LG_MAX_MAP).unwrap();
        let mut name = String::new();
        let mut seen = std::collections::HashSet::new();
        // The sketch as the list fed it before exact counting: a run of one name as one
        // update (the reference for the list's own rule for runs).
        let mut run = (FREE, 0);
        for i in 0..updates {
            let r = next();
            // Half the updates from a few hundred names, the rest spread over all.
            let id = if r % 2 == 0 {
                (r >> 8) % 300
            } else {
                (r >> 8) % distinct
            };
            if r % 7 != 0 {
                name = format!("n{id}.example");
            }
            let weight = 1 + (r >> 40) % 3;
            seen.insert(name.clone());
            t.update_ref_by(&name, weight);
            let hash = t.name_hash(name.as_bytes());
            if hash == run.0 {
                run.1 += weight;
            } else {
                reference.update_with_count(run.0, run.1);
                run = (hash, weight);
            }
            if i % 9_973 == 0 || i + 1 == updates {
                let mut now = reference.clone();
                now.update_with_count(run.0, run.1);
                assert_eq!(
                    t.sketch_now().serialize(),
                    now.serialize(),
                    "{distinct} {i}"
                );
                assert_eq!(t.maximum_error(), now.maximum_error());
            }
        }
        reference.update_with_count(run.0, run.1);
        assert_eq!(
            t.exact,
            seen.len() <= EXACT_CAP,
            "{distinct}: {}",
            seen.len()
        );
        assert_eq!(t.sketch_now().serialize(), reference.serialize());
        // The rows while exact are those of the sketch.
        let mut s = t.clone();
        s.spill();
        assert!(!s.exact);
        assert_eq!(s.sketch_now().serialize(), reference.serialize());
        for (n, min) in [(10, 0), (100, 5), (usize::MAX, 0)] {
            assert_eq!(t.top(n, min), s.top(n, min));
        }
    }
}

#[test]
fn dictionary_lookups() {
    let mut d = NameDict::default();
    for i in 1..=1000u64 {
        d.insert(i * 0x9e37_79b9, format!("name{i}").as_bytes());
    }
    d.insert(0x9e37_79b9, b"again");
    assert_eq!(d.len, 1000);
    assert_eq!(d.get(0x9e37_79b9), Some(&b"name1"[..]));
    assert_eq!(d.get(1000 * 0x9e37_79b9), Some(&b"name1000"[..]));
    assert_eq!(d.get(7), None);
    let even: Vec<u64> = d.iter().map(|(h, _)| h).filter(|h| h % 2 == 0).collect();
    d.retain_hashes(even);
    assert_eq!(d.len, 500);
    assert_eq!(d.get(2 * 0x9e37_79b9), Some(&b"name2"[..]));
    assert_eq!(d.get(0x9e37_79b9), None);
}

#[test]
fn travels_with_the_names_the_sketch_holds() {
    use crate::codec::round_trip;
    let mut t = TopNames::new();
    for i in 0..100_000u32 {
        t.update_ref(&format!("n{}.example", i % 30_000));
        if i % 9 == 0 {
            t.update_ref("heavy.example");
        }
    }
    t.update_ref_by("heavy.example", 2);
    assert!(t.maximum_error() > 0);
    let d = round_trip(&t);
    assert_eq!(d.top(100, 0), t.top(100, 0));
    assert_eq!(d.maximum_error(), t.maximum_error());
    assert!(d.dictionary_len() <= t.dictionary_len());
    let (mut m, mut dm) = (TopNames::new(), TopNames::new());
    m.update_ref("x");
    dm.update_ref("x");
    m.merge(&t);
    dm.merge(&d);
    assert_eq!(dm.top(200, 0), m.top(200, 0));
}

#[test]
fn a_hash_without_a_name_travels_as_itself() {
    use crate::codec::round_trip;
    let mut t = TopNames::new();
    for name in ["a", "b", "b", "c", "c", "c"] {
        t.update_ref(name);
    }
    let b = t.name_hash(b"b");
    // The dictionary is the counter while exact: hand the counts to the sketch first.
    t.spill();
    let others: Vec<u64> = t.names.iter().map(|(h, _)| h).filter(|&h| h != b).collect();
    t.names.retain_hashes(others);
    let d = round_trip(&t);
    assert_eq!(d.top(5, 0), t.top(5, 0));
    assert_eq!(d.sketch_now().estimate(b), 2);
    assert_eq!(d.names.get(b), None);
}
