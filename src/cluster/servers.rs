//! The servers a client agent can send requests to, learned from gossip, and the order it
//! tries them in: like Consul's client, it sticks to one server while it answers and moves a
//! failed one to the back of the list.

use std::sync::{Arc, Mutex};

/// Known server RPC addresses; cheap to clone, shared with the gossip watcher that fills it.
#[derive(Clone, Default)]
pub struct ServerList {
    /// Addresses in preference order.
    inner: Arc<Mutex<Vec<String>>>,
}

impl ServerList {
    /// Replaces the list with the servers gossip currently knows alive. Known servers keep
    /// their place; new ones join in random order behind them, so clients spread out.
    pub fn set(&self, mut addrs: Vec<String>) {
        use rand::seq::SliceRandom;
        addrs.shuffle(&mut rand::thread_rng());
        let mut list = self.lock();
        let mut next: Vec<String> = list.iter().filter(|a| addrs.contains(a)).cloned().collect();
        for a in addrs {
            if !next.contains(&a) {
                next.push(a);
            }
        }
        *list = next;
    }

    /// The addresses to try, preferred first.
    pub fn order(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// Moves a server that failed to the back.
    pub fn failed(&self, addr: &str) {
        let mut list = self.lock();
        if let Some(i) = list.iter().position(|a| a == addr) {
            let a = list.remove(i);
            list.push(a);
        }
    }

    /// Keeps a server that answered in front.
    pub fn worked(&self, addr: &str) {
        let mut list = self.lock();
        if let Some(i) = list.iter().position(|a| a == addr) {
            let a = list.remove(i);
            list.insert(0, a);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticks_to_a_working_server_and_rotates_failed_ones() {
        let s = ServerList::default();
        s.set(vec!["a".into(), "b".into(), "c".into()]);
        let first = s.order()[0].clone();
        s.set(vec!["c".into(), "b".into(), "a".into()]);
        assert_eq!(s.order()[0], first, "a known server keeps its place");
        s.failed(&first);
        assert_eq!(s.order().last(), Some(&first));
        s.worked(&first);
        assert_eq!(s.order()[0], first);
        s.set(vec!["b".into()]);
        assert_eq!(s.order(), ["b"]);
    }
}
