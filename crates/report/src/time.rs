//! UTC calendar dates without a time-zone database (the report only ever prints UTC).

/// "YYYY-MM-DD HH:MM:SS" for Unix seconds.
pub fn utc(secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = pv_wire::civil_time::civil_from_unix(secs);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_567_706_414), "2019-09-05 18:00:14");
    }
}
