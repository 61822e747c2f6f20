//! The admin HTTP endpoint (`[admin] listen`): `/metrics` (Prometheus text),
//! `/healthz` (200 while the process serves), `/readyz` (200 once every
//! listen address is bound), `/status` (JSON: upstreams, cache, and what is
//! degraded right now — schema in docs/operations.md), `/` (the same as an HTML
//! page for a person: [`status_page`]), and control for operators:
//! `GET /cache/lookup`, `POST /cache/flush`, `GET /cache/dump`, `POST
//! /reload` (handed to the daemon, which reloads as on SIGHUP and answers
//! with the config's problems, if any) and `POST /log?queries=on|off` (the
//! query log's switch); `stubborn ctl` is their client. Plain HTTP/1.1 over
//! hyper; one task per connection.
//!
//! Who gets what: /healthz and /readyz answer everyone (probes come from the
//! node, and those two disclose nothing); /, /metrics and /status answer
//! `[admin] allow`; every other path, cache control included, answers only
//! `[admin] control_allow`, so that a path added later is control until it
//! is listed as readable. Everyone else gets 403.
//!
//! No peer can exhaust it: connections are capped (at the cap the one idle
//! longest is closed for the newcomer, as the DNS TCP listener does), a
//! request head must arrive within [`HEADER_TIMEOUT`] of the connection
//! opening or going idle, and a request head is read into
//! [`MAX_BUFFER`] bytes at most. Clients outside both lists are not closed
//! at accept, since the kubelet's probes may come from such an address:
//! they get one request per connection and a small cap of their own, so
//! however many they open, they never close a scrape's connection. Cache
//! walks run on the blocking pool, so a dump of a full cache never holds up
//! a DNS listener.

use std::{
    convert::Infallible,
    fmt::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use hickory_proto::rr::RecordType;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, mpsc, oneshot},
};
use tracing::{debug, info};

use crate::{
    cache::Selection,
    config::AdminConfig,
    degraded::DegradedName,
    metrics::{self, Metrics},
    query::QueryName,
    resolver::{Cached, Resolver},
    server::{
        Acl, Server,
        connections::{Admitted, Connections},
    },
    status_page::{self, History, Sampler},
    upstream::HealthReport,
    wire::{self, rcode_label},
};

/// Open connections at most from clients in `allow` or `control_allow`:
/// a few scrapers and operators need a handful; each costs a descriptor, a
/// task and a read buffer.
const CONNECTIONS: usize = 256;
/// Open connections at most from everyone else (probes only), kept apart.
const STRANGER_CONNECTIONS: usize = 32;
/// A request head must be complete this long after the connection opened or
/// its last answer was sent (hyper runs the same timer while a kept-alive
/// connection waits, so this is the idle timeout too): a client that sends
/// nothing, or a header a byte at a time, frees its place.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The most a connection buffers (hyper's smallest): request heads here are
/// a few hundred bytes, and 256 connections of the default 400 KB would be 100 MB.
const MAX_BUFFER: usize = 8192;

/// How a reload went: done, or the problems that kept the running config.
pub type Reloaded = Result<(), Vec<String>>;
/// A reload asked for on the endpoint: the daemon reloads as on SIGHUP and
/// answers here.
pub type ReloadRequest = oneshot::Sender<Reloaded>;

/// What the endpoint reports on.
pub struct Admin {
    metrics: Arc<Metrics>,
    server: Arc<Server>,
    /// Set once every DNS listener is bound.
    pub ready: AtomicBool,
    /// Woken by each flush, so that the daemon writes the snapshot soon and
    /// a crash cannot bring a flushed name back.
    pub flushed: Notify,
    started: SystemTime,
    /// The config file and when it was last loaded.
    loaded: Mutex<(PathBuf, SystemTime)>,
    /// `[admin] allow` and `control_allow`; swapped whole on reload.
    acl: ArcSwap<AdminAcl>,
    /// Connections from `allow` and `control_allow`, for [`CONNECTIONS`].
    connections: Arc<Connections>,
    /// Connections from everyone else, for [`STRANGER_CONNECTIONS`].
    strangers: Arc<Connections>,
    /// Answer counters of the last minutes, for the status page's chart.
    history: Arc<History>,
    /// Where `POST /reload` asks the daemon for a reload.
    reloads: mpsc::Sender<ReloadRequest>,
}

