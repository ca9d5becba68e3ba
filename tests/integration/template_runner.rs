//! The template runner end to end: a real agent renders a real nginx config, validates it with
//! `nginx -t`, reloads a real nginx, and nginx routes to exactly the registered backends.
//! Also: failing reload commands, live template edits, `berth template` against another
//! agent with `-once`, `-max-wait` and `-dry`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{config_file, have, run_cli, Agent};
use crate::Client;

/// Polls `f` every 50 ms until it returns Some, or panics after `limit` with `what`.
async fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops `p` with SIGTERM (never SIGKILL: Berth must stop its own children, or an orphan
/// holds the test's output pipe open) and returns its exit code.
async fn sigterm(mut p: std::process::Child) -> Option<i32> {
    Command::new("kill")
        .arg(p.id().to_string())
        .status()
        .unwrap();
    tokio::task::spawn_blocking(move || p.wait().unwrap().code())
        .await
        .unwrap()
}

/// A tiny HTTP backend answering its name.
async fn backend(name: &'static str) -> u16 {
    use warp::Filter;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let route = warp::any().map(move || name);
    tokio::spawn(warp::serve(route).incoming(listener).run());
    port
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

async fn register(c: &Client, agent: &Agent, id: &str, port: u16) {
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "web", "ID": id, "Address": "127.0.0.1", "Port": port}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// Which backends answer through nginx over `n` requests.
async fn answers(http: &reqwest::Client, port: u16, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/")).send().await {
            if r.status() == 200 {
                let body = r.text().await.unwrap();
                if !seen.contains(&body) {
                    seen.push(body);
                }
            }
        }
    }
    seen.sort();
    seen
}

