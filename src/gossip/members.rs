//! The member table: what `members()` lists. Foca knows identities and liveness; this table joins
//! them with the metadata broadcasts and the leave intents into Consul's member statuses.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::wire::{Id, Item, Key, MemberInfo, Meta};
use super::{Member, MemberStatus};

/// A leave intent seen for a node, applied when foca reports it down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LeaveMark {
    /// Generation that leaves.
    gen: u64,
    /// Set by force-leave rather than by the node itself.
    force: bool,
    /// Remove from the list once Left.
    prune: bool,
}

/// One listed node.
#[derive(Clone, Debug)]
struct Entry {
    /// Latest metadata.
    meta: Meta,
    /// Newest foca generation seen for it (from metadata or foca notifications).
    gen: u64,
    /// Consul status.
    status: MemberStatus,
    /// Pending or applied leave intent.
    leave: Option<LeaveMark>,
    /// When the status last changed, for reaping.
    since: Instant,
}

/// The table, shared by the gossip task (writer) and the handle's readers.
#[derive(Debug)]
pub(crate) struct Table {
    /// Our own node name: broadcasts about it from others are ignored.
    me: String,
    /// Entries by node name (sorted, as `members()` returns them).
    entries: BTreeMap<String, Entry>,
    /// Foca address → node name, to apply foca notifications.
    by_addr: HashMap<SocketAddr, String>,
    /// Metadata versions of reaped or pruned nodes, so stale re-gossip does not resurrect them.
    forgotten: HashMap<String, (u64, u64)>,
    /// When each forgotten name was forgotten; entries older than the tombstone time are dropped
    /// so churn (autoscaled names) does not grow this map forever.
    forgotten_at: HashMap<String, Instant>,
    /// Set on any visible change; the task turns it into a watch bump.
    pub(crate) changed: bool,
}

/// The table behind its lock; a std mutex is enough since nobody holds it across an await.
pub(crate) type Shared = Arc<Mutex<Table>>;

