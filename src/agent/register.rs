//! Registering and removing the agent's services and checks, and setting check status.
//!
//! Each call validates in full, edits `LocalState`, then pushes the change through the syncer
//! before returning, so a bad request changes nothing and a good one is visible at once.

use tokio::time::Instant;

use super::definition::{check_kind, CheckDefinition, CheckKind, ServiceDefinition};
use super::{Agent, LocalCheck, Source};
use crate::model::{Check, CheckSpec, Health, Service};

/// Why an agent registration or update was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Bad input (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The named service or check is not registered here (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The operation is not allowed on this check or agent (HTTP 500, as Consul answers).
    #[error("{0}")]
    Refused(String),
}

/// Check ID of node maintenance mode.
pub const NODE_MAINT_ID: &str = "_node_maintenance";
/// Check ID prefix of service maintenance mode.
pub const SERVICE_MAINT_PREFIX: &str = "_service_maintenance:";

impl Agent {
    /// Registers (or replaces) a service and the checks declared with it.
    pub async fn register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
        source: Source,
    ) -> Result<(), AgentError> {
        self.register_service_with(def, replace_existing_checks, source, Vec::new())
            .await
    }

    /// `register_service` plus checks whose status the caller sets (`external`, e.g. a
    /// container's Docker health), all in one change: the catalog never sees the service
    /// without them, so a container that is not healthy is never briefly passing.
    pub async fn register_service_with(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
        source: Source,
        external: Vec<super::ExternalCheck>,
    ) -> Result<(), AgentError> {
        let service = self.service_from(&def);
        let mut checks = Vec::with_capacity(def.checks.len());
        for (c, id) in def.checks.iter().zip(service_check_ids(&def)) {
            let mut c = c.clone();
            c.id = id;
            if c.name.is_empty() {
                c.name = format!("Service '{}' check", def.name);
            }
            c.service_id = def.id.clone();
            checks.push(self.local_check(c, Some(&service), source)?);
        }
        let external: Vec<LocalCheck> = external
            .into_iter()
            .map(|e| e.local(&self.identity().node_name, &service, source))
            .collect();
        {
            let mut local = self.local();
            if replace_existing_checks {
                let old: Vec<String> = local
                    .service_checks(&def.id)
                    .map(|c| c.check.check_id.clone())
                    .collect();
                for id in old.iter().filter(|id| {
                    !checks.iter().any(|c| &c.check.check_id == *id)
                        && !external.iter().any(|c| &c.check.check_id == *id)
                        && !id.starts_with(SERVICE_MAINT_PREFIX)
                }) {
                    local.remove_check(id);
                }
            }
            // Checks already on the service keep their state but take the new service tags.
            let existing: Vec<String> = local
                .service_checks(&def.id)
                .map(|c| c.check.check_id.clone())
                .collect();
            for id in existing {
                if let Some(c) = local.checks.get_mut(&id) {
                    c.check.service_name = service.name.clone();
                    c.check.service_tags = service.tags.clone();
                }
                local.touch_check(&id);
            }
            local.put_service(service, source);
            for c in checks {
                let c = carry_state(&local, c);
                local.put_check(c);
            }
            for mut c in external {
                if let Some(old) = local.checks.get(&c.check.check_id) {
                    if old.check.status == c.check.status {
                        c.critical_since = old.critical_since;
                    }
                }
                local.put_check(c);
            }
        }
        self.ttl_changed().notify_one();
        self.sync().await;
        Ok(())
    }

    /// Removes a service and its checks.
    pub async fn deregister_service(&self, id: &str) -> Result<(), AgentError> {
        if !self.local().remove_service(id) {
            return Err(AgentError::NotFound(format!("Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name.")));
        }
        self.sync().await;
        Ok(())
    }

    /// Registers (or replaces) a check.
    pub async fn register_check(
        &self,
        def: CheckDefinition,
        source: Source,
    ) -> Result<(), AgentError> {
        let mut def = def;
        if def.name.is_empty() {
            return Err(AgentError::Invalid("Missing check name".into()));
        }
        if def.id.is_empty() {
            def.id = def.name.clone();
        }
        let service = if def.service_id.is_empty() {
            None
        } else {
            let local = self.local();
            match local.services.get(&def.service_id) {
                Some(s) => Some(s.service.clone()),
                None => {
                    return Err(AgentError::NotFound(format!(
                        "ServiceID {:?} does not exist",
                        def.service_id
                    )))
                }
            }
        };
        let check = self.local_check(def, service.as_ref(), source)?;
        {
            let mut local = self.local();
            let check = carry_state(&local, check);
            local.put_check(check);
        }
        self.ttl_changed().notify_one();
        self.sync().await;
        Ok(())
    }

    /// Removes a check.
    pub async fn deregister_check(&self, id: &str) -> Result<(), AgentError> {
        if !self.local().remove_check(id) {
            return Err(AgentError::NotFound(format!(
                "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
            )));
        }
        self.sync().await;
        Ok(())
    }

    /// Sets a TTL check's status and output and restarts its TTL (`/v1/agent/check/pass` ...).
    pub async fn update_ttl(
        &self,
        id: &str,
        status: Health,
        output: &str,
    ) -> Result<(), AgentError> {
        {
            let mut local = self.local();
            let Some(c) = local.checks.get_mut(id) else {
                return Err(AgentError::NotFound(format!("Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name.")));
            };
            if c.kind != CheckKind::Ttl {
                return Err(AgentError::Refused(format!(
                    "CheckID {id:?} does not have associated TTL"
                )));
            }
            c.ttl_deadline = c.definition.ttl.map(|ttl| Instant::now() + ttl);
        }
        self.ttl_changed().notify_one();
        let limit = {
            let local = self.local();
            let def_max = local
                .checks
                .get(id)
                .and_then(|c| c.definition.output_max_size);
            self.inner.checks.output_limit(def_max)
        };
        let output = super::check_status::cap_ttl_output(output, limit);
        // Same result: only the timer moved. Output-only: deferred like any check's output.
        if self.record(id, status, &output, None) == super::check_status::Recorded::Changed {
            self.sync().await;
        }
        Ok(())
    }

    /// Turns node maintenance mode on or off.
    pub async fn set_node_maintenance(&self, enable: bool, reason: &str) {
        let note = if reason.is_empty() {
            "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
        } else {
            reason
        };
        self.set_maintenance(NODE_MAINT_ID, "Node Maintenance Mode", None, enable, note)
            .await;
    }

    /// Turns maintenance mode of one service on or off.
    pub async fn set_service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        let service = self.local().services.get(id).map(|s| s.service.clone());
        let Some(service) = service else {
            return Err(AgentError::NotFound(format!(
                "No service registered with ID {id:?}"
            )));
        };
        let note = if reason.is_empty() {
            "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
        } else {
            reason
        };
        let check_id = format!("{SERVICE_MAINT_PREFIX}{id}");
        self.set_maintenance(
            &check_id,
            "Service Maintenance Mode",
            Some(&service),
            enable,
            note,
        )
        .await;
        Ok(())
    }

    async fn set_maintenance(
        &self,
        check_id: &str,
        name: &str,
        service: Option<&Service>,
        enable: bool,
        note: &str,
    ) {
        {
            let mut local = self.local();
            if !enable {
                local.remove_check(check_id);
            } else {
                let check = Check {
                    node: self.identity().node_name.clone(),
                    check_id: check_id.to_string(),
                    name: name.to_string(),
                    status: Health::Critical,
                    notes: note.to_string(),
                    service_id: service.map(|s| s.id.clone()).unwrap_or_default(),
                    service_name: service.map(|s| s.name.clone()).unwrap_or_default(),
                    service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
                    ..Check::default()
                };
                local.put_check(LocalCheck {
                    check,
                    kind: CheckKind::Maintenance,
                    definition: CheckDefinition::default(),
                    source: Source::Api,
                    ttl_deadline: None,
                    critical_since: Some(Instant::now()),
                    output_deferred: false,
                    generation: 0,
                    rev: 0,
                    in_sync: false,
                });
            }
        }
        self.sync().await;
    }

    fn service_from(&self, def: &ServiceDefinition) -> Service {
        Service {
            node: self.identity().node_name.clone(),
            id: def.id.clone(),
            name: def.name.clone(),
            tags: def.tags.clone(),
            address: def.address.clone(),
            tagged_addresses: def.tagged_addresses.clone(),
            meta: def.meta.clone(),
            port: def.port,
            weights: def.weights,
            enable_tag_override: def.enable_tag_override,
            kind: def.kind.clone(),
            create_index: 0,
            modify_index: 0,
        }
    }

    /// Validates a check definition and builds the local check (the check runners pick it up
    /// from the local state).
    fn local_check(
        &self,
        def: CheckDefinition,
        service: Option<&Service>,
        source: Source,
    ) -> Result<LocalCheck, AgentError> {
        let kind = check_kind(&def).map_err(|e| AgentError::Invalid(e.to_string()))?;
        if matches!(kind, CheckKind::Script | CheckKind::Docker) {
            let allowed = self.inner.checks.enable_script_checks
                || (source == Source::Config && self.inner.checks.enable_local_script_checks);
            if !allowed {
                return Err(AgentError::Invalid(
                    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true".into(),
                ));
            }
        }
        if kind == CheckKind::H2ping {
            return Err(AgentError::Invalid(format!(
                "H2PING checks are not supported by Berth (check {:?}); use an HTTP or gRPC check",
                def.id
            )));
        }
        if !def.alias_service.is_empty()
            && def.alias_service == def.service_id
            && def.alias_node.is_empty()
        {
            return Err(AgentError::Invalid(format!(
                "AliasService: check {:?} cannot alias its own service {:?}",
                def.id, def.service_id
            )));
        }
        let spec = spec_of(&def);
        let check = Check {
            node: self.identity().node_name.clone(),
            check_id: def.id.clone(),
            name: def.name.clone(),
            status: def.status.unwrap_or(Health::Critical),
            notes: def.notes.clone(),
            output: String::new(),
            service_id: def.service_id.clone(),
            service_name: service.map(|s| s.name.clone()).unwrap_or_default(),
            service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
            kind: kind.as_str().to_string(),
            spec,
            create_index: 0,
            modify_index: 0,
        };
        let ttl_deadline = def.ttl.map(|ttl| Instant::now() + ttl);
        let critical_since = (check.status == Health::Critical).then(Instant::now);
        Ok(LocalCheck {
            check,
            kind,
            definition: def,
            source,
            ttl_deadline,
            critical_since,
            output_deferred: false,
            generation: 0,
            rev: 0,
            in_sync: false,
        })
    }
}

