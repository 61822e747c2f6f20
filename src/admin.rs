//! The admin HTTP endpoint (`[admin] listen`): `/metrics` (Prometheus text),
//! `/healthz` (200 while the process serves), `/readyz` (200 once every
//! listen address is bound). Plain HTTP/1.1 over hyper; one task per connection.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::{metrics::Metrics, resolver::Resolver};

/// What the endpoint reports on.
pub struct Admin {
    pub metrics: Arc<Metrics>,
    pub resolver: Arc<Resolver>,
    /// Set once every DNS listener is bound.
    pub ready: AtomicBool,
}

pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let admin = Arc::clone(&admin);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let admin = Arc::clone(&admin);
                async move { Ok::<_, Infallible>(admin.respond(&request)) }
            });
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                debug!(%error, "admin connection ended");
            }
        });
    }
}

impl Admin {
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
        }
        match request.uri().path() {
            "/metrics" => {
                let body = self.metrics.render(self.resolver.cache().len());
                let mut response = text(StatusCode::OK, body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                );
                response
            }
            "/healthz" => text(StatusCode::OK, "ok\n".into()),
            "/readyz" if self.ready.load(Ordering::Relaxed) => text(StatusCode::OK, "ready\n".into()),
            "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into()),
            _ => text(StatusCode::NOT_FOUND, "not found; try /metrics, /healthz or /readyz\n".into()),
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
