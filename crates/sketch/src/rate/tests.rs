use super::*;

/// Feeds (second, amount) events through a clock into one rate, as the handlers do.
fn feed(events: &[(u64, u64)]) -> Rate {
    let mut clock = SecondClock::default();
    let mut rate = Rate::default();
    for &(sec, amount) in events {
        if let Tick::Ended { second, .. } = clock.advance(sec) {
            rate.end_second(second);
        }
        rate.start(sec);
        rate.add(amount);
    }
    rate
}

#[test]
fn the_second_under_way_is_read_and_merged_before_it_ends() {
    let mut r = feed(&[(5, 2), (6, 1), (6, 3)]);
    assert_eq!(r.live(), 4);
    // seconds 5 → 2, 6 → 4 (under way)
    assert_eq!(r.quantile(1.0), Some(4));
    let mut m = feed(&[(6, 10)]);
    m.merge(&r);
    assert_eq!((m.live(), m.quantile(1.0)), (14, Some(14)));
    r.add(1);
    r.end_second(8);
    r.add(7);
    // seconds 5 → 2, 6 → 5, 7 → 0, 8 → 7 (under way)
    assert_eq!(r.live(), 7);
    assert_eq!(r.quantile(0.25), Some(0));
    assert_eq!(r.quantile(0.75), Some(5));
}

#[test]
fn per_second_values_with_idle_gaps() {
    // seconds 100..=104: values 3, 0, 0, 1, 2
    let r = feed(&[(100, 1), (100, 1), (100, 1), (103, 1), (104, 1), (104, 1)]);
    // sorted: 0 0 1 2 3
    assert_eq!(r.quantile(0.5), Some(1));
    assert_eq!(r.quantile(0.9), Some(3));
    assert_eq!(r.quantile(0.2), Some(0));
    // Five seconds measured, the busiest 3: pktvisor's `_count` and `_sum`.
    assert_eq!((r.count(), r.max()), (5, Some(3)));
    assert_eq!((Rate::default().count(), Rate::default().max()), (0, None));
    // Seconds 100..=104 hold 3, 0, 0, 1, 2 (104 under way): pktvisor's `live` is the last
    // whole second before now.
    assert_eq!(r.last_whole_second(104), Some(1));
    assert_eq!(r.last_whole_second(105), Some(2));
    assert_eq!(r.last_whole_second(107), Some(0));
    assert_eq!(r.last_whole_second(101), Some(1));
    assert_eq!(Rate::default().last_whole_second(5), None);
    // Idle seconds only: measured, all zero.
    let mut idle = Rate::default();
    idle.start(7);
    idle.end_second(9);
    assert_eq!((idle.count(), idle.max()), (3, Some(0)));
}

#[test]
fn backwards_time_stays_in_current_second() {
    let r = feed(&[(10, 1), (11, 1), (10, 1)]);
    // seconds: 10 → 1, 11 → 2
    assert_eq!(r.quantile(0.5), Some(1));
    assert_eq!(r.quantile(0.99), Some(2));
}

#[test]
fn unstarted_rate_reports_nothing_and_merge_adds_seconds() {
    assert_eq!(Rate::default().quantile(0.5), None);
    let a = feed(&[(1, 5), (2, 5)]);
    let b = feed(&[(7, 1), (9, 1)]);
    let mut m = Rate::default();
    m.merge(&a);
    m.merge(&b);
    // seconds: 5 5 1 0 1
    assert_eq!(m.quantile(0.5), Some(1));
    assert_eq!(m.quantile(0.99), Some(5));
    assert_eq!(m.quantile(0.1), Some(0));
}

#[test]
fn workers_with_gaps_between_them_join_as_one_reader() {
    // One reader: packets at 10, 12 (worker A) and 20, 21 (worker B): 12 seconds covered.
    let one = feed(&[(10, 1), (12, 1), (20, 5), (21, 1)]);
    let mut a = feed(&[(10, 1), (12, 1)]);
    a.merge(&feed(&[(20, 5), (21, 1)]));
    // Side by side (other buckets of a window) the gap 13..19 is not covered...
    assert_eq!(a.quantile(0.5), Some(1));
    // ...joined (workers of one bucket) it is idle time, as for one reader.
    a.join_spans();
    for q in [0.5, 0.9, 0.99] {
        assert_eq!(a.quantile(q), one.quantile(q), "q {q}");
    }
    assert_eq!(a.quantile(0.5), Some(0));
}

#[test]
fn workers_of_the_same_seconds_add_up() {
    // One stream of seconds 100..=104 (3, 0, 0, 1, 2) split between two workers.
    let a = feed(&[(100, 1), (100, 1), (104, 1)]);
    let b = feed(&[(100, 1), (103, 1), (104, 1)]);
    let whole = feed(&[(100, 3), (103, 1), (104, 2)]);
    let mut m = a.clone();
    m.merge(&b);
    for rank in [0.1, 0.3, 0.5, 0.7, 0.9, 1.0] {
        assert_eq!(m.quantile(rank), whole.quantile(rank), "rank {rank}");
    }
}

#[test]
fn long_streams_fold_and_stay_bounded() {
    let mut events = Vec::new();
    for sec in 0..20_000u64 {
        if sec % 3 != 0 {
            events.push((sec, 1 + sec % 5));
        }
    }
    let r = feed(&events);
    assert!(r.seconds.len() <= MAX_SECONDS);
    // values: a third zeros, the rest 1..=5 evenly: the median is 2 (nearest rank).
    let mut all: Vec<u64> = (0..20_000u64)
        .map(|s| if s % 3 == 0 { 0 } else { 1 + s % 5 })
        .collect();
    all.sort();
    for rank in [0.2, 0.5, 0.9] {
        let pos = ((rank * all.len() as f64).ceil() as usize).max(1);
        assert_eq!(r.quantile(rank), Some(all[pos - 1]), "rank {rank}");
    }
    // Seconds 1..=19999 (the first packet is at 1), folded ones included; the busiest 5.
    assert_eq!((r.count(), r.max()), (19_999, Some(5)));
}

#[test]
fn spans_join() {
    let mut s = Vec::new();
    for span in [(10, 12), (20, 20), (13, 15), (18, 19), (30, 31), (14, 25)] {
        add_span(&mut s, span);
    }
    assert_eq!(s, vec![(10, 25), (30, 31)]);
}

#[test]
fn travels_with_the_second_under_way_and_folded_seconds() {
    use crate::codec::round_trip;
    let events: Vec<(u64, u64)> = (0..(MAX_SECONDS as u64 * 2))
        .filter(|s| s % 5 != 0)
        .map(|s| (1_000 + s, s % 13 + 1))
        .collect();
    let r = feed(&events);
    assert!(r.folded_zeros > 0 || !r.folded.is_empty());
    let d = round_trip(&r);
    assert_eq!(d.live(), r.live());
    for rank in [0.5, 0.9, 0.95, 0.99, 1.0] {
        assert_eq!(d.quantile(rank), r.quantile(rank));
    }
    let other = feed(&[(900, 4), (905, 1), (20_000, 7)]);
    let (mut m, mut dm) = (r.clone(), d);
    m.merge(&other);
    dm.merge(&round_trip(&other));
    for rank in [0.5, 0.99, 1.0] {
        assert_eq!(dm.quantile(rank), m.quantile(rank));
    }
    assert_eq!(round_trip(&Rate::default()).quantile(0.5), None);
}
