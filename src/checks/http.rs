//! HTTP checks: 2xx passing, 429 warning, anything else (or no answer) critical. The output
//! is Consul's `HTTP GET <url>: 200 OK Output: <first bytes of the body>`.
//!
//! Consul dials afresh on every run (no keep-alive) so a server's idle timeout cannot race the
//! next run. Berth does the same for intervals above 1 s. At 1 s and below it keeps the
//! connection for up to 1.5 s: it is reused before a common server's idle timeout (2 s for
//! gunicorn, 5 s for Apache and Node, 75 s for nginx) can close it, and a new TCP connection per run would cost
//! more CPU than the whole check (1,000 checks at 1 s: ~9 % of a core, nearly all of it in
//! connect/close system calls). Clients are shared by checks with the same settings.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, HOST};
use reqwest::{Client, Method};

use super::{output, tls, Outcome};
use crate::agent::definition::CheckDefinition;

/// Redirects followed unless `disable_redirects` (Go's default).
const MAX_REDIRECTS: usize = 10;
/// Checks at most this far apart reuse their connection.
const KEEP_ALIVE_MAX_INTERVAL: Duration = Duration::from_secs(1);
/// How long an idle connection is kept for the next run.
const KEEP_ALIVE_IDLE: Duration = Duration::from_millis(1500);

/// What a shared client is keyed by: skip verify, no redirects, keep-alive, and for
/// `tls_server_name` the name the URL is rewritten to with the address it stands for.
type ClientKey = (bool, bool, bool, Option<(String, SocketAddr)>);

/// Clients by their settings.
#[derive(Default)]
pub struct Clients {
    by_settings: Mutex<HashMap<ClientKey, Client>>,
}

impl Clients {
    fn get(&self, key: ClientKey) -> Result<Client, String> {
        let (skip, no_redirects, keep_alive, ref pin) = key;
        let mut map = self.by_settings.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let redirect = if no_redirects {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(MAX_REDIRECTS)
        };
        let mut builder =
            Client::builder().use_preconfigured_tls(tls::client_config(skip, &[b"http/1.1"])?);
        if let Some((name, addr)) = pin {
            builder = builder.resolve(name, *addr);
        }
        let builder = if keep_alive {
            builder.pool_idle_timeout(KEEP_ALIVE_IDLE)
        } else {
            builder.pool_max_idle_per_host(0)
        };
        let client = builder
            .redirect(redirect)
            .user_agent("Consul Health Check")
            .no_proxy()
            .build()
            .map_err(|e| format!("HTTP client setup failed: {e}"))?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

/// One HTTP check's request.
pub struct HttpProbe {
    client: Client,
    method: Method,
    url: String,
    /// `url` parsed once (reqwest would parse the string on every run).
    parsed: reqwest::Url,
    headers: HeaderMap,
    body: String,
}

impl HttpProbe {
    /// The probe for a definition; an error names the bad field.
    pub fn new(def: &CheckDefinition, clients: &Clients) -> Result<HttpProbe, String> {
        let method = if def.method.is_empty() {
            Method::GET
        } else {
            Method::from_bytes(def.method.as_bytes())
                .map_err(|_| format!("Method: invalid HTTP method {:?}", def.method))?
        };
        let mut parsed = reqwest::Url::parse(&def.http)
            .map_err(|e| format!("HTTP: invalid URL {:?}: {e}", def.http))?;
        let pin = server_name_pin(&mut parsed, &def.tls_server_name)?;
        let mut headers = HeaderMap::new();
        for (name, values) in &def.header {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("Header: invalid header name {name:?}"))?;
            for v in values {
                let v = HeaderValue::from_str(v)
                    .map_err(|_| format!("Header: invalid value for {name:?}"))?;
                headers.append(n.clone(), v);
            }
        }
        if let Some(host) = pin.as_ref().and_then(|_| authority(&def.http)) {
            if !headers.contains_key(HOST) {
                let v = HeaderValue::from_str(&host)
                    .map_err(|_| format!("HTTP: invalid host in {:?}", def.http))?;
                headers.insert(HOST, v);
            }
        }
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("text/plain, text/*, */*"));
        }
        Ok(HttpProbe {
            client: clients.get((
                def.tls_skip_verify,
                def.disable_redirects,
                def.interval.is_some_and(|i| i <= KEEP_ALIVE_MAX_INTERVAL),
                pin,
            ))?,
            method,
            url: def.http.clone(),
            parsed,
            headers,
            body: def.body.clone(),
        })
    }

    /// One request, bounded by `timeout` (headers and body).
    pub async fn run(&self, timeout: Duration, max_output: usize) -> Outcome {
        let mut req = self
            .client
            .request(self.method.clone(), self.parsed.clone())
            .headers(self.headers.clone())
            .timeout(timeout);
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::critical(self.failed(&e, timeout)),
        };
        let status = resp.status();
        let mut body = Vec::new();
        while body.len() < max_output {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Outcome::critical(self.failed(&e, timeout)),
            }
        }
        let output = format!(
            "HTTP {} {}: {} {} Output: {}",
            self.method,
            self.url,
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            output::head(&body, max_output)
        );
        if status.is_success() {
            Outcome::passing(output)
        } else if status.as_u16() == 429 {
            Outcome::warning(output)
        } else {
            Outcome::critical(output)
        }
    }

    /// Go's client error text: `Get "http://...": <cause>`.
    fn failed(&self, e: &reqwest::Error, timeout: Duration) -> String {
        let verb = capitalized(self.method.as_str());
        if e.is_timeout() {
            return format!(
                "{verb} {:?}: timed out after {}",
                self.url,
                crate::duration::format(timeout)
            );
        }
        let mut cause = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        if cause.is_empty() {
            cause = e.to_string();
        }
        format!("{verb} {:?}: {cause}", self.url)
    }
}

/// `tls_server_name` on an `https` URL: the request goes to the URL's address, but TLS (SNI
/// and certificate check) uses the server name, as Go's `tls.Config.ServerName` does. The URL
/// is rewritten to the name and the client pinned to the address; the `Host` header keeps the
/// original authority. A host name is resolved once, when the check is registered.
fn server_name_pin(
    url: &mut reqwest::Url,
    server_name: &str,
) -> Result<Option<(String, SocketAddr)>, String> {
    if server_name.is_empty() || url.scheme() != "https" {
        return Ok(None);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addr = match url.host() {
        Some(url::Host::Ipv4(ip)) => SocketAddr::new(ip.into(), port),
        Some(url::Host::Ipv6(ip)) => SocketAddr::new(ip.into(), port),
        Some(url::Host::Domain(d)) if d == server_name => return Ok(None),
        Some(url::Host::Domain(d)) => (d, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("HTTP: cannot resolve {d:?}"))?,
        None => return Err(format!("HTTP: no host in {:?}", url.as_str())),
    };
    url.set_host(Some(server_name))
        .map_err(|e| format!("TLSServerName: {server_name:?} is not a host name: {e}"))?;
    Ok(Some((server_name.to_string(), addr)))
}

/// `host[:port]` of a URL as written.
fn authority(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

fn capitalized(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => lower,
    }
}
