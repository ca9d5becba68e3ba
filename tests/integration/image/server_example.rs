//! examples/server/config.json, the classic production server config, run the way
//! examples/server/berth.service runs it (its ExecStart), on three servers with the
//! example's addresses moved into a network the test makes. Every key is accepted, and each
//! one's effect is checked: addresses, ports 53 and 80, domain, datacenter, data_dir, the
//! gossip key, retry_join forming the cluster, the recursor, syslog, what SIGINT and SIGTERM
//! do, and the rejoin after a leave.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use super::{eventually, get_json, images, leader, root};
use crate::docker::{docker, must};

/// Containers and the network, removed on drop.
struct Net {
    name: String,
    containers: Vec<String>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// The unit's command line without the optional `$BERTH_FLAGS`, after checking the unit has
/// the lines the issue names.
fn unit_command() -> Vec<String> {
    let unit = std::fs::read_to_string(root().join("examples/server/berth.service")).unwrap();
    for line in [
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "EnvironmentFile=-/etc/sysconfig/berth",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "berth.service lacks {line}"
        );
    }
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart=");
    let mut words: Vec<String> = exec
        .split_whitespace()
        .filter(|w| *w != "$BERTH_FLAGS")
        .map(String::from)
        .collect();
    assert_eq!(words.remove(0), "/usr/local/bin/berth");
    words
}

fn member_status(api_json: &serde_json::Value, ip: &str) -> Option<i64> {
    api_json
        .as_array()?
        .iter()
        .find(|m| m["Addr"] == ip)
        .and_then(|m| m["Status"].as_i64())
}

