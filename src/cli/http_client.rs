//! The HTTP client the one-shot commands use to talk to an agent, as Consul's CLI does
//! (`-http-addr`, else `CONSUL_HTTP_ADDR`, else `http://127.0.0.1:8500`).

use super::flags::Parsed;

/// Where the agent's HTTP API is.
pub fn base_url(flags: &Parsed) -> String {
    let raw = flags
        .value("http-addr")
        .map(str::to_string)
        .or_else(|| std::env::var("CONSUL_HTTP_ADDR").ok())
        .unwrap_or_else(|| "http://127.0.0.1:8500".into());
    let raw = raw.trim_end_matches('/');
    if raw.contains("://") {
        raw.to_string()
    } else {
        format!("http://{raw}")
    }
}

/// One request; returns the body of a 2xx answer, or an error naming the status and reason.
pub fn request(method: reqwest::Method, url: &str) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let resp = reqwest::Client::new()
            .request(method, url)
            .send()
            .await
            .map_err(|e| format!("error connecting to Consul agent at {url}: {e}"))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| format!("error reading the answer from {url}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!(
                "Unexpected response code: {} ({})",
                status.as_u16(),
                body.trim()
            ))
        }
    })
}
