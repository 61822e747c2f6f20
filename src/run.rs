//! The daemon's life: start (create the snapshot's directory if missing and
//! restore the snapshot, bind every socket before serving anything), then
//! serve until told to stop ([`crate::signals`] turns the signals into
//! events; [`serve`] takes any source of them). Fatal at start ([`Fatal`]): a directory that cannot
//! be created — exit status 1, as for a bad config, since the config asks for
//! something this machine cannot give; the message names the directory and
//! the OS error — and a bind failure: exit status 2 with the address and the
//! OS error. Signals:
//! - SIGHUP (`systemctl reload`, `kill -HUP`), or `POST /reload` on the
//!   admin endpoint (`stubborn ctl reload`, answered with how it went): reload the config. The cache
//!   is kept; upstreams, zones, cache limits, ACL, services (health of
//!   unchanged targets kept) and the admin address take effect; changed listen addresses are rebound (if one can't be bound the
//!   old listeners stay and the reason is logged); an invalid file is logged
//!   with its PATH:LINE:COL problems and the running config keeps serving; so
//!   is a new snapshot directory that cannot be created.
//! - SIGTERM (service managers, `kill`), SIGINT (Ctrl-C) or SIGQUIT
//!   (`Ctrl-\`, which Unbound also takes as a stop): stop accepting,
//!   let queries in flight finish (at most [`DRAIN`]), write the snapshot,
//!   return (exit status 0).
//! - SIGUSR1: log a one-screen summary of the state (upstreams, services,
//!   cache, degraded names) and keep running; SIGUSR2: flush the whole cache
//!   and log how many entries went. These are systemd-resolved's meanings;
//!   dnsmasq users send SIGUSR1 by habit for statistics. Left to the default
//!   action, either would kill the process and lose the cache since the last
//!   snapshot; so would SIGALRM, which is logged and ignored.
//!
//! With `[server] watch_config`, a change of the config file (rewritten,
//! renamed over, or a ConfigMap's symlink swap; polled every second)
//! reloads as SIGHUP does.
//!
//! The snapshot is also written every `persist_interval`, and within
//! [`SNAPSHOT_AFTER_FLUSH`] of a flush (SIGUSR2 or the admin endpoint), so
//! that a crash cannot bring a flushed name back. Under systemd the
//! service manager hears `READY=1` once every socket is bound,
//! `RELOADING=1` … `READY=1` around a reload (rejected or not), and
//! `STOPPING=1` ([`crate::systemd`]). With `WatchdogSec=`, `WATCHDOG=1`
//! goes out every half period from this loop while every listener task
//! still runs: a loop that stopped (a panic) or a runtime too starved to
//! run this loop goes quiet, and systemd restarts the service.

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    net::{TcpListener, UdpSocket},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};
use tracing::{debug, error, info, warn};

use crate::{
    admin::{self, Admin, ReloadRequest, Reloaded},
    bind,
    cache::{Cache, Selection, persist},
    config::{self, Config, ServerConfig, UpstreamAddr, UpstreamConfig},
    metrics::Metrics,
    query::QueryType,
    server::{self, Server},
    signals::{Event, Events, Never, Signals},
    systemd,
    watch::{self, FileWatch},
};

/// How long a graceful stop waits for queries in flight.
pub const DRAIN: Duration = Duration::from_secs(2);
/// How soon after a flush the snapshot is written (flushes in a burst share
/// one write), so that a crash cannot bring a flushed name back.
const SNAPSHOT_AFTER_FLUSH: Duration = Duration::from_secs(1);
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
    metrics: Arc<Metrics>,
    /// UDP and TCP tasks of each listen address, by the address bound (a
    /// configured port 0 is the port the kernel gave, so a reload of the
    /// config with that port written in keeps the socket).
    listeners: HashMap<SocketAddr, Vec<Task>>,
    /// The admin endpoint's task, by the address bound.
    admin_listener: Option<(SocketAddr, Task)>,
}

/// Serves `config` until SIGTERM, SIGINT or SIGQUIT (see [`crate::signals`]).
pub async fn run(config: Config) -> Result<(), Fatal> {
    match Signals::install() {
        Ok(signals) => serve(config, signals).await,
        Err(error) => {
            warn!(%error, "cannot install signal handlers; serving until killed");
            serve(config, Never).await
        }
    }
}

