use super::*;

/// Nearest-rank quantile of a sorted slice: the reference definition.
fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    let pos = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[pos - 1]
}

fn check_exact(values: &[u64]) {
    let mut q = Quantiles::new();
    values.iter().for_each(|v| q.update(*v));
    let mut sorted = values.to_vec();
    sorted.sort();
    assert!(q.is_exact());
    for rank in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 1.0] {
        assert_eq!(
            q.quantile(rank),
            Some(nearest_rank(&sorted, rank)),
            "rank {rank}"
        );
    }
    for probe in [0, 1, 100, 2047, 2048, 5000, 1 << 40] {
        let expected = sorted.iter().filter(|v| **v <= probe).count() as u64;
        assert_eq!(q.count_at_most(probe), expected, "at most {probe}");
    }
    assert_eq!(q.max(), sorted.last().copied());
}

#[test]
fn exact_for_small_values_and_few_distinct_large_ones() {
    check_exact(&(0..150).map(|i| (i * 37) % 101).collect::<Vec<_>>());
    // Sizes of real traffic: many repeats, both sides of the array's bound.
    check_exact(
        &(0..100_000u64)
            .map(|i| [60, 1514, 74, 9000, 2048, 65535][(i % 6) as usize] + i % 3)
            .collect::<Vec<_>>(),
    );
    // Latencies in µs: up to 4096 distinct values above 2 ms stay exact.
    check_exact(
        &(0..50_000u64)
            .map(|i| (i * 7919) % 6000)
            .collect::<Vec<_>>(),
    );
}

#[test]
fn zeros_shift_the_ranks() {
    let mut q = Quantiles::new();
    for v in [5, 6, 7, 8] {
        q.update(v);
    }
    // combined stream: 0 0 0 0 0 0 5 6 7 8
    let mut combined = vec![0u64; 6];
    combined.extend([5, 6, 7, 8]);
    for rank in [0.5, 0.6, 0.7, 0.9, 0.99] {
        assert_eq!(
            q.quantile_with_zeros(rank, 6),
            Some(nearest_rank(&combined, rank))
        );
    }
    assert_eq!(Quantiles::new().quantile_with_zeros(0.5, 0), None);
    assert_eq!(Quantiles::new().quantile_with_zeros(0.5, 3), Some(0));
}

#[test]
fn rank_error_is_bounded_on_long_streams() {
    let mut q = Quantiles::new();
    let n = 200_000u64;
    for i in 0..n {
        q.update((i * 7919) % n);
    }
    assert!(!q.is_exact());
    for rank in [0.005, 0.5, 0.9, 0.99] {
        let got = q.quantile(rank).unwrap() as f64 / n as f64;
        assert!((got - rank).abs() < 0.02, "rank {rank} got {got}");
    }
    let below = q.count_at_most(n / 2) as f64 / n as f64;
    assert!((below - 0.5).abs() < 0.02, "{below}");
    assert_eq!(q.max(), Some(n - 1));
}

#[test]
fn merge_combines_streams_in_every_mode() {
    let (mut a, mut b) = (Quantiles::new(), Quantiles::new());
    (0..50).for_each(|v| a.update(v));
    (50..100).for_each(|v| b.update(v));
    a.merge(&b);
    assert_eq!(a.count(), 100);
    assert_eq!(a.quantile(0.5), Some(49));

    // exact + exact past the cap, sketch + exact, exact + sketch, sketch + sketch
    let make = |range: std::ops::Range<u64>| {
        let mut q = Quantiles::new();
        range.for_each(|v| q.update(v * 3));
        q
    };
    for (x, y) in [
        (0..3000, 3000..6000),
        (0..20_000, 20_000..21_000),
        (0..1000, 1000..20_000),
        (0..20_000, 20_000..40_000),
    ] {
        let total = y.end;
        let (mut p, q) = (make(x), make(y));
        p.merge(&q);
        assert_eq!(p.count(), total);
        let median = p.quantile(0.5).unwrap() as f64 / (3 * total) as f64;
        assert!((median - 0.5).abs() < 0.02, "{median}");
        assert_eq!(p.max(), Some(3 * (total - 1)));
    }
}

#[test]
fn travels_small_exact_and_sketched() {
    use crate::codec::round_trip;
    let mut q = Quantiles::new();
    assert!(round_trip(&q).is_empty());
    for v in 0..3000u64 {
        q.update(v % 2500);
    }
    let d = round_trip(&q);
    assert!(d.is_exact());
    assert_eq!(d.count(), q.count());
    for rank in [0.5, 0.9, 0.99] {
        assert_eq!(d.quantile(rank), q.quantile(rank));
    }
    // Past the exact cap: the KLL sketch and its batch travel as they are (the re-encoding
    // check in round_trip compares the sketch's own image).
    for v in 0..20_000u64 {
        q.update(SMALL + v * 3);
    }
    assert!(!q.is_exact());
    let d = round_trip(&q);
    assert!(!d.is_exact());
    assert_eq!(d.count(), q.count());
}
