//! A linearizability checker for one register with read, write and compare-and-set (Wing–Gong
//! search with Lowe's memoisation, as porcupine and Knossos do), for histories recorded against
//! the KV API.
//!
//! How the KV API maps onto the register: every write stores a value no other write uses, so a
//! value names the one write (and the one Raft entry) that stored it. A CAS is `PUT ?cas=<i>`
//! with `i` the `ModifyIndex` a read of the same client returned together with some value `u`;
//! since each value has exactly one `ModifyIndex`, "index is still `i`" is the same as
//! "value is still `u`", so the model is a plain compare-and-set on values (`cas=0` expects the
//! key absent). The recorder also checks that every read returning `u` saw the same index.
//!
//! Ambiguous operations (a timeout, a reset connection, a 500 from a write) may have taken
//! effect at any time after their invocation, or never: they get no return time and are never
//! required in the linearization. Reads that failed are left out (they change nothing).
//!
//! Two reductions keep the search small without changing its answer:
//! - values no read ever returned collapse into one `Unseen` state (nothing can tell them apart:
//!   no read returns them and no CAS expects them), and among ambiguous writes of such values
//!   only the earliest-invoked unapplied one is tried (all applicable ones are interchangeable);
//! - an ambiguous operation is only applied where it changes the state (a no-op there is the
//!   same as never happening).

use std::collections::{BTreeMap, HashSet};

/// A register operation and what the client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A read that returned this value (`None`: the key was absent).
    Read(Option<u64>),
    /// A write of a value no other write uses.
    Write(u64),
    /// Set `value` if the register holds `expect` (`None`: absent). `swapped` is the answer,
    /// `None` when the request failed ambiguously.
    Cas {
        /// The value the register must hold.
        expect: Option<u64>,
        /// The new value (unique, as for writes).
        value: u64,
        /// `Some(true/false)` as answered; `None` when unknown.
        swapped: Option<bool>,
    },
}

/// One operation in a history: invoked at `call`, answered at `ret` (nanoseconds on one clock).
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who ran it (for reports).
    pub client: usize,
    /// Invocation time.
    pub call: u64,
    /// Return time; `None` when the outcome is unknown (may take effect any time after `call`).
    pub ret: Option<u64>,
    /// The operation.
    pub op: Op,
}

/// Why a history is not linearizable (or could not be decided within the budget).
#[derive(Debug)]
pub struct Violation {
    /// What went wrong, with the operations around the deepest point the search reached.
    pub report: String,
}

/// The register's state in the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum State {
    Absent,
    Seen(u64),
    /// Any value no read returned.
    Unseen,
}

/// How many search states may be visited before giving up (a few million: well under a
/// minute; histories of a few hundred operations per key need far fewer).
const BUDGET: usize = 5_000_000;

/// Checks a history per register (the key of the map): P-compositionality lets each register
/// be checked on its own.
pub fn check_all<K: std::fmt::Debug>(histories: &BTreeMap<K, Vec<Entry>>) -> Result<(), Violation> {
    for (key, h) in histories {
        check(h).map_err(|v| Violation {
            report: format!("register {key:?}: {}", v.report),
        })?;
    }
    Ok(())
}

/// Checks one register's history, starting from an absent key.
pub fn check(history: &[Entry]) -> Result<(), Violation> {
    for e in history {
        if let Some(r) = e.ret {
            assert!(r >= e.call, "entry returns before its call: {e:?}");
        }
        if e.ret.is_some() {
            if let Op::Cas { swapped: None, .. } = e.op {
                panic!("a CAS with a return time needs its answer: {e:?}");
            }
        }
    }
    let seen: HashSet<u64> = history
        .iter()
        .filter_map(|e| match e.op {
            Op::Read(Some(v)) => Some(v),
            Op::Cas {
                expect: Some(v), ..
            } => Some(v),
            _ => None,
        })
        .collect();
    let mut ops: Vec<Entry> = history.to_vec();
    ops.sort_by_key(|e| e.call);
    let n = ops.len();
    let mut s = Search {
        state_of: ops
            .iter()
            .map(|e| match e.op {
                Op::Write(v) | Op::Cas { value: v, .. } if seen.contains(&v) => State::Seen(v),
                _ => State::Unseen,
            })
            .collect(),
        interchangeable: ops
            .iter()
            .map(|e| e.ret.is_none() && matches!(e.op, Op::Write(v) if !seen.contains(&v)))
            .collect(),
        ops,
        done: vec![0u64; n.div_ceil(64)],
        memo: HashSet::new(),
        deepest: (0, vec![0u64; n.div_ceil(64)], State::Absent),
        visited: 0,
    };
    match s.dfs(State::Absent, 0) {
        Some(true) => Ok(()),
        Some(false) => Err(Violation { report: s.report() }),
        None => Err(Violation {
            report: format!(
                "gave up after {BUDGET} search states (history of {n} operations is too hard)"
            ),
        }),
    }
}

