//! Every page opens and shows the agent's data; a service registered through the API appears
//! and a TTL check that flips changes colour, both without a reload; the layout holds at phone
//! width and every control has an accessible name.

use serde_json::json;

use super::{Browser, Kind, GREEN, RED};
use crate::harness::Agent;
use crate::Client;

/// The status and computed colour of check `id`'s status word on the page, if shown.
fn check_state(id: &str) -> String {
    format!(
        r##"const c = document.querySelector('[data-check="{id}"]');
        if (!c) return null;
        const word = c.querySelector("span." + c.dataset.status);
        return [c.dataset.status, getComputedStyle(word).color, c.innerText];"##
    )
}

/// TCP connections established to `port` on this host (the agent's side, from /proc).
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 01 is ESTABLISHED.
            f.len() > 3 && f[1].ends_with(&format!(":{port:04X}")) && f[3] == "01"
        })
        .count()
}

#[tokio::test]
async fn ui_pages_open_and_follow_changes_without_a_reload_in_chromium() {
    pages(Kind::Chromium).await;
}

#[tokio::test]
async fn ui_pages_open_and_follow_changes_without_a_reload_in_firefox() {
    pages(Kind::Firefox).await;
}

async fn pages(kind: Kind) {
    let Some(b) = Browser::start(kind).await else {
        return;
    };
    let a = Agent::dev();
    let api = Client::new();

    // `/` redirects to the content path; the services page is the default.
    b.client.goto(&a.url("/")).await.unwrap();
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/ui/", "{url}");
    b.until(
        "the consul service",
        r##"return document.querySelector('a[href="#/services/consul"]')"##,
    )
    .await;
    let header = b
        .until(
            "the header's facts",
            r##"const t = (id) => document.getElementById(id).textContent;
            return t("leader").includes(":") && [t("dc"), t("leader"), t("version")];"##,
        )
        .await;
    assert_eq!(header[0], "dc1", "{header}");
    assert!(
        header[2]
            .as_str()
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION")),
        "{header}"
    );
    b.shot("services").await;
    assert_eq!(b.unlabelled().await, json!([]), "services page");

    // A service registered through the API shows up on the open page: no reload (the marker
    // set on `window` survives) and no navigation.
    b.js("window.berthMarker = 42; return true").await;
    let r = api
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "web", "ID": "web-1", "Address": "127.0.0.2", "Port": 8080,
                   "Tags": ["v1"], "Meta": {"version": "1.2"}, "Check": {"TTL": "30s"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let row = b
        .until(
            "web in the services list",
            r##"const l = document.querySelector('a[href="#/services/web"]');
            return l && l.closest("tr").innerText;"##,
        )
        .await;
    assert!(row.as_str().unwrap().contains("v1"), "{row}");
    // Its counts: serfHealth passing, the new TTL check critical.
    let counts = b
        .until(
            "web's check counts",
            r##"const r = document.querySelector('a[href="#/services/web"]').closest("tr");
            return [...r.querySelectorAll(".badge")].map((e) => e.getAttribute("aria-label"));"##,
        )
        .await;
    assert_eq!(counts, json!(["1 passing", "0 warning", "1 critical"]));
    assert_eq!(
        b.js("return window.berthMarker").await,
        42,
        "the page reloaded"
    );

    // The service's instances: node, address:port, tags, meta and the check, critical (red).
    b.click(r##"a[href="#/services/web"]"##).await;
    let state = b
        .until("web-1's check", &check_state("service:web-1"))
        .await;
    assert_eq!(
        (state[0].as_str(), state[1].as_str()),
        (Some("critical"), Some(RED)),
        "{state}"
    );
    let instance = b
        .until(
            "web-1's instance",
            r##"return document.querySelector('[data-instance="web-1"]')?.innerText"##,
        )
        .await;
    for want in ["test-node", "127.0.0.2:8080", "v1", "version=1.2"] {
        assert!(
            instance.as_str().unwrap().contains(want),
            "{want} in {instance}"
        );
    }
    b.shot("service").await;

    // Flip the TTL check: passing turns it green with its note, failing red again.
    b.js("window.berthMarker = 43; return true").await;
    api.put(
        &a.url("/v1/agent/check/pass/service:web-1?note=all%20good"),
        "",
    )
    .await;
    let script = check_state("service:web-1");
    let state = b
        .until(
            "web-1 passing",
            &format!("const s = (() => {{ {script} }})(); return s && s[0] === 'passing' && s;"),
        )
        .await;
    assert_eq!(state[1], GREEN, "{state}");
    assert!(state[2].as_str().unwrap().contains("all good"), "{state}");
    assert_eq!(
        b.js(r##"return document.querySelector('[data-instance="web-1"]').dataset.status"##)
            .await,
        "passing"
    );
    b.shot("service-passing").await;
    api.put(&a.url("/v1/agent/check/fail/service:web-1?note=down"), "")
        .await;
    let state = b
        .until(
            "web-1 critical",
            &format!("const s = (() => {{ {script} }})(); return s && s[0] === 'critical' && s;"),
        )
        .await;
    assert_eq!(state[1], RED, "{state}");
    assert_eq!(
        b.js("return window.berthMarker").await,
        43,
        "the page reloaded"
    );

    // Nodes: address, health and the services on each.
    b.click(r##"nav a[data-section="nodes"]"##).await;
    let row = b
        .until(
            "the node row",
            r##"const l = document.querySelector('a[href="#/nodes/test-node"]');
            return l && l.closest("tr").innerText.includes("web") && l.closest("tr").innerText;"##,
        )
        .await;
    assert!(row.as_str().unwrap().contains("127.0.0.1"), "{row}");
    // As in Consul's UI, a node's health counts its services' checks: web-1 is failing.
    assert!(row.as_str().unwrap().contains("critical"), "{row}");
    b.shot("nodes").await;
    assert_eq!(b.unlabelled().await, json!([]), "nodes page");

    // A node's detail: its services and its checks.
    b.click(r##"a[href="#/nodes/test-node"]"##).await;
    b.until("serfHealth on the node page", &check_state("serfHealth"))
        .await;
    let text = b
        .js("return document.getElementById('main').innerText")
        .await;
    assert!(text.as_str().unwrap().contains("web-1"), "{text}");
    assert!(text.as_str().unwrap().contains("127.0.0.2:8080"), "{text}");
    b.shot("node").await;

    // Members: name, status, role and build.
    b.click(r##"nav a[data-section="members"]"##).await;
    let row = b
        .until(
            "the member row",
            r##"const t = document.querySelector('table[aria-label="Members"]');
            return t && t.innerText;"##,
        )
        .await;
    for want in ["test-node", "alive", "server", env!("CARGO_PKG_VERSION")] {
        assert!(row.as_str().unwrap().contains(want), "{want} in {row}");
    }
    b.shot("members").await;

    // Browsing many live pages in a row leaves no blocking query behind (each would hold one
    // of the browser's six connections to the agent for minutes): after ten pages, a new
    // service still shows up on its own.
    let pages = [
        ("services", "Services"),
        ("nodes", "Nodes"),
        ("services/web", "web"),
        ("nodes/test-node", "test-node"),
        ("kv/", "Key/Value"),
    ];
    for (hash, title) in pages.iter().cycle().take(20) {
        // In-page navigation, as a click does (a WebDriver `goto` may load the page afresh).
        b.js(&format!("location.hash = '#/{hash}'; return true"))
            .await;
        let script = format!(
            "const m = document.getElementById('main');
            return m.querySelector('h1').textContent === '{title}' && !m.innerText.includes('Loading')"
        );
        b.until(hash, &script).await;
        // Long enough for the page's blocking query to be sent and held.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    // Each left page's query was cancelled: the browser holds the current page's, the
    // header's and perhaps one idle connection (without cancelling it holds its cap, six).
    let port: u16 = a.base.rsplit(':').next().unwrap().parse().unwrap();
    let held = established_to(port);
    assert!(held <= 4, "{held} connections to the agent after 20 pages");
    b.click(r##"nav a[data-section="services"]"##).await;
    b.until(
        "the services list",
        r##"return document.querySelector('a[href="#/services/web"]')"##,
    )
    .await;
    let r = api
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "late", "Port": 9}),
        )
        .await;
    assert_eq!(r.status(), 200);
    b.until(
        "the late service",
        r##"return document.querySelector('a[href="#/services/late"]')"##,
    )
    .await;

    // Phone width: nothing runs off the side, the tables stack, and the pages still work.
    b.client.set_window_size(390, 844).await.unwrap();
    for (hash, name) in [
        ("#/services", "services-phone"),
        ("#/services/web", "service-phone"),
    ] {
        b.client.goto(&a.url(&format!("/ui/{hash}"))).await.unwrap();
        b.until(
            "the page's content",
            "return document.querySelector('main table, main section')",
        )
        .await;
        let fits = b
            .js("return document.documentElement.scrollWidth <= window.innerWidth")
            .await;
        assert_eq!(fits, true, "{hash} is wider than the phone");
        if hash == "#/services" {
            // Tables stack into labelled rows: the header row is hidden.
            let head = b
                .js(r##"return getComputedStyle(document.querySelector("main thead")).display"##)
                .await;
            assert_eq!(head, "none", "tables do not stack at phone width");
        }
        b.shot(name).await;
    }
    b.close().await;
}
