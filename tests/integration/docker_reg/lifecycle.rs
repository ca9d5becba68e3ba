//! A container's life in the catalog: pause, stop, kill, start, restart and `rm -f`, under
//! `-deregister always` and `on-success`; Docker HEALTHCHECK states and `SERVICE_CHECK_*`
//! checks as Consul checks.

use serde_json::Value;

use super::{catalog, eventually, passing, service, Lab, LOOP};
use crate::docker::must;

#[test]
fn stop_kill_rm_pause_and_restart_follow_the_rules() {
    let mut lab = Lab::new("life");
    let p = lab.p.clone();
    let always = lab.agent(&[]);
    let on_success = lab.agent(&["-deregister=on-success"]);
    let svc = format!("{p}life");
    let c = lab.run("c1", &service(&svc, &[]), LOOP);
    let counts = || {
        (
            catalog(&always, &svc).len(),
            catalog(&on_success, &svc).len(),
        )
    };
    let expect = |what: &str, want: (usize, usize)| {
        let mut last = (9, 9);
        eventually(
            &always,
            &format!("{what}: want {want:?}, last {last:?}"),
            || {
                last = counts();
                last == want
            },
        );
    };
    expect("registered", (1, 1));
    must(&["pause", &c]);
    expect("paused", (0, 0));
    must(&["unpause", &c]);
    expect("unpaused", (1, 1));
    // SIGTERM makes it exit 3: a failure, so on-success keeps it.
    must(&["stop", "-t", "5", &c]);
    assert_eq!(must(&["inspect", "-f", "{{.State.ExitCode}}", &c]), "3");
    expect("stopped with exit 3", (0, 1));
    must(&["start", &c]);
    expect("started", (1, 1));
    // SIGKILL: exit 137, killed by a signal, which on-success counts as success.
    must(&["kill", &c]);
    expect("killed", (0, 0));
    must(&["start", &c]);
    expect("started again", (1, 1));
    let id_before = catalog(&always, &svc)[0]["ServiceID"].clone();
    must(&["restart", "-t", "5", &c]);
    expect("restarted", (1, 1));
    assert_eq!(catalog(&always, &svc)[0]["ServiceID"], id_before);
    must(&["stop", "-t", "5", &c]);
    expect("stopped again", (0, 1));
    // Removal takes even a kept failure away.
    must(&["rm", "-f", &c]);
    expect("removed", (0, 0));
}

fn checks_of(a: &crate::harness::Agent, svc: &str) -> Vec<Value> {
    crate::harness::blocking_get(&a.url(&format!("/v1/health/checks/{svc}")))
        .ok()
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or_default()
}

