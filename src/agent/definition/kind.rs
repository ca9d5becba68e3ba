//! Which runner a check needs, and whether its fields make sense for that runner.

use super::{CheckDefinition, CheckKind, DefinitionError};

/// The check's single type. Errors when it has none, several, or lacks what its type needs
/// (`Interval` for polled kinds, `Args` for docker), mirroring Consul's `CheckType.Validate`.
pub fn check_kind(c: &CheckDefinition) -> Result<CheckKind, DefinitionError> {
    let mut kinds = Vec::new();
    if c.ttl.is_some() {
        kinds.push(CheckKind::Ttl);
    }
    if !c.docker_container_id.is_empty() {
        kinds.push(CheckKind::Docker);
    } else if !c.args.is_empty() {
        kinds.push(CheckKind::Script);
    }
    for (set, kind) in [
        (&c.http, CheckKind::Http),
        (&c.tcp, CheckKind::Tcp),
        (&c.udp, CheckKind::Udp),
        (&c.grpc, CheckKind::Grpc),
        (&c.h2ping, CheckKind::H2ping),
    ] {
        if !set.is_empty() {
            kinds.push(kind);
        }
    }
    if !c.alias_node.is_empty() || !c.alias_service.is_empty() {
        kinds.push(CheckKind::Alias);
    }
    let kind = match kinds.as_slice() {
        [] => return Err(DefinitionError::MissingCheckType),
        [one] => one.clone(),
        many => {
            let names: Vec<&str> = many.iter().map(CheckKind::as_str).collect();
            return Err(DefinitionError::field(
                "Type",
                format!(
                    "a check must have exactly one type, got {}",
                    names.join(" and ")
                ),
            ));
        }
    };
    match kind {
        CheckKind::Ttl if c.interval.is_some() => Err(DefinitionError::field(
            "Interval",
            "Interval and TTL cannot both be specified",
        )),
        CheckKind::Alias if c.interval.is_some() => Err(DefinitionError::field(
            "Interval",
            "Interval cannot be set for Alias checks",
        )),
        CheckKind::Docker if c.args.is_empty() => Err(DefinitionError::field(
            "Args",
            "docker checks need Args (the command to run)",
        )),
        CheckKind::Ttl | CheckKind::Alias => Ok(kind),
        _ if c.interval.is_none() => Err(DefinitionError::MissingCheckType),
        _ => Ok(kind),
    }
}
