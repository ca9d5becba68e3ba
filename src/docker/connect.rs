//! Reaching the Docker engine: a unix socket (the default `/var/run/docker.sock`), or
//! `tcp://host:port`, with TLS when client certificates are given (`docker { ca_file,
//! cert_file, key_file }`, or the docker CLI's `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH`).

use std::path::PathBuf;

use bollard::Docker;

/// The default endpoint, as the docker CLI's.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// Client certificate files for a TLS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA that signed the engine's certificate.
    pub ca: PathBuf,
    /// Our client certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir` (the docker CLI's layout).
    pub fn in_dir(dir: &std::path::Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// Whether `endpoint` is a form Berth can reach; the error says which forms are.
pub fn validate(endpoint: &str) -> Result<(), String> {
    if endpoint == "off" || endpoint.starts_with('/') {
        return Ok(());
    }
    for scheme in ["unix://", "tcp://", "http://", "https://"] {
        if let Some(rest) = endpoint.strip_prefix(scheme) {
            if rest.is_empty() {
                return Err(format!("{endpoint:?} names no socket or host"));
            }
            return Ok(());
        }
    }
    Err(format!(
        "{endpoint:?}: expected unix:///path/to/docker.sock, tcp://host:port or off"
    ))
}

/// A client for `endpoint` (None: the default socket). Connecting is lazy: the first
/// request finds out whether the engine is there.
pub fn connect(endpoint: Option<&str>, tls: Option<&TlsFiles>) -> Result<Docker, String> {
    let v = bollard::API_DEFAULT_VERSION;
    let e = endpoint.unwrap_or(DEFAULT_ENDPOINT);
    let d = if e.starts_with("unix://") || e.starts_with('/') {
        Docker::connect_with_unix(e, 120, v)
    } else if let Some(t) = tls {
        Docker::connect_with_ssl(e, &t.key, &t.cert, &t.ca, 120, v)
    } else if e.starts_with("https://") {
        return Err(format!(
            "{e}: a TLS endpoint needs docker {{ ca_file, cert_file, key_file }} or DOCKER_CERT_PATH"
        ));
    } else {
        Docker::connect_with_http(e, 120, v)
    };
    d.map_err(|err| format!("{e}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_forms() {
        for ok in [
            "off",
            "/run/docker.sock",
            "unix:///x",
            "tcp://127.0.0.1:2376",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        assert!(validate("tcp://").unwrap_err().contains("names no"));
        assert!(validate("docker.sock")
            .unwrap_err()
            .contains("expected unix://"));
        assert!(connect(Some("https://h:1"), None)
            .unwrap_err()
            .contains("ca_file"));
    }
}
