//! `berth template`: consul-template as a command. Renders `-template "src:dest[:cmd]"` (and
//! `template` blocks of `-config` files) from another agent's API (`-consul-addr`, else
//! `CONSUL_HTTP_ADDR`, else 127.0.0.1:8500: a Berth or a real Consul), with `-wait`, `-once`,
//! `-max-wait`, `-dry`. SIGHUP re-reads the config and the sources; SIGINT and SIGTERM stop.
//! `-status` prints what an agent's template runner is doing instead.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use super::flags::{self, Spec};
use super::EXIT_USAGE;
use crate::runner::{self, Control, Outcome, RunnerOpts};

/// consul-template's exit code for a runner error (missing data, failed command).
const EXIT_RUNNER: i32 = 14;

const SPEC: Spec = Spec {
    values: &[
        "template",
        "config",
        "consul-addr",
        "wait",
        "max-wait",
        "log-level",
        "exec",
        "exec-reload-signal",
        "exec-kill-signal",
        "exec-kill-timeout",
    ],
    bools: &["once", "dry", "status"],
};

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let parsed = match flags::parse(args, &SPEC) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    if let Some(extra) = parsed.args.first() {
        eprintln!("berth template: unexpected argument {extra:?}");
        return EXIT_USAGE;
    }
    let raw = parsed.value("log-level").unwrap_or("info");
    let Some(level) = crate::config::parse_log_level(raw) else {
        eprintln!("-log-level: unknown level {raw:?} (trace, debug, info, warn, err)");
        return EXIT_USAGE;
    };
    let _ = super::logging::init(level, false, None);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth template: cannot start the async runtime: {e}");
            return 1;
        }
    };
    if parsed.bool("status") {
        let (addr, token) = endpoint(&parsed, &ConsulSettings::default());
        return runtime.block_on(status(&addr, token));
    }
    let (mut opts, consul) = match options(&parsed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("berth template: {e}");
            return EXIT_USAGE;
        }
    };
    let exec = match exec_spec(&parsed) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("berth template: {e}");
            return EXIT_USAGE;
        }
    };
    let (addr, token) = endpoint(&parsed, &consul);
    let source = match runner::source::Http::new(&addr, token) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("berth template: {e}");
            return EXIT_USAGE;
        }
    };
    runtime.block_on(async move {
        // Empty: a `node` without a name learns the agent's name from /v1/agent/self when
        // its watch starts (the agent may not be up yet).
        let node: Arc<str> = Arc::from("");
        let stop = CancellationToken::new();
        let (ctl, ctl_rx) = tokio::sync::mpsc::channel(4);
        let board = runner::StatusBoard::default();
        let (fwd_tx, fwd_rx) = tokio::sync::mpsc::unbounded_channel();
        let child = exec.map(|spec| {
            let (ev_tx, ev_rx) = tokio::sync::mpsc::unbounded_channel();
            opts.events = Some(ev_tx);
            tokio::spawn(runner::exec::supervise(spec, ev_rx, fwd_rx, stop.clone()))
        });
        let has_child = child.is_some();
        let child = async move {
            match child {
                Some(c) => c.await.unwrap_or(1),
                None => std::future::pending().await,
            }
        };
        tokio::pin!(child);
        let task = tokio::spawn(runner::run(opts, source, node, board, ctl_rx, stop.clone()));
        tokio::pin!(task);
        let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1), Ok(mut usr2)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) else {
            eprintln!("berth template: cannot install signal handlers");
            return 1;
        };
        loop {
            tokio::select! {
                _ = term.recv() => stop.cancel(),
                _ = int.recv() => stop.cancel(),
                _ = usr1.recv() => { let _ = fwd_tx.send(rustix::process::Signal::USR1); }
                _ = usr2.recv() => { let _ = fwd_tx.send(rustix::process::Signal::USR2); }
                code = &mut child => {
                    // The child's exit ends Berth too, with its code (consul-template's rule).
                    stop.cancel();
                    let _ = (&mut task).await;
                    return code;
                }
                _ = hup.recv() => match options(&parsed) {
                    Ok((o, _)) => {
                        if ctl.try_send(Control::Reload(o.templates, o.wait)).is_err() {
                            tracing::warn!("template: busy; reload on the next SIGHUP");
                        }
                    }
                    Err(e) => tracing::error!("template: reload failed, keeping the running templates: {e}"),
                },
                done = &mut task => {
                    if has_child {
                        stop.cancel();
                        return (&mut child).await;
                    }
                    return match done {
                        Ok(o) => exit_code(o),
                        Err(e) => {
                            eprintln!("berth template: the runner failed: {e}");
                            1
                        }
                    };
                }
            }
        }
    })
}

