//! Client workloads that record what they saw: register workers (read `?consistent`, write,
//! CAS on a few keys) whose history goes to the linearizability checker, and an
//! acknowledged-write logger (distinct keys, so every acknowledged one must survive).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::harness::decode_value;
use crate::linearizable::{Entry, Op};

/// Per-request bound: past it the outcome of a write is unknown.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What the workers saw, on one clock.
pub struct Recorder {
    t0: Instant,
    /// Per key, the operations.
    pub ops: Mutex<BTreeMap<String, Vec<Entry>>>,
    /// (key, value) → the `ModifyIndex` reads returned with it; a second index is an anomaly.
    index_of: Mutex<HashMap<(String, u64), u64>>,
    /// Things that are wrong whatever the order (a value with two indexes, a write answered
    /// `false`, an unparseable value).
    pub anomalies: Mutex<Vec<String>>,
    /// Unique values for writes.
    next_value: AtomicU64,
    /// Set to stop the workers.
    pub stop: AtomicBool,
}

/// The outcome of one HTTP request.
enum Outcome {
    /// Answered with this status and body.
    Answer(u16, String),
    /// Never reached the server (connection refused): had no effect.
    NotSent,
    /// Timed out or broke after sending: the outcome is unknown.
    Unknown,
}

impl Recorder {
    /// An empty history starting now.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            t0: Instant::now(),
            ops: Mutex::new(BTreeMap::new()),
            index_of: Mutex::new(HashMap::new()),
            anomalies: Mutex::new(Vec::new()),
            next_value: AtomicU64::new(1),
            stop: AtomicBool::new(false),
        })
    }

    fn now(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn push(&self, key: &str, e: Entry) {
        self.ops
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push(e);
    }

    fn anomaly(&self, what: String) {
        self.anomalies.lock().unwrap().push(what);
    }

    /// Counts of (completed, ambiguous) operations.
    pub fn counts(&self) -> (usize, usize) {
        let ops = self.ops.lock().unwrap();
        let all = ops.values().flatten();
        let ambiguous = all.clone().filter(|e| e.ret.is_none()).count();
        (all.count() - ambiguous, ambiguous)
    }

    /// A `?consistent` read of `key` through `base`, recorded; returns (value, ModifyIndex) with
    /// value `None` for a missing key, or `None` when the read failed.
    pub async fn read(
        &self,
        http: &reqwest::Client,
        client: usize,
        base: &str,
        key: &str,
    ) -> Option<(Option<u64>, u64)> {
        let call = self.now();
        let out = send(http.get(format!("{base}/v1/kv/{key}?consistent"))).await;
        let ret = self.now();
        let (value, index) = match out {
            Outcome::Answer(404, _) => (None, 0),
            Outcome::Answer(200, body) => {
                let v: Value = serde_json::from_str(&body).ok()?;
                let raw = decode_value(&v[0]);
                let Some(n) = raw.strip_prefix('w').and_then(|n| n.parse::<u64>().ok()) else {
                    self.anomaly(format!("{key}: unexpected value {raw:?}"));
                    return None;
                };
                let index = v[0]["ModifyIndex"].as_u64().unwrap_or(0);
                let prev = *self
                    .index_of
                    .lock()
                    .unwrap()
                    .entry((key.to_string(), n))
                    .or_insert(index);
                if prev != index {
                    self.anomaly(format!(
                        "{key}: value w{n} read with ModifyIndex {prev} and {index}"
                    ));
                }
                (Some(n), index)
            }
            _ => return None,
        };
        self.push(
            key,
            Entry {
                client,
                call,
                ret: Some(ret),
                op: Op::Read(value),
            },
        );
        Some((value, index))
    }

    /// A write (or, with `cas`, a CAS on (expected value, its ModifyIndex)) of a fresh value,
    /// recorded; returns whether it is known to have failed or been refused (for back-off).
    pub async fn write(
        &self,
        http: &reqwest::Client,
        client: usize,
        base: &str,
        key: &str,
        cas: Option<(Option<u64>, u64)>,
    ) -> bool {
        let value = self.next_value.fetch_add(1, Ordering::Relaxed);
        let url = match cas {
            None => format!("{base}/v1/kv/{key}"),
            Some((_, index)) => format!("{base}/v1/kv/{key}?cas={index}"),
        };
        let call = self.now();
        let out = send(http.put(url).body(format!("w{value}"))).await;
        let ret = self.now();
        let (ret, answer) = match out {
            Outcome::NotSent => return false,
            Outcome::Answer(200, body) => match body.trim() {
                "true" => (Some(ret), true),
                "false" => (Some(ret), false),
                other => {
                    self.anomaly(format!("{key}: PUT answered 200 {other:?}"));
                    (None, false)
                }
            },
            // A 500 (no leader, leadership lost mid-write), a timeout or a broken
            // connection: the write may still be committed later.
            Outcome::Answer(..) | Outcome::Unknown => (None, false),
        };
        let op = match cas {
            None => {
                if ret.is_some() && !answer {
                    self.anomaly(format!("{key}: a plain write of w{value} answered false"));
                }
                Op::Write(value)
            }
            Some((expect, _)) => Op::Cas {
                expect,
                value,
                swapped: ret.map(|_| answer),
            },
        };
        self.push(
            key,
            Entry {
                client,
                call,
                ret,
                op,
            },
        );
        ret.is_some()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Outcome {
    match req.timeout(REQUEST_TIMEOUT).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.text().await {
                Ok(body) => Outcome::Answer(status, body),
                Err(_) => Outcome::Unknown,
            }
        }
        Err(e) if e.is_connect() => Outcome::NotSent,
        Err(_) => Outcome::Unknown,
    }
}

