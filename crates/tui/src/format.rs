//! How numbers are written on screen. Counts stay plain digits so an operator can compare
//! them with the API's JSON; anything the agent did not send is `-`.

/// A count, or `-`.
pub fn count(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// `part` as a percentage of `whole` with one decimal, or `-` when either is unknown or the
/// whole is zero.
pub fn share(part: Option<u64>, whole: Option<u64>) -> String {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0 => format!("{:.1}%", p as f64 * 100.0 / w as f64),
        _ => "-".to_string(),
    }
}

/// A rate or quantile: whole numbers without decimals, others with one.
pub fn value(v: Option<f64>) -> String {
    match v {
        Some(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Some(f) => format!("{f:.1}"),
        None => "-".to_string(),
    }
}

/// Microseconds as milliseconds with three decimals (as the text report writes latencies).
pub fn ms_from_us(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |us| format!("{:.3}", us / 1000.0))
}

/// Up time in minutes as `2d 3h 4m` (the largest units that matter).
pub fn up_time(minutes: Option<f64>) -> String {
    let Some(m) = minutes.filter(|m| m.is_finite() && *m >= 0.0) else {
        return "-".to_string();
    };
    let m = m as u64;
    let (d, h, min) = (m / 1440, m % 1440 / 60, m % 60);
    match (d, h) {
        (0, 0) => format!("{min}m"),
        (0, _) => format!("{h}h {min}m"),
        _ => format!("{d}d {h}h {min}m"),
    }
}

/// Cuts `s` to `width` characters, marking the cut with `…`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(None), "-");
        assert_eq!(count(Some(42)), "42");
        assert_eq!(share(Some(1), Some(3)), "33.3%");
        assert_eq!(share(Some(1), Some(0)), "-");
        assert_eq!(share(None, Some(3)), "-");
        assert_eq!(value(Some(12.0)), "12");
        assert_eq!(value(Some(12.25)), "12.2");
        assert_eq!(ms_from_us(Some(1500.0)), "1.500");
        assert_eq!(up_time(Some(0.5)), "0m");
        assert_eq!(up_time(Some(61.0)), "1h 1m");
        assert_eq!(up_time(Some(1441.0)), "1d 0h 1m");
        assert_eq!(up_time(Some(f64::NAN)), "-");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
