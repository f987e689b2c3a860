//! `--tls` and `--tls-noverify` against a real TLS server on 127.0.0.1: `openssl s_server`
//! with a self-signed certificate made for the test, answering `/api/v1/metrics/app` from a
//! file. Without verification the client reads the JSON; with it the self-signed certificate
//! is refused and the agent reported unreachable. Needs the openssl command; under CI=true it
//! must run.

use pv_tui::client::{AgentClient, ClientConfig, FetchError};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const APP_JSON: &str = r#"{"app": {"version": "0.1.0", "up_time_min": 2.5}}"#;

/// A TLS server of our own, killed (by its handle, so only it) and its files removed on drop.
struct TlsServer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = std::env::temp_dir().join(format!("pv-tui-tls-{}", std::process::id()));
        let api = dir.join("api/v1/metrics");
        std::fs::create_dir_all(&api).unwrap();
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=localhost",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
            ])
            .current_dir(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "openssl could not make a certificate");
        // s_server -HTTP sends the file as the whole response, status line and headers too.
        let response = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{APP_JSON}",
            APP_JSON.len()
        );
        std::fs::write(api.join("app"), response).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args([
                "s_server", "-quiet", "-HTTP", "-cert", "cert.pem", "-key", "key.pem",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let server = TlsServer { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn have_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "openssl is required under CI=true"
        );
        eprintln!("SKIP: the openssl command is not installed");
    }
    found
}

fn config(port: u16, tls: bool, tls_noverify: bool) -> ClientConfig {
    ClientConfig {
        host: "127.0.0.1".into(),
        port,
        policy: None,
        tls,
        tls_noverify,
        timeout: Duration::from_secs(5),
        token: None,
    }
}

#[test]
fn tls_noverify_reads_a_self_signed_agent_and_tls_refuses_it() {
    if !have_openssl() {
        return;
    }
    let server = TlsServer::start();
    let client = AgentClient::new(&config(server.port, false, true));
    assert_eq!(
        client.base_url(),
        format!("https://127.0.0.1:{}", server.port)
    );
    let info = client.app().expect("--tls-noverify reads the agent");
    assert_eq!(info.version.as_deref(), Some("0.1.0"));
    assert_eq!(info.up_time_min, Some(2.5));

    let verified = AgentClient::new(&config(server.port, true, false)).app();
    assert!(
        matches!(&verified, Err(FetchError::Unreachable(e)) if e.to_lowercase().contains("certificate")),
        "{verified:?}"
    );
}