/// Lock the table; a poisoned lock still holds consistent data because writers never panic midway.
pub(crate) fn lock(t: &Shared) -> std::sync::MutexGuard<'_, Table> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl Table {
    /// A table holding only ourselves, Alive.
    pub(crate) fn new(me: Meta) -> Table {
        let mut t = Table {
            me: me.name.clone(),
            entries: BTreeMap::new(),
            by_addr: HashMap::new(),
            forgotten: HashMap::new(),
            forgotten_at: HashMap::new(),
            changed: true,
        };
        t.by_addr.insert(me.foca.addr, me.name.clone());
        t.entries
            .insert(me.name.clone(), Entry::new(me, MemberStatus::Alive));
        t
    }

    /// Our own metadata as last published.
    pub(crate) fn my_meta(&self) -> Meta {
        self.entries[&self.me].meta.clone()
    }

    /// Replace our own metadata (re-broadcast, rejoin under a new generation).
    pub(crate) fn set_my_meta(&mut self, meta: Meta) {
        let me = self.me.clone();
        if let Some(e) = self.entries.get_mut(&me) {
            e.gen = meta.foca.gen;
            e.meta = meta;
        }
    }

    /// Set our own status (leaving, left).
    pub(crate) fn set_my_status(&mut self, status: MemberStatus) {
        let me = self.me.clone();
        self.set_status(&me, status);
    }

    fn set_status(&mut self, name: &str, status: MemberStatus) {
        if let Some(e) = self.entries.get_mut(name) {
            if e.status != status {
                e.status = status;
                e.since = Instant::now();
                self.changed = true;
            }
        }
    }

    /// Everything listed, sorted by name.
    pub(crate) fn members(&self) -> Vec<Member> {
        self.entries.values().map(Entry::to_member).collect()
    }

    /// How many nodes are listed, and how many are Alive.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let alive = self
            .entries
            .values()
            .filter(|e| e.status == MemberStatus::Alive)
            .count();
        (self.entries.len(), alive)
    }

    /// The handshake's member list.
    pub(crate) fn snapshot(&self) -> Vec<MemberInfo> {
        self.entries
            .values()
            .map(|e| MemberInfo {
                meta: e.meta.clone(),
                status: e.status.code(),
            })
            .collect()
    }

    /// Name and foca generation of a listed node.
    pub(crate) fn lookup(&self, name: &str) -> Option<(MemberStatus, u64)> {
        self.entries.get(name).map(|e| (e.status, e.gen))
    }

    /// Why `meta` may not join: its name is ours or a live node's under another node ID.
    pub(crate) fn conflict(&self, meta: &Meta) -> Option<String> {
        let e = self.entries.get(&meta.name)?;
        let live = e.meta.name == self.me || e.status.is_active();
        (live && e.meta.id != meta.id).then(|| {
            format!(
                "node name {:?} is already used by live node {} ({}) with node ID {}, \
                 refusing node ID {}; pick another node_name",
                meta.name,
                e.meta.foca.addr,
                e.status.as_str(),
                e.meta.id,
                meta.id
            )
        })
    }

    /// Apply a decoded broadcast item; `Some(key)` when it was new information to pass on.
    pub(crate) fn apply_item(&mut self, item: Item, own: bool) -> Option<Key> {
        match item {
            Item::Meta(meta) => {
                let key = Key::Meta(meta.name.clone(), meta.version());
                if meta.name == self.me {
                    // Only our own publication is passed on; copies from others are echoes.
                    return own.then_some(key);
                }
                self.apply_meta(meta, None).then_some(key)
            }
            Item::Leaving { name, gen } => {
                let key = Key::Leave(name.clone(), gen, false, false);
                let mark = LeaveMark {
                    gen,
                    force: false,
                    prune: false,
                };
                (own || self.apply_leave(&name, mark)).then_some(key)
            }
            Item::ForceLeft { name, gen, prune } => {
                let key = Key::Leave(name.clone(), gen, true, prune);
                let mark = LeaveMark {
                    gen,
                    force: true,
                    prune,
                };
                self.apply_leave(&name, mark).then_some(key)
            }
        }
    }

    /// Apply metadata (and, from a join reply, a status); `true` if it was newer than ours.
    pub(crate) fn apply_meta(&mut self, meta: Meta, status: Option<MemberStatus>) -> bool {
        if meta.name == self.me {
            return false;
        }
        if self
            .forgotten
            .get(&meta.name)
            .is_some_and(|v| *v >= meta.version())
        {
            return false;
        }
        if let Some(why) = self.conflict(&meta) {
            tracing::warn!("gossip: ignoring metadata: {why}");
            return false;
        }
        let name = meta.name.clone();
        let addr = meta.foca.addr;
        match self.entries.get_mut(&name) {
            Some(e) if e.meta.version() >= meta.version() && e.meta.id == meta.id => return false,
            Some(e) => {
                let restarted = meta.foca.gen > e.gen || e.meta.id != meta.id;
                self.by_addr.remove(&e.meta.foca.addr);
                e.gen = e.gen.max(meta.foca.gen);
                e.meta = meta;
                if let Some(s) = status {
                    e.set(s);
                } else if restarted && e.status != MemberStatus::Alive {
                    e.leave = None;
                    e.set(MemberStatus::Alive);
                }
            }
            None => {
                let e = Entry::new(meta, status.unwrap_or(MemberStatus::Alive));
                self.entries.insert(name.clone(), e);
            }
        }
        self.forgotten.remove(&name);
        self.forgotten_at.remove(&name);
        self.by_addr.insert(addr, name);
        self.changed = true;
        true
    }

    fn apply_leave(&mut self, name: &str, mark: LeaveMark) -> bool {
        if name == self.me {
            return false;
        }
        let Some(e) = self.entries.get_mut(name) else {
            return false;
        };
        if e.gen > mark.gen || e.leave.is_some_and(|m| m >= mark) {
            return false;
        }
        e.leave = Some(mark);
        match e.status {
            MemberStatus::Failed | MemberStatus::Left => e.set(MemberStatus::Left),
            MemberStatus::Alive if !mark.force => e.set(MemberStatus::Leaving),
            _ => {}
        }
        self.changed = true;
        if mark.prune && e.status == MemberStatus::Left {
            self.forget(name);
        }
        true
    }

    /// Foca says `id` is alive.
    pub(crate) fn member_up(&mut self, id: &Id) {
        let Some(name) = self.by_addr.get(&id.addr).cloned() else {
            return;
        };
        if let Some(e) = self.entries.get_mut(&name) {
            if id.gen < e.gen {
                return;
            }
            e.gen = id.gen;
            let left_for_good =
                e.status == MemberStatus::Left && e.leave.is_some_and(|m| m.gen >= id.gen);
            if !left_for_good && !e.status.is_active() {
                e.leave = None;
                e.set(MemberStatus::Alive);
                self.changed = true;
            }
        }
    }

    /// Foca says `id` is down: Left if it announced (or was forced to) leave, else Failed.
    pub(crate) fn member_down(&mut self, id: &Id) {
        let Some(name) = self.by_addr.get(&id.addr).cloned() else {
            return;
        };
        let Some(e) = self.entries.get_mut(&name) else {
            return;
        };
        if id.gen < e.gen || name == self.me {
            return;
        }
        match e.leave {
            Some(m) if m.gen >= id.gen => {
                e.set(MemberStatus::Left);
                self.changed = true;
                if m.prune {
                    self.forget(&name);
                }
            }
            _ => {
                e.set(MemberStatus::Failed);
                self.changed = true;
            }
        }
    }

    /// Foca replaced `old` by `new` at the same address (restart or auto-rejoin).
    pub(crate) fn renamed(&mut self, new: &Id) {
        if let Some(e) = self
            .by_addr
            .get(&new.addr)
            .and_then(|n| self.entries.get_mut(n))
        {
            e.gen = e.gen.max(new.gen);
        }
    }

    /// Names that were reaped or pruned (and not seen again since).
    pub(crate) fn forgotten_names(&self) -> Vec<String> {
        self.forgotten.keys().cloned().collect()
    }

    /// Drop a node from the list, remembering its version so echoes do not bring it back.
    pub(crate) fn forget(&mut self, name: &str) {
        if let Some(e) = self.entries.remove(name) {
            self.by_addr.remove(&e.meta.foca.addr);
            self.forgotten.insert(name.to_string(), e.meta.version());
            self.forgotten_at.insert(name.to_string(), Instant::now());
            self.changed = true;
        }
    }

    /// Reap Failed nodes after `reconnect` and Left ones after `tombstone`, as serf does.
    pub(crate) fn reap(&mut self, reconnect: Duration, tombstone: Duration) {
        let now = Instant::now();
        let expired: Vec<String> = (self.entries.iter())
            .filter(|(n, e)| {
                **n != self.me
                    && match e.status {
                        MemberStatus::Failed => now - e.since >= reconnect,
                        MemberStatus::Left => now - e.since >= tombstone,
                        _ => false,
                    }
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in expired {
            tracing::info!("gossip: reaping member {name}");
            self.forget(&name);
        }
        // Forgotten names are remembered only as long as a stale echo could still arrive.
        self.forgotten_at.retain(|_, at| now - *at < tombstone);
        let keep = &self.forgotten_at;
        self.forgotten.retain(|name, _| keep.contains_key(name));
    }
}

impl Entry {
    fn new(meta: Meta, status: MemberStatus) -> Entry {
        Entry {
            gen: meta.foca.gen,
            meta,
            status,
            leave: None,
            since: Instant::now(),
        }
    }

    fn set(&mut self, status: MemberStatus) {
        if self.status != status {
            self.status = status;
            self.since = Instant::now();
        }
    }

    fn to_member(&self) -> Member {
        Member {
            name: self.meta.name.clone(),
            id: self.meta.id.clone(),
            addr: self.meta.foca.addr.ip(),
            port: self.meta.foca.addr.port(),
            tags: self.meta.tags.clone(),
            status: self.status,
        }
    }
}