struct Search {
    ops: Vec<Entry>,
    /// The state each op's write (or successful CAS) leaves.
    state_of: Vec<State>,
    /// Ambiguous writes of unseen values: any one of them does what any other does.
    interchangeable: Vec<bool>,
    done: Vec<u64>,
    memo: HashSet<(Vec<u64>, State)>,
    /// (linearized count, done set, state) at the deepest point, for the report.
    deepest: (usize, Vec<u64>, State),
    visited: usize,
}

impl Search {
    fn is_done(&self, i: usize) -> bool {
        self.done[i / 64] & (1 << (i % 64)) != 0
    }

    fn flip(&mut self, i: usize) {
        self.done[i / 64] ^= 1 << (i % 64);
    }

    /// The state after op `i` from `st`, or `None` if `i` cannot take effect here. Ambiguous
    /// ops are only applied where they change the state.
    fn step(&self, i: usize, st: State) -> Option<State> {
        let e = &self.ops[i];
        let holds = |expect: Option<u64>| match expect {
            None => st == State::Absent,
            Some(v) => st == State::Seen(v),
        };
        let after = self.state_of[i];
        match e.op {
            Op::Read(v) => holds(v).then_some(st),
            Op::Write(_) => (e.ret.is_some() || after != st).then_some(after),
            Op::Cas {
                expect, swapped, ..
            } => match swapped {
                Some(true) => holds(expect).then_some(after),
                Some(false) => (!holds(expect)).then_some(st),
                None => (holds(expect) && after != st).then_some(after),
            },
        }
    }

    /// `Some(true)`: the rest linearizes from `st`; `Some(false)`: it does not; `None`: budget.
    fn dfs(&mut self, st: State, count: usize) -> Option<bool> {
        self.visited += 1;
        if self.visited > BUDGET {
            return None;
        }
        if count > self.deepest.0 {
            self.deepest = (count, self.done.clone(), st);
        }
        // The earliest return among ops not yet linearized bounds which ops may go next.
        let mut min_ret = u64::MAX;
        let mut all_pending = true;
        for (i, e) in self.ops.iter().enumerate() {
            if !self.is_done(i) {
                if let Some(r) = e.ret {
                    min_ret = min_ret.min(r);
                    all_pending = false;
                }
            }
        }
        if all_pending {
            // Only ambiguous ops are left: they may never have happened.
            return Some(true);
        }
        let mut tried_interchangeable = false;
        for i in 0..self.ops.len() {
            if self.ops[i].call > min_ret {
                break; // sorted by call: nothing later can precede the earliest return
            }
            if self.is_done(i) {
                continue;
            }
            if self.interchangeable[i] {
                if tried_interchangeable {
                    continue;
                }
                tried_interchangeable = true;
            }
            let Some(next) = self.step(i, st) else {
                continue;
            };
            self.flip(i);
            if self.memo.insert((self.done.clone(), next)) {
                match self.dfs(next, count + 1) {
                    Some(false) => {}
                    other => {
                        self.flip(i);
                        return other;
                    }
                }
            }
            self.flip(i);
        }
        Some(false)
    }

