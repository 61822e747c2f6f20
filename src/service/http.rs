//! The `http://` and `https://` health checks of a service target.
//!
//! This file runs one check, parsed by config ([`HttpCheck`]:
//! `http://{addr}:PORT/path` or `https://{addr}:PORT/path`), against one
//! address of a target ([`HttpChecker`]): a `GET` of the path from `addr:PORT`, with the target's
//! name as `Host` header and, for https, as SNI and as the name the server's
//! certificate is verified against (system roots plus an optional `ca_file`).
//! A 2xx status within the timeout is a pass; anything else is a failure with
//! a short reason for the logs. Fall/rise hysteresis, scheduling and which
//! addresses are checked belong to the service core, not to this file.
//!
//! The HTTP client is hyper's HTTP/1.1 connection API over a tokio
//! `TcpStream` (wrapped in tokio-rustls for https): one connection per check,
//! closed once the response headers are in; the body is never read.

use std::{
    fmt, io,
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::{
    Request,
    header::{CONNECTION, HOST, USER_AGENT},
};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;

use crate::config::HttpCheck;

/// Shared by all checks: the TLS client config (system roots from
/// /etc/ssl/certs via rustls-native-certs, plus the PEM CA certs of `ca_file`
/// when given).
pub struct HttpChecker {
    tls: TlsConnector,
}

impl fmt::Debug for HttpChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpChecker").finish_non_exhaustive()
    }
}

impl HttpChecker {
    /// Loads the system roots (a system without any is logged, not an error:
    /// `http://` checks and a `ca_file` still work) and every certificate of
    /// `ca_file`. Err when `ca_file` cannot be read, is not PEM, holds no
    /// certificate or holds one that is not a usable CA certificate.
    pub fn new(ca_file: Option<&Path>) -> Result<HttpChecker, String> {
        let config = crate::tls::client_config(ca_file)?;
        Ok(HttpChecker { tls: TlsConnector::from(Arc::new(config)) })
    }

    /// GET `check.path` from `addr:check.port`, Host header = `host` (with
    /// `:PORT` appended when it is not the scheme's default, as curl and
    /// browsers do; a trailing dot is dropped), and for https the SNI and
    /// verified name = `host` (an IP literal is verified against the IP and
    /// sent without SNI). Ok(()) on a 2xx status within `timeout` (connect +
    /// TLS + response headers), Err(reason) otherwise, reason short, for
    /// logs: "status 503", "tls: invalid peer certificate: UnknownIssuer",
    /// "connect: connection refused", "timed out".
    pub async fn check(&self, check: &HttpCheck, addr: IpAddr, host: &str, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.get(check, addr, host)).await {
            Ok(result) => result,
            Err(_) => Err("timed out".to_string()),
        }
    }

    async fn get(&self, check: &HttpCheck, addr: IpAddr, host: &str) -> Result<(), String> {
        let host = host.strip_suffix('.').unwrap_or(host);
        let host_ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        let tcp = TcpStream::connect(SocketAddr::new(addr, check.port))
            .await
            .map_err(|e| format!("connect: {}", io_reason(&e)))?;
        let _ = tcp.set_nodelay(true);
        let host_header = host_header(host, host_ip, check.port, check.default_port());
        if !check.tls {
            return request(tcp, check, &host_header).await;
        }
        let name = match host_ip {
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(host.to_string()).map_err(|_| format!("tls: {host:?} is not a valid name"))?,
        };
        let tls = self.tls.connect(name, tcp).await.map_err(|e| format!("tls: {}", io_reason(&e)))?;
        request(tls, check, &host_header).await
    }
}

