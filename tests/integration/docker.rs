//! Agents in Docker containers on a private network the test creates: a container cut off
//! with `docker network disconnect` is marked failed, and comes back alive on reconnect.
//!
//! The image is built from local files only (no registry): the test binary and the shared
//! libraries it links, `docker import`ed as a root filesystem. Runs with the `docker-tests`
//! feature (the suite's command enables it; CI has Docker).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::bin;

pub(crate) fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub(crate) fn must(args: &[&str]) -> String {
    let (ok, text) = docker(args);
    assert!(ok, "docker {args:?} failed: {text}");
    text.trim().to_string()
}

/// Builds `berth-test:<pid>` from the binary under test and its shared libraries, plus
/// `extra` host binaries (with their libraries) in `/usr/local/bin` and `files` (path in the
/// image, contents).
fn build_image(tag: &str, extra: &[&str], files: &[(&str, &str)]) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["usr/local/bin", "tmp", "consul/data", "etc"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    let mut bins = vec![bin().to_string()];
    bins.extend(extra.iter().map(|b| b.to_string()));
    for (i, b) in bins.iter().enumerate() {
        let name = if i == 0 {
            "berth".to_string()
        } else {
            Path::new(b)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        std::fs::copy(b, r.join("usr/local/bin").join(name)).unwrap();
        let ldd = Command::new("ldd").arg(b).output().unwrap();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let path = line.split_whitespace().find(|w| w.starts_with('/'));
            if let Some(p) = path {
                let dest = r.join(p.trim_start_matches('/'));
                std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                std::fs::copy(Path::new(p), &dest).unwrap();
            }
        }
    }
    for (path, text) in files {
        let dest = r.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, text).unwrap();
    }
    std::fs::write(r.join("etc/hostname"), "berth\n").unwrap();
    import_rootfs(r, tag);
}

/// `docker import`s the root filesystem at `root` as `tag`.
pub(crate) fn import_rootfs(root: &Path, tag: &str) {
    // The archive goes in a directory of its own: docker tests build images concurrently.
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("rootfs.tar");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    must(&["import", archive.to_str().unwrap(), tag]);
}

/// Containers, network and image, removed on drop.
struct Lab {
    tag: String,
    net: String,
    containers: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        let _ = docker(&["network", "rm", &self.net]);
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

impl Lab {
    fn run(&mut self, name: &str, args: &[&str]) {
        self.run_with(name, &[], args);
    }

    /// `docker run` with extra `docker run` options (`--ip`, ...) before the image.
    fn run_with(&mut self, name: &str, opts: &[&str], args: &[&str]) {
        let mut cmd = vec![
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            name,
            "--network",
            &self.net,
        ];
        cmd.extend_from_slice(opts);
        cmd.extend_from_slice(&[&self.tag, "/usr/local/bin/berth", "agent"]);
        cmd.extend_from_slice(args);
        let owned: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        must(&refs);
        self.containers.push(name.to_string());
    }

    fn ip(&self, name: &str) -> String {
        must(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ])
    }

    /// `berth members` inside `name`: (node, status) pairs.
    fn members(&self, name: &str) -> Vec<(String, String)> {
        let (_, out) = docker(&["exec", name, "/usr/local/bin/berth", "members"]);
        out.lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() >= 3).then(|| (cols[0].to_string(), cols[2].to_string()))
            })
            .collect()
    }

    fn status(&self, on: &str, node: &str) -> Option<String> {
        self.members(on)
            .into_iter()
            .find(|(n, _)| n == node)
            .map(|(_, s)| s)
    }
}

pub(crate) fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

