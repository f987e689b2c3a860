//! pktvisor's rules for which buckets a request may read, and the `period` object.

use pv_sketch::window::TimeBucket;
use serde_json::{Map, Value, json};

/// A bucket or window that does not exist (yet): pktvisor answers these with 425 Too Early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl std::fmt::Display for PeriodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeriodError {}

/// pktvisor's checks of a single bucket's index (`window_single_json`) in a window that keeps
/// `periods` buckets and holds `held`.
pub(crate) fn check_bucket(periods: usize, held: usize, index: usize) -> Result<(), PeriodError> {
    if index >= periods {
        return Err(PeriodError(format!(
            "invalid metrics period, specify [0, {}]",
            periods.saturating_sub(1)
        )));
    }
    if index >= held {
        return Err(not_accumulated(0, held.saturating_sub(1)));
    }
    Ok(())
}

/// pktvisor's check of a merged window's size (`window_merged_json`, AbstractMetricsManager.h):
/// only the range `[2, periods]`. A window larger than what is held merges what is held, as
/// pktvisor 4.5 does (it iterates the buckets it has and stops there).
pub(crate) fn check_window(periods: usize, n: usize) -> Result<(), PeriodError> {
    if n < 2 || n > periods {
        return Err(PeriodError(format!(
            "invalid metrics period, specify [2, {periods}]"
        )));
    }
    Ok(())
}

fn not_accumulated(low: usize, high: usize) -> PeriodError {
    PeriodError(format!(
        "requested metrics period has not yet accumulated, current range is [{low}, {high}]"
    ))
}

/// `{"start_ts", "length"}` of a bucket (or merged window), in seconds: the span it covers.
fn period_json<B>(b: &TimeBucket<B>) -> Value {
    let (start, length) = b.period();
    json!({"start_ts": start, "length": length})
}

/// `{"period": ..., ...body}`: pktvisor writes the period first in every schema object.
pub(crate) fn schema_object<B>(bucket: Option<&TimeBucket<B>>, body: Value) -> Value {
    let mut out = Map::new();
    let period = bucket.map_or_else(|| json!({"start_ts": 0, "length": 0}), period_json);
    out.insert("period".into(), period);
    if let Value::Object(m) = body {
        out.extend(m);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pktvisors_messages_and_a_young_window() {
        assert_eq!(
            check_bucket(5, 2, 5).unwrap_err().0,
            "invalid metrics period, specify [0, 4]"
        );
        assert_eq!(
            check_bucket(5, 2, 3).unwrap_err().0,
            "requested metrics period has not yet accumulated, current range is [0, 1]"
        );
        assert_eq!(
            check_window(5, 6).unwrap_err().0,
            "invalid metrics period, specify [2, 5]"
        );
        assert_eq!(
            check_window(5, 1).unwrap_err().0,
            "invalid metrics period, specify [2, 5]"
        );
        assert!(check_window(5, 5).is_ok());
    }
}
