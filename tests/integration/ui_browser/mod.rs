//! The web UI in real browsers: Debian's headless Chromium (through chromedriver) and Firefox
//! ESR (through geckodriver), driven over WebDriver by fantoccini. Each test starts its own
//! WebDriver server on a free port and saves a screenshot of every page it visits under
//! `target/ui-screenshots/`.

mod kv;
mod pages;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::harness::{free_port, have};

/// Green and red as style.css defines them (--pass, --crit), as computed colours.
pub const GREEN: &str = "rgb(26, 127, 55)";
pub const RED: &str = "rgb(207, 34, 46)";

/// A headless browser session; its WebDriver server (and the browser under it) die with it.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    shots: PathBuf,
    /// Screenshots are named `<browser>-<page>.png`.
    prefix: String,
}

/// Which browser a test drives.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Debian's `chromium` through `chromedriver` (package chromium-driver).
    Chromium,
    /// Debian's `firefox-esr` through `geckodriver` (built from crates.io by scripts/test).
    Firefox,
}

impl Kind {
    /// The browser binary and its WebDriver server.
    fn tools(self) -> (&'static str, &'static str) {
        match self {
            Kind::Chromium => ("chromium", "chromedriver"),
            Kind::Firefox => ("firefox-esr", "geckodriver"),
        }
    }

    /// Headless, 1280×900, and (for Chromium as root in CI) no sandbox.
    fn capabilities(self, binary: &str) -> Value {
        match self {
            Kind::Chromium => json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": binary,
                    // Root in CI needs --no-sandbox; /dev/shm in containers is small.
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,900"],
                }
            }),
            Kind::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": binary,
                    "args": ["-headless", "--width=1280", "--height=900"],
                }
            }),
        }
    }
}

impl Browser {
    /// A browser, or None when it is missing outside CI (under CI, `have` fails the test).
    pub async fn start(kind: Kind) -> Option<Browser> {
        let (browser, webdriver) = kind.tools();
        if !have(browser) || !have(webdriver) {
            return None;
        }
        let port = free_port();
        let driver = Command::new(webdriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{webdriver} does not start: {e}"));
        let driver = Driver(driver);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        // Listening is enough: WebDriver's new-session call waits for the browser itself.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{webdriver} did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let binary = String::from_utf8(
            Command::new("sh")
                .args(["-c", &format!("command -v {browser}")])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let caps = kind.capabilities(binary.trim());
        // A browser starting on a loaded machine can miss its driver's deadline: try again
        // twice, saying why, before failing.
        let mut tries = 0;
        let client = loop {
            let session = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.as_object().unwrap().clone())
                .connect(&url)
                .await;
            match session {
                Ok(c) => break c,
                Err(e) if tries < 2 => eprintln!("no {kind:?} session yet ({e}); trying again"),
                Err(e) => panic!("no {kind:?} session: {e}"),
            }
            tries += 1;
        };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            _driver: driver,
            shots,
            prefix: format!("{kind:?}").to_lowercase(),
        })
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits up to 10 s for `script` to return something truthy, and returns it. On timeout it
    /// fails with the page's text, so the failure shows what the page did say.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A script error (an element not there yet) counts as not yet.
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                panic!(
                    "timed out waiting for {what}; the page says:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Saves a PNG of the viewport as `<browser>-<name>.png`, the test's artifact.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let file = format!("{}-{name}.png", self.prefix);
        std::fs::write(self.shots.join(file), png).unwrap();
    }

    /// Controls without an accessible name and tables without a label, on the current page.
    pub async fn unlabelled(&self) -> Value {
        self.js(
            r##"const bad = [];
            for (const e of document.querySelectorAll("input, textarea, select")) {
              if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label")) bad.push(e.outerHTML);
            }
            for (const e of document.querySelectorAll("button, a")) {
              if (!e.textContent.trim() && !e.getAttribute("aria-label")) bad.push(e.outerHTML);
            }
            for (const e of document.querySelectorAll("table, nav, form")) {
              if (!e.getAttribute("aria-label")) bad.push(e.outerHTML.slice(0, 80));
            }
            return bad;"##,
        )
        .await
    }

    /// Ends the session (the browser quits), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// chromedriver's process group, killed on drop (a failed start included), with any browser
/// it left behind.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}
