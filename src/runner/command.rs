//! Commands a template runs: the reload after a change (consul-template's `command`) and our
//! `validate` before it. A shell string runs through `sh -c`, an argument list directly; each
//! in its own process group, killed at its timeout (0 = no limit).

use std::path::Path;
use std::time::Duration;

use super::config::Command;
use crate::checks::script::{execute, Finished};

/// Output kept from a command, for logs and status.
const MAX_OUTPUT: usize = 4096;

/// Runs `cmd`; Ok with its output when it exits 0, else why not.
pub async fn run(cmd: &Command, timeout: Duration) -> Result<String, String> {
    let args = match cmd {
        Command::Shell(s) => vec!["sh".to_string(), "-c".to_string(), s.clone()],
        Command::Argv(v) => v.clone(),
    };
    let limit = if timeout.is_zero() {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        timeout
    };
    let name = cmd.to_string();
    match execute(&args, limit, MAX_OUTPUT).await {
        Ok(Finished::Exited {
            code: Some(0),
            output,
        }) => Ok(output),
        Ok(Finished::Exited { code, output }) => {
            let how = match code {
                Some(c) => format!("exited with status {c}"),
                None => "was killed by a signal".to_string(),
            };
            Err(format!("command {name:?} {how}: {}", output.trim()))
        }
        Ok(Finished::TimedOut { output }) => Err(format!(
            "command {name:?} did not exit within {timeout:?}: {}",
            output.trim()
        )),
        Err(e) => Err(format!("command {name:?}: {e}")),
    }
}

/// The `validate` command for the staged file `path`: `%s` and `{{.Path}}` become its
/// shell-quoted path.
pub fn validate_command(template: &str, path: &Path) -> Command {
    let quoted = format!("'{}'", path.display().to_string().replace('\'', r"'\''"));
    Command::Shell(
        template
            .replace("{{.Path}}", &quoted)
            .replace("%s", &quoted),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_through_the_shell_and_reports_failures() {
        let sh = |s: &str| Command::Shell(s.into());
        assert_eq!(
            run(&sh("echo hi"), Duration::from_secs(5))
                .await
                .unwrap()
                .trim(),
            "hi"
        );
        let e = run(&sh("echo bad >&2; exit 3"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            e.contains("exited with status 3") && e.contains("bad"),
            "{e}"
        );
        let e = run(&sh("sleep 5"), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(e.contains("did not exit within"), "{e}");
        let argv = Command::Argv(vec!["true".into()]);
        assert!(run(&argv, Duration::ZERO).await.is_ok());
        let v = validate_command("nginx -t -c %s", Path::new("/tmp/a b'c"));
        assert_eq!(v, sh(r"nginx -t -c '/tmp/a b'\''c'"));
    }
}
