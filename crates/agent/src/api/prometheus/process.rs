//! The `process_*` families every Prometheus client library exports (the client guidelines'
//! "process metrics", which gotm's Go client registers by default and gotm's Grafana dashboard
//! reads: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_start_time_seconds`), from /proc/self as client_golang's procfs collector reads
//! them. No labels, as there.

use super::text::Exposition;

/// One reading of this process.
#[derive(Debug, Default, PartialEq)]
pub struct Process {
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub virtual_bytes: u64,
    /// RLIMIT_AS; None when unlimited (client_golang then reports -1).
    pub virtual_max_bytes: Option<u64>,
    pub resident_bytes: u64,
    pub start_time_seconds: f64,
}

/// `ticks` per second of /proc's times (sysconf(_SC_CLK_TCK), 100 on Linux).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: as above.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).unwrap_or(4096)
}

/// The soft limit of a /proc/self/limits line ("Max open files  1024  4096  files").
fn soft_limit(limits: &str, name: &str) -> Option<Option<u64>> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    Some(if soft == "unlimited" {
        None
    } else {
        soft.parse().ok()
    })
}

impl Process {
    /// None where /proc cannot be read (not Linux, or a sandbox hiding it).
    pub fn gather() -> Option<Process> {
        Process::read(std::path::Path::new("/proc/self"))
    }

    /// The process whose /proc directory is `proc_dir`.
    fn read(proc_dir: &std::path::Path) -> Option<Process> {
        let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
        // proc(5): the name is in parentheses and may hold spaces; fields count from state (3).
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
        let ticks = clock_ticks();
        let boot: f64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        let limits = std::fs::read_to_string(proc_dir.join("limits")).unwrap_or_default();
        Some(Process {
            cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
            open_fds: std::fs::read_dir(proc_dir.join("fd")).ok()?.count() as u64,
            max_fds: soft_limit(&limits, "Max open files").flatten(),
            virtual_bytes: field(23)?,
            virtual_max_bytes: soft_limit(&limits, "Max address space").flatten(),
            // status's VmRSS (what ps prints) rather than stat's rss field: the kernel batches
            // stat's per-thread counters, which lagged ps by ~100 KiB on a sleeping process.
            resident_bytes: std::fs::read_to_string(proc_dir.join("status"))
                .ok()
                .and_then(|t| {
                    let kib = t.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
                    kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
                })
                .map_or_else(|| field(24).unwrap_or(0) * page_size(), |kib| kib * 1024),
            start_time_seconds: boot + field(22)? as f64 / ticks,
        })
    }

    pub fn write(&self, exp: &mut Exposition) {
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            exp.family(name, kind, help);
            exp.sample(name, &[], &value);
        };
        one(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            format!("{:.2}", self.cpu_seconds),
        );
        one(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            self.open_fds.to_string(),
        );
        if let Some(max) = self.max_fds {
            one(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max.to_string(),
            );
        }
        one(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            self.virtual_bytes.to_string(),
        );
        one(
            "process_virtual_memory_max_bytes",
            "gauge",
            "Maximum amount of virtual memory available in bytes.",
            self.virtual_max_bytes
                .map_or("-1".into(), |m| m.to_string()),
        );
        one(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            self.resident_bytes.to_string(),
        );
        one(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            format!("{:.2}", self.start_time_seconds),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn ps(pid: u32, field: &str) -> String {
        let out = Command::new("ps")
            .args(["-o", &format!("{field}="), "-p", &pid.to_string()])
            .output()
            .expect("ps");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Against procps' `ps` (its own reader of /proc), `date` and the shell's `ulimit`, for a
    /// `sleep` whose memory and descriptors hold still (this test process's change with the
    /// threads of the tests running beside it).
    #[test]
    fn readings_agree_with_ps() {
        let mut child = Command::new("sh")
            .args(["-c", "ulimit -Sn 777; exec sleep 30"])
            .spawn()
            .expect("sleep");
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let p = Process::read(std::path::Path::new(&format!("/proc/{pid}"))).expect("/proc");
        let rss_kib: u64 = ps(pid, "rss").parse().unwrap();
        let vsz_kib: u64 = ps(pid, "vsz").parse().unwrap();
        let started = Command::new("date")
            .args(["-d", &ps(pid, "lstart"), "+%s"])
            .output()
            .expect("date");
        let fds = Command::new("sh")
            .args(["-c", &format!("ls /proc/{pid}/fd | wc -l")])
            .output()
            .expect("ls");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(p.resident_bytes / 1024, rss_kib, "{p:?}");
        assert_eq!(p.virtual_bytes / 1024, vsz_kib, "{p:?}");
        let started: f64 = String::from_utf8_lossy(&started.stdout)
            .trim()
            .parse()
            .unwrap();
        // lstart has whole seconds.
        assert!(
            (p.start_time_seconds - started).abs() < 1.0,
            "{p:?} started {started}"
        );
        assert_eq!(p.max_fds, Some(777));
        let fds: u64 = String::from_utf8_lossy(&fds.stdout).trim().parse().unwrap();
        assert_eq!(p.open_fds, fds, "{p:?}");
        assert!(p.cpu_seconds < 1.0, "{p:?}");
    }

    #[test]
    fn limits_lines_are_read_by_name() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(Some(1024)));
        assert_eq!(soft_limit(limits, "Max address space"), Some(None));
        assert_eq!(soft_limit(limits, "Max locked memory"), None);
    }
}