#[test]
fn partitioned_container_fails_and_recovers() {
    let id = std::process::id();
    let mut lab = Lab {
        tag: format!("berth-test:{id}"),
        net: format!("berth-test-{id}"),
        containers: Vec::new(),
    };
    build_image(&lab.tag, &[], &[]);
    // --internal: the containers reach each other and nothing else.
    must(&["network", "create", "--internal", &lab.net]);
    let s1 = format!("berth-s1-{id}");
    lab.run(
        &s1,
        &["-dev", "-node=s1", "-bind=0.0.0.0", "-client=127.0.0.1"],
    );
    std::thread::sleep(Duration::from_secs(1));
    let seed = format!("-join={}", lab.ip(&s1));
    let (c1, c2) = (format!("berth-c1-{id}"), format!("berth-c2-{id}"));
    lab.run(
        &c1,
        &["-node=c1", "-data-dir=/consul/data", "-bind=0.0.0.0", &seed],
    );
    lab.run(
        &c2,
        &["-node=c2", "-data-dir=/consul/data", "-bind=0.0.0.0", &seed],
    );
    assert!(
        wait(Duration::from_secs(20), || lab
            .members(&s1)
            .iter()
            .filter(|(_, s)| s == "alive")
            .count()
            == 3),
        "members on s1: {:?}\n{}",
        lab.members(&s1),
        docker(&["logs", &c2]).1
    );
    must(&["network", "disconnect", &lab.net, &c2]);
    assert!(
        wait(Duration::from_secs(15), || lab.status(&s1, "c2").as_deref()
            == Some("failed")),
        "c2 on s1: {:?}",
        lab.status(&s1, "c2")
    );
    assert_eq!(
        lab.status(&s1, "c1").as_deref(),
        Some("alive"),
        "no false failure of c1"
    );
    must(&["network", "connect", &lab.net, &c2]);
    // Failed members are retried every 30 s (serf's reconnect interval).
    assert!(
        wait(Duration::from_secs(75), || lab.status(&s1, "c2").as_deref()
            == Some("alive")),
        "c2 on s1 after reconnect: {:?}",
        lab.status(&s1, "c2")
    );
}

/// An HTTP request from inside container `name` to its own agent on 127.0.0.1:8500, with curl
/// (in the image), so it works whatever networks the container is on: (status, body); status
/// 0 when no answer came within `limit_s` seconds.
fn http_in(
    name: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    limit_s: u32,
) -> (u16, String) {
    let url = format!("http://127.0.0.1:8500{path}");
    let limit = limit_s.to_string();
    let mut args = vec![
        "exec",
        name,
        "/usr/local/bin/curl",
        "-s",
        "-m",
        &limit,
        "-X",
        method,
        "-w",
        "\n%{http_code}",
    ];
    if let Some(b) = body {
        args.extend(["--data-binary", b]);
    }
    args.push(&url);
    let out = Command::new("docker").args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_ref()));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The leader's IP as container `name` sees it (`None` when it names none or does not answer).
fn leader_ip(name: &str) -> Option<String> {
    let (status, body) = http_in(name, "GET", "/v1/status/leader", None, 3);
    let addr: String = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
    addr.rsplit_once(':').map(|(ip, _)| ip.to_string())
}

/// The servers' agreed leader (index into `servers`), if all of `among` name the same one.
fn agreed_leader(servers: &[(String, String)], among: &[usize]) -> Option<usize> {
    let ips: Vec<Option<String>> = among.iter().map(|&i| leader_ip(&servers[i].0)).collect();
    let first = ips[0].clone()?;
    if ips.iter().any(|ip| ip.as_deref() != Some(first.as_str())) {
        return None;
    }
    servers.iter().position(|(_, ip)| *ip == first)
}

/// The decoded value of a KV read inside a container, if it answered 200.
fn kv_value(name: &str, key_and_query: &str) -> Option<String> {
    use base64::Engine;
    let (status, body) = http_in(name, "GET", &format!("/v1/kv/{key_and_query}"), None, 5);
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v[0]["Value"].as_str()?)
        .ok()?;
    String::from_utf8(raw).ok()
}

