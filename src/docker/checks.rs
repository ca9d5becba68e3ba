//! A container service's checks. From `SERVICE_CHECK_*` keys, registrator's one check per
//! service (precedence HTTP > HTTPS > CMD > SCRIPT > TTL > TCP > GRPC; interval 10s unless
//! `SERVICE_CHECK_INTERVAL`), against the registered address and port. From a Docker
//! `HEALTHCHECK`, a second check whose status follows the engine's health state, so a
//! `starting` or `unhealthy` container is never in `?passing` answers (registrator ignored it).

use std::time::Duration;

use super::rules::Desired;
use crate::agent::definition::CheckDefinition;
use crate::agent::ExternalCheck;
use crate::model::Health;

/// Suffix of the Docker health check's ID (`service:<service id>:docker-health`).
pub const HEALTH_SUFFIX: &str = ":docker-health";

/// registrator's default check interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Output kept from Docker's last health run.
const MAX_HEALTH_OUTPUT: usize = 4096;

fn duration(d: &Desired, key: &str) -> Result<Option<Duration>, String> {
    match d.check.get(key) {
        None => Ok(None),
        Some(v) => crate::duration::parse(v)
            .map(Some)
            .map_err(|e| format!("SERVICE_CHECK_{}={v:?}: {e}", key.to_ascii_uppercase())),
    }
}

/// `ip:port`, with brackets for IPv6.
fn host_port(d: &Desired) -> String {
    if d.address.contains(':') {
        format!("[{}]:{}", d.address, d.port)
    } else {
        format!("{}:{}", d.address, d.port)
    }
}

/// The check the `SERVICE_CHECK_*` keys ask for (None without one), with the ID and name
/// Consul gives a service's single check, so it compares equal to the registered one.
pub fn registrator_check(
    d: &Desired,
    container_id: &str,
) -> Result<Option<CheckDefinition>, String> {
    let get = |k: &str| d.check.get(k).cloned().unwrap_or_default();
    let mut c = CheckDefinition::default();
    let mut runs = true;
    if !get("http").is_empty() {
        c.http = format!("http://{}{}", host_port(d), get("http"));
        c.method = get("http_method");
    } else if !get("https").is_empty() {
        c.http = format!("https://{}{}", host_port(d), get("https"));
        c.method = get("https_method");
        c.tls_skip_verify = is_true(&get("tls_skip_verify"));
    } else if !get("cmd").is_empty() {
        // registrator needed a `check-cmd` helper in the agent's image; Berth runs the
        // command in the container itself, as a Consul docker check.
        c.docker_container_id = container_id.to_string();
        c.args = vec!["/bin/sh".into(), "-c".into(), get("cmd")];
    } else if !get("script").is_empty() {
        let script = get("script")
            .replace("$SERVICE_IP", &d.address)
            .replace("$SERVICE_PORT", &d.port.to_string());
        c.args = vec!["/bin/sh".into(), "-c".into(), script];
    } else if !get("ttl").is_empty() {
        c.ttl = duration(d, "ttl")?;
        runs = false;
    } else if !get("tcp").is_empty() {
        c.tcp = host_port(d);
    } else if !get("grpc").is_empty() {
        c.grpc = host_port(d);
        c.grpc_use_tls = is_true(&get("grpc_use_tls"));
        c.tls_skip_verify = is_true(&get("tls_skip_verify"));
    } else {
        return Ok(None);
    }
    if runs {
        c.interval = Some(duration(d, "interval")?.unwrap_or(DEFAULT_INTERVAL));
        c.timeout = duration(d, "timeout")?;
    }
    if let Some(s) = d.check.get("initial_status") {
        c.status = Some(Health::parse(s).ok_or_else(|| {
            format!("SERVICE_CHECK_INITIAL_STATUS={s:?}: must be passing, warning or critical")
        })?);
    }
    c.deregister_critical_service_after = duration(d, "deregister_after")?;
    c.id = format!("service:{}", d.id);
    c.name = format!("Service '{}' check", d.name);
    c.service_id = d.id.clone();
    Ok(Some(c))
}

fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// The check that mirrors the container's `HEALTHCHECK` (None without one): passing when
/// healthy; critical while starting or unhealthy.
pub fn health_check(d: &Desired, health: Option<&(String, String)>) -> Option<ExternalCheck> {
    let (state, last) = health?;
    let status = match state.as_str() {
        "healthy" => Health::Passing,
        "starting" | "unhealthy" => Health::Critical,
        _ => return None,
    };
    let mut output = format!("Docker health: {state}");
    let last = last.trim_end();
    if !last.is_empty() {
        output.push('\n');
        let mut end = last.len().min(MAX_HEALTH_OUTPUT);
        while !last.is_char_boundary(end) {
            end -= 1;
        }
        output.push_str(&last[..end]);
    }
    Some(ExternalCheck {
        id: format!("service:{}{HEALTH_SUFFIX}", d.id),
        name: "Docker health".into(),
        notes: "The container's HEALTHCHECK state, as the Docker engine reports it".into(),
        status,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn svc(keys: &[(&str, &str)]) -> Desired {
        Desired {
            id: "h:web:80".into(),
            name: "web".into(),
            address: "10.0.0.5".into(),
            port: 8080,
            tags: vec![],
            meta: BTreeMap::new(),
            check: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn registrators_check_precedence_and_defaults() {
        assert_eq!(registrator_check(&svc(&[]), "c").unwrap(), None);
        let c = registrator_check(
            &svc(&[("http", "/h"), ("tcp", "x"), ("timeout", "2s")]),
            "c",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.http, "http://10.0.0.5:8080/h");
        assert_eq!(c.interval, Some(Duration::from_secs(10)));
        assert_eq!(c.timeout, Some(Duration::from_secs(2)));
        assert_eq!(
            (c.id.as_str(), c.service_id.as_str()),
            ("service:h:web:80", "h:web:80")
        );
        assert_eq!(c.name, "Service 'web' check");
        let c = registrator_check(&svc(&[("https", "/s"), ("tls_skip_verify", "true")]), "c")
            .unwrap()
            .unwrap();
        assert_eq!(c.http, "https://10.0.0.5:8080/s");
        assert!(c.tls_skip_verify);
        let c = registrator_check(&svc(&[("cmd", "true"), ("script", "x")]), "abc")
            .unwrap()
            .unwrap();
        assert_eq!(c.docker_container_id, "abc");
        assert_eq!(c.args, ["/bin/sh", "-c", "true"]);
        let c = registrator_check(&svc(&[("script", "nc -z $SERVICE_IP $SERVICE_PORT")]), "c")
            .unwrap()
            .unwrap();
        assert_eq!(c.args[2], "nc -z 10.0.0.5 8080");
        let c = registrator_check(&svc(&[("ttl", "30s"), ("tcp", "1")]), "c")
            .unwrap()
            .unwrap();
        assert_eq!((c.ttl, c.interval), (Some(Duration::from_secs(30)), None));
        let c = registrator_check(
            &svc(&[
                ("tcp", "1"),
                ("interval", "5s"),
                ("initial_status", "passing"),
                ("deregister_after", "10m"),
            ]),
            "c",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.tcp, "10.0.0.5:8080");
        assert_eq!(c.interval, Some(Duration::from_secs(5)));
        assert_eq!(c.status, Some(Health::Passing));
        assert_eq!(
            c.deregister_critical_service_after,
            Some(Duration::from_secs(600))
        );
        let c = registrator_check(&svc(&[("grpc", "1"), ("grpc_use_tls", "1")]), "c")
            .unwrap()
            .unwrap();
        assert_eq!((c.grpc.as_str(), c.grpc_use_tls), ("10.0.0.5:8080", true));
    }

    #[test]
    fn bad_check_keys_name_the_variable() {
        let e = registrator_check(&svc(&[("tcp", "1"), ("interval", "soon")]), "c").unwrap_err();
        assert!(e.starts_with("SERVICE_CHECK_INTERVAL=\"soon\""), "{e}");
        let e =
            registrator_check(&svc(&[("ttl", "1s"), ("initial_status", "ok")]), "c").unwrap_err();
        assert!(e.contains("SERVICE_CHECK_INITIAL_STATUS"), "{e}");
    }

    #[test]
    fn docker_health_maps_to_status() {
        let d = svc(&[]);
        assert_eq!(health_check(&d, None), None);
        let h = |s: &str| health_check(&d, Some(&(s.to_string(), "out\n".to_string())));
        assert_eq!(h("healthy").unwrap().status, Health::Passing);
        assert_eq!(h("starting").unwrap().status, Health::Critical);
        let u = h("unhealthy").unwrap();
        assert_eq!(u.status, Health::Critical);
        assert_eq!(u.output, "Docker health: unhealthy\nout");
        assert_eq!(u.id, "service:h:web:80:docker-health");
        assert_eq!(h("none"), None);
    }
}
