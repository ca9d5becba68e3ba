//! Docker checks (`docker_container_id` + `args`): the command runs inside the container
//! through the Docker API's exec, on the engine registration uses. Exit codes and output as
//! for script checks.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::output::Tail;
use super::Outcome;

/// The engine connection, made on first use and shared by all docker checks: the endpoint
/// registration uses (`-docker`, `docker {}`, `DOCKER_HOST`, TLS files), else the default
/// socket.
#[derive(Default)]
pub struct Engine {
    endpoint: Option<String>,
    tls: Option<crate::docker::TlsFiles>,
    docker: OnceCell<Docker>,
}

impl Engine {
    /// An engine reached at `endpoint` (None or `off`: the default socket).
    pub fn new(endpoint: Option<String>, tls: Option<crate::docker::TlsFiles>) -> Engine {
        Engine {
            endpoint: endpoint.filter(|e| e != "off"),
            tls,
            docker: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&Docker, String> {
        self.docker
            .get_or_try_init(|| async {
                let d =
                    crate::docker::connect::connect(self.endpoint.as_deref(), self.tls.as_ref())
                        .map_err(|e| format!("cannot reach the Docker engine: {e}"))?;
                d.negotiate_version()
                    .await
                    .map_err(|e| format!("cannot reach the Docker engine: {e}"))
            })
            .await
    }
}

/// Runs `args` in `container` once. `shell` is the Consul key for the deprecated `script`
/// form; with `args` the command runs as given.
pub async fn run(
    engine: &Engine,
    container: &str,
    args: &[String],
    timeout: Duration,
    max_output: usize,
) -> Outcome {
    match tokio::time::timeout(timeout, exec(engine, container, args, max_output)).await {
        Ok(Ok((code, output))) => Outcome::from_exit(Some(code), output),
        Ok(Err(e)) => Outcome::critical(e),
        Err(_) => Outcome::timed_out(timeout, ""),
    }
}

async fn exec(
    engine: &Engine,
    container: &str,
    args: &[String],
    max_output: usize,
) -> Result<(i64, String), String> {
    let docker = engine.get().await?;
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(args.to_vec()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("Error creating exec in container {container:?}: {e}"))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| format!("Error starting exec in container {container:?}: {e}"))?;
    let mut tail = Tail::new(max_output);
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(c) => tail.push(c.as_ref()),
                Err(e) => return Err(format!("Error reading exec output: {e}")),
            }
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| format!("Error inspecting exec in container {container:?}: {e}"))?;
    let code = inspected.exit_code.unwrap_or(-1);
    Ok((code, tail.finish()))
}
