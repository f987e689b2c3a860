//! pktvisor's `topn_percentile_threshold`: a top list keeps only its rows whose estimate reaches
//! a percentile of the listed estimates, so that a long tail of small counts is left out.

/// `rows` are a top list as published (at most `topn_count` rows, estimates descending).
/// With `k` rows the bar is the estimates' ascending value at index `min(floor(p/100 * k),
/// k - 1)`; rows are kept up to the first one below it. `percentile` 0 keeps every row.
pub fn above_percentile<T>(mut rows: Vec<(T, u64)>, percentile: u8) -> Vec<(T, u64)> {
    let k = rows.len();
    if percentile == 0 || k == 0 {
        return rows;
    }
    let mut estimates: Vec<u64> = rows.iter().map(|r| r.1).collect();
    estimates.sort_unstable();
    // pktvisor computes the index in double precision; so do we, to agree on every (p, k).
    let index = ((f64::from(percentile) / 100.0 * k as f64).floor() as usize).min(k - 1);
    let bar = estimates[index];
    let keep = rows.iter().position(|r| r.1 < bar).unwrap_or(k);
    rows.truncate(keep);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(estimates: &[u64]) -> Vec<(char, u64)> {
        estimates
            .iter()
            .enumerate()
            .map(|(i, e)| ((b'a' + i as u8) as char, *e))
            .collect()
    }

    fn names(r: Vec<(char, u64)>) -> String {
        r.into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn percentile_bars_counted_by_hand() {
        let list = rows(&[50, 40, 30, 20, 10]);
        // 0: everything.
        assert_eq!(names(above_percentile(list.clone(), 0)), "abcde");
        // 50 % of 5 = 2.5 -> index 2 of [10, 20, 30, 40, 50] = 30: a, b, c.
        assert_eq!(names(above_percentile(list.clone(), 50)), "abc");
        // 20 % of 5 = 1 -> 20: a..d.
        assert_eq!(names(above_percentile(list.clone(), 20)), "abcd");
        // 19 % of 5 = 0.95 -> index 0 = 10: all.
        assert_eq!(names(above_percentile(list.clone(), 19)), "abcde");
        // 80 % of 5 = 4 -> 50: only a.
        assert_eq!(names(above_percentile(list.clone(), 80)), "a");
        // 100 % -> index 5, capped at 4 -> 50: only a.
        assert_eq!(names(above_percentile(list.clone(), 100)), "a");
        // Ties at the bar are kept.
        let ties = rows(&[9, 7, 7, 7, 1]);
        assert_eq!(names(above_percentile(ties, 60)), "abcd");
        assert!(above_percentile(Vec::<(char, u64)>::new(), 90).is_empty());
        // One row is its own bar.
        assert_eq!(names(above_percentile(rows(&[3]), 99)), "a");
    }
}