/// Who may have which paths.
struct AdminAcl {
    /// `[admin] allow`: /, /metrics and /status.
    read: Acl,
    /// `[admin] control_allow`: every path but those and the probes.
    control: Acl,
}

impl AdminAcl {
    fn of(config: &AdminConfig) -> AdminAcl {
        AdminAcl { read: Acl::new(config.allow.clone()), control: Acl::new(config.control_allow.clone()) }
    }
}

/// What a path gives, and so who may have it.
enum Access {
    /// /healthz and /readyz: everyone.
    Probe,
    /// /, /metrics and /status: `allow`.
    Read,
    /// Everything else: `control_allow`.
    Control,
}

impl Access {
    fn of(path: &str) -> Access {
        match path {
            "/healthz" | "/readyz" => Access::Probe,
            "/" | "/metrics" | "/status" => Access::Read,
            _ => Access::Control,
        }
    }
}

pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    let _sampling = Sampler::start(Arc::clone(&admin.history), Arc::clone(&admin.metrics));
    loop {
        let (stream, peer) = crate::bind::accept_or_pause(&listener, "admin").await;
        let known = admin.knows(peer);
        let (open, limit) =
            if known { (&admin.connections, CONNECTIONS) } else { (&admin.strangers, STRANGER_CONNECTIONS) };
        let full = open.count() >= limit;
        tokio::spawn(connection(Arc::clone(&admin), stream, peer, open.admit(limit), known));
        if full {
            // The connection closed to make room lets its descriptor go when
            // its task runs: let it run before accepting more, or a burst of
            // accepts would hold a batch of descriptors past the cap.
            tokio::task::yield_now().await;
        }
    }
}

/// Serves one connection until the client closes it, a timeout or a
/// protocol error ends it, or the cap needs its place. Only a known client
/// (in `allow` or `control_allow`) keeps it open for another request.
async fn connection(admin: Arc<Admin>, stream: TcpStream, peer: SocketAddr, admitted: Admitted, known: bool) {
    let (admin, admitted) = (&admin, &admitted);
    let service = service_fn(move |request| async move {
        let _busy = admitted.busy();
        Ok::<_, Infallible>(admin.respond(&request, peer).await)
    });
    let serving = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .keep_alive(known)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = serving => if let Err(error) = result {
            debug!(%error, client = %peer, "admin connection ended");
        },
        () = admitted.close.notified() => debug!(client = %peer, "admin connection closed to make room"),
    }
}

impl Admin {
    /// The endpoint of `server`; `POST /reload` asks the daemon on `reloads`.
    pub fn new(
        metrics: Arc<Metrics>,
        server: Arc<Server>,
        config: &Path,
        acl: &AdminConfig,
        reloads: mpsc::Sender<ReloadRequest>,
    ) -> Admin {
        let now = SystemTime::now();
        Admin {
            metrics,
            server,
            ready: false.into(),
            flushed: Notify::new(),
            started: now,
            loaded: Mutex::new((config.to_path_buf(), now)),
            acl: ArcSwap::from_pointee(AdminAcl::of(acl)),
            connections: Arc::new(Connections::new("admin")),
            strangers: Arc::new(Connections::new("admin_probes")),
            history: Arc::default(),
            reloads,
        }
    }

    /// Puts a reloaded `[admin] allow` and `control_allow` in place.
    pub fn set_acl(&self, acl: &AdminConfig) {
        self.acl.store(Arc::new(AdminAcl::of(acl)));
    }

    /// Whether `peer` may have more than the probes.
    fn knows(&self, peer: SocketAddr) -> bool {
        let acl = self.acl.load();
        acl.read.allows(peer.ip()) || acl.control.allows(peer.ip())
    }

