//! Docker auto-registration (registrator's job inside the agent).
//!
//! - `rules.rs`: registrator's rules, pure: an inspected container → the services it should
//!   have.

pub mod rules;