/// Cuts one server (the leader, or a follower) off the network: the other two keep a leader
/// and take writes, the cut-off one answers consistent reads and writes with 500 and stale
/// reads from its copy, and after `docker network connect` it catches up.
fn partition_round(lab: &Lab, servers: &[(String, String)], cut_leader: bool, round: usize) {
    let all = [0, 1, 2];
    let mut leader = None;
    assert!(
        wait(Duration::from_secs(60), || {
            for (name, _) in servers {
                let state = must(&["inspect", "-f", "{{.State.Running}}", name]);
                assert_eq!(state, "true", "round {round}: {name} is not running");
            }
            leader = agreed_leader(servers, &all);
            leader.is_some()
        }),
        "round {round}: no agreed leader; leaders seen: {:?}",
        all.map(|i| leader_ip(&servers[i].0))
    );
    let leader = leader.unwrap();
    let victim = if cut_leader { leader } else { (leader + 1) % 3 };
    let majority: Vec<usize> = all.into_iter().filter(|&i| i != victim).collect();
    let (vname, vip) = (&servers[victim].0, &servers[victim].1);
    let key = |k: &str| format!("p/r{round}/{k}");
    assert_eq!(
        http_in(
            &servers[majority[0]].0,
            "PUT",
            &format!("/v1/kv/{}", key("before")),
            Some("b"),
            10
        ),
        (200, "true".to_string())
    );
    // The victim has the key before it is cut off.
    assert!(wait(Duration::from_secs(10), || kv_value(
        vname,
        &format!("{}?stale", key("before"))
    )
    .is_some()));

    must(&["network", "disconnect", &lab.net, vname]);
    let cut = Instant::now();
    // The majority has (or elects) a leader among itself and takes writes.
    let mut maj_leader = None;
    assert!(
        wait(Duration::from_secs(20), || {
            maj_leader = agreed_leader(servers, &majority).filter(|l| *l != victim);
            maj_leader.is_some()
        }),
        "round {round}: the majority has no leader after cutting {vname}; leaders seen: {:?}\n{}",
        majority
            .iter()
            .map(|&i| leader_ip(&servers[i].0))
            .collect::<Vec<_>>(),
        servers
            .iter()
            .map(|(n, _)| format!("--- {n}\n{}", must(&["logs", "--tail", "25", n])))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "round {round}: cut {} {vname}; majority leader after {:?}",
        if cut_leader { "leader" } else { "follower" },
        cut.elapsed()
    );
    for n in 0..4 {
        let via = &servers[majority[n % 2]].0;
        let path = format!("/v1/kv/{}", key(&format!("maj{n}")));
        let value = format!("m{n}");
        let mut last = (0, String::new());
        let ok = wait(Duration::from_secs(15), || {
            last = http_in(via, "PUT", &path, Some(&value), 10);
            last == (200, "true".to_string())
        });
        assert!(
            ok,
            "round {round}: write {n} through {via} during the partition: {last:?}"
        );
    }
    // The cut-off server refuses consistent reads and writes, with 500, within seconds.
    let mut last = (0, String::new());
    let refused = wait(Duration::from_secs(30), || {
        last = http_in(
            vname,
            "GET",
            &format!("/v1/kv/{}?consistent", key("before")),
            None,
            15,
        );
        last.0 == 500
    });
    assert!(
        refused,
        "round {round}: consistent read on cut-off {vname}: {last:?}"
    );
    let t = Instant::now();
    let write = http_in(
        vname,
        "PUT",
        &format!("/v1/kv/{}", key("iso")),
        Some("i"),
        20,
    );
    assert_eq!(
        write.0, 500,
        "round {round}: write on cut-off {vname}: {write:?}"
    );
    eprintln!(
        "round {round}: cut-off server refuses consistent reads {:?} after the cut; its write failed in {:?}: {}",
        cut.elapsed(),
        t.elapsed(),
        write.1.trim()
    );
    // Stale reads still come from its own copy.
    assert_eq!(
        kv_value(vname, &format!("{}?stale", key("before"))).as_deref(),
        Some("b")
    );

    must(&["network", "connect", "--ip", vip, &lab.net, vname]);
    let healed = Instant::now();
    let caught_up = wait(Duration::from_secs(30), || {
        kv_value(vname, &format!("{}?stale", key("maj3"))).as_deref() == Some("m3")
            && agreed_leader(servers, &all).is_some()
    });
    assert!(
        caught_up,
        "round {round}: {vname} after reconnect: maj3 = {:?}, leaders {:?}",
        kv_value(vname, &format!("{}?stale", key("maj3"))),
        all.map(|i| leader_ip(&servers[i].0))
    );
    eprintln!(
        "round {round}: {vname} caught up {:?} after reconnecting",
        healed.elapsed()
    );
    // And it takes writes again (forwarded to the leader).
    let mut last = (0, String::new());
    assert!(
        wait(Duration::from_secs(15), || {
            last = http_in(
                vname,
                "PUT",
                &format!("/v1/kv/{}", key("after")),
                Some("a"),
                10,
            );
            last == (200, "true".to_string())
        }),
        "round {round}: write through {vname} after the heal: {last:?}"
    );
}