/// A re-registered check keeps the state of the check it replaces (same ID): status, output
/// and TTL timer, as Consul's agent does, so a reload or a registrator resync does not flap
/// health. Only a brand-new check ID starts from its definition's `Status` (or critical).
fn carry_state(local: &super::LocalState, mut new: LocalCheck) -> LocalCheck {
    if let Some(old) = local.checks.get(&new.check.check_id) {
        new.check.status = old.check.status;
        new.check.output = old.check.output.clone();
        new.critical_since = old.critical_since;
        new.output_deferred = old.output_deferred;
        if old.kind == new.kind && old.definition.ttl == new.definition.ttl {
            new.ttl_deadline = old.ttl_deadline;
        }
    }
    new
}

/// What the APIs show of how a check runs (`Type`, `Interval`, `Definition`).
fn spec_of(def: &CheckDefinition) -> CheckSpec {
    CheckSpec {
        http: def.http.clone(),
        method: def.method.clone(),
        header: def.header.clone(),
        body: def.body.clone(),
        tls_skip_verify: def.tls_skip_verify,
        tls_server_name: def.tls_server_name.clone(),
        tcp: def.tcp.clone(),
        udp: def.udp.clone(),
        grpc: def.grpc.clone(),
        grpc_use_tls: def.grpc_use_tls,
        script_args: def.args.clone(),
        docker_container_id: def.docker_container_id.clone(),
        shell: def.shell.clone(),
        interval: def.interval,
        timeout: def.timeout,
        ttl: def.ttl,
        deregister_critical_service_after: def.deregister_critical_service_after,
    }
}

/// The IDs a service's own checks get: their `ID`, else `service:<id>` for a single check, or
/// `service:<id>:<n>` (1-based) when there are several (Consul's rule).
pub(super) fn service_check_ids(def: &ServiceDefinition) -> Vec<String> {
    let n = def.checks.len();
    def.checks
        .iter()
        .enumerate()
        .map(|(i, c)| match (c.id.is_empty(), n) {
            (false, _) => c.id.clone(),
            (true, 1) => format!("service:{}", def.id),
            (true, _) => format!("service:{}:{}", def.id, i + 1),
        })
        .collect()
}
