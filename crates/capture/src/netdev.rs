//! Per-interface packet counters from `/proc/net/dev`, which `auto` compares over time to find
//! the busiest interface.

use crate::error::CaptureError;

/// The calling thread's network namespace: `/proc/net` is `/proc/self/net`, which shows the
/// namespace of the process's main thread, not of a thread that entered another one with
/// `setns` (as the agent's capture thread or a test may). Kernels older than 3.17 have no
/// `thread-self`; there every thread shares the process's namespace anyway.
const PATHS: [&str; 2] = ["/proc/thread-self/net/dev", "/proc/net/dev"];

/// (interface name, received + transmitted packets) of every interface.
pub(crate) fn packet_counters() -> Result<Vec<(String, u64)>, CaptureError> {
    let mut last_err = None;
    for path in PATHS {
        match std::fs::read_to_string(path) {
            Ok(text) => return Ok(parse(&text)),
            Err(source) => {
                last_err = Some(CaptureError::Io {
                    path: path.to_string(),
                    source,
                })
            }
        }
    }
    Err(last_err.expect("PATHS is not empty"))
}

/// Parses the table: two header lines, then `name: rx_bytes rx_packets (6 more rx fields)
/// tx_bytes tx_packets ...`. Lines that do not fit are skipped rather than failing `auto`
/// altogether.
fn parse(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            // Old kernels print no space between the colon and the first counter.
            let (name, counters) = line.split_once(':')?;
            let fields: Vec<u64> = counters
                .split_whitespace()
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            let (rx, tx) = (fields.get(1)?, fields.get(9)?);
            Some((name.trim().to_string(), rx.saturating_add(*tx)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_table() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   18092     210    0    0    0     0          0         0    18092     210    0    0    0     0       0          0
  eth0:1234567 5000    0    0    0     0          0         0  99999  70    0    0    0     0       0          0
 broken: 1 2 3
";
        assert_eq!(
            parse(text),
            vec![("lo".to_string(), 420), ("eth0".to_string(), 5070)]
        );
    }

    #[test]
    fn reads_this_hosts_table() {
        let counters = packet_counters().unwrap();
        assert!(
            counters.iter().any(|(name, _)| name == "lo"),
            "{counters:?}"
        );
    }
}
