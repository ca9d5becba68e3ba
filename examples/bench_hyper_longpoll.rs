//! Bare hyper 1.x long-poll server: the denominator for `bench/blocking.sh`.
//!
//! Why: a blocking query's floor is "park a request on a channel, answer when it fires". This
//! does only that on a `current_thread` runtime: a request whose query has `index=` waits on a
//! `tokio::sync::watch` channel (bounded by `wait`, default 5 min), a `/bump` request advances the
//! channel, and every parked request then gets the same fixed body with the new `X-Consul-Index`.
//! Without `index=` it answers at once, like a Consul read.
//!
//! Usage: `bench_hyper_longpoll --addr 127.0.0.1:PORT --body FILE [--index N]`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Shared by every connection on the one thread.
struct State {
    body: Bytes,
    index: watch::Sender<u64>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_hyper_longpoll: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut body, mut index) = (None::<SocketAddr>, None, 1u64);
    while let Some(flag) = args.next() {
        let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = Some(v.parse().map_err(|e| format!("bad --addr {v:?}: {e}"))?),
            "--body" => {
                body = Some(std::fs::read(&v).map_err(|e| format!("cannot read {v}: {e}"))?)
            }
            "--index" => index = v.parse().map_err(|e| format!("bad --index {v:?}: {e}"))?,
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    let addr = addr.ok_or("--addr is required")?;
    let state = Rc::new(State {
        body: Bytes::from(body.ok_or("--body is required")?),
        index: watch::Sender::new(index),
    });
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(tokio::task::LocalSet::new().run_until(serve(addr, state)))
}

async fn serve(addr: SocketAddr, state: Rc<State>) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot bind {addr}: {e}"))?;
    eprintln!("bench_hyper_longpoll: listening on {addr}");
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("bench_hyper_longpoll: accept: {e}");
                // Out of file descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::task::spawn_local(async move {
            let svc = service_fn(move |req| answer(state.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn answer(
    state: Rc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/bump" {
        state.index.send_modify(|i| *i += 1);
        return Ok(Response::new(Full::new(Bytes::from_static(b"{}"))));
    }
    let query = req.uri().query().unwrap_or("");
    if query.split('&').any(|p| p.starts_with("index=")) {
        let wait = query
            .split('&')
            .find_map(|p| p.strip_prefix("wait="))
            .and_then(|w| humantime::parse_duration(w).ok())
            .unwrap_or(Duration::from_secs(300));
        let mut rx = state.index.subscribe();
        let _ = tokio::time::timeout(wait, rx.changed()).await;
    }
    let mut r = Response::new(Full::new(state.body.clone()));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("X-Consul-Index", HeaderValue::from(*state.index.borrow()));
    Ok(r)
}
