//! Test certificates for the TLS tests (the hub's, `pktvisord --tls`), made by the `openssl`
//! command-line tool, not by our code.

use std::path::{Path, PathBuf};

fn openssl(dir: &Path, args: &[&str]) {
    crate::common::tool(dir, "openssl", args);
}

/// A private CA (a self-signed certificate) and a server certificate for 127.0.0.1 signed by
/// it, made by the openssl tool: (ca.pem, cert.pem, key.pem). The server's certificate is an
/// end entity (CA:FALSE), as a real one is; rustls refuses a CA certificate as a server's.
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec![
        "req",
        "-x509",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=pv test CA",
    ];
    ca.extend_from_slice(&EC);
    ca.extend_from_slice(&["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new", "-nodes", "-subj", "/CN=127.0.0.1"];
    csr.extend_from_slice(&EC);
    csr.extend_from_slice(&["-keyout", "key.pem", "-out", "hub.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "hub.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "cert.pem",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}
