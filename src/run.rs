//! The daemon's life: start (create the snapshot's directory if missing and
//! restore the snapshot, bind every socket before serving anything), then
//! serve until a signal. Fatal at start ([`Fatal`]): a directory that cannot
//! be created — exit status 1, as for a bad config, since the config asks for
//! something this machine cannot give; the message names the directory and
//! the OS error — and a bind failure: exit status 2 with the address and the
//! OS error. Signals:
//! - SIGHUP (`systemctl reload`, `kill -HUP`): reload the config. The cache
//!   is kept; upstreams, zones, cache limits, ACL, services (health of
//!   unchanged targets kept) and the admin address take effect; changed listen addresses are rebound (if one can't be bound the
//!   old listeners stay and the reason is logged); an invalid file is logged
//!   with its PATH:LINE:COL problems and the running config keeps serving; so
//!   is a new snapshot directory that cannot be created.
//! - SIGTERM (service managers, `kill`) or SIGINT (Ctrl-C): stop accepting,
//!   let queries in flight finish (at most [`DRAIN`]), write the snapshot,
//!   return (exit status 0).
//! - SIGUSR1: log a one-screen summary of the state (upstreams, services,
//!   cache, degraded names) and keep running; SIGUSR2: flush the whole cache
//!   and log how many entries went. These are systemd-resolved's meanings;
//!   dnsmasq users send SIGUSR1 by habit for statistics. Left to the default
//!   action, either would kill the process and lose the cache since the last
//!   snapshot.
//!
//! The snapshot is also written every `persist_interval`.

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    net::{TcpListener, UdpSocket},
    signal::unix::{SignalKind, signal},
    task::JoinHandle,
    time::Instant,
};
use tracing::{debug, info, warn};

use crate::{
    admin::{self, Admin},
    cache::{Cache, Selection, persist},
    config::Config,
    metrics::Metrics,
    server::{self, Server},
};

/// How long a graceful stop waits for queries in flight.
pub const DRAIN: Duration = Duration::from_secs(2);
/// Degraded names a SIGUSR1 summary lists, at most: one screen.
const SUMMARY_DEGRADED: usize = 20;

/// An address that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {protocol} {addr}: {source}")]
pub struct BindError {
    pub protocol: &'static str,
    pub addr: SocketAddr,
    pub source: io::Error,
}

/// Why the daemon could not start; `main` turns each into its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// A listen or admin address cannot be bound: exit status 2.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The snapshot's directory cannot be created: exit status 1, like a bad config.
    #[error(transparent)]
    SnapshotDir(persist::PersistError),
}

/// A running socket task; dropping it closes the socket.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything that lives from start to stop.
struct Daemon {
    config: Config,
    server: Arc<Server>,
    admin: Arc<Admin>,
    /// UDP and TCP tasks of each listen address, by the address bound (a
    /// configured port 0 is the port the kernel gave, so a reload of the
    /// config with that port written in keeps the socket).
    listeners: HashMap<SocketAddr, [Task; 2]>,
    /// The admin endpoint's task, by the address bound.
    admin_listener: Option<(SocketAddr, Task)>,
}

/// Serves `config` until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), Fatal> {
    let metrics = Arc::new(Metrics::new());
    let cache = Cache::counting(&config.cache, metrics.cache_evictions.clone());
    if let Some(path) = &config.persist.path {
        create_snapshot_dir(path).map_err(Fatal::SnapshotDir)?;
        match persist::load(&cache, path) {
            Ok(restored) => info!(path = %path.display(), restored, "cache snapshot loaded"),
            Err(persist::PersistError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                info!(path = %path.display(), "no cache snapshot yet")
            }
            Err(error) => warn!(%error, "cache snapshot ignored"),
        }
    }
    let server = Arc::new(Server::new(&config, cache, Arc::clone(&metrics)));
    let admin = Arc::new(Admin::new(Arc::clone(&metrics), Arc::clone(&server), &config.path, &config.admin.allow));
    let mut daemon = Daemon { config, server, admin, listeners: HashMap::new(), admin_listener: None };

    if let Some(addr) = daemon.config.admin.listen {
        daemon.admin_listener = Some(daemon.bind_admin(addr).await?);
    }
    for addr in daemon.config.server.listen.clone() {
        let (bound, tasks) = daemon.bind_listener(addr).await?;
        daemon.listeners.insert(bound, tasks);
    }
    daemon.admin.ready.store(true, Ordering::Relaxed);
    info!(config = %daemon.config.path.display(), upstreams = daemon.config.upstream.servers.len(), "ready");

    daemon.serve_until_stopped().await;
    Ok(())
}

