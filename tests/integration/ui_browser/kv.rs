//! Key/value through the UI: folders, create, edit with cas (a change made elsewhere is not
//! overwritten), delete behind a confirmation; every step checked through the HTTP API.

use fantoccini::Locator;
use serde_json::json;

use super::{Browser, Kind};
use crate::harness::Agent;
use crate::Client;

/// The raw value of `key` through the API, None when it does not exist.
async fn raw(api: &Client, a: &Agent, key: &str) -> Option<String> {
    let r = api.get(&a.url(&format!("/v1/kv/{key}?raw"))).await;
    match r.status().as_u16() {
        200 => Some(r.text().await.unwrap()),
        404 => None,
        s => panic!("GET {key}: {s}"),
    }
}

/// Waits until the API shows `want` for `key`.
async fn api_until(api: &Client, a: &Agent, key: &str, want: Option<&str>) {
    for _ in 0..200 {
        if raw(api, a, key).await.as_deref() == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{key} never became {want:?}: {:?}", raw(api, a, key).await);
}

/// Types `text` into the field `css`, replacing what was there.
async fn fill(b: &Browser, css: &str, text: &str) {
    let e = b.client.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Fills in the folder page's Create form and submits it.
async fn create(b: &Browser, key: &str, value: &str) {
    fill(b, "#new-key", key).await;
    fill(b, "#new-value", value).await;
    b.click(r##"form[aria-label="Create a key"] button[type="submit"]"##)
        .await;
}

#[tokio::test]
async fn ui_creates_edits_and_deletes_keys_in_chromium() {
    kv(Kind::Chromium).await;
}

#[tokio::test]
async fn ui_creates_edits_and_deletes_keys_in_firefox() {
    kv(Kind::Firefox).await;
}

async fn kv(kind: Kind) {
    let Some(b) = Browser::start(kind).await else {
        return;
    };
    let a = Agent::dev();
    let api = Client::new();
    assert_eq!(
        api.put(&a.url("/v1/kv/app/config/a"), "1").await.status(),
        200
    );

    // Folders: the root lists app/, app/ lists config/, config/ lists the key.
    b.client.goto(&a.url("/ui/#/kv/")).await.unwrap();
    b.until(
        "app/",
        r##"return document.querySelector('a[href="#/kv/app/"]')"##,
    )
    .await;
    b.click(r##"a[href="#/kv/app/"]"##).await;
    b.until(
        "config/",
        r##"return document.querySelector('a[href="#/kv/app/config/"]')"##,
    )
    .await;
    b.click(r##"a[href="#/kv/app/config/"]"##).await;
    b.until(
        "the key a",
        r##"return document.querySelector('a[href="#/kv/app/config/a"]')"##,
    )
    .await;
    b.shot("kv-folder").await;
    assert_eq!(b.unlabelled().await, json!([]), "key/value folder page");

    // Create: cas=0, so an existing name is refused and says so.
    create(&b, "a", "clobber").await;
    b.until(
        "the refusal",
        r##"return document.getElementById("status").textContent.includes("already exists")"##,
    )
    .await;
    assert_eq!(raw(&api, &a, "app/config/a").await.as_deref(), Some("1"));
    create(&b, "b", "hello").await;
    b.until(
        "the new key's page",
        r##"return document.getElementById("value")?.value === "hello""##,
    )
    .await;
    assert_eq!(
        raw(&api, &a, "app/config/b").await.as_deref(),
        Some("hello")
    );
    b.shot("kv-key").await;
    assert_eq!(b.unlabelled().await, json!([]), "key page");

    // Edit: Save writes with the loaded ModifyIndex as cas. The page then follows its own
    // write (new ModifyIndex, no changed-elsewhere notice), so a second Save works too.
    let index_shown = r##"return document.querySelector("main p.muted").textContent"##;
    for text in ["world", "world again"] {
        let before = b.js(index_shown).await;
        fill(&b, "#value", text).await;
        b.click(r##"form[aria-label="Edit key"] button[type="submit"]"##)
            .await;
        api_until(&api, &a, "app/config/b", Some(text)).await;
        let script =
            format!("const t = (() => {{ {index_shown} }})(); return t !== {before} && t;");
        b.until("the page following its own save", &script).await;
        let notice = b
            .js(r##"return document.getElementById("changed").textContent"##)
            .await;
        assert_eq!(notice, "", "{text}");
        assert_eq!(
            b.js(r##"return document.getElementById("status").textContent"##)
                .await,
            ""
        );
    }

    // A change made elsewhere while the user types: their text stays, a notice says so, and
    // Save is refused by cas, so the other writer's value is not lost.
    fill(&b, "#value", "mine").await;
    assert_eq!(
        api.put(&a.url("/v1/kv/app/config/b"), "theirs")
            .await
            .status(),
        200
    );
    b.until(
        "the changed-elsewhere notice",
        r##"return document.getElementById("changed").textContent"##,
    )
    .await;
    assert_eq!(
        b.js(r##"return document.getElementById("value").value"##)
            .await,
        "mine"
    );
    b.click(r##"form[aria-label="Edit key"] button[type="submit"]"##)
        .await;
    b.until(
        "the cas refusal",
        r##"return document.getElementById("status").textContent.includes("Not saved")"##,
    )
    .await;
    assert_eq!(
        raw(&api, &a, "app/config/b").await.as_deref(),
        Some("theirs")
    );

    // Delete asks first: dismissing keeps the key, accepting removes it and goes to the folder.
    b.client.refresh().await.unwrap();
    b.until(
        "the reloaded key",
        r##"return document.getElementById("value")?.value === "theirs""##,
    )
    .await;
    b.click("button.danger").await;
    assert_eq!(
        b.client.get_alert_text().await.unwrap(),
        "Delete app/config/b?"
    );
    b.client.dismiss_alert().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        raw(&api, &a, "app/config/b").await.as_deref(),
        Some("theirs")
    );
    b.click("button.danger").await;
    b.client.accept_alert().await.unwrap();
    b.until("back in the folder", r##"return location.hash === "#/kv/app/config/" && document.querySelector('a[href="#/kv/app/config/a"]')"##)
        .await;
    api_until(&api, &a, "app/config/b", None).await;
    assert_eq!(
        b.js(r##"return document.querySelector('a[href="#/kv/app/config/b"]')"##)
            .await,
        serde_json::Value::Null
    );

    // Keys that URLs and hashes would mangle ("%", space, "#", "?") and a value that is not
    // UTF-8 (shown as base64, read-only, so a save never corrupts it).
    let odd = "50% off #1?";
    let encoded = "50%25%20off%20%231%3F";
    let r = api
        .put(&a.url(&format!("/v1/kv/app/odd/{encoded}")), "x")
        .await;
    assert_eq!(r.status(), 200);
    let r = api
        .put(&a.url("/v1/kv/app/odd/bin"), vec![0xffu8, 0xfe, 0x00])
        .await;
    assert_eq!(r.status(), 200);
    b.client.goto(&a.url("/ui/#/kv/app/odd/")).await.unwrap();
    let find = format!(
        "[...document.querySelectorAll('main table a')].find((l) => l.textContent === {})",
        json!(odd)
    );
    b.until("the odd key's link", &format!("return {find}"))
        .await;
    b.js(&format!("{find}.click(); return true")).await;
    b.until(
        "the odd key's value",
        r##"return document.getElementById("value")?.value === "x""##,
    )
    .await;
    let title = b
        .js("return document.querySelector('main h1').textContent")
        .await;
    assert_eq!(title, format!("Key: app/odd/{odd}"));
    fill(&b, "#value", "y").await;
    b.click(r##"form[aria-label="Edit key"] button[type="submit"]"##)
        .await;
    api_until(&api, &a, &format!("app/odd/{encoded}"), Some("y")).await;
    b.client.goto(&a.url("/ui/#/kv/app/odd/bin")).await.unwrap();
    let text = b
        .until("the binary value", r##"return document.querySelector("pre.value") && document.getElementById("main").innerText"##)
        .await;
    let text = text.as_str().unwrap();
    assert!(text.contains("3 bytes") && text.contains("//4A"), "{text}");
    assert_eq!(
        b.js(r##"return document.getElementById("value")"##).await,
        serde_json::Value::Null
    );
    b.shot("kv-binary").await;

    // A key that does not exist says so (a 404 is not an error banner).
    b.client
        .goto(&a.url("/ui/#/kv/app/config/gone"))
        .await
        .unwrap();
    b.until(
        "no such key",
        r##"return document.getElementById("main").innerText.includes("No such key")"##,
    )
    .await;
    b.close().await;
}
