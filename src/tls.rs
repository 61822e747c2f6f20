//! The TLS client settings stubborn verifies servers with: the https checks
//! of services and the `tls://` / `https://` upstreams. One place decides
//! what is trusted: the system roots (/etc/ssl/certs, read by
//! rustls-native-certs) plus the CA certificates of an optional `ca_file`,
//! with ring as the crypto provider (no aws-lc: cross builds for routers).
//!
//! Also here: the short reasons a handshake failed, for logs and the
//! `last_error` of /status ("certificate expired", "certificate not valid
//! for name ...").

use std::{path::Path, sync::Arc};

use rustls::{
    CertificateError, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};

/// A client config trusting the system roots and every certificate of
/// `ca_file`. A system without roots is logged, not an error (`ca_file`
/// still works). Err when `ca_file` cannot be read, is not PEM, holds no
/// certificate or holds one that is not a usable CA certificate; the
/// message starts with "ca_file PATH: ".
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "loading system CA certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system CA certificates");
    if added == 0 && ca_file.is_none() {
        tracing::warn!("no system CA certificates found: TLS to servers with public certificates can only fail");
    }
    if let Some(path) = ca_file {
        for cert in ca_certificates(path)? {
            roots.add(cert.1).map_err(|e| format!("ca_file {}: certificate {}: {e}", path.display(), cert.0 + 1))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Checks that `ca_file` holds at least one CA certificate rustls accepts
/// as a root, without loading the system roots (for `stubborn check`).
pub fn check_ca_file(path: &Path) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in ca_certificates(path)? {
        roots.add(cert).map_err(|e| format!("certificate {}: {e}", i + 1))?;
    }
    Ok(())
}

/// The PEM certificates of `path`, numbered; Err when there is none.
fn ca_certificates(path: &Path) -> Result<Vec<(usize, CertificateDer<'static>)>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("ca_file {shown}: {}", pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca_file {shown}: {}", pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!("ca_file {shown}: no PEM certificate (BEGIN CERTIFICATE) in it"));
    }
    Ok(certs.into_iter().enumerate().collect())
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM certificate (BEGIN CERTIFICATE) in it".to_string(),
        other => format!("not valid PEM: {other}"),
    }
}

/// A failed handshake in words a user acts on: which check of the server's
/// certificate failed, or rustls's own message for the rest.
pub fn reason(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "certificate not trusted: unknown issuer (not in the system roots or ca_file)".to_string()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "certificate expired".to_string(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".to_string()
            }
            CertificateError::NotValidForName => "certificate not valid for the tls-name".to_string(),
            CertificateError::NotValidForNameContext { expected, presented } => {
                // rustls writes the presented names as `DnsName("a.example")`.
                let presented: Vec<&str> = presented
                    .iter()
                    .map(|p| p.strip_prefix("DnsName(\"").and_then(|p| p.strip_suffix("\")")).unwrap_or(p))
                    .collect();
                format!("certificate not valid for name {} (it is for {})", expected.to_str(), presented.join(", "))
            }
            CertificateError::Revoked => "certificate revoked".to_string(),
            CertificateError::BadSignature | CertificateError::BadEncoding => {
                format!("bad certificate: {cert:?}")
            }
            other => format!("certificate rejected: {other:?}"),
        },
        other => other.to_string(),
    }
}

/// The rustls error inside an I/O error from a TLS stream, if that is what it is.
pub fn rustls_error(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
