//! Script checks (`args`): the command runs on the host in its own process group, stdout and
//! stderr into one pipe. Exit 0 passing, 1 warning, anything else critical; the last
//! `output_max_size` bytes are kept; at the timeout the whole group is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::output::Tail;
use super::Outcome;

/// Runs `args` once.
pub async fn run(args: &[String], timeout: Duration, max_output: usize) -> Outcome {
    match execute(args, timeout, max_output).await {
        Ok(Finished::Exited { code, output }) => Outcome::from_exit(code.map(i64::from), output),
        Ok(Finished::TimedOut { output }) => Outcome::timed_out(timeout, &output),
        Err(message) => Outcome::critical(message),
    }
}

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Finished {
    /// It exited (None: killed by a signal), with the tail of its output.
    Exited {
        /// Exit code.
        code: Option<i32>,
        /// Last bytes of stdout and stderr together.
        output: String,
    },
    /// It ran past the timeout and its whole group was killed.
    TimedOut {
        /// What it wrote before.
        output: String,
    },
}

/// Runs `args` in its own process group with stdout and stderr in one pipe, keeping the last
/// `max_output` bytes; kills the group at the timeout. Err: it could not be started.
pub(crate) async fn execute(
    args: &[String],
    timeout: Duration,
    max_output: usize,
) -> Result<Finished, String> {
    let Some((program, rest)) = args.split_first() else {
        return Err("Args: no command to run".to_string());
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return Err(format!("Failed to invoke {program:?}: {e}")),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return Err(format!("Failed to invoke {program:?}: {e}")),
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .process_group(0)
        .kill_on_drop(true);
    let spawned = cmd.spawn();
    // Our copies of the pipe's write end must close, or the read never ends.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Err(format!("Failed to invoke {program:?}: {e}")),
    };
    // Whatever ends this run early (the timeout, or the check being removed mid-run, which
    // drops this future) kills the whole group, not just the command.
    let mut group = GroupGuard(child.id());
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()) {
        Ok(p) => p,
        Err(e) => return Err(format!("Failed to read output of {program:?}: {e}")),
    };
    let mut tail = Tail::new(max_output);
    let finished = tokio::time::timeout(timeout, async {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => tail.push(&buf[..n]),
            }
        }
        child.wait().await
    })
    .await;
    match finished {
        Err(_) => {
            group.kill();
            let _ = child.wait().await;
            Ok(Finished::TimedOut {
                output: tail.finish(),
            })
        }
        Ok(Err(e)) => Err(format!("Failed to run {program:?}: {e}")),
        Ok(Ok(status)) => {
            group.0 = None;
            Ok(Finished::Exited {
                code: status.code(),
                output: tail.finish(),
            })
        }
    }
}

/// The check's process group (the command and anything it started), killed on drop unless
/// the command finished (`.0` cleared).
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&mut self) {
        let group = self
            .0
            .take()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw);
        if let Some(group) = group {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn exit_codes_map_to_health() {
        let t = Duration::from_secs(5);
        let ok = run(&sh("echo fine; echo more >&2"), t, 4096).await;
        assert_eq!(
            (ok.status, ok.output.as_str()),
            (Health::Passing, "fine\nmore\n")
        );
        assert_eq!(run(&sh("exit 1"), t, 4096).await.status, Health::Warning);
        assert_eq!(run(&sh("exit 2"), t, 4096).await.status, Health::Critical);
        let missing = run(&["/nonexistent/berth-check".to_string()], t, 4096).await;
        assert_eq!(missing.status, Health::Critical);
        assert!(
            missing.output.contains("Failed to invoke"),
            "{}",
            missing.output
        );
    }

    #[tokio::test]
    async fn output_is_capped_to_its_tail() {
        let out = run(&sh("printf 'abcdefghij'"), Duration::from_secs(5), 4).await;
        assert_eq!(out.output, "Captured 4 of 10 bytes\n...\nghij");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let started = std::time::Instant::now();
        // The background sleep holds the pipe open: only killing the group ends the run.
        let out = run(
            &sh("echo started; sleep 30 & sleep 30"),
            Duration::from_millis(300),
            4096,
        )
        .await;
        assert_eq!(out.status, Health::Critical);
        assert_eq!(out.output, "Timed out (300ms) running check\n\nstarted\n");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