const NGINX_TMPL: &str = r#"daemon on;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path @DIR@/tmp;
  proxy_temp_path @DIR@/tmp;
  fastcgi_temp_path @DIR@/tmp;
  uwsgi_temp_path @DIR@/tmp;
  scgi_temp_path @DIR@/tmp;
  upstream http_backend {
  {{- range service "web" }}
    server {{ .Address }}:{{ .Port }} max_fails=0;
  {{- else }}
    server 127.0.0.1:9;
  {{- end }}
  }
  server {
    listen 127.0.0.1:@PORT@;
    location / { proxy_pass http://http_backend; }
  }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_follows_the_catalog_validates_and_reloads_once_per_burst() {
    if !have("nginx") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    let ngx_port = crate::harness::free_port();
    let src = d.join("nginx.ctmpl");
    let tmpl = NGINX_TMPL
        .replace("@DIR@", &d.display().to_string())
        .replace("@PORT@", &ngx_port.to_string());
    std::fs::write(&src, &tmpl).unwrap();
    let conf = d.join("nginx.conf");
    let reloads = d.join("reloads");
    let cfg = json!({"template": {
        "source": src, "destination": conf, "wait": "300ms:2s",
        "validate": format!("nginx -t -q -p {} -c %s", d.display()),
        "command": format!("echo r >> {}; nginx -p {} -c {} -s reload", reloads.display(), d.display(), conf.display()),
    }});
    let (_cfg_dir, cfg_flag) = config_file(cfg.to_string());
    let agent = Agent::start(&["-dev", &cfg_flag]);
    let c = Client::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // First render: the fallback upstream. Start nginx on it.
    // Wait for the first render's command too (it runs after the file appears and fails:
    // nginx is not up yet), so it is not counted as a later burst's reload.
    eventually(
        Duration::from_secs(10),
        "first render and its command",
        || (conf.exists() && lines(&reloads) == 1).then_some(()),
    )
    .await;
    let started = Command::new("nginx")
        .args([
            "-p",
            &d.display().to_string(),
            "-c",
            &conf.display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(
        started.success(),
        "nginx did not start: {}",
        std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
    );
    let _stop = NginxGuard(d.to_path_buf(), conf.clone());
    let before = lines(&reloads);

    // One burst of three registrations: one render, one reload, round-robin over all three.
    let ports = [
        backend("b1").await,
        backend("b2").await,
        backend("b3").await,
    ];
    for (i, p) in ports.iter().enumerate() {
        register(&c, &agent, &format!("web-{}", i + 1), *p).await;
    }
    eventually(
        Duration::from_secs(10),
        "three servers in the upstream",
        || {
            let text = std::fs::read_to_string(&conf).ok()?;
            (text.matches("max_fails=0").count() == 3).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answers(&http, ngx_port, 12).await, ["b1", "b2", "b3"]);
    assert_eq!(lines(&reloads), before + 1, "one reload for the burst");

    // Deregister one: gone from the upstream within the wait, and nginx stops routing to it.
    let r = c
        .put(&agent.url("/v1/agent/service/deregister/web-2"), "")
        .await;
    assert_eq!(r.status(), 200);
    eventually(Duration::from_secs(5), "two servers", || {
        let text = std::fs::read_to_string(&conf).ok()?;
        (text.matches("max_fails=0").count() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answers(&http, ngx_port, 12).await, ["b1", "b3"]);
    assert_eq!(lines(&reloads), before + 2);

    // Back again: three.
    register(&c, &agent, "web-2", ports[1]).await;
    eventually(Duration::from_secs(5), "three servers again", || {
        let text = std::fs::read_to_string(&conf).ok()?;
        (text.matches("max_fails=0").count() == 3).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answers(&http, ngx_port, 12).await, ["b1", "b2", "b3"]);
    assert_eq!(lines(&reloads), before + 3);

    // An edit that renders an invalid nginx config: validate fails, the file stays, nginx
    // keeps serving, no reload, and status says why.
    let good = std::fs::read_to_string(&conf).unwrap();
    let broken = tmpl.replace(
        "access_log off;",
        "access_log off;\n  no_such_directive on;",
    );
    std::fs::write(&src, &broken).unwrap();
    let status = eventually(
        Duration::from_secs(10),
        "validate failure in status",
        || {
            let body = crate::harness::blocking_get(&agent.url("/v1/agent/templates")).ok()?;
            body.contains("validate failed").then_some(body)
        },
    )
    .await;
    assert!(status.contains("no_such_directive"), "{status}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), good);
    assert_eq!(answers(&http, ngx_port, 6).await, ["b1", "b2", "b3"]);
    assert_eq!(lines(&reloads), before + 3);
    let text = run_cli(&["template", "-status", "-consul-addr", &agent.base]).1;
    assert!(text.contains("last error:  validate failed"), "{text}");

    // Fixed again (a visible change): written, reloaded.
    std::fs::write(
        &src,
        tmpl.replace("access_log off;", "access_log off; # fixed"),
    )
    .unwrap();
    eventually(Duration::from_secs(10), "fixed config", || {
        let text = std::fs::read_to_string(&conf).ok()?;
        text.contains("# fixed").then_some(())
    })
    .await;
    eventually(Duration::from_secs(5), "reload after the fix", || {
        (lines(&reloads) == before + 4).then_some(())
    })
    .await;
}

struct NginxGuard(PathBuf, PathBuf);

impl Drop for NginxGuard {
    fn drop(&mut self) {
        let _ = Command::new("nginx")
            .args([
                "-p",
                &self.0.display().to_string(),
                "-c",
                &self.1.display().to_string(),
                "-s",
                "stop",
            ])
            .status();
    }
}

#[tokio::test]
async fn a_failing_reload_command_is_reported_and_the_next_change_runs_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let count = d.join("count");
    let out = d.join("out.txt");
    let tmpl = format!(
        "{}:{}:echo x >> {}; exit 1",
        d.join("in.ctmpl").display(),
        out.display(),
        count.display()
    );
    std::fs::write(
        d.join("in.ctmpl"),
        "{{ range service \"api\" }}{{ .Port }} {{ end }}",
    )
    .unwrap();
    let agent = Agent::start(&["-dev", "-template", &tmpl]);
    let c = Client::new();
    // The first render's command runs after the file appears: wait for it, or its line
    // would be counted as the next change's.
    eventually(
        Duration::from_secs(10),
        "first render and its command",
        || (out.exists() && lines(&count) == 1).then_some(()),
    )
    .await;
    let first = lines(&count);
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "api", "Port": 7001}),
        )
        .await;
    assert_eq!(r.status(), 200);
    eventually(Duration::from_secs(5), "second run", || {
        (lines(&count) == first + 1).then_some(())
    })
    .await;
    let status = c.get_json(&agent.url("/v1/agent/templates")).await;
    let cmd = &status[0]["LastCommand"];
    assert_eq!(cmd["Ok"], false, "{status}");
    assert!(
        cmd["Output"]
            .as_str()
            .unwrap()
            .contains("exited with status 1"),
        "{status}"
    );
    // Still serving, and the next change runs the command again.
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "api", "ID": "api2", "Port": 7002}),
        )
        .await;
    assert_eq!(r.status(), 200);
    eventually(Duration::from_secs(5), "third run", || {
        (lines(&count) == first + 2).then_some(())
    })
    .await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "7001 7002 ");
    assert!(agent.log().contains("exited with status 1"));
}

