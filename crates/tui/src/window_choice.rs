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
}
