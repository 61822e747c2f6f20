//! A small HTTP/1.1 server (hyper), plain or TLS, on its own tokio runtime:
//! a cloud's health endpoint for a `[[service]]`'s `http:`/`https:` check,
//! and the server of `src/service/http.rs`'s unit tests. Its status (200,
//! 503, ...) and certificate can be switched while it runs; it remembers the
//! Host header, path and SNI of the last request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;

use crate::ports::bind_tcp_retrying;

/// What an [`HttpServer`] saw in its last request.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub host: Option<String>,
    pub path: Option<String>,
    /// The TLS server name the client sent (https only).
    pub sni: Option<String>,
}

/// A small HTTP/1.1 server (hyper) on its own tokio runtime: answers every
/// request with the current status and an empty body.
pub struct HttpServer {
    pub addr: SocketAddr,
    status: Arc<AtomicU16>,
    tls: Option<Arc<Mutex<Arc<ServerConfig>>>>,
    seen: Arc<Mutex<Seen>>,
    requests: Arc<AtomicUsize>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpServer {
    /// Plain HTTP on `ip:port`, answering `status`.
    pub fn http(ip: Ipv4Addr, port: u16, status: u16) -> HttpServer {
        HttpServer::start(SocketAddr::new(IpAddr::V4(ip), port), status, None)
    }

    /// HTTPS on `ip:port` with `tls` (see [`TestCa::server_config`](crate::test_ca::TestCa::server_config)).
    pub fn https(ip: Ipv4Addr, port: u16, status: u16, tls: Arc<ServerConfig>) -> HttpServer {
        HttpServer::start(SocketAddr::new(IpAddr::V4(ip), port), status, Some(tls))
    }

    fn start(addr: SocketAddr, status: u16, tls: Option<Arc<ServerConfig>>) -> HttpServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime for the test HTTP server");
        let std_listener = bind_tcp_retrying(addr);
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).expect("tokio listener")
        };
        let status = Arc::new(AtomicU16::new(status));
        let tls = tls.map(|t| Arc::new(Mutex::new(t)));
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let requests: Arc<AtomicUsize> = Arc::default();
        let mut server = HttpServer {
            addr,
            status: status.clone(),
            tls: tls.clone(),
            seen: seen.clone(),
            requests: requests.clone(),
            runtime: None,
        };
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (status, seen, requests) = (status.clone(), seen.clone(), requests.clone());
                let acceptor = tls.as_ref().map(|t| {
                    let config = t.lock().expect("tls config lock").clone();
                    tokio_rustls::TlsAcceptor::from(config)
                });
                tokio::spawn(async move {
                    let service = {
                        let seen = seen.clone();
                        service_fn(move |req: Request<Incoming>| {
                            requests.fetch_add(1, Ordering::Relaxed);
                            {
                                let mut seen = seen.lock().expect("seen lock");
                                seen.host = req.headers().get("host").and_then(|h| h.to_str().ok()).map(String::from);
                                seen.path = req.uri().path_and_query().map(|p| p.to_string());
                            }
                            let code = StatusCode::from_u16(status.load(Ordering::Relaxed)).expect("valid status");
                            let mut resp = Response::new(Empty::<Bytes>::new());
                            *resp.status_mut() = code;
                            async move { Ok::<_, std::convert::Infallible>(resp) }
                        })
                    };
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                        Some(acceptor) => {
                            // A failed handshake (a client rejecting the certificate) just ends here.
                            let Ok(stream) = acceptor.accept(tcp).await else { return };
                            seen.lock().expect("seen lock").sni = stream.get_ref().1.server_name().map(String::from);
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        server.runtime = Some(runtime);
        server
    }

    /// Answers `status` from the next request on.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    /// Presents this certificate from the next connection on (https only).
    pub fn set_tls(&self, tls: Arc<ServerConfig>) {
        *self.tls.as_ref().expect("set_tls on an https server").lock().expect("tls config lock") = tls;
    }

    /// Requests that got as far as HTTP (after a TLS handshake, for https).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("seen lock").clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