/// Three servers in containers (`-server -bootstrap-expect=3 -retry-join=<the others>`) on an
/// `--internal` network: a partitioned leader, then a partitioned follower (see
/// `partition_round`).
#[test]
fn partitioned_server_loses_quorum_and_catches_up() {
    let id = std::process::id();
    let mut lab = Lab {
        tag: format!("berth-test:{id}-raft"),
        net: format!("berth-raft-{id}"),
        containers: Vec::new(),
    };
    build_image(
        &lab.tag,
        &["/usr/bin/curl"],
        &[(
            "consul/config/raft.json",
            r#"{"performance":{"raft_multiplier":1}}"#,
        )],
    );
    // A subnet of our own, so a server reconnects with the address Raft knows it by.
    let mut prefix = None;
    for k in 0..20 {
        let p = format!("10.213.{}", (id as usize + k * 37) % 250 + 2);
        let (ok, _) = docker(&[
            "network",
            "create",
            "--internal",
            "--subnet",
            &format!("{p}.0/24"),
            &lab.net,
        ]);
        if ok {
            prefix = Some(p);
            break;
        }
    }
    let prefix = prefix.expect("no free subnet for the test network");
    let servers: Vec<(String, String)> = (1..=3)
        .map(|i| {
            (
                format!("berth-raft-s{i}-{id}"),
                format!("{prefix}.{}", 10 + i),
            )
        })
        .collect();
    for (i, (name, ip)) in servers.iter().enumerate() {
        let node = format!("-node=s{}", i + 1);
        let mut args = vec![
            "-server",
            "-bootstrap-expect=3",
            &node,
            "-bind=0.0.0.0",
            "-client=127.0.0.1",
            "-data-dir=/consul/data",
            "-config-file=/consul/config/raft.json",
            "-retry-interval=1s",
        ];
        let joins: Vec<String> = servers
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, ip)| format!("-retry-join={ip}"))
            .collect();
        args.extend(joins.iter().map(String::as_str));
        lab.run_with(name, &["--ip", ip], &args);
    }
    let dump = |lab: &Lab| {
        for c in &lab.containers {
            eprintln!(
                "----- {c} -----\n{}",
                docker(&["logs", "--tail", "30", c]).1
            );
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        partition_round(&lab, &servers, true, 1);
        partition_round(&lab, &servers, false, 2);
    }));
    if let Err(e) = result {
        dump(&lab);
        std::panic::resume_unwind(e);
    }
}

/// A docker check runs its command inside a real container through the engine's API: exit
/// 0 passing, 1 warning, 2 critical, with the command's output.
#[test]
fn docker_check_runs_inside_the_container() {
    let id = std::process::id();
    let lab = Lab {
        tag: format!("berth-check:{id}"),
        net: format!("berth-check-{id}"),
        containers: vec![format!("berth-check-{id}")],
    };
    build_image(&lab.tag, &["/bin/sh"], &[("/tmp/code", "0\n")]);
    let name = &lab.containers[0];
    // `read` on an open, silent stdin keeps the container up with nothing but a shell.
    must(&[
        "run",
        "-d",
        "-i",
        "--network",
        "none",
        "--name",
        name,
        &lab.tag,
        "/usr/local/bin/sh",
        "-c",
        "read forever",
    ]);
    let a = crate::harness::Agent::start(&["-dev", "-enable-script-checks"]);
    let script = "read c < /tmp/code; echo code=$c; exit $c";
    let body = serde_json::json!({"Name": "boxed", "Check": {"DockerContainerID": name,
        "Args": ["/usr/local/bin/sh", "-c", script], "Interval": "1s"}});
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = crate::Client::new();
    rt.block_on(async {
        let r = c.put_json(&a.url("/v1/agent/service/register"), body).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    });
    let status_of = || {
        rt.block_on(async {
            let checks = c.get_json(&a.url("/v1/health/checks/boxed")).await;
            let ch = &checks[0];
            (
                ch["Status"].as_str().unwrap_or("").to_string(),
                ch["Output"].as_str().unwrap_or("").to_string(),
            )
        })
    };
    for (code, want) in [("0", "passing"), ("1", "warning"), ("2", "critical")] {
        let write = format!("echo {code} > /tmp/code");
        must(&["exec", name, "/usr/local/bin/sh", "-c", &write]);
        let mut last = (String::new(), String::new());
        let ok = wait(Duration::from_secs(10), || {
            last = status_of();
            last.0 == want
        });
        assert!(
            ok,
            "exit {code}: wanted {want}, got {last:?}; log:\n{}",
            a.log()
        );
        assert_eq!(last.1, format!("code={code}\n"));
    }
}