    /// Whether `peer` may have `path`; if not, the 403 to send.
    fn refusal(&self, path: &str, peer: SocketAddr) -> Option<Response<Full<Bytes>>> {
        let acl = self.acl.load();
        let (allowed, list) = match Access::of(path) {
            Access::Probe => return None,
            Access::Read => (acl.read.allows(peer.ip()), "allow"),
            Access::Control => (acl.control.allows(peer.ip()), "control_allow"),
        };
        if allowed {
            return None;
        }
        debug!(client = %peer, path, "admin request refused");
        Some(reply(StatusCode::FORBIDDEN, "text/plain", format!("forbidden: outside [admin] {list}\n")))
    }

    /// Notes a (re)load of the config at `path`.
    pub fn loaded(&self, path: &Path) {
        *self.loaded.lock().expect("no panics while held") = (path.to_path_buf(), SystemTime::now());
    }

    async fn respond(&self, request: &Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        if let Some(refused) = self.refusal(path, peer) {
            return refused;
        }
        let method = request.method();
        let query = request.uri().query().unwrap_or("");
        match path {
            "/reload" if method == Method::POST => return self.reload(peer).await,
            "/log" if method == Method::POST => return self.switch_log(query, peer),
            "/reload" | "/log" => return not_allowed("POST"),
            _ => {}
        }
        if path == "/cache/flush" {
            if method != Method::POST {
                return not_allowed("POST");
            }
            let target = match Params::parse(query).and_then(|p| p.flush()) {
                Ok(target) => Arc::new(target),
                Err(error) => return bad_request(&error),
            };
            let (resolver, flushed) = (Arc::clone(self.server.resolver()), Arc::clone(&target));
            let removed = blocking(move || resolver.flush(&flushed.selection())).await;
            info!(flushed = %target, removed, "cache flushed");
            self.flushed.notify_one();
            return json_reply(&json!({ "removed": removed }));
        }
        if method != Method::GET && method != Method::HEAD {
            return not_allowed("GET, HEAD");
        }
        match path {
            "/metrics" => {
                let cache = self.server.resolver().cache();
                let body = self.metrics.render(cache.len(), cache.bytes());
                let accept = request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok());
                if accept.is_some_and(|accept| accept.contains("application/openmetrics-text")) {
                    reply(StatusCode::OK, metrics::OPENMETRICS, body)
                } else {
                    reply(StatusCode::OK, metrics::TEXT_0_0_4, metrics::text_0_0_4(&body))
                }
            }
            "/status" => json_reply(&self.status()),
            "/" => reply(
                StatusCode::OK,
                status_page::CONTENT_TYPE,
                status_page::page(&self.status(), &self.history, &self.metrics),
            ),
            "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
            "/readyz" if self.ready.load(Ordering::Relaxed) => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            "/readyz" => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n".into()),
            "/cache/lookup" => {
                let target = match Params::parse(query).and_then(|p| p.lookup()) {
                    Ok(target) => target,
                    Err(error) => return bad_request(&error),
                };
                let resolver = Arc::clone(self.server.resolver());
                let found = blocking(move || entries_json(&resolver, &target.selection())).await;
                json_reply(&found)
            }
            "/cache/dump" => {
                let json = match Params::parse(query) {
                    Ok(params) => params.format.as_deref() == Some("json"),
                    Err(error) => return bad_request(&error),
                };
                let resolver = Arc::clone(self.server.resolver());
                if json {
                    json_reply(&blocking(move || entries_json(&resolver, &Selection::All)).await)
                } else {
                    reply(StatusCode::OK, "text/plain; charset=utf-8", blocking(move || dump(&resolver)).await)
                }
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found; try /metrics, /status, /healthz, /readyz, /cache/lookup, /cache/flush, /cache/dump\n"
                    .into(),
            ),
        }
    }

    /// `POST /reload`: the daemon reloads as on SIGHUP; 400 with the
    /// config's problems when it keeps the running config.
    async fn reload(&self, peer: SocketAddr) -> Response<Full<Bytes>> {
        info!(client = %peer, "reload asked for on the admin endpoint");
        let (done, reloaded) = oneshot::channel();
        if self.reloads.send(done).await.is_err() {
            return stopping();
        }
        match reloaded.await {
            Ok(Ok(())) => json_reply(&json!({ "reloaded": true })),
            Ok(Err(problems)) => {
                let body = json!({ "reloaded": false, "problems": problems });
                reply(StatusCode::BAD_REQUEST, "application/json", format!("{body:#}\n"))
            }
            Err(_) => stopping(),
        }
    }

    /// `POST /log?queries=on|off`: switches the query log until the next
    /// switch or reload.
    fn switch_log(&self, query: &str, peer: SocketAddr) -> Response<Full<Bytes>> {
        let on = match queries_switch(query) {
            Ok(on) => on,
            Err(error) => return bad_request(&error),
        };
        self.server.query_log().set(on);
        info!(client = %peer, on, "query log switched");
        json_reply(&json!({ "queries": on }))
    }

    /// The `/status` document (docs/operations.md documents every field).
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
        let mut status = json!({
            "version": env!("STUBBORN_VERSION"),
            "started": rfc3339(self.started),
            "uptime_seconds": SystemTime::now().duration_since(self.started).unwrap_or_default().as_secs(),
            "config": { "path": config_path.display().to_string(), "loaded": rfc3339(loaded_at) },
            "cache": {
                "entries": cache.len(),
                "capacity": cache.config().capacity,
                "bytes": cache.bytes(),
                "max_memory": cache.config().max_memory,
            },
            "tcp": { "connections": self.server.tcp_connections_open(), "limit": self.server.tcp_limits().connections },
            "upstreams": all,
            "services": all_services,
            "degraded": {
                "answers": resolver.degraded().recent().iter().map(degraded_json).collect::<Vec<_>>(),
                "upstreams_down": down,
                "services_not_on_primary": not_on_primary,
            },
        });
        if let Some(fleet) = resolver.fleet() {
            status["fleet"] = fleet.status();
        }
        status
    }
}

