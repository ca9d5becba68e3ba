//! Check runners: each feeds status into the agent's local state, never the catalog.
//!
//! This build runs TTL checks; HTTP, TCP, script, Docker and gRPC runners come with the
//! health-checks issue, and until then registering one is refused with a clear error.

pub mod ttl;
