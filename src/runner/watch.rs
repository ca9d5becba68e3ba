//! One watch per unique dependency, shared by every template that uses it: a blocking-query
//! loop (`?index=<last>&wait=60s`) that sends each new result to the runner. consul-template's
//! rules: an unchanged index is no change; an index that went backwards starts over from 0;
//! an error backs off (250 ms doubling to 1 min) and retries forever while the last good data
//! stays in the brain. Files are polled every 2 s, datacenters every 30 s.
//!
//! Rate: consul-template waits 100 ms after every answer, which delays the second change of
//! a burst by up to 100 ms. Berth lets a burst through and limits the rate instead: at most
//! `BURST` requests in any `BURST_WINDOW` (the same 10 per second sustained).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fetch;
use super::source::Source;
use crate::template::brain::Data;
use crate::template::dep::Dep;

/// What a watch tells the runner.
#[derive(Debug)]
pub enum Event {
    /// New data (the runner's brain decides whether it changed).
    Data(Dep, Data),
    /// The last attempt failed; the watch keeps retrying.
    Error(Dep, String),
}

const BLOCK_WAIT: &str = "60s";
const BURST: usize = 5;
const BURST_WINDOW: Duration = Duration::from_millis(500);
const FILE_POLL: Duration = Duration::from_secs(2);
const DC_POLL: Duration = Duration::from_secs(30);

/// Starts watching `dep`; the task ends when `stop` is cancelled or the runner is gone.
pub fn spawn(
    dep: Dep,
    source: Arc<dyn Source>,
    node_name: Arc<str>,
    tx: mpsc::UnboundedSender<Event>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = run(dep, source, node_name, tx) => {}
        }
    })
}

async fn run(
    dep: Dep,
    source: Arc<dyn Source>,
    node_name: Arc<str>,
    tx: mpsc::UnboundedSender<Event>,
) {
    if let Dep::File(path) = &dep {
        return poll_file(&dep, path, &tx).await;
    }
    let blocking = fetch::blocks(&dep);
    let mut node_name = node_name;
    let needs_self = matches!(&dep, Dep::Node { name, .. } if name.is_empty());
    let mut index = 0u64;
    let mut backoff = Duration::from_millis(250);
    let mut recent: std::collections::VecDeque<tokio::time::Instant> = Default::default();
    loop {
        if recent.len() == BURST {
            if let Some(oldest) = recent.pop_front() {
                tokio::time::sleep_until(oldest + BURST_WINDOW).await;
            }
        }
        recent.push_back(tokio::time::Instant::now());
        if needs_self && node_name.is_empty() {
            // `node` without a name is this agent's node: learn its name (the agent may not
            // have been up when the runner started).
            match self_name(source.as_ref()).await {
                Some(n) => node_name = n,
                None => {
                    let e = "cannot learn the agent's node name from /v1/agent/self".to_string();
                    if tx.send(Event::Error(dep.clone(), e)).is_err() {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            }
        }
        let Some((path, mut query)) = fetch::request(&dep, &node_name) else {
            return;
        };
        if blocking && index > 0 {
            query.push(("index".into(), index.to_string()));
            query.push(("wait".into(), BLOCK_WAIT.into()));
        }
        let result = match source.get(&path, &query).await {
            Ok(reply) => fetch::decode(&dep, &reply).map(|d| (d, reply.index)),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok((data, new_index)) => {
                backoff = Duration::from_millis(250);
                if blocking && new_index == index && index > 0 {
                    continue;
                }
                index = if new_index < index { 0 } else { new_index };
                if tx.send(Event::Data(dep.clone(), data)).is_err() {
                    return;
                }
                if !blocking {
                    tokio::time::sleep(DC_POLL).await;
                }
            }
            Err(e) => {
                if tx.send(Event::Error(dep.clone(), e)).is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

async fn self_name(source: &dyn Source) -> Option<Arc<str>> {
    let r = source.get("/v1/agent/self", &[]).await.ok()?;
    if r.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    let name = v["Config"]["NodeName"].as_str()?;
    (!name.is_empty()).then(|| Arc::from(name))
}

async fn poll_file(dep: &Dep, path: &str, tx: &mpsc::UnboundedSender<Event>) {
    let mut last: Option<(u64, Option<SystemTime>)> = None;
    loop {
        let stamp = tokio::fs::metadata(path)
            .await
            .map(|m| (m.len(), m.modified().ok()));
        match stamp {
            Ok(stamp) if last != Some(stamp) => match tokio::fs::read_to_string(path).await {
                Ok(text) => {
                    last = Some(stamp);
                    if tx.send(Event::Data(dep.clone(), Data::File(text))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if tx
                        .send(Event::Error(dep.clone(), format!("{path}: {e}")))
                        .is_err()
                    {
                        return;
                    }
                }
            },
            Ok(_) => {}
            Err(e) => {
                last = None;
                if tx
                    .send(Event::Error(dep.clone(), format!("{path}: {e}")))
                    .is_err()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(FILE_POLL).await;
    }
}
