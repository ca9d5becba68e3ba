//! Nothing stale, ever: the engine's socket cut and restored while containers change, 200
//! random start/kill/rm cycles over 20 containers, and Berth SIGKILLed while containers
//! change, then restarted with `-cleanup`. Each ends with the catalog equal to the running
//! containers.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{docker_services, docker_state, eventually, host, opts, Lab, Proxy, LOOP};
use crate::docker::{docker, must};
use crate::harness::{free_port, Agent};

/// Service IDs registrator's rules give the lab's running containers named `names`.
fn expected(names: &BTreeSet<String>) -> BTreeSet<String> {
    let h = host();
    names.iter().map(|n| format!("{h}:{n}:80")).collect()
}

fn registered(a: &Agent) -> BTreeSet<String> {
    docker_services(a).into_keys().collect()
}

fn published() -> Vec<String> {
    opts(&["-p", "127.0.0.1::80"])
}

/// bollard sends the event subscription only after the container list; a container
/// started in between must still register (Berth asks Docker to replay events since
/// before the list). The proxy holds the subscription so the window is wide open.
#[test]
fn container_started_between_list_and_subscription_registers() {
    let mut lab = Lab::new("window");
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let _proxy = Proxy::start_delaying_events(&sock, Duration::from_secs(3));
    let mut args = vec!["-dev".to_string()];
    args.extend(lab.flags(&format!("unix://{}", sock.display())));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Agent::start(&refs);
    eventually(&a, "connected (the list is done)", || {
        docker_state(&a)["State"] == "connected"
    });
    // Inside the 3 s the subscription is held: after the list, before the stream.
    let c = lab.run("late", &published(), LOOP);
    eventually(&a, "the container started in the window", || {
        registered(&a) == expected(&[c.clone()].into())
    });
}

#[test]
fn socket_cut_then_restored_reconciles_what_changed_meanwhile() {
    let mut lab = Lab::new("cut");
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let proxy = Proxy::start(&sock);
    let mut args = vec!["-dev".to_string()];
    args.extend(lab.flags(&format!("unix://{}", sock.display())));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Agent::start(&refs);
    let c1 = lab.run("c1", &published(), LOOP);
    let c2 = lab.run("c2", &published(), LOOP);
    eventually(&a, "two registered", || {
        registered(&a) == expected(&[c1.clone(), c2.clone()].into())
    });
    assert_eq!(docker_state(&a)["State"], "connected");

    proxy.cut();
    eventually(&a, "retrying after the cut", || {
        docker_state(&a)["State"] == "retrying"
    });
    must(&["rm", "-f", &c1]);
    let c3 = lab.run("c3", &published(), LOOP);
    must(&["stop", "-t", "1", &c2]);
    // The agent cannot see the engine: it keeps what it had.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(registered(&a), expected(&[c1.clone(), c2.clone()].into()));
    assert!(
        a.log().contains("docker: cannot reach the engine"),
        "{}",
        a.log()
    );
    let state = docker_state(&a);
    assert!(!state["Error"].as_str().unwrap_or("").is_empty(), "{state}");

    let _proxy = Proxy::start(&sock);
    eventually(&a, "reconciled after the socket came back", || {
        registered(&a) == expected(&[c3.clone()].into())
    });
    assert_eq!(docker_state(&a)["State"], "connected");
    assert!(docker_state(&a)["Reconciles"].as_u64().unwrap() >= 2);
}

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Running lab containers among `names`.
fn running(names: &[String]) -> BTreeSet<String> {
    let out = must(&["ps", "--format", "{{.Names}}"]);
    out.lines()
        .filter(|l| names.iter().any(|n| n == l))
        .map(String::from)
        .collect()
}

#[test]
fn churn_of_200_cycles_leaves_the_catalog_equal_to_running_containers() {
    let mut lab = Lab::new("churn");
    let a = lab.agent(&[]);
    let seed = std::process::id() as u64;
    eprintln!("churn seed {seed}");
    let mut rng = Lcg(seed);
    let names: Vec<String> = (0..20).map(|i| format!("{}-k{i}", lab.p)).collect();
    let mut exists = [false; 20];
    for op in 0..200 {
        let i = rng.next(20);
        let n = &names[i];
        if !exists[i] {
            lab.run(&format!("k{i}"), &published(), LOOP);
            exists[i] = true;
            continue;
        }
        match rng.next(4) {
            // kill and start fail harmlessly on a container in the wrong state.
            0 => {
                let _ = docker(&["kill", n]);
            }
            1 => {
                must(&["rm", "-f", n]);
                exists[i] = false;
            }
            2 => {
                // Start it if stopped; a running one is left alone by docker.
                let _ = docker(&["start", n]);
            }
            _ => {
                let _ = docker(&["stop", "-t", "0", n]);
            }
        }
        if op % 50 == 49 {
            eprintln!("churn: {} ops", op + 1);
        }
    }
    let want = || expected(&running(&names));
    eventually(&a, "catalog equals the running containers", || {
        registered(&a) == want()
    });
    eprintln!("churn: {} running at the end", want().len());
    // And it stays so (no late stale registration).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(registered(&a), want());
}

#[test]
fn sigkilled_berth_restarted_with_cleanup_is_right_again() {
    let mut lab = Lab::new("kill9");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let serf = format!("-serf-lan-port={}", free_port());
    let server = format!("-server-port={}", free_port());
    let data = format!("-data-dir={}", dir.path().join("data").display());
    let mut args: Vec<String> = vec![
        "-server".into(),
        "-bootstrap-expect=1".into(),
        "-bind=127.0.0.1".into(),
        data,
        serf,
        server,
    ];
    args.extend(lab.flags("unix:///var/run/docker.sock"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = Agent::start_in(dir.path(), &refs, port);
    let names: Vec<String> = (0..5)
        .map(|i| lab.run(&format!("s{i}"), &published(), LOOP))
        .collect();
    let all: BTreeSet<String> = names.iter().cloned().collect();
    eventually(&a, "five registered", || registered(&a) == expected(&all));

    a.signal(9);
    assert!(a.wait_exit(Duration::from_secs(10)).is_some());
    must(&["rm", "-f", &names[0]]);
    must(&["stop", "-t", "1", &names[1]]);
    let n5 = lab.run("s5", &published(), LOOP);
    let mut with_cleanup = refs.clone();
    with_cleanup.push("-cleanup");
    let a = Agent::start_in(dir.path(), &with_cleanup, port);
    let want: BTreeSet<String> = [&names[2], &names[3], &names[4], &n5]
        .into_iter()
        .cloned()
        .collect();
    eventually(&a, "catalog right after the restart", || {
        registered(&a) == expected(&want)
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(registered(&a), expected(&want));
}
