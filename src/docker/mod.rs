//! Docker auto-registration (registrator's job inside the agent): containers' published
//! ports become services on this agent, and leave with their containers.
//!
//! - `rules.rs`: registrator's rules, pure: an inspected container → the services it should
//!   have; `inspect.rs`: Docker's inspect answer as the facts the rules read.
//! - `registrar.rs`: the task (events, reconnects, per-container reconcile).
//!
//! Not built yet (refused where a user could ask for them): `SERVICE_CHECK_*` checks and the
//! container's HEALTHCHECK as a check, `-deregister on-success`, TLS to a tcp:// endpoint.

pub mod inspect;
pub mod registrar;
pub mod rules;

pub use registrar::{run, DockerOpts};
