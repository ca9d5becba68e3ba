//! TLS client settings for HTTPS and gRPC-over-TLS checks: the host's CA certificates and
//! `tls_skip_verify`. (`tls_server_name` is applied by the callers: it is the name they connect
//! with, so it is both the SNI and the name the certificate must match.)

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The host's trusted CA certificates, loaded once.
fn roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = store.add(cert);
            }
            Arc::new(store)
        })
        .clone()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config for checks. `alpn` lists the protocols offered (`h2` for gRPC). The name
/// a certificate must match is the name the caller connects with (`tls_server_name` when set).
pub fn client_config(skip_verify: bool, alpn: &[&[u8]]) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let roots = roots();
    let verifier: Arc<dyn ServerCertVerifier> = if skip_verify {
        Arc::new(AnyCert(provider, None))
    } else if roots.is_empty() {
        // Plain http:// checks share this client: fail HTTPS at the handshake, not at build.
        Arc::new(AnyCert(provider, Some(NO_ROOTS)))
    } else {
        WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS setup failed: {e}"))?
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Why verification fails on a host without CA certificates.
const NO_ROOTS: &str =
    "no trusted CA certificates found on this host (install ca-certificates, or set TLSSkipVerify)";

/// `tls_skip_verify` (no refusal): any certificate is accepted, but handshake signatures are
/// still checked. With a refusal: every certificate is rejected with that reason.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>, Option<&'static str>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.1 {
            None => Ok(ServerCertVerified::assertion()),
            Some(why) => Err(rustls::Error::General(why.to_string())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
