//! Which window of the agent's metrics the screens show: the live bucket, the last complete
//! minute, or the newest N minutes merged.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowChoice {
    /// Bucket 0: the minute being filled now.
    Live,
    /// `Minutes(1)` is bucket 1 (the last complete minute); `Minutes(n)`, n >= 2, is window n.
    Minutes(u32),
}

impl WindowChoice {
    /// The v3 path below `/api/v1/metrics/`, also the tail of the v4 policy path.
    pub fn path(self) -> String {
        match self {
            WindowChoice::Live => "bucket/0".to_string(),
            WindowChoice::Minutes(1) => "bucket/1".to_string(),
            WindowChoice::Minutes(n) => format!("window/{n}"),
        }
    }

    /// The key pktvisor gives the answer's window (`1m` for buckets, `Nm` for windows).
    pub fn key(self) -> String {
        match self {
            WindowChoice::Live => "1m".to_string(),
            WindowChoice::Minutes(n) => format!("{n}m"),
        }
    }

    pub fn label(self) -> String {
        match self {
            WindowChoice::Live => "live bucket".to_string(),
            WindowChoice::Minutes(1) => "last 1 min".to_string(),
            WindowChoice::Minutes(n) => format!("last {n} min"),
        }
    }

    /// Every choice for an agent keeping `periods` buckets, in the order the chooser lists them.
    pub fn all(periods: u32) -> Vec<WindowChoice> {
        std::iter::once(WindowChoice::Live)
            .chain((1..=periods.max(1)).map(WindowChoice::Minutes))
            .collect()
    }
}

/// The number of buckets an agent keeps, read from its 425 answer to a period out of range
/// (pktvisor's wording: `invalid metrics period, specify [2, P]` for windows, `[0, P-1]` for
/// buckets). The v3 API has no other place that tells.
/// Whether an agent refused a window or bucket for its period: 425 Too Early on pktvisor 4's
/// policy paths, 500 with pktvisor's period message on the v3 paths (`CoreServer.cpp`).
pub fn period_refused(status: u16, message: &str) -> bool {
    status == 425 || (status == 500 && message.contains("metrics period"))
}

pub fn periods_from_error(message: &str) -> Option<u32> {
    let range = message.split("specify [").nth(1)?.split(']').next()?;
    let (low, high) = range.split_once(',')?;
    let high: u32 = high.trim().parse().ok()?;
    match low.trim() {
        "2" => Some(high),
        "0" => Some(high + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_pktvisor() {
        assert_eq!(WindowChoice::Live.path(), "bucket/0");
        assert_eq!(WindowChoice::Minutes(1).path(), "bucket/1");
        assert_eq!(WindowChoice::Minutes(5).path(), "window/5");
        assert_eq!(WindowChoice::Minutes(5).key(), "5m");
        assert_eq!(WindowChoice::all(3).len(), 4);
    }

    #[test]
    fn periods_from_pktvisors_messages() {
        assert_eq!(
            periods_from_error("invalid metrics period, specify [2, 3]"),
            Some(3)
        );
        assert_eq!(
            periods_from_error("invalid metrics period, specify [0, 4]"),
            Some(5)
        );
        assert_eq!(
            periods_from_error(
                "requested metrics period has not yet accumulated, current range is [0, 1]"
            ),
            None
        );
    }
}
