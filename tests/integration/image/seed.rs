//! compose/seed-compat.yml: the classic compose file written for the official Consul image
//! (three servers, `-retry-join=consul1`, a UI client on 8500) with only the image name
//! changed comes up as a cluster. The file names its containers and publishes 8500, as the
//! classic file does, so this is the one test that uses those.

use std::time::Duration;

use super::{eventually, get, get_json, images, leader, root, Project};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_compat_file_comes_up_with_three_servers_a_leader_and_the_ui() {
    let img = images();
    let text = std::fs::read_to_string(root().join("compose/seed-compat.yml")).unwrap();
    assert_eq!(text.matches("image: berth:latest").count(), 4, "{text}");
    // The image under test instead of berth:latest: the file's one change, made again.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed-compat.yml");
    std::fs::write(
        &file,
        text.replace("image: berth:latest", &format!("image: {}", img.berth)),
    )
    .unwrap();
    let p = Project::new("berthseed", &file, &[]);
    p.compose(&["up", "-d"]);

    let api = "http://127.0.0.1:8500";
    eventually(Duration::from_secs(60), "a leader", async || {
        leader(api).await
    })
    .await;
    let members = eventually(
        Duration::from_secs(30),
        "4 members, 3 of them servers",
        async || {
            let m = get_json(&format!("{api}/v1/agent/members")).await?;
            let list = m.as_array()?.clone();
            let servers = list
                .iter()
                .filter(|m| m["Tags"]["role"] == "consul")
                .count();
            let alive = list.iter().all(|m| m["Status"] == 1);
            (list.len() == 4 && servers == 3 && alive).then_some(list)
        },
    )
    .await;
    let mut names: Vec<&str> = members.iter().filter_map(|m| m["Name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["consul1", "consul2", "consul3", "ui"]);
    let peers = get_json(&format!("{api}/v1/status/peers")).await.unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 3, "{peers}");

    // -ui is on: / redirects to /ui/, which serves the web UI's page.
    let (status, body) = get(&format!("{api}/")).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("<main id=\"main\""), "{body}");
    // The servers register `consul` once the leader's reconcile has run: soon after election.
    eventually(
        Duration::from_secs(30),
        "consul in /v1/catalog/services",
        async || {
            let services = get_json(&format!("{api}/v1/catalog/services")).await?;
            services.get("consul").is_some().then_some(())
        },
    )
    .await;
}