/// Runs a walk of the cache on the blocking pool.
async fn blocking<T: Send + 'static>(walk: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(walk).await.expect("cache walks do not panic")
}

/// The query string of a `/cache/*` request.
#[derive(Default)]
struct Params {
    name: Option<String>,
    qtype: Option<String>,
    zone: Option<String>,
    all: bool,
    format: Option<String>,
}

/// A name (lower-case wire form) and maybe a type, or a zone, or all.
enum Target {
    Name { name: Vec<u8>, qtype: Option<u16> },
    Zone(Vec<u8>),
    All,
}

impl Target {
    fn selection(&self) -> Selection<'_> {
        match self {
            Target::Name { name, qtype } => Selection::Name { name, qtype: *qtype },
            Target::Zone(zone) => Selection::Zone(zone),
            Target::All => Selection::All,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Name { name, qtype: None } => write!(f, "{}", QueryName(name)),
            Target::Name { name, qtype: Some(qtype) } => write!(f, "{} {}", QueryName(name), RecordType::from(*qtype)),
            Target::Zone(zone) => write!(f, "zone {}", QueryName(zone)),
            Target::All => f.write_str("all"),
        }
    }
}

impl Params {
    fn parse(query: &str) -> Result<Params, String> {
        let mut params = Params::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "name" => params.name = Some(value),
                "type" => params.qtype = Some(value),
                "zone" => params.zone = Some(value),
                "all" if value == "1" => params.all = true,
                "all" => return Err(format!("all={value:?}: only all=1 flushes everything")),
                "format" => params.format = Some(value),
                other => return Err(format!("unknown parameter {other:?}")),
            }
        }
        Ok(params)
    }

    /// `name=N[&type=T]`.
    fn lookup(self) -> Result<Target, String> {
        if self.zone.is_some() || self.all {
            return Err("lookup takes name= and type=".into());
        }
        let name = self.name.ok_or("name= is required")?;
        Ok(Target::Name {
            name: wire::name_from_text(&name)?,
            qtype: self.qtype.as_deref().map(record_type).transpose()?,
        })
    }

    /// Exactly one of `name=N[&type=T]`, `zone=N`, `all=1`.
    fn flush(self) -> Result<Target, String> {
        match (self.name, self.zone, self.all) {
            (Some(name), None, false) => Ok(Target::Name {
                name: wire::name_from_text(&name)?,
                qtype: self.qtype.as_deref().map(record_type).transpose()?,
            }),
            (None, Some(zone), false) if self.qtype.is_none() => Ok(Target::Zone(wire::name_from_text(&zone)?)),
            (None, None, true) if self.qtype.is_none() => Ok(Target::All),
            _ => Err("give one of name=N (with type=T if wanted), zone=N, all=1".into()),
        }
    }
}