fn dig(server: &str, name: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            &format!("@{server}"),
            "-p",
            "53",
            "+short",
            "+time=2",
            "+tries=2",
            name,
        ])
        .output()
        .expect("dig (dnsutils) must be installed");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_server_config_runs_a_cluster_with_every_key_honoured() {
    if !crate::harness::have("dig") {
        return;
    }
    let img = images();
    let pid = std::process::id();
    let mut net = Net {
        name: format!("berth-example-{pid}"),
        containers: vec![],
    };
    // A private /24 of our own for the example's 10.0.0.0/24, outside the pools Docker hands
    // to networks created without a subnet (172.17-31.0.0/16, 192.168.0.0/16), which other
    // tests running now may hold.
    let mut last_error = String::new();
    let prefix = (0..40)
        .map(|n| format!("10.213.{n}."))
        .find(|p| {
            let (ok, out) = docker(&[
                "network",
                "create",
                "--subnet",
                &format!("{p}0/24"),
                &net.name,
            ]);
            last_error = out;
            ok
        })
        .unwrap_or_else(|| {
            panic!("no free 10.213.x.0/24 subnet for the test network: {last_error}")
        });
    let example = std::fs::read_to_string(root().join("examples/server/config.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The recursor at .2: a dev agent serving the `example.` domain on :53, so a name the
    // servers do not own (consul.service.example) has one known answer (its 127.0.0.1).
    let dns = format!("{}-dns", net.name);
    net.containers.push(dns.clone());
    must(&[
        "run",
        "-d",
        "--name",
        &dns,
        "--network",
        &net.name,
        "--ip",
        &format!("{prefix}2"),
        "--entrypoint",
        "/usr/local/bin/berth",
        &img.berth,
        "agent",
        "-dev",
        "-node=recursor",
        "-domain=example",
        "-dns-port=53",
        "-client=0.0.0.0",
    ]);

    // Syslog for the second server: a datagram socket mounted as its /dev/log.
    let log_path = dir.path().join("log.sock");
    let syslog = UnixDatagram::bind(&log_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    let args = unit_command();
    let ips: Vec<String> = (10..=12).map(|i| format!("{prefix}{i}")).collect();
    let mut servers = vec![];
    for (i, ip) in ips.iter().enumerate() {
        let conf = example
            .replace("\"10.0.0.11\"", &format!("\"{ip}\""))
            .replace("10.0.0.", &prefix);
        let cdir = dir.path().join(format!("s{i}"));
        std::fs::create_dir_all(&cdir).unwrap();
        std::fs::write(cdir.join("config.json"), conf).unwrap();
        let name = format!("{}-s{i}", net.name);
        net.containers.push(name.clone());
        let mount = format!("{}:/etc/berth.d:ro", cdir.display());
        let mut run: Vec<String> = [
            "run",
            "-d",
            "--name",
            &name,
            "--hostname",
            &format!("server{i}"),
            "--network",
            &net.name,
            "--ip",
            ip,
            "-v",
            &mount,
            "--entrypoint",
            "/usr/local/bin/berth",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if i == 1 {
            run.extend(["-v".into(), format!("{}:/dev/log", log_path.display())]);
        }
        run.push(img.berth.clone());
        run.extend(args.iter().cloned());
        let run: Vec<&str> = run.iter().map(String::as_str).collect();
        must(&run);
        servers.push(name);
    }

    // retry_join + bootstrap_expect: a cluster of three with a leader, HTTP on :80.
    let api = format!("http://{}:80", ips[0]);
    eventually(Duration::from_secs(60), "a leader", async || {
        leader(&api).await
    })
    .await;
    let peers = get_json(&format!("{api}/v1/status/peers")).await.unwrap();
    let mut peers: Vec<String> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    peers.sort();
    assert_eq!(
        peers,
        ips.iter()
            .map(|ip| format!("{ip}:8300"))
            .collect::<Vec<_>>()
    );
    let me = get_json(&format!("{api}/v1/agent/self")).await.unwrap();
    assert_eq!(me["Config"]["Datacenter"], "us-east-1", "{me}");
    assert_eq!(me["Config"]["Server"], true, "{me}");
    assert_eq!(
        me["Member"]["Addr"],
        ips[0].as_str(),
        "advertise_addr: {me}"
    );
    assert_eq!(
        me["Stats"]["serf_lan"]["encrypted"], "true",
        "encrypt: {me}"
    );
    let raft = must(&["exec", &servers[0], "ls", "/var/lib/berth"]);
    assert!(
        raft.contains("raft"),
        "data_dir /var/lib/berth holds: {raft}"
    );

    // DNS on :53 under the `consul` domain, and other names through the recursor.
    let want: Vec<String> = ips.clone();
    eventually(
        Duration::from_secs(20),
        "consul.service.consul lists the 3 servers",
        async || (dig(&ips[1], "consul.service.consul") == want).then_some(()),
    )
    .await;
    assert_eq!(
        dig(&ips[2], "consul.service.example"),
        ["127.0.0.1"],
        "recursors"
    );

    // enable_syslog: the lines reach the socket.
    let mut buf = [0u8; 4096];
    let mut got = String::new();
    while !got.contains("berth[") {
        let n = syslog
            .recv(&mut buf)
            .expect("a syslog datagram from the server with /dev/log");
        got = String::from_utf8_lossy(&buf[..n]).into_owned();
    }
    assert!(got.starts_with('<'), "{got}");

    // SIGINT (the unit's KillSignal) with skip_leave_on_interrupt, and SIGTERM with
    // leave_on_terminate=false: the server does not leave; it is marked failed.
    for signal in ["INT", "TERM"] {
        must(&["kill", "-s", signal, &servers[2]]);
        eventually(
            Duration::from_secs(30),
            &format!("SIG{signal}: server 2 failed, not left"),
            async || {
                let m = get_json(&format!("{api}/v1/agent/members")).await?;
                (member_status(&m, &ips[2])? == 4).then_some(())
            },
        )
        .await;
        must(&["start", &servers[2]]);
        eventually(
            Duration::from_secs(30),
            "server 2 alive again",
            async || {
                let m = get_json(&format!("{api}/v1/agent/members")).await?;
                (member_status(&m, &ips[2])? == 1).then_some(())
            },
        )
        .await;
    }

    // rejoin_after_leave: after `berth leave` a restarted server rejoins from its snapshot.
    must(&[
        "exec",
        &servers[1],
        "berth",
        "leave",
        "-http-addr",
        "127.0.0.1:80",
    ]);
    eventually(Duration::from_secs(30), "server 1 left", async || {
        let m = get_json(&format!("{api}/v1/agent/members")).await?;
        (member_status(&m, &ips[1])? == 3).then_some(())
    })
    .await;
    let _ = docker(&["wait", &servers[1]]);
    must(&["start", &servers[1]]);
    eventually(
        Duration::from_secs(30),
        "server 1 rejoined from the snapshot",
        async || {
            let logs = docker(&["logs", &servers[1]]).1;
            logs.contains("rejoined the pool from the snapshot")
                .then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "server 1 alive again",
        async || {
            let m = get_json(&format!("{api}/v1/agent/members")).await?;
            (member_status(&m, &ips[1])? == 1).then_some(())
        },
    )
    .await;
}
