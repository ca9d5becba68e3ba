//! Berth: one daemon that does the work of a Consul agent, registrator and consul-template.
//!
//! # Codemap
//!
//! - `main.rs`: parses the command line and hands off to `cli`; no logic.
//! - `cli/`: one file per subcommand (`agent`, `version`, `validate`, ...), Go-style flags.
//! - `config/`: flags + JSON/HCL files → validated `RuntimeConfig`, every error at once.
//! - `daemon/`: the one place that builds and wires every part, starts them in order and
//!   stops them in reverse.
//! - `model.rs`: domain types (Node, Service, Check, KvEntry, Health, Index).
//! - `catalog/`: the replicated tables; `Store::apply` is the only writer; per-table watches
//!   drive blocking queries.
//! - `raft/`: openraft glue: log store (redb), state machine over `catalog::Store`, `RaftNode`
//!   (writes, membership changes, snapshot timer).
//! - `rpc/`: server RPC (8300): framed, versioned messages; pooled client; listener.
//! - `cluster/`: where writes and reads go: the server's own `RaftNode` (forwarding to the
//!   leader), or, on clients, a server known from gossip.
//! - `agent/`: the node's own services and checks (`LocalState`), their sync into the catalog,
//!   `bootstrap_expect` (`bootstrap`), and leader-only work (member reconcile, the Raft server
//!   set from gossip in `raft_members`, tombstone GC).
//! - `checks/`: check runners (HTTP, TCP, UDP, script, Docker, gRPC, alias, TTL) that feed
//!   results into `LocalState`; the reaper of long-critical services.
//! - `dns/`: Consul's DNS interface (8600) over the catalog: name parsing, answers, the server.
//! - `template/`: consul-template's language (Go text/template + its functions) and dependency
//!   tracking: a render reads a `Brain` and reports text, used and missing dependencies.
//! - `docker/`: registrator's job: containers' published ports become this agent's services
//!   (with `SERVICE_CHECK_*` checks and the HEALTHCHECK state as a check) under registrator's
//!   rules, reconciled as a set from Docker's events.
//! - `runner/`: consul-template's runner (watches, quiescence, atomic writes, validate, reload
//!   commands, `-exec`), reading this agent's API in-process or another agent's over HTTP.
//! - `gossip/`: LAN membership (SWIM via foca, one task), member statuses, keyring, join handshake.
//! - `http/`: Consul's HTTP API: one route table, thin handlers, Consul JSON in `dto`;
//!   `forward` sends what this agent cannot answer to a server or the leader.
//!
//! # Architecture Invariants
//!
//! - Writes enter only through `cluster::Cluster::write`; only `raft::state_machine` calls
//!   `catalog::Store::apply`. HTTP, DNS and templates only read the store.
//! - The catalog does no I/O and never awaits (except its waiting helper), so replaying the
//!   Raft log always rebuilds the same tables.
//! - The Raft log index is the Consul index: every row's ModifyIndex and every `X-Consul-Index`.
//! - `config` never reaches a subsystem; `cli` subcommands other than `agent` never open a
//!   listener or touch state.
//! - Every background task takes the shutdown token from `daemon` and is awaited on exit.
//! - `rpc` carries bytes: it never parses HTTP, interprets a command or touches the store.
//! - Gossip never writes the catalog; the Raft leader's reconcile (`agent::reconcile`) turns
//!   membership into commands.

#![forbid(unsafe_code)]

pub mod agent;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod docker;
pub mod duration;
pub mod gossip;
pub mod http;
pub mod model;
pub mod raft;
pub mod rpc;
pub mod runner;
pub mod template;

/// Berth's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Consul version Berth answers as (clients branch on it; see reference §1.4).
pub const CONSUL_VERSION: &str = "1.20.1";