/// Serves `config` until `events` says stop; reloads, flushes and logs the
/// state as they ask.
pub async fn serve(config: Config, mut events: impl Events) -> Result<(), Fatal> {
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
    // A few reloads asked for at once wait their turn; each is answered.
    let (reloads, reload_requests) = mpsc::channel(4);
    let admin = Arc::new(Admin::new(Arc::clone(&metrics), Arc::clone(&server), &config.path, &config.admin, reloads));
    let mut daemon = Daemon { config, server, admin, metrics, listeners: HashMap::new(), admin_listener: None };

    if let Some(addr) = daemon.config.admin.listen {
        daemon.admin_listener = Some(daemon.bind_admin(addr)?);
    }
    let server_config = daemon.config.server.clone();
    for &addr in &server_config.listen {
        match daemon.bind_listener(addr, &server_config).await {
            Ok((bound, tasks)) => {
                daemon.listeners.insert(bound, tasks);
            }
            // The default list's [::1] on a host without IPv6: Unbound and dnsmasq warn and go on.
            Err(error) if server_config.default_listen && addr.is_ipv6() && bind::is_no_ipv6(&error.source) => {
                warn!(%error, "no IPv6 here; serving without the default [::1] listen address");
            }
            Err(error) => return Err(error.into()),
        }
    }
    daemon.admin.ready.store(true, Ordering::Relaxed);
    info!(config = %daemon.config.path.display(), upstreams = daemon.config.upstream.servers.len(), "ready");
    systemd::ready();
    daemon.server.check_loops();

    daemon.serve_until_stopped(&mut events, reload_requests).await;
    Ok(())
}

