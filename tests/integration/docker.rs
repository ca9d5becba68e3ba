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

fn docker(args: &[&str]) -> (bool, String) {
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

fn must(args: &[&str]) -> String {
    let (ok, text) = docker(args);
    assert!(ok, "docker {args:?} failed: {text}");
    text.trim().to_string()
}

/// Builds `berth-test:<pid>` from the binary under test and its shared libraries.
fn build_image(tag: &str) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["usr/local/bin", "tmp", "consul/data", "etc"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(bin(), r.join("usr/local/bin/berth")).unwrap();
    let ldd = Command::new("ldd").arg(bin()).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line.split_whitespace().find(|w| w.starts_with('/'));
        if let Some(p) = path {
            let dest = r.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(Path::new(p), &dest).unwrap();
        }
    }
    std::fs::write(r.join("etc/hostname"), "berth\n").unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(r)
        .arg("-cf")
        .arg(r.join("../rootfs.tar"))
        .arg(".")
        .status()
        .unwrap();
    assert!(tar.success());
    must(&["import", r.join("../rootfs.tar").to_str().unwrap(), tag]);
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
        let mut cmd = vec![
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            name,
            "--network",
            &self.net,
            &self.tag,
            "/usr/local/bin/berth",
            "agent",
        ];
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

fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
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
    build_image(&lab.tag);
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