/// Where to read from: the flag, else the config file's `consul { address }`, else
/// `CONSUL_HTTP_ADDR`, else 127.0.0.1:8500 (the token likewise, from `CONSUL_HTTP_TOKEN` or
/// `CONSUL_TOKEN`).
fn endpoint(p: &flags::Parsed, consul: &ConsulSettings) -> (String, Option<String>) {
    let addr = p
        .value("consul-addr")
        .or(p.value("http-addr"))
        .map(String::from)
        .or_else(|| consul.address.clone())
        .or_else(|| std::env::var("CONSUL_HTTP_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8500".into());
    let token = p
        .value("token")
        .map(String::from)
        .or_else(|| consul.token.clone())
        .or_else(|| std::env::var("CONSUL_HTTP_TOKEN").ok())
        .or_else(|| std::env::var("CONSUL_TOKEN").ok());
    (addr, token)
}

fn exit_code(o: Outcome) -> i32 {
    match o {
        Outcome::Stopped | Outcome::OnceDone => 0,
        Outcome::CommandFailed => {
            eprintln!("berth template: a command failed (see above)");
            EXIT_RUNNER
        }
        Outcome::Failed(errors) => {
            eprintln!("berth template: rendering failed:");
            for e in errors {
                eprintln!("  {e}");
            }
            EXIT_RUNNER
        }
        Outcome::OnceMissing(missing) => {
            eprintln!("berth template: -max-wait passed and data is still missing:");
            for m in missing {
                eprintln!("  {m}");
            }
            EXIT_RUNNER
        }
    }
}

/// `-exec` and its settings (None without `-exec`).
fn exec_spec(p: &flags::Parsed) -> Result<Option<runner::exec::ExecSpec>, String> {
    let Some(cmd) = p.value("exec") else {
        for f in [
            "exec-reload-signal",
            "exec-kill-signal",
            "exec-kill-timeout",
        ] {
            if p.value(f).is_some() {
                return Err(format!("-{f} needs -exec"));
            }
        }
        return Ok(None);
    };
    if p.bool("once") || p.bool("dry") {
        return Err("-exec cannot be combined with -once or -dry".into());
    }
    let sig = |f: &str| {
        p.value(f)
            .map(|s| runner::exec::parse_signal(s).map_err(|e| format!("-{f}: {e}")))
            .transpose()
    };
    let kill_timeout = match p.value("exec-kill-timeout") {
        Some(t) => crate::duration::parse(t)
            .map_err(|_| format!("-exec-kill-timeout: invalid duration {t:?}"))?,
        None => std::time::Duration::from_secs(30),
    };
    Ok(Some(runner::exec::ExecSpec {
        command: runner::config::Command::Shell(cmd.to_string()),
        reload_signal: sig("exec-reload-signal")?,
        kill_signal: sig("exec-kill-signal")?.unwrap_or(rustix::process::Signal::TERM),
        kill_timeout,
    }))
}

/// `consul { address, token }` from `-config` files.
#[derive(Debug, Default)]
struct ConsulSettings {
    address: Option<String>,
    token: Option<String>,
}

/// The runner options from the flags and `-config` files (files first, then flags).
fn options(p: &flags::Parsed) -> Result<(RunnerOpts, ConsulSettings), String> {
    let mut opts = RunnerOpts {
        once: p.bool("once"),
        dry: p.bool("dry"),
        ..RunnerOpts::default()
    };
    let mut consul = ConsulSettings::default();
    for path in p.values_of("config") {
        read_config(Path::new(path), &mut opts, &mut consul)?;
    }
    for t in p.values_of("template") {
        opts.templates.push(runner::parse_template_flag(t)?);
    }
    if let Some(w) = p.value("wait") {
        opts.wait = Some(runner::parse_wait(w).map_err(|e| format!("-wait: {e}"))?);
    }
    if let Some(w) = p.value("max-wait") {
        let d =
            crate::duration::parse(w).map_err(|_| format!("-max-wait: invalid duration {w:?}"))?;
        opts.max_wait = Some(d);
    }
    if opts.templates.is_empty() {
        return Err("no templates: give -template \"src:dest[:command]\" or -config".into());
    }
    for t in &opts.templates {
        if !opts.dry && t.destination.as_os_str().is_empty() {
            return Err(format!("template {}: destination is required", t.name()));
        }
        runner::config::check(&t.name(), t)?;
    }
    runner::preflight_parse(&opts.templates)?;
    Ok((opts, consul))
}

/// A consul-template config file or directory (JSON or HCL): `template` blocks, `wait`,
/// `consul { address, token }` (the flags win), `once`; other keys are refused by name.
fn read_config(
    path: &Path,
    opts: &mut RunnerOpts,
    consul: &mut ConsulSettings,
) -> Result<(), String> {
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            read_config(&f, opts, consul)?;
        }
        return Ok(());
    }
    let at = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    let v: Value = if at.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| format!("{at}: {e}"))?
    } else {
        hcl::from_str(&text).map_err(|e| format!("{at}: {e}"))?
    };
    let Value::Object(m) = v else {
        return Err(format!("{at}: must be an object"));
    };
    for (k, v) in &m {
        match k.as_str() {
            "template" => {
                for (key, b) in crate::config::keys::one_or_many(k, v) {
                    let block = runner::config::decode_block(&format!("{at}: {key}"), b)?;
                    opts.templates.push(block);
                }
            }
            "wait" => opts.wait = Some(runner::config::wait_value(&format!("{at}: wait"), v)?),
            "once" => opts.once |= v.as_bool().unwrap_or(false),
            "consul" => read_consul(&at, v, consul)?,
            "log_level" | "max_stale" | "kill_signal" | "reload_signal" | "pid_file" => {}
            other => return Err(format!("{at}: unknown key {other:?}")),
        }
    }
    Ok(())
}