/// One request on a fresh HTTP/1.1 connection; the connection is driven
/// here (not spawned) and dropped with the response.
async fn request<S>(stream: S, check: &HttpCheck, host_header: &str) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("http: {e}"))?;
    let req = Request::get(check.path.as_str())
        .header(HOST, host_header)
        .header(USER_AGENT, concat!("stubborn/", env!("CARGO_PKG_VERSION"), " health-check"))
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("http: {e}"))?;
    // The connection task lives as long as this check: a timeout (which
    // drops this future) or an early return closes it.
    let conn = AbortOnDrop(tokio::spawn(conn));
    let response = sender.send_request(req).await.map_err(|e| format!("http: {}", error_chain(&e)))?;
    drop(conn);
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(format!("status {}", status.as_u16())) }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `host`, `[v6]` for an IPv6 literal, plus `:port` when not the default.
fn host_header(host: &str, host_ip: Option<IpAddr>, port: u16, default_port: u16) -> String {
    let host = match host_ip {
        Some(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_string(),
    };
    if port == default_port { host } else { format!("{host}:{port}") }
}

/// "connection refused" rather than "Connection refused (os error 111)";
/// the inner error's own message for everything else (e.g. a rustls error
/// inside an io::Error: "invalid peer certificate: UnknownIssuer").
fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted | HostUnreachable | NetworkUnreachable
        | AddrNotAvailable | TimedOut | UnexpectedEof => e.kind().to_string(),
        _ => match e.get_ref() {
            Some(inner) => inner.to_string(),
            None => e.to_string(),
        },
    }
}

