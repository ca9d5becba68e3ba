//! `-exec`: supervise one child process, as consul-template's exec mode does. The child
//! starts once every template has rendered; each later change sends it `reload_signal`, or,
//! without one, stops it (`kill_signal`, SIGKILL after `kill_timeout`) and starts it again.
//! Signals Berth does not act on itself are forwarded; when the child exits, Berth exits with
//! its code. The child runs in its own process group and signals go to the whole group, so a
//! `sh -c` wrapper does not swallow them.

use std::process::Stdio;
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::{Child, Command as Proc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::Command;

/// What the runner tells the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerEvent {
    /// Every template has rendered at least once (start the child).
    AllRendered,
    /// A pass wrote at least one file.
    Changed,
}

/// How the child is run.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// The command.
    pub command: Command,
    /// Sent on a change; None restarts the child instead.
    pub reload_signal: Option<Signal>,
    /// Sent to stop the child.
    pub kill_signal: Signal,
    /// How long the child has to stop before SIGKILL.
    pub kill_timeout: Duration,
}

/// A signal by Go/consul-template name (`SIGHUP`, `HUP`, `hup`) or number.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let upper = s.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let sig = match name {
        "HUP" => Signal::HUP,
        "INT" => Signal::INT,
        "QUIT" => Signal::QUIT,
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "WINCH" => Signal::WINCH,
        "CONT" => Signal::CONT,
        "STOP" => Signal::STOP,
        n => n
            .parse::<i32>()
            .ok()
            .and_then(Signal::from_named_raw)
            .ok_or_else(|| format!("unknown signal {s:?}"))?,
    };
    Ok(sig)
}

fn spawn(cmd: &Command) -> std::io::Result<Child> {
    let mut p = match cmd {
        Command::Shell(s) => {
            let mut p = Proc::new("sh");
            p.arg("-c").arg(s);
            p
        }
        Command::Argv(v) => {
            let mut p = Proc::new(&v[0]);
            p.args(&v[1..]);
            p
        }
    };
    p.stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

fn signal(child: &Child, sig: Signal) {
    if let Some(pid) = child.id().and_then(|p| Pid::from_raw(p as i32)) {
        let _ = kill_process_group(pid, sig);
    }
}

/// Stops the child: `kill_signal`, then SIGKILL after `kill_timeout`.
async fn stop_child(child: &mut Child, spec: &ExecSpec) {
    signal(child, spec.kill_signal);
    if tokio::time::timeout(spec.kill_timeout, child.wait())
        .await
        .is_err()
    {
        signal(child, Signal::KILL);
        let _ = child.wait().await;
    }
}

fn code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(_) => 1,
    }
}

/// Supervises the child until it exits (its code) or `stop` (0 after stopping it).
pub async fn supervise(
    spec: ExecSpec,
    mut events: mpsc::UnboundedReceiver<RunnerEvent>,
    mut forward: mpsc::UnboundedReceiver<Signal>,
    stop: CancellationToken,
) -> i32 {
    // Wait for every template to render once.
    loop {
        tokio::select! {
            _ = stop.cancelled() => return 0,
            ev = events.recv() => match ev {
                Some(RunnerEvent::AllRendered) => break,
                Some(RunnerEvent::Changed) => {}
                None => return 0,
            },
        }
    }
    let mut child = match spawn(&spec.command) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("template: -exec {:?}: {e}", spec.command.to_string());
            return 127;
        }
    };
    tracing::info!("template: started child {:?}", spec.command.to_string());
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                stop_child(&mut child, &spec).await;
                return 0;
            }
            status = child.wait() => {
                let c = code(status);
                tracing::info!("template: child exited with {c}");
                return c;
            }
            Some(sig) = forward.recv() => signal(&child, sig),
            ev = events.recv() => match ev {
                Some(RunnerEvent::Changed) => match spec.reload_signal {
                    Some(sig) => signal(&child, sig),
                    None => {
                        stop_child(&mut child, &spec).await;
                        child = match spawn(&spec.command) {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::error!("template: restarting child: {e}");
                                return 127;
                            }
                        };
                        tracing::info!("template: restarted child after a change");
                    }
                },
                Some(RunnerEvent::AllRendered) => {}
                None => {
                    stop_child(&mut child, &spec).await;
                    return 0;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("SIGHUP").unwrap(), Signal::HUP);
        assert_eq!(parse_signal("usr1").unwrap(), Signal::USR1);
        assert_eq!(parse_signal("15").unwrap(), Signal::TERM);
        assert!(parse_signal("SIGNOPE").is_err());
    }
}