impl Daemon {
    async fn serve_until_stopped(&mut self) {
        let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1), Ok(mut usr2)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) else {
            warn!("cannot install signal handlers; serving until killed");
            return std::future::pending().await;
        };
        let mut next_snapshot = Instant::now() + self.config.persist.interval;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    self.reload().await;
                    next_snapshot = Instant::now() + self.config.persist.interval;
                }
                _ = usr1.recv() => self.log_state(),
                _ = usr2.recv() => {
                    let resolver = Arc::clone(self.server.resolver());
                    let removed = tokio::task::spawn_blocking(move || resolver.flush(&Selection::All)).await;
                    info!(removed = removed.unwrap_or_default(), "cache flushed (SIGUSR2)");
                }
                _ = tokio::time::sleep_until(next_snapshot), if self.config.persist.path.is_some() => {
                    self.snapshot(false).await;
                    next_snapshot = Instant::now() + self.config.persist.interval;
                }
            }
        }
        info!("shutting down");
        self.listeners.clear();
        self.admin_listener = None;
        if tokio::time::timeout(DRAIN, self.server.drained()).await.is_err() {
            warn!(in_flight = self.server.in_flight(), "queries still waiting on upstream at the end of the drain");
        }
        self.snapshot(true).await;
    }

    /// SIGUSR1: what an operator asks first, in a screenful of log lines.
    fn log_state(&self) {
        let resolver = self.server.resolver();
        let cache = resolver.cache();
        let degraded = resolver.degraded().recent();
        info!(
            version = env!("STUBBORN_VERSION"),
            config = %self.config.path.display(),
            cache_entries = cache.len(),
            cache_capacity = cache.config().capacity,
            tcp_connections = self.server.tcp_connections_open(),
            in_flight = self.server.in_flight(),
            degraded = degraded.len(),
            "state summary (SIGUSR1)"
        );
        let upstreams = resolver.upstreams();
        for (zone, pool) in upstreams.pools() {
            for upstream in pool.servers() {
                let health = upstream.health();
                info!(
                    upstream = %upstream.addr.label,
                    zone,
                    up = health.up,
                    since = %humantime::format_rfc3339_seconds(health.since),
                    latency_ms = health.latency.map(|l| l.as_secs_f64() * 1000.0),
                    last_error = health.last_error.as_ref().map(tracing::field::display),
                    "state: upstream"
                );
            }
        }
        for service in self.server.services().iter() {
            let primary = service.targets().next().map(|(target, _)| target.to_string());
            let healthy: Vec<String> =
                service.targets().filter(|(_, healthy)| *healthy).map(|(target, _)| target.to_string()).collect();
            info!(service = service.name(), active = %service.active(), primary, ?healthy, "state: service");
        }
        for name in degraded.iter().take(SUMMARY_DEGRADED) {
            info!(qname = %name.name, qtype = name.qtype, reason = ?name.reason, count = name.count,
                  since = %humantime::format_rfc3339_seconds(name.since), "state: degraded answer");
        }
        if degraded.len() > SUMMARY_DEGRADED {
            info!(more = degraded.len() - SUMMARY_DEGRADED, "state: more degraded answers (GET /status lists them)");
        }
    }

    /// Writes the cache snapshot if one is configured; failures are logged
    /// (the periodic success only at debug level, so it doesn't flood the log).
    async fn snapshot(&self, at_stop: bool) {
        let Some(path) = self.config.persist.path.clone() else { return };
        let resolver = Arc::clone(self.server.resolver());
        let saved = tokio::task::spawn_blocking(move || persist::save(resolver.cache(), &path)).await;
        match saved {
            Ok(Ok(entries)) if at_stop => info!(entries, "cache snapshot written"),
            Ok(Ok(entries)) => debug!(entries, "cache snapshot written"),
            Ok(Err(error)) => warn!(%error, "cache snapshot not written"),
            Err(error) => warn!(%error, "cache snapshot task failed"),
        }
    }

    async fn reload(&mut self) {
        let new = match Config::load(&self.config.path) {
            Ok(new) => new,
            Err(error) => {
                for problem in &error.problems {
                    warn!(%problem, "reload rejected; the running config stays");
                }
                return;
            }
        };
        if let Some(path) = new.persist.path.as_deref().filter(|_| new.persist.path != self.config.persist.path)
            && let Err(error) = create_snapshot_dir(path)
        {
            warn!(%error, "reload rejected; the running config stays");
            return;
        }
        self.server.apply(&self.config, &new);
        self.rebind_listeners(&new.server.listen).await;
        self.rebind_admin(new.admin.listen).await;
        self.admin.set_allow(&new.admin.allow);
        self.admin.loaded(&new.path);
        self.config = new;
        info!(config = %self.config.path.display(), upstreams = self.config.upstream.servers.len(), "config reloaded");
    }

    /// Binds the addresses new in `listen` and closes the ones gone, unless
    /// a new one failed: then the old ones stay, so that DNS keeps being served.
    async fn rebind_listeners(&mut self, listen: &[SocketAddr]) {
        let mut failed = false;
        let added: Vec<SocketAddr> = listen.iter().copied().filter(|addr| !self.listeners.contains_key(addr)).collect();
        for addr in added {
            match self.bind_listener(addr).await {
                Ok((bound, tasks)) => {
                    self.listeners.insert(bound, tasks);
                }
                Err(error) => {
                    warn!(%error, "new listen address not bound; keeping the old listeners");
                    failed = true;
                }
            }
        }
        if !failed {
            self.listeners.retain(|addr, _| {
                let keep = listen.contains(addr);
                if !keep {
                    info!(address = %addr, "listen address removed");
                }
                keep
            });
        }
    }

    async fn rebind_admin(&mut self, admin: Option<SocketAddr>) {
        if self.admin_listener.as_ref().map(|(addr, _)| *addr) == admin {
            return;
        }
        match admin {
            None => self.admin_listener = None,
            Some(addr) => match self.bind_admin(addr).await {
                Ok(bound) => self.admin_listener = Some(bound),
                Err(error) => warn!(%error, "new admin address not bound; keeping the old one"),
            },
        }
    }

    /// UDP and TCP on `addr`; with port 0, TCP takes the port UDP got (and
    /// if another program holds that port for TCP, both try another), and
    /// the bound address is logged.
    async fn bind_listener(&self, addr: SocketAddr) -> Result<(SocketAddr, [Task; 2]), BindError> {
        let mut tries = if addr.port() == 0 { 16 } else { 1 };
        let (udp, tcp, bound) = loop {
            tries -= 1;
            let udp = UdpSocket::bind(addr).await.map_err(|source| BindError { protocol: "udp", addr, source })?;
            let bound = udp.local_addr().map_err(|source| BindError { protocol: "udp", addr, source })?;
            match TcpListener::bind(bound).await {
                Ok(tcp) => break (udp, tcp, bound),
                Err(source) if tries == 0 || source.kind() != io::ErrorKind::AddrInUse => {
                    return Err(BindError { protocol: "tcp", addr: bound, source });
                }
                Err(_) => continue,
            }
        };
        info!(address = %bound, "listening on udp and tcp");
        let tasks = [
            Task(tokio::spawn(server::serve_udp(Arc::new(udp), Arc::clone(&self.server)))),
            Task(tokio::spawn(server::serve_tcp(tcp, Arc::clone(&self.server)))),
        ];
        Ok((bound, tasks))
    }

    /// The admin endpoint on `addr` (the bound address is logged).
    async fn bind_admin(&self, addr: SocketAddr) -> Result<(SocketAddr, Task), BindError> {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| BindError { protocol: "admin tcp", addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        info!(address = %bound, "admin endpoint listening");
        Ok((bound, Task(tokio::spawn(admin::serve(listener, Arc::clone(&self.admin))))))
    }
}

/// Creates the snapshot's directory when it is missing, and says so.
fn create_snapshot_dir(path: &std::path::Path) -> Result<(), persist::PersistError> {
    if let Some(dir) = persist::create_dir(path)? {
        info!(directory = %dir.display(), "cache snapshot directory created");
    }
    Ok(())
}