/// An error and its sources, "a: b: c" (hyper's own messages are terse).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use stubborn_test_support::{http_server::HttpServer, ports::free_port, test_ca::TestCa};

    use super::*;

    #[test]
    fn host_header_adds_non_default_port_and_brackets_v6() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(host_header("api.example.com", None, 443, 443), "api.example.com");
        assert_eq!(host_header("api.example.com", None, 8443, 443), "api.example.com:8443");
        assert_eq!(host_header("2001:db8::1", Some(v6), 443, 443), "[2001:db8::1]");
        assert_eq!(host_header("2001:db8::1", Some(v6), 8080, 80), "[2001:db8::1]:8080");
    }

    #[test]
    fn checker_without_ca_file_builds() {
        HttpChecker::new(None).expect("system roots are optional");
    }

    #[test]
    fn checker_rejects_missing_and_empty_ca_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = HttpChecker::new(Some(&missing)).unwrap_err();
        assert!(e.starts_with("ca_file ") && e.contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "just text\n").unwrap();
        let e = HttpChecker::new(Some(&empty)).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    /// A local HTTP server (the harness's) answering every request with
    /// `status`, and remembering the Host header and SNI it saw last.
    fn http_server(status: u16) -> HttpServer {
        HttpServer::http(Ipv4Addr::LOCALHOST, free_port(), status)
    }

    /// As [`http_server`], over TLS with a leaf for `names` signed by `ca`.
    fn https_server(status: u16, ca: &TestCa, names: &[&str]) -> HttpServer {
        HttpServer::https(Ipv4Addr::LOCALHOST, free_port(), status, ca.server_config(names))
    }

    fn checker_trusting(ca: &TestCa) -> HttpChecker {
        HttpChecker::new(Some(&ca.pem_path())).unwrap()
    }

    const T: Duration = Duration::from_secs(2);
    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn http_on(addr: SocketAddr, path: &str) -> HttpCheck {
        HttpCheck { tls: false, port: addr.port(), path: path.into() }
    }

    fn https_on(addr: SocketAddr) -> HttpCheck {
        HttpCheck { tls: true, port: addr.port(), path: "/health".into() }
    }

    #[tokio::test]
    async fn http_2xx_passes_with_host_header() {
        let server = http_server(204);
        let checker = HttpChecker::new(None).unwrap();
        checker.check(&http_on(server.addr, "/health"), LOCAL, "api.aws.example.test.", T).await.unwrap();
        let host = server.seen().host;
        assert_eq!(host.as_deref(), Some(format!("api.aws.example.test:{}", server.addr.port()).as_str()));
    }

    #[tokio::test]
    async fn http_503_fails_with_status() {
        let server = http_server(503);
        let checker = HttpChecker::new(None).unwrap();
        let e = checker.check(&http_on(server.addr, "/"), LOCAL, "api.example.test", T).await.unwrap_err();
        assert_eq!(e, "status 503");
        let server = http_server(302);
        let e = checker.check(&http_on(server.addr, "/"), LOCAL, "api.example.test", T).await.unwrap_err();
        assert_eq!(e, "status 302", "a redirect is not followed and is not healthy");
    }

    #[tokio::test]
    async fn refused_connection_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let checker = HttpChecker::new(None).unwrap();
        let e = checker.check(&http_on(addr, "/"), LOCAL, "api.example.test", T).await.unwrap_err();
        assert_eq!(e, "connect: connection refused");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        // Accepts (the kernel does, from the backlog) but never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let checker = HttpChecker::new(None).unwrap();
        let start = std::time::Instant::now();
        let e = checker.check(&http_on(addr, "/"), LOCAL, "x.test", Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(e, "timed out");
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
        drop(listener);
    }

    #[tokio::test]
    async fn https_with_trusted_ca_passes_and_sends_sni() {
        let ca = TestCa::new("http checker");
        let server = https_server(200, &ca, &["api.aws.example.test"]);
        checker_trusting(&ca).check(&https_on(server.addr), LOCAL, "api.aws.example.test.", T).await.unwrap();
        assert_eq!(server.seen().sni.as_deref(), Some("api.aws.example.test"));
    }

    #[tokio::test]
    async fn https_503_fails_with_status() {
        let ca = TestCa::new("http checker");
        let server = https_server(503, &ca, &["api.aws.example.test"]);
        let e =
            checker_trusting(&ca).check(&https_on(server.addr), LOCAL, "api.aws.example.test", T).await.unwrap_err();
        assert_eq!(e, "status 503");
    }

    #[tokio::test]
    async fn https_from_unknown_ca_fails() {
        let ca = TestCa::new("http checker");
        let other_ca = TestCa::new("another");
        let server = https_server(200, &ca, &["api.aws.example.test"]);
        let e = checker_trusting(&other_ca)
            .check(&https_on(server.addr), LOCAL, "api.aws.example.test", T)
            .await
            .unwrap_err();
        assert_eq!(e, "tls: invalid peer certificate: UnknownIssuer");
        let system_only = HttpChecker::new(None).unwrap();
        let e = system_only.check(&https_on(server.addr), LOCAL, "api.aws.example.test", T).await.unwrap_err();
        assert_eq!(e, "tls: invalid peer certificate: UnknownIssuer");
    }

    #[tokio::test]
    async fn https_for_another_name_fails() {
        let ca = TestCa::new("http checker");
        let server = https_server(200, &ca, &["api.gcp.example.test"]);
        let e =
            checker_trusting(&ca).check(&https_on(server.addr), LOCAL, "api.aws.example.test", T).await.unwrap_err();
        assert!(e.starts_with("tls: invalid peer certificate: certificate not valid for name"), "{e}");
    }

    #[tokio::test]
    async fn https_to_an_ip_literal_verifies_the_ip() {
        let ca = TestCa::new("http checker");
        let server = https_server(200, &ca, &["127.0.0.1"]);
        let checker = checker_trusting(&ca);
        checker.check(&https_on(server.addr), LOCAL, "127.0.0.1", T).await.unwrap();
        let e = checker.check(&https_on(server.addr), LOCAL, "127.0.0.2", T).await.unwrap_err();
        assert!(e.starts_with("tls: invalid peer certificate: certificate not valid for name"), "{e}");
    }

    #[tokio::test]
    async fn https_against_plain_http_fails() {
        let server = http_server(200);
        let checker = HttpChecker::new(None).unwrap();
        let e = checker.check(&https_on(server.addr), LOCAL, "api.example.test", T).await.unwrap_err();
        assert!(e.starts_with("tls: "), "{e}");
    }
}
