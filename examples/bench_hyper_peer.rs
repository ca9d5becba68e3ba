//! Bare hyper 1.x server: the "physical limit" denominator for `bench/http.sh`.
//!
//! It answers fixed bytes per route on a `current_thread` runtime with the minimum code, so
//! `Berth rps / peer rps` measures what Berth's routing, store lookup and JSON cost on top of
//! HTTP itself. The body comes from a file Berth served, and the `X-Consul-*` headers from the
//! optional `<file>.headers` (lines `Name: value`), so both servers send the same bytes.
//!
//! Usage: `bench_hyper_peer --addr 127.0.0.1:PORT --route '/v1/kv/k=body.json' ...`.
//! A route matches the request target exactly (path and query), else its path alone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One canned answer: the body and the extra headers Berth sent with it.
struct Canned {
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
}

type Routes = HashMap<String, Canned>;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_hyper_peer: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let (addr, routes) = parse_args(std::env::args().skip(1))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(serve(addr, Rc::new(routes)))
}

/// Accepts forever; one local task per connection (everything stays on this one thread).
async fn serve(addr: SocketAddr, routes: Rc<Routes>) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind {addr}: {e}"))?;
    eprintln!("bench_hyper_peer: listening on {addr}");
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("bench_hyper_peer: accept: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let routes = routes.clone();
                tokio::task::spawn_local(async move {
                    let svc = service_fn(move |req| answer(routes.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        })
        .await
}

async fn answer(
    routes: Rc<Routes>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let canned = routes.get(target).or_else(|| routes.get(req.uri().path()));
    let Some(c) = canned else {
        let mut r = Response::new(Full::new(Bytes::from_static(b"not found\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    let mut r = Response::new(Full::new(c.body.clone()));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in &c.headers {
        h.insert(name.clone(), value.clone());
    }
    Ok(r)
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Routes), String> {
    let mut addr = None;
    let mut routes = Routes::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => {
                addr = Some(
                    value
                        .parse()
                        .map_err(|e| format!("bad --addr {value:?}: {e}"))?,
                )
            }
            "--route" => {
                let (path, file) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--route wants /path=file, got {value:?}"))?;
                routes.insert(path.to_string(), load(file)?);
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    let addr = addr.ok_or("--addr is required")?;
    Ok((addr, routes))
}

/// Reads `file` as the body and `file.headers` (if present) as `Name: value` lines.
fn load(file: &str) -> Result<Canned, String> {
    let body = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let mut headers = Vec::new();
    let hfile = format!("{file}.headers");
    if let Ok(text) = std::fs::read_to_string(&hfile) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| format!("{hfile}: bad header line {line:?}"))?;
            let name = HeaderName::from_bytes(n.trim().as_bytes())
                .map_err(|e| format!("{hfile}: bad header name {n:?}: {e}"))?;
            let value = HeaderValue::from_str(v.trim())
                .map_err(|e| format!("{hfile}: bad header value {v:?}: {e}"))?;
            headers.push((name, value));
        }
    }
    Ok(Canned {
        body: Bytes::from(body),
        headers,
    })
}
