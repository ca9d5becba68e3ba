//! A tcp:// Docker endpoint behind mutual TLS (as `dockerd --tlsverify` serves it): with
//! `docker { ca_file, cert_file, key_file }` Berth registers through it; without the
//! files it cannot, and says so in `/v1/agent/self`.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::{docker_services, docker_state, eventually, opts, Lab, LOOP};
use crate::harness::{config_file, Agent};

/// A TLS listener on loopback that requires a client certificate from `ca` and forwards
/// to the engine's socket; returns its port.
fn tls_proxy(rt: &tokio::runtime::Runtime, ca_der: Vec<u8>, cert: Vec<u8>, key: Vec<u8>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_der.into()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}

#[test]
fn tls_endpoint_with_client_certificates() {
    let mut lab = Lab::new("tls");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let server_cert = sp.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &ca).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = tls_proxy(
        &rt,
        ca.der().to_vec(),
        server_cert.der().to_vec(),
        server_key.serialize_der(),
    );
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let ca_file = write("ca.pem", ca.pem());
    let cert_file = write("cert.pem", client_cert.pem());
    let key_file = write("key.pem", client_key.serialize_pem());
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let (_cfg_dir, cfg) = config_file(
        serde_json::json!({"docker": {"endpoint": endpoint, "ca_file": ca_file,
            "cert_file": cert_file, "key_file": key_file}})
        .to_string(),
    );
    let label = format!("-require-label={}", lab.label);
    // The harness turns registration off unless a -docker flag is given; the flag names the
    // same endpoint as the file.
    let flag = format!("-docker={endpoint}");
    let a = Agent::start(&["-dev", &cfg, &flag, &label]);
    let c = lab.run("web", &opts(&["-p", "127.0.0.1::80"]), LOOP);
    eventually(&a, "registered through the TLS endpoint", || {
        docker_services(&a)
            .keys()
            .any(|id| id.ends_with(&format!(":{c}:80")))
    });
    assert_eq!(docker_state(&a)["State"], "connected");
    assert_eq!(docker_state(&a)["Endpoint"], endpoint);

    // Plain HTTP to the same endpoint: the handshake fails; Berth keeps retrying and says so.
    let b = Agent::start(&["-dev", &flag, &label]);
    eventually(&b, "retrying without certificates", || {
        docker_state(&b)["State"] == "retrying"
    });
    assert!(docker_services(&b).is_empty());
    drop(rt);
}