impl Daemon {
    /// Serves until `events` says stop; reloads on its word or a request from the admin endpoint.
    async fn serve_until_stopped(
        &mut self,
        events: &mut impl Events,
        mut reload_requests: mpsc::Receiver<ReloadRequest>,
    ) {
        let mut next_snapshot = Instant::now() + self.config.persist.interval;
        let mut config_file = FileWatch::new(&self.config.path);
        let mut resolv_file = self.config.upstream.resolv_file.as_deref().map(FileWatch::new);
        let mut poll = tokio::time::interval(watch::POLL);
        let admin = Arc::clone(&self.admin);
        let mut watchdog = systemd::watchdog_interval().map(|period| {
            info!(every = %humantime::format_duration(period), "telling the service manager's watchdog all is well");
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Event::Stop => break,
                    Event::Reload => {
                        self.reload_now(None, &mut config_file, &mut resolv_file, &mut next_snapshot).await;
                    }
                    Event::LogState => self.log_state(),
                    Event::Flush => {
                        let resolver = Arc::clone(self.server.resolver());
                        let removed = tokio::task::spawn_blocking(move || resolver.flush(&Selection::All)).await;
                        info!(removed = removed.unwrap_or_default(), "cache flushed (SIGUSR2)");
                        next_snapshot = next_snapshot.min(Instant::now() + SNAPSHOT_AFTER_FLUSH);
                    }
                    Event::Ignored(what) => info!("{what} ignored"),
                },
                Some(asker) = reload_requests.recv() => {
                    self.reload_now(Some(asker), &mut config_file, &mut resolv_file, &mut next_snapshot).await;
                }
                _ = poll.tick(), if self.config.server.watch_config || resolv_file.is_some() => {
                    if self.config.server.watch_config && config_file.changed() {
                        info!(config = %self.config.path.display(), "config file changed; reloading");
                        systemd::reloading();
                        // Logged either way; nobody to answer.
                        let _ = self.reload().await;
                        systemd::ready();
                    }
                    if resolv_file.as_mut().is_some_and(FileWatch::changed) {
                        self.reread_resolv_file();
                    }
                }
                _ = tick(&mut watchdog) => {
                    if self.listeners_run() {
                        systemd::watchdog();
                    } else {
                        error!("a listener task stopped; no longer telling the watchdog all is well");
                    }
                }
                () = admin.flushed.notified() => {
                    next_snapshot = next_snapshot.min(Instant::now() + SNAPSHOT_AFTER_FLUSH);
                }
                _ = tokio::time::sleep_until(next_snapshot), if self.config.persist.path.is_some() => {
                    self.snapshot(false).await;
                    next_snapshot = Instant::now() + self.config.persist.interval;
                }
            }
        }
        info!("shutting down");
        systemd::stopping();
        self.listeners.clear();
        self.admin_listener = None;
        if tokio::time::timeout(DRAIN, self.server.drained()).await.is_err() {
            warn!(in_flight = self.server.in_flight(), "queries still waiting on upstream at the end of the drain");
        }
        self.snapshot(true).await;
    }

    /// Reloads (SIGHUP, or `asker` on the admin endpoint, which is
    /// answered), around systemd's reloading notice; what the new config
    /// watches and when the next snapshot is due start afresh.
    async fn reload_now(
        &mut self,
        asker: Option<ReloadRequest>,
        config_file: &mut FileWatch,
        resolv_file: &mut Option<FileWatch>,
        next_snapshot: &mut Instant,
    ) {
        systemd::reloading();
        let reloaded = self.reload().await;
        systemd::ready();
        config_file.changed(); // seen: the change that was just loaded
        *resolv_file = self.config.upstream.resolv_file.as_deref().map(FileWatch::new);
        *next_snapshot = Instant::now() + self.config.persist.interval;
        if let Some(asker) = asker {
            // Gone if its connection closed meanwhile: the reload stands.
            let _ = asker.send(reloaded);
        }
    }

    /// True while every UDP and TCP task of every listen address (and the
    /// admin endpoint's) is running: they end only by a panic.
    fn listeners_run(&self) -> bool {
        let admin = self.admin_listener.iter().map(|(_, task)| task);
        self.listeners.values().flatten().chain(admin).all(|task| !task.0.is_finished())
    }

    /// The resolv file changed: its nameservers (less stubborn's own
    /// addresses) become the default pool; an empty or missing file keeps
    /// the list there is.
    fn reread_resolv_file(&mut self) {
        let Some(path) = self.config.upstream.resolv_file.clone() else { return };
        let servers = std::fs::read(&path)
            .map(|text| config::nameservers_of(&text, &self.config.server.listen))
            .unwrap_or_default();
        let labels = |servers: &[UpstreamAddr]| servers.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(", ");
        if servers.is_empty() {
            warn!(path = %path.display(), kept = %labels(&self.config.upstream.servers),
                  "resolv file names no nameserver (or is missing); keeping the upstreams there are");
            return;
        }
        if servers == self.config.upstream.servers {
            return;
        }
        info!(path = %path.display(), old = %labels(&self.config.upstream.servers), new = %labels(&servers),
              "upstreams from the resolv file changed");
        let upstream = UpstreamConfig { servers, ..self.config.upstream.clone() };
        self.server.apply_upstreams(&upstream);
        self.config.upstream = upstream;
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
        // The words of /status and `stubborn ctl status`: `type=A reason=stale`.
        for name in degraded.iter().take(SUMMARY_DEGRADED) {
            info!(name = %name.name, "type" = %QueryType(name.qtype), reason = %name.reason.label(), count = name.count,
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

    /// Reloads the config, counted in `stubborn_config_reloads_total`.
    async fn reload(&mut self) -> Reloaded {
        let reloaded = self.try_reload().await;
        let reloads = &self.metrics.config_reloads;
        let counter = if reloaded.is_ok() { &reloads.ok } else { &reloads.error };
        counter.inc();
        reloaded
    }

    /// Puts the config file's new content in place; Err with its problems
    /// (and the running config untouched) when it is rejected.
    async fn try_reload(&mut self) -> Reloaded {
        let mut new = match Config::load(&self.config.path) {
            Ok(new) => new,
            Err(error) => {
                for problem in &error.problems {
                    warn!(%problem, "reload rejected; the running config stays");
                }
                return Err(error.problems);
            }
        };
        if new.upstream.resolv_file.is_some() && new.upstream.servers.is_empty() {
            // An empty or missing resolv file keeps the upstreams there are.
            new.upstream.servers = self.config.upstream.servers.clone();
        }
        if let Some(path) = new.persist.path.as_deref().filter(|_| new.persist.path != self.config.persist.path)
            && let Err(error) = create_snapshot_dir(path)
        {
            warn!(%error, "reload rejected; the running config stays");
            return Err(vec![error.to_string()]);
        }
        self.server.apply(&self.config, &new);
        self.rebind_listeners(&new.server).await;
        self.rebind_admin(new.admin.listen);
        self.admin.set_acl(&new.admin);
        self.admin.loaded(&new.path);
        self.config = new;
        info!(config = %self.config.path.display(), upstreams = self.config.upstream.servers.len(), "config reloaded");
        Ok(())
    }

    /// Binds the addresses new in `listen` and closes the ones gone, unless
    /// a new one failed: then the old ones stay, so that DNS keeps being served.
    async fn rebind_listeners(&mut self, options: &ServerConfig) {
        let listen = &options.listen;
        let mut failed = false;
        let added: Vec<SocketAddr> = listen.iter().copied().filter(|addr| !self.listeners.contains_key(addr)).collect();
        for addr in added {
            match self.bind_listener(addr, options).await {
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

    fn rebind_admin(&mut self, admin: Option<SocketAddr>) {
        if self.admin_listener.as_ref().map(|(addr, _)| *addr) == admin {
            return;
        }
        match admin {
            None => self.admin_listener = None,
            Some(addr) => match self.bind_admin(addr) {
                Ok(bound) => self.admin_listener = Some(bound),
                Err(error) => warn!(%error, "new admin address not bound; keeping the old one"),
            },
        }
    }

    /// UDP and TCP on `addr`; with port 0, TCP takes the port UDP got (and
    /// if another program holds that port for TCP, both try another), and
    /// the bound address is logged.
    async fn bind_listener(
        &self,
        addr: SocketAddr,
        options: &ServerConfig,
    ) -> Result<(SocketAddr, Vec<Task>), BindError> {
        let (freebind, threads) = (options.freebind, options.threads);
        let shared = threads > 1;
        let mut tries = if addr.port() == 0 { 16 } else { 1 };
        let (udp, tcp, bound) =
            loop {
                tries -= 1;
                let udp = bind::udp(addr, freebind, shared)
                    .and_then(UdpSocket::from_std)
                    .map_err(|source| BindError { protocol: "udp", addr, source })?;
                let bound = udp.local_addr().map_err(|source| BindError { protocol: "udp", addr, source })?;
                match bind::tcp(bound, freebind).and_then(TcpListener::from_std) {
                    Ok(tcp) => break (udp, tcp, bound),
                    Err(source) if tries == 0 || source.kind() != io::ErrorKind::AddrInUse => {
                        return Err(BindError { protocol: "tcp", addr: bound, source });
                    }
                    Err(_) => continue,
                }
            };
        let mut udp = vec![udp];
        for _ in 1..threads {
            let more = bind::udp(bound, freebind, shared).and_then(UdpSocket::from_std);
            udp.push(more.map_err(|source| BindError { protocol: "udp", addr: bound, source })?);
        }
        // What the kernel granted of the buffer asked for (it reports twice
        // the usable bytes); below 4 MiB, `net.core.rmem_max` is the cap.
        let udp_receive_buffer = socket2::SockRef::from(&udp[0]).recv_buffer_size().unwrap_or(0);
        info!(address = %bound, udp_loops = threads, udp_receive_buffer, "listening on udp and tcp");
        let mut tasks: Vec<Task> = udp
            .into_iter()
            .map(|socket| Task(tokio::spawn(server::serve_udp(Arc::new(socket), Arc::clone(&self.server)))))
            .collect();
        tasks.push(Task(tokio::spawn(server::serve_tcp(tcp, Arc::clone(&self.server)))));
        Ok((bound, tasks))
    }

    /// The admin endpoint on `addr` (the bound address is logged).
    fn bind_admin(&self, addr: SocketAddr) -> Result<(SocketAddr, Task), BindError> {
        // The DNS listeners' backlog: a burst of connections (a flood, many
        // scrapers at once) waits in the kernel instead of having SYNs dropped,
        // which would hold a scrape up for the 1 s of a SYN resend.
        let listener = bind::tcp(addr, false).and_then(TcpListener::from_std).map_err(|source| BindError {
            protocol: "admin tcp",
            addr,
            source,
        })?;
        let bound = listener.local_addr().unwrap_or(addr);
        info!(address = %bound, "admin endpoint listening");
        Ok((bound, Task(tokio::spawn(admin::serve(listener, Arc::clone(&self.admin))))))
    }
}

/// The next tick of `ticks`; never without them.
async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => _ = ticks.tick().await,
        None => std::future::pending().await,
    }
}

/// Creates the snapshot's directory when it is missing, and says so.
fn create_snapshot_dir(path: &std::path::Path) -> Result<(), persist::PersistError> {
    if let Some(dir) = persist::create_dir(path)? {
        info!(directory = %dir.display(), "cache snapshot directory created");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole daemon in this process, driven by a channel instead of
    /// signals: it binds, reloads, logs its state, flushes, ignores what it
    /// should, and on Stop drains, writes its snapshot and returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_in_process_follows_its_events_and_stops_cleanly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stubborn.toml");
        let snapshot = dir.path().join("state/cache.snapshot");
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"192.0.2.1\"]\n\
             [cache]\npersist = \"{}\"\n",
            snapshot.display()
        );
        std::fs::write(&path, text).expect("write config");
        let config = Config::load(&path).expect("a valid config");
        let (events, received) = mpsc::channel(8);
        let daemon = tokio::spawn(serve(config, received));
        for event in [Event::Reload, Event::LogState, Event::Flush, Event::Ignored("SIGALRM"), Event::Stop] {
            events.send(event).await.expect("the daemon listens");
        }
        let stopped = tokio::time::timeout(Duration::from_secs(10), daemon).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
        assert!(snapshot.is_file(), "the stop wrote the snapshot");
    }

    /// The last sender gone, the daemon stops as on SIGTERM.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_daemon_whose_event_source_is_gone_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stubborn.toml");
        std::fs::write(&path, "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"192.0.2.1\"]\n")
            .expect("write config");
        let (events, received) = mpsc::channel::<Event>(1);
        let daemon = tokio::spawn(serve(Config::load(&path).expect("a valid config"), received));
        drop(events);
        let stopped = tokio::time::timeout(Duration::from_secs(10), daemon).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    }
}