/// One register worker: random reads, writes and CAS (read, then `?cas=<index>`) on `keys`
/// through `base`, 10–40 ms apart (longer after a failure), until `rec.stop`.
pub async fn register_worker(
    rec: Arc<Recorder>,
    client: usize,
    base: String,
    keys: Vec<String>,
    seed: u64,
) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    while !rec.stop.load(Ordering::Relaxed) {
        let key = &keys[rng.gen_range(0..keys.len())];
        let ok = match rng.gen_range(0..10) {
            0..=3 => rec.read(&http, client, &base, key).await.is_some(),
            4..=6 => rec.write(&http, client, &base, key, None).await,
            _ => match rec.read(&http, client, &base, key).await {
                Some(seen) => rec.write(&http, client, &base, key, Some(seen)).await,
                None => false,
            },
        };
        let pause = if ok {
            rng.gen_range(10..40)
        } else {
            rng.gen_range(100..300)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Writes distinct keys `<prefix><n>` round-robin through `bases` until stopped, keeping the
/// keys whose PUT answered `true`, and when.
pub struct AckLog {
    t0: Instant,
    /// (key, sent at, acknowledged at) in order.
    pub acked: Mutex<Vec<(String, Duration, Duration)>>,
    /// Attempts whose outcome is unknown.
    pub unknown: AtomicU64,
    /// Set to stop the writer.
    pub stop: AtomicBool,
}

impl AckLog {
    /// A log whose times count from now.
    pub fn new() -> Arc<AckLog> {
        Arc::new(AckLog {
            t0: Instant::now(),
            acked: Mutex::new(Vec::new()),
            unknown: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Time since the log was created.
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// When the first write sent at or after `t` was acknowledged.
    pub fn first_ack_after(&self, t: Duration) -> Option<Duration> {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .find(|(_, sent, _)| *sent >= t)
            .map(|(_, _, at)| *at)
    }

    /// The acknowledged keys.
    pub fn keys(&self) -> Vec<String> {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _, _)| k.clone())
            .collect()
    }

    /// Runs the writer (every ~5 ms) until `stop`.
    pub async fn run(self: Arc<Self>, bases: Vec<String>, prefix: String) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut n = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            let key = format!("{prefix}{n:06}");
            let base = &bases[n % bases.len()];
            let sent = self.t0.elapsed();
            match send(http.put(format!("{base}/v1/kv/{key}")).body(key.clone())).await {
                Outcome::Answer(200, b) if b.trim() == "true" => {
                    self.acked
                        .lock()
                        .unwrap()
                        .push((key, sent, self.t0.elapsed()));
                }
                Outcome::NotSent => {}
                _ => {
                    self.unknown.fetch_add(1, Ordering::Relaxed);
                }
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
