//! The shipped image and compose files on the real engine: the image is built by
//! `scripts/build-image` (the path a machine without a registry takes, running the
//! Dockerfile's runtime stage) from the binary under test, once per test process.
//!
//! - `entrypoint.rs`: the official image's conventions (env, user, socket group, `consul`).
//! - `pipeline.rs`: compose/docker-compose.yml end to end: scaling, server loss, edge restart.
//! - `seed.rs`: compose/seed-compat.yml, the classic file with only the image changed.
//! - `server_example.rs`: examples/server/config.json on three servers, every key honoured.

mod entrypoint;
mod pipeline;
mod seed;
mod server_example;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::docker::{docker, must};
use crate::harness::bin;

/// The images the tests run.
pub struct Images {
    /// Berth's image.
    pub berth: String,
    /// The demo web image.
    pub web: String,
}

/// Builds the images once (later callers wait for the first).
pub fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let images = Images {
            berth: "berth:test".into(),
            web: "berth-web:test".into(),
        };
        let out = Command::new(root().join("scripts/build-image"))
            .args([
                "--binary",
                bin(),
                "--tag",
                &images.berth,
                "--web-tag",
                &images.web,
            ])
            .output()
            .expect("scripts/build-image runs");
        assert!(
            out.status.success(),
            "scripts/build-image failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        images
    })
}

/// The checkout.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A compose project, taken down (with its volumes) on drop.
pub struct Project {
    name: String,
    file: PathBuf,
    env: Vec<(String, String)>,
}

impl Project {
    /// A project over `file` with a unique name and `env` for the file's variables.
    pub fn new(prefix: &str, file: &Path, env: &[(&str, String)]) -> Project {
        Project {
            name: format!("{prefix}{}", std::process::id()),
            file: file.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// Runs `docker-compose` with `args`; success and output.
    pub fn try_compose(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("docker-compose")
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("docker-compose must be installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// `try_compose` that must succeed.
    pub fn compose(&self, args: &[&str]) -> String {
        let (ok, text) = self.try_compose(args);
        assert!(ok, "docker-compose {args:?} failed: {text}");
        text
    }

    /// The running containers of `service`.
    pub fn containers(&self, service: &str) -> Vec<String> {
        self.compose(&["ps", "-q", service])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// The one container of `service`.
    pub fn container(&self, service: &str) -> String {
        let mut c = self.containers(service);
        assert_eq!(c.len(), 1, "{service}: {c:?}");
        c.remove(0)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let (ok, text) = self.try_compose(&["down", "-v", "-t", "1"]);
        if !ok {
            eprintln!("docker-compose down failed: {text}");
        }
    }
}

/// The hostnames of `containers` (what the web image answers with).
pub fn hostnames(containers: &[String]) -> Vec<String> {
    let mut h: Vec<String> = containers
        .iter()
        .map(|c| must(&["inspect", "-f", "{{.Config.Hostname}}", c]))
        .collect();
    h.sort();
    h
}

/// A container's IP on its (only) network.
pub fn ip_of(container: &str) -> String {
    must(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ])
}

/// A container's log (stdout and stderr).
pub fn logs(container: &str) -> String {
    docker(&["logs", container]).1
}

/// Polls `f` every 200 ms until it returns Some, or panics after `limit` saying `what`.
pub async fn eventually<T>(
    limit: Duration,
    what: &str,
    mut f: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET `url` with a short timeout: status and body, or None when it could not be asked.
pub async fn get(url: &str) -> Option<(u16, String)> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    let c = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    });
    let r = c.get(url).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// GET `url` as JSON when it answers 200.
pub async fn get_json(url: &str) -> Option<serde_json::Value> {
    match get(url).await {
        Some((200, body)) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// The cluster's leader as the agent at `api` sees it ("" while there is none).
pub async fn leader(api: &str) -> Option<String> {
    get_json(&format!("{api}/v1/status/leader"))
        .await
        .and_then(|v| v.as_str().map(String::from))
        .filter(|l| !l.is_empty())
}