/// `queries=on` or `queries=off`, the one parameter of `POST /log`.
fn queries_switch(query: &str) -> Result<bool, String> {
    let mut on = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match (key.as_ref(), value.as_ref()) {
            ("queries", "on") => on = Some(true),
            ("queries", "off") => on = Some(false),
            ("queries", other) => return Err(format!("queries={other:?}: give queries=on or queries=off")),
            (other, _) => return Err(format!("unknown parameter {other:?}")),
        }
    }
    on.ok_or_else(|| "queries=on or queries=off is required".to_string())
}

/// `A`, `aaaa`, `TYPE65` or `65`.
fn record_type(text: &str) -> Result<u16, String> {
    let upper = text.to_ascii_uppercase();
    let number = upper.strip_prefix("TYPE").unwrap_or(&upper);
    if let Ok(number) = number.parse::<u16>() {
        return Ok(number);
    }
    upper.parse::<RecordType>().map(u16::from).map_err(|_| format!("{text:?} is not a record type"))
}

/// The JSON list of docs/reference.md's `/cache/lookup`.
fn entries_json(resolver: &Resolver, selection: &Selection<'_>) -> Value {
    Value::Array(resolver.cached(selection).iter().map(entry_json).collect())
}

fn entry_json(cached: &Cached) -> Value {
    let parts = cached.parts();
    json!({
        "name": QueryName(parts.name).to_string(),
        "type": RecordType::from(parts.qtype).to_string(),
        "rcode": rcode_text(cached.entry.rcode),
        "state": cached.state.label(),
        "ttl": cached.ttl,
        "expired_for": cached.expired_for,
        "age": cached.age,
        "dnssec_ok": parts.dnssec_ok,
        "checking_disabled": parts.checking_disabled,
        "records": record_lines(cached),
    })
}

fn rcode_text(rcode: u8) -> String {
    rcode_label(u16::from(rcode)).into_owned()
}

/// The entry's records in zone-file form, each with the TTL a client would
/// get now from a fresh entry (its stored TTL counted down, 0 at least).
fn record_lines(cached: &Cached) -> Vec<String> {
    let age = u32::try_from(cached.age).unwrap_or(u32::MAX);
    cached.entry.records(cached.question(), age).iter().map(ToString::to_string).collect()
}

/// `/cache/dump`: every entry, a comment giving its state, then its records.
fn dump(resolver: &Resolver) -> String {
    let cached = resolver.cached(&Selection::All);
    let mut text = format!("; stubborn cache dump: {} entries at {}\n", cached.len(), rfc3339(SystemTime::now()));
    for entry in &cached {
        let parts = entry.parts();
        let _ = writeln!(
            text,
            "; {} {} {} {} ttl={} expired_for={} age={}{}{}",
            QueryName(parts.name),
            RecordType::from(parts.qtype),
            rcode_text(entry.entry.rcode),
            entry.state.label(),
            entry.ttl,
            entry.expired_for,
            entry.age,
            if parts.dnssec_ok { " dnssec_ok" } else { "" },
            if parts.checking_disabled { " checking_disabled" } else { "" },
        );
        for line in record_lines(entry) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
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

pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn json_reply(value: &Value) -> Response<Full<Bytes>> {
    reply(StatusCode::OK, "application/json", format!("{value:#}\n"))
}

fn bad_request(error: &str) -> Response<Full<Bytes>> {
    reply(StatusCode::BAD_REQUEST, "application/json", format!("{:#}\n", json!({ "error": error })))
}

/// The daemon is stopping and takes no more requests.
fn stopping() -> Response<Full<Bytes>> {
    reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "stubborn is stopping\n".into())
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", format!("only {allow}\n"));
    response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_log_switch_takes_on_or_off() {
        assert_eq!(queries_switch("queries=on"), Ok(true));
        assert_eq!(queries_switch("queries=off"), Ok(false));
        assert!(queries_switch("queries=yes").is_err());
        assert!(queries_switch("").is_err());
        assert!(queries_switch("queries=on&x=1").is_err());
    }
}
