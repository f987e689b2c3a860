//! A `clickhouse-server` of a test's own: its config and data under the test's directory,
//! HTTP and native ports on 127.0.0.1 chosen free, killed by its PID when dropped.

use super::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ClickHouse {
    child: Option<Child>,
    dir: PathBuf,
    pub http_port: u16,
    /// The network namespace the server runs in (a test's own), None: the test's.
    netns: Option<String>,
}

impl ClickHouse {
    /// Writes a config under `dir/clickhouse` and starts the server; None (with the reason
    /// printed) outside CI when clickhouse-server is not installed.
    pub fn start(dir: &Path) -> Option<ClickHouse> {
        ClickHouse::start_in(dir, None)
    }

    /// As [`ClickHouse::start`], inside network namespace `netns` (a test's own: a hub
    /// there reaches it on 127.0.0.1).
    pub fn start_in(dir: &Path, netns: Option<&str>) -> Option<ClickHouse> {
        if !crate::common::require("clickhouse-server") {
            return None;
        }
        let dir = dir.join("clickhouse");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let (http_port, tcp_port) = (free_port(), free_port());
        let d = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                "<?xml version=\"1.0\"?>\n<yandex>\n\
                 <logger><level>warning</level><console>1</console></logger>\n\
                 <listen_host>127.0.0.1</listen_host>\n\
                 <http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port>\n\
                 <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path>\n\
                 <users_config>users.xml</users_config>\n\
                 <default_profile>default</default_profile>\n\
                 <default_database>default</default_database>\n\
                 <mark_cache_size>268435456</mark_cache_size>\n</yandex>\n"
            ),
        )
        .unwrap();
        // `default` without a password, and `pv` with one (for the user:pass URL).
        std::fs::write(
            dir.join("users.xml"),
            "<?xml version=\"1.0\"?>\n<yandex>\n<profiles><default></default></profiles>\n<users>\n\
             <default><password></password><networks><ip>127.0.0.1</ip></networks>\
             <profile>default</profile><quota>default</quota></default>\n\
             <pv><password>s3cret</password><networks><ip>127.0.0.1</ip></networks>\
             <profile>default</profile><quota>default</quota></pv>\n\
             </users>\n<quotas><default></default></quotas>\n</yandex>\n",
        )
        .unwrap();
        let mut ch = ClickHouse {
            child: None,
            dir,
            http_port,
            netns: netns.map(str::to_string),
        };
        ch.resume();
        Some(ch)
    }

    /// Starts the server (again, on the same data and ports) and waits until `SELECT 1`
    /// answers.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "clickhouse-server"]);
                c
            }
            None => Command::new("clickhouse-server"),
        };
        let child = cmd
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .current_dir(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.query("SELECT 1").as_deref() != Some("1\n") {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "clickhouse-server did not answer: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL, by its PID) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The hub's `--store` for database `db`.
    pub fn store(&self, db: &str) -> String {
        format!("clickhouse+http://127.0.0.1:{}/{db}", self.http_port)
    }

    /// The server's own answer to `sql` (TabSeparated), None if it does not answer 200.
    pub fn query(&self, sql: &str) -> Option<String> {
        if let Some(ns) = &self.netns {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "curl", "-sf", "--data-binary", sql])
                .arg(format!("http://127.0.0.1:{}/", self.http_port))
                .output()
                .ok()?;
            return out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).ok()?;
        write!(
            s,
            "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
            sql.len()
        )
        .ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).ok()?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.lines()
            .next()?
            .contains(" 200 ")
            .then(|| body.to_string())
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}
