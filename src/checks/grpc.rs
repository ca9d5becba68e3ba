//! gRPC checks: the standard `grpc.health.v1.Health/Check` call on `host:port[/service]`,
//! passing only when the answer is `SERVING`. A fresh connection per run, as in Consul;
//! `grpc_use_tls` dials TLS (with `tls_skip_verify` / `tls_server_name`) and offers `h2`.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tonic::transport::{Endpoint, Uri};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::{tls, Outcome};
use crate::agent::definition::CheckDefinition;

/// One gRPC check's target.
pub struct GrpcProbe {
    target: String,
    addr: String,
    service: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: String,
}

impl GrpcProbe {
    /// The probe for a definition; an error names the bad field.
    pub fn new(def: &CheckDefinition) -> Result<GrpcProbe, String> {
        let (addr, service) = match def.grpc.split_once('/') {
            Some((a, s)) => (a.to_string(), s.to_string()),
            None => (def.grpc.clone(), String::new()),
        };
        if !addr.contains(':') {
            return Err(format!("GRPC: {:?} is not host:port[/service]", def.grpc));
        }
        let tls = if def.grpc_use_tls {
            let config = tls::client_config(def.tls_skip_verify, &[b"h2"])?;
            Some(Arc::new(config))
        } else {
            None
        };
        let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(&addr);
        let server_name = if def.tls_server_name.is_empty() {
            host.trim_matches(|c| c == '[' || c == ']').to_string()
        } else {
            def.tls_server_name.clone()
        };
        Ok(GrpcProbe {
            target: def.grpc.clone(),
            addr,
            service: service.to_string(),
            tls,
            server_name,
        })
    }

    /// One health call, bounded by `timeout`.
    pub async fn run(&self, timeout: Duration) -> Outcome {
        match tokio::time::timeout(timeout, self.call()).await {
            Ok(Ok(ServingStatus::Serving)) => {
                Outcome::passing(format!("gRPC check {}: success", self.target))
            }
            Ok(Ok(status)) => Outcome::critical(format!(
                "gRPC check {}: failed: status {}",
                self.target,
                status.as_str_name()
            )),
            Ok(Err(e)) => Outcome::critical(format!("gRPC check {}: failed: {e}", self.target)),
            Err(_) => Outcome::critical(format!(
                "gRPC check {}: failed: timed out after {}",
                self.target,
                crate::duration::format(timeout)
            )),
        }
    }

    async fn call(&self) -> Result<ServingStatus, String> {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.addr))
            .map_err(|e| format!("invalid target: {e}"))?;
        let addr = self.addr.clone();
        let tls = self.tls.clone();
        let name = self.server_name.clone();
        let connector = tower::service_fn(move |_: Uri| {
            let (addr, tls, name) = (addr.clone(), tls.clone(), name.clone());
            async move { connect(&addr, tls, &name).await }
        });
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| error_chain(&e))?;
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: self.service.clone(),
            })
            .await
            .map_err(|s| format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))?;
        Ok(ServingStatus::try_from(reply.into_inner().status).unwrap_or(ServingStatus::Unknown))
    }
}

/// A boxed byte stream: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

async fn connect(
    addr: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: &str,
) -> Result<TokioIo<Box<dyn Io>>, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let Some(config) = tls else {
        return Ok(TokioIo::new(Box::new(tcp)));
    };
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(TokioIo::new(Box::new(stream)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