#[test]
fn healthcheck_and_service_checks_decide_passing() {
    let mut lab = Lab::new("health");
    let p = lab.p.clone();
    let a = lab.agent(&[]);
    let svc = format!("{p}hc");
    // A real HTTP server (busybox httpd) with a Docker HEALTHCHECK that passes while
    // /tmp/ok exists, plus registrator's HTTP check on the published port.
    let c = lab.run(
        "hc",
        &service(
            &svc,
            &[
                "-e",
                "SERVICE_CHECK_HTTP=/index.html",
                "-e",
                "SERVICE_CHECK_INTERVAL=1s",
                "--health-cmd",
                "test -f /tmp/ok",
                "--health-interval",
                "1s",
                "--health-retries",
                "1",
                "--health-timeout",
                "1s",
            ],
        ),
        &["/bin/httpd", "-f", "-p", "80", "-h", "/www"],
    );
    eventually(&a, "registered with two checks", || {
        catalog(&a, &svc).len() == 1 && checks_of(&a, &svc).len() == 2
    });
    // Starting or unhealthy: never passing, though the HTTP check passes.
    assert_eq!(passing(&a, &svc), 0);
    let find = |suffix: &str| -> Value {
        checks_of(&a, &svc)
            .into_iter()
            .find(|c| c["CheckID"].as_str().unwrap_or("").ends_with(suffix))
            .unwrap_or(Value::Null)
    };
    eventually(&a, "HTTP check passing", || {
        find(":80")["Status"] == "passing"
    });
    let h = find(":docker-health");
    assert_eq!(h["Type"], "docker-health");
    assert_eq!(h["Status"], "critical");
    assert_eq!(passing(&a, &svc), 0);
    must(&["exec", &c, "touch", "/tmp/ok"]);
    eventually(&a, "healthy: passing", || passing(&a, &svc) == 1);
    assert_eq!(find(":docker-health")["Output"], "Docker health: healthy");
    must(&["exec", &c, "rm", "/tmp/ok"]);
    eventually(&a, "unhealthy: out of ?passing", || passing(&a, &svc) == 0);
    assert!(find(":docker-health")["Output"]
        .as_str()
        .unwrap()
        .starts_with("Docker health: unhealthy"));
    // The service stayed registered throughout (status changes, no re-registration).
    assert_eq!(catalog(&a, &svc).len(), 1);
    must(&["exec", &c, "touch", "/tmp/ok"]);
    eventually(&a, "healthy again", || passing(&a, &svc) == 1);
    // The health check is ours: the TTL endpoints refuse it.
    let id = find(":docker-health")["CheckID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .arg(a.url(&format!("/v1/agent/check/fail/{id}")))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&r.stdout), "200");
    assert_eq!(passing(&a, &svc), 1);

    // A TTL check from SERVICE_CHECK_TTL, flipped through the agent API.
    let ttl = format!("{p}ttl");
    lab.run(
        "ttl",
        &service(&ttl, &["-e", "SERVICE_CHECK_TTL=30s"]),
        LOOP,
    );
    eventually(&a, "ttl service", || checks_of(&a, &ttl).len() == 1);
    let check = checks_of(&a, &ttl)[0].clone();
    assert_eq!(check["Type"], "ttl");
    assert_eq!(passing(&a, &ttl), 0);
    let id = check["CheckID"].as_str().unwrap();
    let ok = std::process::Command::new("curl")
        .args(["-sf", "-X", "PUT"])
        .arg(a.url(&format!("/v1/agent/check/pass/{id}")))
        .status()
        .unwrap();
    assert!(ok.success());
    eventually(&a, "ttl passing", || passing(&a, &ttl) == 1);

    // A script check on an agent without script checks: refused whole, with the reason
    // in the log, and nothing in the catalog.
    let script = format!("{p}script");
    lab.run(
        "script",
        &service(&script, &["-e", "SERVICE_CHECK_SCRIPT=true"]),
        LOOP,
    );
    eventually(&a, "script check refused in the log", || {
        a.log().contains("enable_script_checks")
    });
    assert!(catalog(&a, &script).is_empty());
    // A bad interval names the variable and registers nothing.
    let bad = format!("{p}bad");
    lab.run(
        "bad",
        &service(
            &bad,
            &[
                "-e",
                "SERVICE_CHECK_TCP=1",
                "-e",
                "SERVICE_CHECK_INTERVAL=soon",
            ],
        ),
        LOOP,
    );
    eventually(&a, "bad interval named in the log", || {
        a.log().contains("SERVICE_CHECK_INTERVAL=\"soon\"")
    });
    assert!(catalog(&a, &bad).is_empty());
}

/// `-resync 1` (registrator's whole seconds) reconciles every second without touching an
/// unchanged container's service: its catalog entry keeps its ModifyIndex.
#[test]
fn resync_does_not_rewrite_unchanged_services() {
    let mut lab = Lab::new("resync");
    let p = lab.p.clone();
    let a = lab.agent(&["-resync=1"]);
    let svc = format!("{p}steady");
    lab.run(
        "steady",
        &service(
            &svc,
            &[
                "-e",
                "SERVICE_CHECK_TTL=1h",
                "--health-cmd",
                "true",
                "--health-interval",
                "1s",
            ],
        ),
        LOOP,
    );
    eventually(&a, "registered and healthy", || {
        checks_of(&a, &svc)
            .iter()
            .any(|c| c["Status"] == "passing" && c["Type"] == "docker-health")
    });
    let before = catalog(&a, &svc)[0]["ModifyIndex"].clone();
    let checks_before: Vec<Value> = checks_of(&a, &svc)
        .iter()
        .map(|c| c["ModifyIndex"].clone())
        .collect();
    let reconciles = super::docker_state(&a)["Reconciles"].as_u64().unwrap();
    // -resync 1s: at least two full reconciles in 4.5 s, even on a loaded machine.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    assert!(super::docker_state(&a)["Reconciles"].as_u64().unwrap() >= reconciles + 2);
    assert_eq!(catalog(&a, &svc)[0]["ModifyIndex"], before);
    let checks_after: Vec<Value> = checks_of(&a, &svc)
        .iter()
        .map(|c| c["ModifyIndex"].clone())
        .collect();
    assert_eq!(checks_after, checks_before);
}

/// `SERVICE_CHECK_CMD` runs inside the container (a docker exec check) on an agent that
/// allows script checks: exit 1 is warning, exit 0 passing.
#[test]
fn check_cmd_runs_in_the_container() {
    let mut lab = Lab::new("cmd");
    let p = lab.p.clone();
    let a = lab.agent(&["-enable-script-checks"]);
    let svc = format!("{p}cmd");
    let c = lab.run(
        "cmd",
        &service(
            &svc,
            &[
                "-e",
                "SERVICE_CHECK_CMD=test -f /tmp/ok && echo fine",
                "-e",
                "SERVICE_CHECK_INTERVAL=1s",
            ],
        ),
        LOOP,
    );
    let status = || {
        checks_of(&a, &svc)
            .first()
            .map(|c| (c["Type"].clone(), c["Status"].clone(), c["Output"].clone()))
    };
    eventually(&a, "warning while /tmp/ok is missing", || {
        status().is_some_and(|(t, s, _)| t == "docker" && s == "warning")
    });
    must(&["exec", &c, "touch", "/tmp/ok"]);
    eventually(&a, "passing once it exists", || {
        status().is_some_and(|(_, s, o)| s == "passing" && o == "fine\n")
    });
}