#[tokio::test]
async fn berth_template_against_another_agent_once_max_wait_and_dry() {
    let agent = Agent::dev();
    let c = Client::new();
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "db", "Port": 5432, "Address": "10.9.0.1"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    c.put(&agent.url("/v1/kv/app/greeting"), "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.ctmpl");
    let out = dir.path().join("sub/out.txt");
    std::fs::write(&src, "{{ key \"app/greeting\" }} {{ range service \"db\" }}{{ .Address }}:{{ .Port }}{{ end }}\n").unwrap();
    let flag = format!("{}:{}", src.display(), out.display());

    // -once with data: renders (creating the directory) and exits 0.
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-consul-addr",
        &agent.base,
        "-template",
        &flag,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "hello 10.9.0.1:5432\n"
    );

    // Unchanged data: nothing written (the file's mtime stays).
    let before = std::fs::metadata(&out).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let (code, _, _) = run_cli(&[
        "template",
        "-once",
        "-consul-addr",
        &agent.base,
        "-template",
        &flag,
    ]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::metadata(&out).unwrap().modified().unwrap(), before);

    // -once without data: after -max-wait, non-zero and names what is missing.
    let missing = dir.path().join("missing.ctmpl");
    std::fs::write(&missing, "{{ key \"no/such/key\" }}").unwrap();
    let flag2 = format!(
        "{}:{}",
        missing.display(),
        dir.path().join("m.txt").display()
    );
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-max-wait",
        "1s",
        "-consul-addr",
        &agent.base,
        "-template",
        &flag2,
    ]);
    assert_eq!(code, 14, "{err}");
    assert!(err.contains("no/such/key"), "{err}");
    assert!(!dir.path().join("m.txt").exists());

    // -dry: printed, not written.
    let dry_out = dir.path().join("dry.txt");
    let flag3 = format!("{}:{}", src.display(), dry_out.display());
    let (code, stdout, err) = run_cli(&[
        "template",
        "-once",
        "-dry",
        "-consul-addr",
        &agent.base,
        "-template",
        &flag3,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stdout,
        format!("> {}\nhello 10.9.0.1:5432\n\n", dry_out.display())
    );
    assert!(!dry_out.exists());

    // An agent that cannot be reached: -once gives up after -max-wait naming the error.
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-max-wait",
        "1s",
        "-consul-addr",
        "127.0.0.1:1",
        "-template",
        &flag,
    ]);
    assert_eq!(code, 14);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn bad_template_settings_are_refused_with_the_flag_or_key_named() {
    let (code, _, err) = run_cli(&["agent", "-dev", "-template", ":::"]);
    assert_eq!(code, 64);
    assert!(err.contains("-template"), "{err}");
    let (code, _, err) = run_cli(&["agent", "-dev", "-wait", "10s:1s"]);
    assert_eq!(code, 64);
    assert!(err.contains("wait"), "{err}");
    let (_d, flag) = config_file(r#"{"template": {"source": "x.ctmpl", "destinaton": "y"}}"#);
    let (code, _, err) = run_cli(&["agent", "-dev", &flag]);
    assert_eq!(code, 64);
    assert!(
        err.contains("template: unknown key \"destinaton\""),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ctmpl");
    std::fs::write(&bad, "line one\n{{ range }}").unwrap();
    let t = format!("{}:{}", bad.display(), dir.path().join("o").display());
    let (code, _, err) = run_cli(&["agent", "-dev", "-template", &t]);
    assert_eq!(code, 64);
    assert!(err.contains("bad.ctmpl:2"), "{err}");
    let (code, _, err) = run_cli(&["template", "-template", "/no/such.ctmpl:/tmp/x", "-once"]);
    assert_eq!(code, 64);
    assert!(err.contains("/no/such.ctmpl"), "{err}");
}

#[test]
fn berth_template_stops_on_sigterm() {
    let agent = Agent::dev();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.ctmpl");
    std::fs::write(&src, "{{ range services }}{{ .Name }} {{ end }}").unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(crate::harness::bin())
        .args([
            "template",
            "-consul-addr",
            &agent.base,
            "-template",
            &format!("{}:{}", src.display(), out.display()),
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !out.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "consul ");
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert_eq!(s.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "berth template ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `-exec`: the child starts after the first render, gets the reload signal on a change (or
/// is restarted without one), and Berth exits with its code.
#[tokio::test]
async fn exec_mode_supervises_a_child() {
    let agent = Agent::dev();
    let c = Client::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("in.ctmpl"),
        "{{ range service \"app\" }}{{ .Port }}{{ end }}",
    )
    .unwrap();
    let tmpl = format!(
        "{}:{}",
        d.join("in.ctmpl").display(),
        d.join("out").display()
    );
    let log = d.join("events");
    let child = format!(
        "echo start >> {0}; trap 'echo hup >> {0}' HUP; trap 'echo term >> {0}; exit 0' TERM; while true; do sleep 0.05; done",
        log.display()
    );
    let spawn = |extra: &[&str]| {
        let mut args = vec![
            "template",
            "-consul-addr",
            agent.base.as_str(),
            "-template",
            tmpl.as_str(),
            "-exec",
            child.as_str(),
        ];
        args.extend_from_slice(extra);
        Command::new(crate::harness::bin())
            .args(&args)
            .spawn()
            .unwrap()
    };
    let events = || std::fs::read_to_string(&log).unwrap_or_default();

    let p = spawn(&["-exec-reload-signal", "SIGHUP"]);
    eventually(Duration::from_secs(10), "child start", || {
        (events() == "start\n").then_some(())
    })
    .await;
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "app", "Port": 7100}),
        )
        .await;
    assert_eq!(r.status(), 200);
    eventually(Duration::from_secs(10), "reload signal", || {
        (events() == "start\nhup\n").then_some(())
    })
    .await;
    assert_eq!(sigterm(p).await, Some(0));
    assert_eq!(events(), "start\nhup\nterm\n");

    // Without a reload signal a change restarts the child.
    std::fs::remove_file(&log).unwrap();
    let p = spawn(&["-exec-kill-timeout", "5s"]);
    eventually(Duration::from_secs(10), "child start", || {
        (events() == "start\n").then_some(())
    })
    .await;
    let r = c
        .put_json(
            &agent.url("/v1/agent/service/register"),
            json!({"Name": "app", "ID": "app2", "Port": 7101}),
        )
        .await;
    assert_eq!(r.status(), 200);
    eventually(Duration::from_secs(10), "restart", || {
        (events() == "start\nterm\nstart\n").then_some(())
    })
    .await;
    assert_eq!(sigterm(p).await, Some(0));
    assert!(events().ends_with("start\nterm\n"), "{}", events());

    // The child's exit code becomes Berth's.
    let (code, _, err) = run_cli(&[
        "template",
        "-consul-addr",
        &agent.base,
        "-template",
        &tmpl,
        "-exec",
        "exit 3",
    ]);
    assert_eq!(code, 3, "{err}");
}

/// A client agent's runner reads through its servers (its own route table forwards), and
/// SIGHUP picks up a template added to the config directory.
#[tokio::test]
async fn client_agents_render_from_their_servers_and_sighup_adds_templates() {
    let serf = crate::harness::free_port();
    let server = Agent::start(&["-dev", "-node=s1", &format!("-serf-lan-port={serf}")]);
    let c = Client::new();
    let r = c
        .put_json(
            &server.url("/v1/catalog/register"),
            json!({"Node": "ext", "Address": "10.3.0.1", "Service": {"Service": "cache", "Port": 6379}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = d.join("conf.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("a.json"), "{}").unwrap();
    std::fs::write(
        d.join("in.ctmpl"),
        "{{ range service \"cache\" }}{{ .Address }}:{{ .Port }}{{ end }}",
    )
    .unwrap();
    let data = d.join("data");
    let client = Agent::start_client_in(
        d,
        &[
            "-node=c1",
            "-bind=127.0.0.1",
            &format!("-data-dir={}", data.display()),
            &format!("-serf-lan-port={}", crate::harness::free_port()),
            &format!("-join=127.0.0.1:{serf}"),
            &format!("-config-dir={}", conf.display()),
        ],
    );
    let out = d.join("out");
    let block = json!({"template": {"source": d.join("in.ctmpl"), "destination": out}});
    std::fs::write(conf.join("b.json"), block.to_string()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!out.exists());
    client.signal(1);
    let text = eventually(Duration::from_secs(15), "render after SIGHUP", || {
        std::fs::read_to_string(&out).ok().filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(text, "10.3.0.1:6379");
}

/// Rename cannot replace a single bind-mounted file (EBUSY): the runner writes in place and
/// says so.
#[test]
fn a_single_bind_mounted_file_is_written_in_place() {
    if !have("unshare") {
        return;
    }
    let agent = Agent::dev();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (real, dest, src) = (d.join("real.conf"), d.join("dest.conf"), d.join("in.ctmpl"));
    std::fs::write(&real, "old").unwrap();
    std::fs::write(&dest, "mount point").unwrap();
    std::fs::write(&src, "{{ range services }}{{ .Name }}{{ end }}").unwrap();
    let script = format!(
        "mount --bind {real} {dest} && exec {bin} template -once -consul-addr {base} -template {src}:{dest}",
        real = real.display(),
        dest = dest.display(),
        bin = crate::harness::bin(),
        base = agent.base,
        src = src.display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("wrote the file in place"), "{log}");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "consul");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "mount point");
}

/// A failed write is retried (backing off) without waiting for a data change, and `-once`
/// stops with an error when a template cannot render although all its data is there.
#[tokio::test]
async fn failed_writes_are_retried_and_once_stops_on_render_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out");
    let ok = d.join("ok");
    let cfg = json!({"template": {"contents": "{{ range services }}{{ .Name }}{{ end }}",
        "destination": out, "validate": format!("test -e {}", ok.display())}});
    let (_cfg_dir, flag) = config_file(cfg.to_string());
    let agent = Agent::start(&["-dev", &flag]);
    let c = Client::new();
    let status = eventually(Duration::from_secs(10), "validate failure", || {
        let body = crate::harness::blocking_get(&agent.url("/v1/agent/templates")).ok()?;
        body.contains("validate failed").then_some(body)
    })
    .await;
    assert!(!out.exists(), "{status}");
    std::fs::write(&ok, "").unwrap();
    eventually(Duration::from_secs(10), "retried write", || {
        out.exists().then_some(())
    })
    .await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "consul");
    let s = c.get_json(&agent.url("/v1/agent/templates")).await;
    assert_eq!(s[0]["LastError"], serde_json::Value::Null, "{s}");

    // -once with all data present but a failing render: exit 14, naming the error.
    let bad = d.join("bad.ctmpl");
    std::fs::write(&bad, "{{ index services 7 }}").unwrap();
    let t = format!("{}:{}", bad.display(), d.join("never").display());
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-consul-addr",
        &agent.base,
        "-template",
        &t,
    ]);
    assert_eq!(code, 14, "{err}");
    assert!(err.contains("index out of range: 7"), "{err}");
    assert!(!d.join("never").exists());
}

/// consul-template config files: `consul { address }`, the `wait` block, `template` blocks.
#[test]
fn berth_template_reads_consul_template_config_files() {
    let agent = Agent::dev();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("in.ctmpl"),
        "[[ range services ]][[ .Name ]][[ end ]]",
    )
    .unwrap();
    let hcl = format!(
        "consul {{\n  address = \"{}\"\n}}\nwait {{\n  min = \"1ms\"\n  max = \"2ms\"\n}}\ntemplate {{\n  source = \"{}\"\n  destination = \"{}\"\n  left_delimiter = \"[[\"\n  right_delimiter = \"]]\"\n  perms = \"0600\"\n}}\n",
        agent.base,
        d.join("in.ctmpl").display(),
        d.join("out").display()
    );
    std::fs::write(d.join("ct.hcl"), hcl).unwrap();
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-config",
        &d.join("ct.hcl").display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(d.join("out")).unwrap(), "consul");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("out"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::write(d.join("bad.hcl"), "consul { adress = \"x\" }").unwrap();
    let (code, _, err) = run_cli(&[
        "template",
        "-once",
        "-config",
        &d.join("bad.hcl").display().to_string(),
    ]);
    assert_eq!(code, 64);
    assert!(err.contains("consul.adress"), "{err}");
}
