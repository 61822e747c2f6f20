//! The admin HTTP endpoint (`[admin] listen`): `/metrics` (Prometheus text),
//! `/healthz` (200 while the process serves), `/readyz` (200 once every
//! listen address is bound), `/status` (JSON: upstreams, cache, and what is
//! degraded right now — schema in the README). Plain HTTP/1.1 over hyper;
//! one task per connection.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::SystemTime,
};

use bytes::Bytes;
use hickory_proto::rr::RecordType;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracing::debug;

use crate::{degraded::DegradedName, metrics::Metrics, server::Server, upstream::HealthReport};

/// What the endpoint reports on.
pub struct Admin {
    metrics: Arc<Metrics>,
    server: Arc<Server>,
    /// Set once every DNS listener is bound.
    pub ready: AtomicBool,
    started: SystemTime,
    /// The config file and when it was last loaded.
    loaded: Mutex<(PathBuf, SystemTime)>,
}

pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: retrying at once would spin a core.
                debug!(%error, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
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
    pub fn new(metrics: Arc<Metrics>, server: Arc<Server>, config: &Path) -> Admin {
        let now = SystemTime::now();
        Admin { metrics, server, ready: false.into(), started: now, loaded: Mutex::new((config.to_path_buf(), now)) }
    }

    /// Notes a (re)load of the config at `path`.
    pub fn loaded(&self, path: &Path) {
        *self.loaded.lock().expect("no panics while held") = (path.to_path_buf(), SystemTime::now());
    }

    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "only GET\n".into());
        }
        match request.uri().path() {
            "/metrics" => {
                let body = self.metrics.render(self.server.resolver().cache().len());
                reply(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", body)
            }
            "/status" => reply(StatusCode::OK, "application/json", format!("{:#}\n", self.status())),
            "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
            "/readyz" if self.ready.load(Ordering::Relaxed) => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            "/readyz" => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n".into()),
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found; try /metrics, /status, /healthz, /readyz\n".into(),
            ),
        }
    }

    /// The `/status` document (README "Status" documents every field).
    fn status(&self) -> Value {
        let (config_path, loaded_at) = self.loaded.lock().expect("no panics while held").clone();
        let resolver = self.server.resolver();
        let upstreams = resolver.upstreams();
        let mut all = Vec::new();
        let mut down = Vec::new();
        for (zone, pool) in upstreams.pools() {
            for upstream in pool.servers() {
                let health = upstream.health();
                if !health.up {
                    down.push(json!({
                        "upstream": upstream.addr.label,
                        "since": rfc3339(health.since),
                        "last_error": health.last_error.as_ref().map(ToString::to_string),
                    }));
                }
                all.push(upstream_json(&upstream.addr.label, zone, &health));
            }
        }
        let services = self.server.services();
        let mut not_on_primary = Vec::new();
        let mut all_services = Vec::new();
        for service in services.iter() {
            let targets: Vec<Value> = service
                .targets()
                .map(|(target, healthy)| json!({ "target": target.to_string(), "healthy": healthy }))
                .collect();
            let primary = service.targets().next().map(|(target, _)| target.to_string());
            let active = service.active().to_string();
            if primary.as_deref() != Some(active.as_str()) {
                not_on_primary.push(json!({ "service": service.name(), "active": active, "primary": primary }));
            }
            all_services.push(json!({ "service": service.name(), "active": active, "targets": targets }));
        }
        let cache = resolver.cache();
        json!({
            "version": env!("STUBBORN_VERSION"),
            "started": rfc3339(self.started),
            "uptime_seconds": SystemTime::now().duration_since(self.started).unwrap_or_default().as_secs(),
            "config": { "path": config_path.display().to_string(), "loaded": rfc3339(loaded_at) },
            "cache": { "entries": cache.len(), "capacity": cache.config().capacity },
            "tcp": { "connections": self.server.tcp_connections_open(), "limit": self.server.tcp_limits().connections },
            "upstreams": all,
            "services": all_services,
            "degraded": {
                "answers": resolver.degraded().recent().iter().map(degraded_json).collect::<Vec<_>>(),
                "upstreams_down": down,
                "services_not_on_primary": not_on_primary,
            },
        })
    }
}

fn upstream_json(label: &str, zone: &str, health: &HealthReport) -> Value {
    json!({
        "upstream": label,
        "zone": zone,
        "up": health.up,
        "since": rfc3339(health.since),
        "last_error": health.last_error.as_ref().map(ToString::to_string),
        "latency_ms": health.latency.map(|l| (l.as_secs_f64() * 1000.0 * 100.0).round() / 100.0),
    })
}

fn degraded_json(name: &DegradedName) -> Value {
    json!({
        "name": name.name,
        "type": RecordType::from(name.qtype).to_string(),
        "reason": name.reason,
        "since": rfc3339(name.since),
        "last": rfc3339(name.last),
        "count": name.count,
    })
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}
