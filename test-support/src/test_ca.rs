//! A certificate authority made for one test (rcgen): its certificate as a
//! PEM file (a service's `ca_file`, Unbound's and Redis' clients), and leaf
//! certificates it signs for servers: as a rustls `ServerConfig` (an
//! [`HttpServer`](crate::http_server::HttpServer)) or as PEM files (Unbound,
//! redis-server). A leaf can be made already expired.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::PrivateKeyDer;
use tempfile::TempDir;

use crate::scratch;

/// A certificate authority made for one test, with a distinct subject name
/// (so that a leaf of another `TestCa` is from an unknown issuer).
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    dir: TempDir,
}

impl TestCa {
    pub fn new(label: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let unique: u64 = rand::random();
        params.distinguished_name.push(DnType::CommonName, format!("stubborn test CA {label} {unique:016x}"));
        let cert = params.self_signed(&key).expect("self-signed CA");
        let dir = scratch::temp_dir("ca");
        let pem = cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &pem).expect("write ca.pem");
        TestCa { issuer: Issuer::new(params, key), pem, dir }
    }

    /// The CA certificate as a PEM file, for `ca_file`.
    pub fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A TLS server config presenting a leaf for `names` (DNS names or IP
    /// literals) signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let (leaf, key) = self.leaf(names, false);
        let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], PrivateKeyDer::Pkcs8(key.serialize_der().into()))
            .expect("server certificate");
        Arc::new(config)
    }

    /// A leaf for `names` signed by this CA, written as PEM files for a
    /// server such as Unbound: (certificate, key). `expired`: valid only in
    /// 2020, long past.
    pub fn leaf_files(&self, names: &[&str], expired: bool) -> (PathBuf, PathBuf) {
        let (leaf, key) = self.leaf(names, expired);
        let unique: u64 = rand::random();
        let cert_path = self.dir.path().join(format!("leaf-{unique:016x}.pem"));
        let key_path = self.dir.path().join(format!("leaf-{unique:016x}.key"));
        std::fs::write(&cert_path, leaf.pem()).expect("write leaf certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write leaf key");
        (cert_path, key_path)
    }

    /// A leaf certificate for `names` (the first one its common name) and its key.
    fn leaf(&self, names: &[&str], expired: bool) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf names are valid");
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.use_authority_key_identifier_extension = true;
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        (params.signed_by(&key, &self.issuer).expect("sign leaf"), key)
    }
}
