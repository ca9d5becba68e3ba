//! Docker auto-registration (registrator's job inside the agent): containers' published
//! ports become services on this agent, with their checks, and leave with their containers.
//!
//! - `rules.rs`: registrator's rules, pure: an inspected container → the services it should
//!   have; `inspect.rs`: Docker's inspect answer as the facts the rules read.
//! - `checks.rs`: `SERVICE_CHECK_*` → registrator's check; the HEALTHCHECK state → a check.
//! - `reconcile.rs`: one container's desired services against the ones this agent holds.
//! - `registrar.rs`: the task (events, reconnects, full reconciles); `connect.rs`: the
//!   endpoint (unix socket, tcp, TLS); `status.rs`: what it is doing, for `/v1/agent/self`.

pub mod checks;
pub mod connect;
pub mod inspect;
pub mod reconcile;
pub mod registrar;
pub mod rules;
pub mod status;

pub use connect::TlsFiles;
pub use reconcile::Deregister;
pub use registrar::{run, DockerOpts};
pub use status::Status;
