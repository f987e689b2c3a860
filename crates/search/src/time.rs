//! Times as a search takes them (`--from`, `--to`) and prints them: RFC 3339
//! (`2026-12-07T01:02:03Z`, fractions of a second and `±HH:MM` offsets too), Unix seconds
//! (`1796605323.5`), or a span before now (`15m`, `2h`, `30s`, `1d`: what an operator looking
//! at a live recording asks for; an old capture is searched with absolute times), to and from
//! nanoseconds since the epoch.

use crate::error::SearchError;
use pv_wire::civil_time::civil_from_unix;

/// Nanoseconds since the epoch of `text` (`pv_wire::time_text`).
pub fn parse_time(text: &str) -> Result<u64, SearchError> {
    pv_wire::time_text::parse_time(text).map_err(|e| SearchError::Time {
        value: e.value,
        reason: e.reason,
    })
}

/// Whether `text` is a span before now (`15m`): it names another instant at every reading.
pub fn is_relative(text: &str) -> bool {
    pv_wire::time_text::span_ns(text.trim()).is_some()
}

/// `2026-12-07T01:02:03.123456789Z`.
pub fn format_time(ns: u64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(ns / 1_000_000_000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z",
        ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds() {
        // `date -u -d 2026-12-07T01:02:03Z +%s` = 1796605323.
        let t = 1_796_605_323_000_000_000;
        assert_eq!(parse_time("2026-12-07T01:02:03Z").unwrap(), t);
        assert_eq!(parse_time("2026-12-07 01:02:03z").unwrap(), t);
        assert_eq!(parse_time("2026-12-07T02:02:03+01:00").unwrap(), t);
        assert_eq!(parse_time("2026-12-06T20:02:03-05:00").unwrap(), t);
        assert_eq!(
            parse_time("2026-12-07T01:02:03.5Z").unwrap(),
            t + 500_000_000
        );
        assert_eq!(
            parse_time("2026-12-07T01:02:03.123456789123Z").unwrap(),
            t + 123_456_789
        );
        assert_eq!(parse_time("1796605323").unwrap(), t);
        assert_eq!(parse_time("1796605323.25").unwrap(), t + 250_000_000);
        assert_eq!(format_time(t + 5), "2026-12-07T01:02:03.000000005Z");
        assert_eq!(parse_time(&format_time(t + 5)).unwrap(), t + 5);
        // Spans before now.
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        };
        let before = now();
        let t = parse_time("15m").unwrap();
        let after = now();
        let fifteen = 900_000_000_000;
        assert!(before - fifteen <= t && t <= after - fifteen, "{t}");
        assert!(parse_time("2x").is_err());
    }

    #[test]
    fn bad_times_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("yesterday", "expected RFC 3339"),
            ("2026-12-07T01:02:03", "no time zone"),
            ("2026-13-07T01:02:03Z", "not a valid date"),
            ("2026-12-07T01:02:03+25:00", "bad offset"),
            (
                "1969-12-31T23:59:59Z",
                "not a valid date and time after 1970",
            ),
            ("99999999999999999999", "not a number"),
        ] {
            let e = parse_time(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
