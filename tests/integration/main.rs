//! Integration tests: the real binary, real sockets, a real HTTP client.

mod harness;

mod agent_api;
mod blocking;
mod catalog_health;
mod checks;
mod cli;
mod cluster;
mod config_errors;
mod dns;
mod dns_client;
mod dns_cluster;
#[cfg(feature = "docker-tests")]
mod docker;
#[cfg(feature = "docker-tests")]
mod docker_reg;
mod gossip;
#[cfg(feature = "docker-tests")]
mod image;
mod kv;
mod lifecycle;
mod linearizable;
mod operator;
mod template_runner;
mod templates;
mod ui_api;
mod ui_browser;

use serde_json::Value;

/// A JSON HTTP client for tests.
#[derive(Default)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    pub fn new() -> Client {
        Client::default()
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn get_json(&self, url: &str) -> Value {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "GET {url}");
        r.json().await.unwrap()
    }

    pub async fn put(&self, url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http.put(url).body(body).send().await.unwrap()
    }

    pub async fn put_json(&self, url: &str, body: Value) -> reqwest::Response {
        self.put(url, body.to_string()).await
    }

    pub async fn delete(&self, url: &str) -> reqwest::Response {
        self.http.delete(url).send().await.unwrap()
    }
}

/// `X-Consul-Index` of a response.
pub fn index_of(r: &reqwest::Response) -> u64 {
    r.headers()["x-consul-index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