    /// The operations that could go next at the deepest point, and the state there.
    fn report(&self) -> String {
        let (count, done, st) = &self.deepest;
        let is_done = |i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        let min_ret = (0..self.ops.len())
            .filter(|&i| !is_done(i))
            .filter_map(|i| self.ops[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        let t0 = self.ops.first().map_or(0, |e| e.call);
        let ms = |t: u64| format!("{:.3}", (t - t0) as f64 / 1e6);
        let mut out = format!(
            "not linearizable: at most {count} of {} operations linearize; the register then \
             holds {st:?} and none of these can go next (times in ms from the first call):\n",
            self.ops.len()
        );
        for (i, e) in self.ops.iter().enumerate() {
            if !is_done(i) && e.call <= min_ret {
                let ret = e.ret.map_or("never (ambiguous)".to_string(), ms);
                out.push_str(&format!(
                    "  client {} [{} .. {}] {:?}\n",
                    e.client,
                    ms(e.call),
                    ret,
                    e.op
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(client: usize, call: u64, ret: u64, op: Op) -> Entry {
        Entry {
            client,
            call,
            ret: Some(ret),
            op,
        }
    }

    fn maybe(client: usize, call: u64, op: Op) -> Entry {
        Entry {
            client,
            call,
            ret: None,
            op,
        }
    }

    fn cas(expect: Option<u64>, value: u64, swapped: Option<bool>) -> Op {
        Op::Cas {
            expect,
            value,
            swapped,
        }
    }

    #[test]
    fn sequential_and_concurrent_histories_pass() {
        use Op::*;
        let h = vec![
            ok(0, 0, 1, Read(None)),
            ok(0, 2, 3, Write(1)),
            ok(1, 4, 5, Read(Some(1))),
            ok(1, 6, 7, cas(Some(1), 2, Some(true))),
            ok(0, 8, 9, cas(Some(1), 3, Some(false))),
            ok(0, 10, 11, Read(Some(2))),
        ];
        check(&h).unwrap();
        // Overlapping writes: the reads fix an order that real time allows.
        let h = vec![
            ok(0, 0, 10, Write(1)),
            ok(1, 1, 9, Write(2)),
            ok(2, 2, 3, Read(Some(2))),
            ok(2, 4, 5, Read(Some(1))),
            ok(3, 11, 12, Read(Some(1))),
        ];
        check(&h).unwrap();
        // A read concurrent with a write may see either value.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            ok(0, 2, 10, Write(2)),
            ok(1, 3, 4, Read(Some(1))),
            ok(2, 5, 6, Read(Some(2))),
        ];
        check(&h).unwrap();
    }

    #[test]
    fn stale_read_fails() {
        use Op::*;
        // Write 2 completed before the read started, yet the read saw 1.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            ok(0, 2, 3, Write(2)),
            ok(1, 4, 5, Read(Some(1))),
        ];
        let v = check(&h).unwrap_err();
        assert!(v.report.contains("Read(Some(1))"), "{}", v.report);
        // Reads going back in time across clients: once a read saw 2, a later one sees 1.
        let h = vec![
            ok(0, 0, 100, Write(1)),
            ok(1, 1, 100, Write(2)),
            ok(2, 10, 11, Read(Some(2))),
            ok(3, 20, 21, Read(Some(1))),
            ok(2, 30, 31, Read(Some(2))),
        ];
        check(&h).unwrap_err();
    }

    #[test]
    fn lost_acknowledged_write_fails() {
        use Op::*;
        // Write 2 was acknowledged, then the register is back at the value before it.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            ok(1, 2, 3, Write(2)),
            ok(2, 4, 5, Read(Some(1))),
        ];
        check(&h).unwrap_err();
        // An acknowledged write vanishes: the key reads as absent afterwards.
        let h = vec![ok(0, 0, 1, Write(1)), ok(1, 2, 3, Read(None))];
        check(&h).unwrap_err();
        // A successful CAS whose expected value was not there.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            ok(0, 2, 3, Write(2)),
            ok(1, 4, 5, cas(Some(1), 3, Some(true))),
        ];
        check(&h).unwrap_err();
        // A failed CAS although nothing else could have changed the value.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            ok(1, 2, 3, cas(Some(1), 3, Some(false))),
        ];
        check(&h).unwrap_err();
    }

    #[test]
    fn ambiguous_ops_may_apply_late_or_never() {
        use Op::*;
        // An ambiguous write seen much later (it took effect late) ...
        let h = vec![
            ok(0, 0, 1, Write(1)),
            maybe(1, 2, Write(2)),
            ok(0, 3, 4, Read(Some(1))),
            ok(0, 50, 51, Read(Some(2))),
        ];
        check(&h).unwrap();
        // ... or never seen at all.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            maybe(1, 2, Write(2)),
            ok(0, 50, 51, Read(Some(1))),
        ];
        check(&h).unwrap();
        // But not before it was invoked.
        let h = vec![ok(0, 0, 1, Read(Some(2))), maybe(1, 2, Write(2))];
        check(&h).unwrap_err();
        // And it cannot come back after being overwritten by a write that followed it: it
        // applied once, at one point.
        let h = vec![
            maybe(1, 0, Write(2)),
            ok(0, 10, 11, Read(Some(2))),
            ok(0, 12, 13, Write(3)),
            ok(0, 14, 15, Read(Some(2))),
        ];
        check(&h).unwrap_err();
        // An unseen ambiguous write can explain a failed CAS; an ambiguous CAS may have swapped.
        let h = vec![
            ok(0, 0, 1, Write(1)),
            maybe(1, 2, Write(9)),
            ok(0, 3, 4, cas(Some(1), 3, Some(false))),
            maybe(2, 5, cas(None, 4, None)),
            ok(0, 6, 7, Write(5)),
            maybe(3, 8, cas(Some(5), 6, None)),
            ok(0, 9, 10, Read(Some(6))),
        ];
        check(&h).unwrap();
    }

    /// Histories made by a real register (each op takes effect at a random instant inside its
    /// interval, some ambiguous ops never do) always pass; 20 seeds of 6 clients × 50 ops.
    #[test]
    fn simulated_register_histories_pass() {
        use rand::{Rng, SeedableRng};
        for seed in 0..20u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            // (client, call, effect instant, ret, kind 0 read / 1 write / 2 cas, ambiguous, applies)
            let mut plan = Vec::new();
            for c in 0..6 {
                let mut t = rng.gen_range(0..10u64);
                for _ in 0..50 {
                    let eff = t + rng.gen_range(0..20);
                    let ret = eff + rng.gen_range(0..20);
                    let kind = rng.gen_range(0..3u8);
                    let ambiguous = kind != 0 && rng.gen_bool(0.1);
                    plan.push((
                        c,
                        t,
                        eff,
                        ret,
                        kind,
                        ambiguous,
                        !ambiguous || rng.gen_bool(0.5),
                    ));
                    t = ret + rng.gen_range(1..5);
                }
            }
            plan.sort_by_key(|p| p.2);
            let mut reg: Option<u64> = None;
            let mut next = 1u64;
            let mut h = Vec::new();
            for (c, call, _, ret, kind, ambiguous, applies) in plan {
                let op = match kind {
                    0 => Op::Read(reg),
                    1 => {
                        next += 1;
                        if applies {
                            reg = Some(next);
                        }
                        Op::Write(next)
                    }
                    _ => {
                        next += 1;
                        // Expect the current value most of the time, an older one otherwise.
                        let expect = if rng.gen_bool(0.7) {
                            reg
                        } else {
                            reg.map(|v| v.saturating_sub(1))
                        };
                        let swapped = applies && expect == reg;
                        if swapped {
                            reg = Some(next);
                        }
                        Op::Cas {
                            expect,
                            value: next,
                            swapped: (!ambiguous).then_some(swapped),
                        }
                    }
                };
                let ret = (!ambiguous).then_some(ret);
                h.push(Entry {
                    client: c,
                    call,
                    ret,
                    op,
                });
            }
            if let Err(v) = check(&h) {
                panic!("seed {seed}: {}", v.report);
            }
        }
    }

    #[test]
    fn many_ambiguous_writes_stay_cheap() {
        use Op::*;
        // 40 clients time out on writes nobody ever reads, while one client does 300 ops.
        let mut h: Vec<Entry> = (0..40)
            .map(|c| maybe(c + 1, c as u64 * 3, Write(1000 + c as u64)))
            .collect();
        let mut t = 0;
        for v in 1..=100u64 {
            h.push(ok(0, t, t + 1, Write(v)));
            h.push(ok(0, t + 2, t + 3, Read(Some(v))));
            h.push(ok(0, t + 4, t + 5, cas(Some(v + 1), 5000 + v, Some(false))));
            t += 6;
        }
        check(&h).unwrap();
        let mut per_key = BTreeMap::new();
        per_key.insert("a", h);
        per_key.insert("b", vec![ok(0, 0, 1, Write(1)), ok(0, 2, 3, Read(None))]);
        let v = check_all(&per_key).unwrap_err();
        assert!(v.report.starts_with("register \"b\""), "{}", v.report);
    }
}