/// `consul { address, token }`; the other keys consul-template has are accepted only where
/// ignoring them is harmless.
fn read_consul(at: &str, v: &Value, consul: &mut ConsulSettings) -> Result<(), String> {
    let v = match v {
        Value::Array(a) if a.len() == 1 => &a[0],
        other => other,
    };
    let Value::Object(c) = v else {
        return Err(format!("{at}: consul: must be a block"));
    };
    for (k, cv) in c {
        let text = || {
            cv.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{at}: consul.{k}: must be a string"))
        };
        match k.as_str() {
            "address" => consul.address = Some(text()?),
            "token" => consul.token = Some(text()?),
            // Berth's client retries forever and has no transport settings yet.
            "retry" | "transport" => {}
            other => {
                return Err(format!(
                    "{at}: consul.{other}: not supported by Berth (address, token)"
                ))
            }
        }
    }
    Ok(())
}

/// `-status`: what the agent's template runner reports.
async fn status(addr: &str, token: Option<String>) -> i32 {
    use runner::source::Source;
    let source = match runner::source::Http::new(addr, token) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth template: {e}");
            return EXIT_USAGE;
        }
    };
    let reply = match source.get("/v1/agent/templates", &[]).await {
        Ok(r) if r.status == 200 => r,
        Ok(r) => {
            eprintln!(
                "berth template: {addr}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body).trim()
            );
            return 1;
        }
        Err(e) => {
            eprintln!("berth template: {e}");
            return 1;
        }
    };
    let all: Vec<runner::status::TemplateStatus> = match serde_json::from_slice(&reply.body) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("berth template: {addr}: invalid answer: {e}");
            return 1;
        }
    };
    if all.is_empty() {
        println!("No templates.");
    }
    for t in all {
        print!("{}", describe(&t));
    }
    0
}

/// One template's status as text.
pub fn describe(t: &runner::status::TemplateStatus) -> String {
    let mut out = format!("{} -> {}\n", t.source, t.destination);
    for d in &t.deps {
        let state = match (&d.error, d.has_data) {
            (Some(e), _) => format!("error: {e}"),
            (None, true) => "data".into(),
            (None, false) => "waiting for data".into(),
        };
        out.push_str(&format!("  {}: {state}\n", d.name));
    }
    let or_never = |x: &Option<String>| x.clone().unwrap_or_else(|| "never".into());
    out.push_str(&format!("  last render: {}\n", or_never(&t.last_render)));
    out.push_str(&format!("  last write:  {}\n", or_never(&t.last_write)));
    if let Some(c) = &t.last_command {
        let result = if c.ok { "ok" } else { "FAILED" };
        out.push_str(&format!(
            "  last command: {} at {}: {result} {}\n",
            c.command,
            c.at,
            c.output.trim()
        ));
    }
    if let Some(e) = &t.last_error {
        out.push_str(&format!("  last error:  {e}\n"));
    }
    out
}
