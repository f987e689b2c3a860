//! Times and durations as the hub's arguments and query parameters take them.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("'{0}' is not a time: Unix seconds or RFC 3339 (2026-12-07T14:00:00Z)")]
    BadTime(String),
    #[error("'{0}' is not a duration: a number and s, m, h or d (30d)")]
    BadDuration(String),
}

/// Unix seconds (`1567706400`) or RFC 3339 (`2019-09-05T18:00:00Z`, `...+02:00`, fractions
/// of a second dropped).
pub fn parse_time(s: &str) -> Result<u64, TimeError> {
    let bad = || TimeError::BadTime(s.to_string());
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, TimeError> {
        let t = s.get(r).ok_or_else(bad)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(bad());
    }
    // A leap second (60) is read as the next second.
    if second > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad()),
            };
            let o = rest.as_bytes();
            if o.len() != 6 || o[3] != b':' {
                return Err(bad());
            }
            let h: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let m: i64 = rest[4..6].parse().map_err(|_| bad())?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let t = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(t).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `30d`, `12h`, `90m`, `3600s` (or plain seconds) in seconds.
pub fn parse_duration(s: &str) -> Result<u64, TimeError> {
    let bad = || TimeError::BadDuration(s.to_string());
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mul).filter(|v| *v > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds() {
        // `date -u -d 2019-09-05T18:00:00Z +%s`
        assert_eq!(parse_time("2019-09-05T18:00:00Z"), Ok(1_567_706_400));
        assert_eq!(
            parse_time("2019-09-05T20:00:00.25+02:00"),
            Ok(1_567_706_400)
        );
        assert_eq!(parse_time("1567706400"), Ok(1_567_706_400));
        assert_eq!(parse_time("2000-03-01T00:00:00Z"), Ok(951_868_800));
        for bad in [
            "",
            "yesterday",
            "2019-09-05",
            "2019-13-05T18:00:00Z",
            "2019-09-05T18:00:00",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("15"), Ok(15));
        for bad in ["", "0d", "3w", "d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
