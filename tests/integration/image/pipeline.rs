//! compose/docker-compose.yml end to end, on the image scripts/build-image makes: three
//! servers, the UI client, the edge (registrator + template + nginx) and `web`, scaled up
//! and down while nginx follows; a server killed and restarted; the edge restarted.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{eventually, get, get_json, hostnames, images, ip_of, leader, logs, root, Project};
use crate::docker::must;
use crate::harness::free_port;

/// What `n` requests to the edge got: the distinct bodies, or None if one failed.
async fn answers(edge: &str, n: usize) -> Option<BTreeSet<String>> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        match get(edge).await {
            Some((200, body)) => {
                seen.insert(body.trim().to_string());
            }
            _ => return None,
        }
    }
    Some(seen)
}

/// Scales `web` to `n` and waits until the edge answers from exactly its containers.
async fn scale_and_follow(p: &Project, edge: &str, n: usize) -> Vec<String> {
    let scale = format!("web={n}");
    // Only `web`: a server the test stopped must stay stopped.
    p.compose(&[
        "up",
        "-d",
        "--no-recreate",
        "--no-deps",
        "--scale",
        &scale,
        "web",
    ]);
    let want: BTreeSet<String> = hostnames(&p.containers("web")).into_iter().collect();
    assert_eq!(want.len(), n);
    eventually(
        Duration::from_secs(30),
        &format!("edge answers from {n} web containers"),
        async || answers(edge, 4 * n + 4).await.filter(|seen| *seen == want),
    )
    .await;
    want.into_iter().collect()
}

/// nginx's reload count so far: each `nginx -s reload` logs one SIGHUP line.
fn reloads(edge: &str) -> usize {
    logs(edge).matches("signal 1 (SIGHUP) received").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_pipeline_follows_scaling_server_loss_and_edge_restart() {
    let img = images();
    let (ui_port, edge_port) = (free_port(), free_port());
    let p = Project::new(
        "berthe2e",
        &root().join("compose/docker-compose.yml"),
        &[
            ("BERTH_IMAGE", img.berth.clone()),
            ("BERTH_WEB_IMAGE", img.web.clone()),
            ("BERTH_UI_PORT", ui_port.to_string()),
            ("BERTH_EDGE_PORT", edge_port.to_string()),
        ],
    );
    p.compose(&["up", "-d", "--scale", "web=1"]);
    let api = format!("http://127.0.0.1:{ui_port}");
    let edge = format!("http://127.0.0.1:{edge_port}/");
    eventually(Duration::from_secs(60), "a leader", async || {
        leader(&api).await
    })
    .await;

    scale_and_follow(&p, &edge, 1).await;
    scale_and_follow(&p, &edge, 4).await;

    // Scale down under load: nginx retries a refused connection on the next server, so no
    // request should fail beyond the ones in flight to a stopping container.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, sent, failed, edge) = (stop.clone(), sent.clone(), failed.clone(), edge.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                if !matches!(get(&edge).await, Some((200, _))) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    scale_and_follow(&p, &edge, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("scale-down 4 -> 2 under load: {failed} of {sent} requests failed");
    assert!(sent > 50, "the load sent only {sent} requests");
    assert!(
        failed <= 2,
        "{failed} of {sent} requests failed while scaling down"
    );

    // Kill the leader: a leader remains, and scaling still reaches nginx.
    let servers: Vec<String> = ["consul1", "consul2", "consul3"]
        .iter()
        .map(|s| p.container(s))
        .collect();
    let old = leader(&api).await.expect("a leader");
    let victim = servers
        .iter()
        .find(|c| old.starts_with(&format!("{}:", ip_of(c))))
        .unwrap_or_else(|| panic!("no server container has the leader's address {old}"))
        .clone();
    must(&["kill", &victim]);
    eventually(Duration::from_secs(30), "a new leader", async || {
        leader(&api).await.filter(|l| *l != old)
    })
    .await;
    scale_and_follow(&p, &edge, 3).await;

    // Restart it: it rejoins, and the cluster has three voters again.
    must(&["start", &victim]);
    let node = must(&["inspect", "-f", "{{.Config.Hostname}}", &victim]);
    eventually(
        Duration::from_secs(30),
        "the killed server rejoins",
        async || {
            let members = get_json(&format!("{api}/v1/agent/members")).await?;
            let alive = members
                .as_array()?
                .iter()
                .any(|m| m["Name"] == node.as_str() && m["Status"] == 1);
            let peers = get_json(&format!("{api}/v1/status/peers")).await?;
            (alive && peers.as_array()?.len() == 3).then_some(())
        },
    )
    .await;

    // Restart the edge: it renders the same file and nginx is not reloaded again.
    let edge_c = p.container("edge");
    let conf = "/etc/nginx/conf.d/berth-upstream.conf";
    let before = must(&["exec", &edge_c, "cat", conf]);
    let reloads_before = reloads(&edge_c);
    let hosts: BTreeSet<String> = hostnames(&p.containers("web")).into_iter().collect();
    must(&["restart", "-t", "5", &edge_c]);
    eventually(
        Duration::from_secs(30),
        "the restarted edge answers from all 3",
        async || answers(&edge, 16).await.filter(|seen| *seen == hosts),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "the restarted edge's agent registered the web containers",
        async || {
            let s = get_json(&format!("{api}/v1/health/service/web?passing")).await?;
            (s.as_array()?.len() == 3).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(must(&["exec", &edge_c, "cat", conf]), before);
    assert_eq!(
        reloads(&edge_c),
        reloads_before,
        "nginx was reloaded after the edge restart"
    );

    let services = get_json(&format!("{api}/v1/catalog/services"))
        .await
        .unwrap();
    assert!(services.get("web").is_some(), "{services}");
    assert!(services.get("consul").is_some(), "{services}");
}
