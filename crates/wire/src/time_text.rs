//! Times as searches take them (`--from`, `--to`, `from=`, `to=`): RFC 3339
//! (`2026-12-07T01:02:03Z`, fractions of a second and `±HH:MM` offsets too), Unix seconds
//! (`1796605323.5`), or a span before now (`15m`, `2h`, `30s`, `1d`: what an operator looking
//! at a live recording asks for), as nanoseconds since the epoch. Pure, so that the packet
//! search, the trace store and the hub (which links no capture library) read times alike.

use crate::civil_time::unix_from_civil;

/// A time that does not parse, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeTextError {
    pub value: String,
    pub reason: String,
}

impl std::fmt::Display for TimeTextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "time '{}': {}", self.value, self.reason)
    }
}

impl std::error::Error for TimeTextError {}

/// Nanoseconds since the epoch of `text`.
pub fn parse_time(text: &str) -> Result<u64, TimeTextError> {
    let bad = |reason: &str| TimeTextError {
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
        let secs: u64 = secs.parse().map_err(|_| bad("not a number of seconds"))?;
        let frac = fraction_ns(frac).ok_or_else(|| bad("bad fraction"))?;
        return secs
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(frac))
            .ok_or_else(|| bad("too far in the future"));
    }
    if let Some(ago) = span_ns(t) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return Ok(now.saturating_sub(ago));
    }
    let expected = "expected RFC 3339 (2026-12-07T01:02:03Z, 2026-12-07T02:02:03.5+01:00), Unix \
                    seconds, or a span before now (15m, 2h, 1d)";
    let b = t.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    if b.len() < 19 || at(4) != b'-' || at(7) != b'-' || !matches!(at(10), b'T' | b't' | b' ') {
        return Err(bad(expected));
    }
    if at(13) != b':' || at(16) != b':' {
        return Err(bad(expected));
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, TimeTextError> {
        t.get(range)
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(expected))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &t[19..];
    let mut frac_ns = 0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        frac_ns = fraction_ns(&after[..digits]).ok_or_else(|| bad("bad fraction of a second"))?;
        rest = &after[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        "" => {
            return Err(bad(
                "no time zone: end with Z for UTC, or give an offset (+01:00)",
            ));
        }
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad(expected)),
            };
            let (h, m) = rest[1..]
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)))
                .filter(|(h, m)| *h < 24 && *m < 60)
                .ok_or_else(|| bad("bad offset (expected ±HH:MM)"))?;
            sign * (h * 3600 + m * 60)
        }
    };
    let local = unix_from_civil(i64::from(year), month, day, hour, minute, second)
        .ok_or_else(|| bad("not a valid date and time after 1970"))?;
    let utc = i64::try_from(local)
        .ok()
        .and_then(|l| l.checked_sub(offset_secs))
        .and_then(|s| u64::try_from(s).ok())
        .ok_or_else(|| bad("before 1970"))?;
    Ok(utc * 1_000_000_000 + frac_ns)
}

/// `15m`, `2h`, `30s`, `1d` as nanoseconds; None for anything else.
pub fn span_ns(t: &str) -> Option<u64> {
    let unit = match t.as_bytes().last()? {
        b's' => 1,
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        _ => return None,
    };
    let n: u64 = t[..t.len() - 1].parse().ok()?;
    n.checked_mul(unit)?.checked_mul(1_000_000_000)
}

/// Up to nine digits after the point as nanoseconds; more digits are cut (below a
/// nanosecond); None if any is not a digit.
fn fraction_ns(digits: &str) -> Option<u64> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kept = &digits[..digits.len().min(9)];
    let value: u64 = if kept.is_empty() {
        0
    } else {
        kept.parse().ok()?
    };
    Some(value * 10u64.pow(9 - kept.len() as u32))
}
