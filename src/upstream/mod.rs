//! The upstream pools: the configured servers in priority order, each with
//! its health, and `[[upstream.zone]]` pools chosen by longest suffix.
//!
//! Algorithm of one resolution ([`Pool::resolve`]):
//! - try the servers that are up, in the configured order, each with
//!   `timeout`; the first answer (NOERROR or NXDOMAIN) wins;
//! - a failure counts against the server; after `fail_after` in a row it is
//!   down (REFUSED and SERVFAIL only if a check of stubborn's own questions
//!   fails too: [`health`]): skipped by queries and checked every
//!   `probe_interval` in the background (`<zone> NS` and the first question
//!   it answered) until it answers one of them, then it is up and, being
//!   earlier in the list, preferred again;
//! - when no server is up, all are tried in order anyway rather than failing
//!   without asking;
//! - when a whole resolution fails (every server tried failed, whether or
//!   not any was counted down yet), the pool is rechecked: each of its
//!   servers is probed every `probe_interval`, on its own schedule, until
//!   one answers, and that moment is noted in [`Recovered`], which ends the
//!   resolver's failure recheck (RFC 8767 §5) — fresh answers resume within
//!   a probe interval of the upstream answering again.
//!
//! The background checks (verification, probe, recheck) are in [`probe`].

mod bootstrap;
mod connection;
mod error;
mod exchange;
mod health;
mod loop_check;
mod probe;
#[cfg(test)]
pub mod scripted;
mod udp_sockets;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rustls::ClientConfig;
use tokio::{task::JoinSet, time::Instant};
use tracing::{error, info, warn};

use connection::SharedConnection;
pub use error::UpstreamError;
pub use exchange::Ask;
pub use health::HealthReport;
use health::{Health, Transition};
pub use loop_check::LoopCheck;
use probe::{probe_until_up, recheck_until_answered, verify};
use udp_sockets::UdpSockets;

use crate::moment::AtomicMoment;
use crate::{
    config::{Transport, UpstreamAddr, UpstreamConfig},
    metrics::{Metrics, UpstreamMetrics, UpstreamResult},
    rate_limit::RateLimit,
    wire::{self, TYPE_NS, wire_name},
};

/// An upstream's reply and the server that gave it.
pub struct Answered {
    pub reply: Vec<u8>,
    pub by: Arc<Upstream>,
}

/// One upstream server and what is known of it.
pub struct Upstream {
    pub addr: UpstreamAddr,
    health: Health,
    metrics: UpstreamMetrics,
    /// The shared connection of a `tcp://`, `tls://` or `https://` upstream.
    connection: Option<Arc<SharedConnection>>,
    /// The shared sockets of a plain UDP upstream.
    udp: Option<UdpSockets>,
    recovered: Arc<Recovered>,
    /// Up/down log lines, rate-limited against a flapping server.
    transitions: RateLimit,
    /// A hedge fired on it and it has not answered since: the next query
    /// waits on it only [`HEDGE_MIN`] before asking the next server too.
    slow: AtomicBool,
}

/// The shortest wait before a query is also sent to the next server.
const HEDGE_MIN: Duration = Duration::from_millis(20);
/// The wait for a server whose latency is not known yet (no answer so far):
/// under 50 ms, so that the queries that arrive together at a cold start,
/// before any hedge has marked a silent first server slow, stay under it
/// (`scripts/bench-extras dead-primary`).
const HEDGE_UNKNOWN: Duration = Duration::from_millis(40);

/// When the upstreams last answered again after failing: a down server
/// came back up, or a pool whose resolution had failed answered a recheck
/// or a query. The resolver's failure recheck (RFC 8767 §5) ends then:
/// names whose refresh failed during the outage are asked again at once
/// instead of up to 30 s later. Read on every stale lookup, written once
/// per recovery: an atomic, not a lock.
#[derive(Debug)]
pub struct Recovered {
    /// What `at` counts from.
    base: Instant,
    /// None while nothing has recovered.
    at: AtomicMoment,
}

impl Default for Recovered {
    fn default() -> Self {
        Recovered { base: Instant::now(), at: AtomicMoment::default() }
    }
}

impl Recovered {
    pub fn last(&self) -> Option<Instant> {
        self.at.load(self.base)
    }

    fn mark(&self) {
        self.at.store(self.base, Instant::now());
    }
}

/// How long and how often a pool's servers are tried.
#[derive(Clone)]
struct Timing {
    timeout: Duration,
    probe_interval: Duration,
}

impl Upstream {
    /// One attempt, recorded in health and metrics.
    async fn ask(
        self: &Arc<Self>,
        ask: &Ask<'_>,
        timing: &Timing,
        probe_question: &Arc<[u8]>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let started = Instant::now();
        let result = self.exchange(ask, started + timing.timeout).await;
        self.metrics.latency.observe(started.elapsed().as_secs_f64());
        self.metrics.result(result.as_ref().map_or_else(UpstreamError::result, |_| UpstreamResult::Ok)).inc();
        match &result {
            // A question asked with CD may fail without it: never the one kept for checks.
            Ok(_) => {
                self.record_success(Some(ask.question).filter(|_| !ask.checking_disabled), Some(started.elapsed()))
            }
            Err(UpstreamError::Local(_)) => {}
            Err(error) => match self.health.failure(error) {
                Transition::WentDown => self.went_down(error, timing, probe_question),
                Transition::Verify => {
                    tokio::spawn(verify(Arc::clone(self), timing.clone(), Arc::clone(probe_question)));
                }
                Transition::Unchanged | Transition::CameUp => {}
            },
        }
        result
    }

    /// The loop check found that this server forwards back to stubborn.
    fn mark_loop(&self) {
        if self.health.looped() == Transition::WentDown {
            self.metrics.up.set(0);
        }
        error!(upstream = %self.addr.label, "forwarding loop: queries sent to this upstream come back to stubborn; \
               it is not asked until the next reload or resolv file change");
    }

    /// A loop check starts: a server found looping before may be asked again.
    fn clear_loop(&self) {
        if self.health.clear_loop() == Transition::CameUp {
            self.metrics.up.set(1);
        }
    }

    /// Marks the server down (metric, log) and starts probing it.
    fn went_down(self: &Arc<Self>, error: &UpstreamError, timing: &Timing, probe_question: &Arc<[u8]>) {
        if let Some(held_back) = self.transitions.admit() {
            warn!(upstream = %self.addr.label, %error, held_back, "upstream down");
        }
        self.metrics.up.set(0);
        tokio::spawn(probe_until_up(Arc::downgrade(self), timing.clone(), Arc::clone(probe_question)));
    }

    /// Asks a question of stubborn's own; only whether it was answered counts.
    async fn ask_plain(&self, question: &[u8], deadline: Instant) -> Result<(), UpstreamError> {
        self.exchange(&Ask::plain(question), deadline).await.map(drop)
    }

    async fn exchange(&self, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
        #[cfg(test)]
        if let Some(script) = scripted::find(&self.addr) {
            return script.exchange(ask, deadline).await;
        }
        match (&self.udp, &self.connection) {
            (Some(sockets), _) => exchange::udp(sockets, ask, deadline).await,
            (None, Some(connection)) => connection.exchange(ask, deadline).await,
            // An encrypted upstream when TLS could not be set up (logged then).
            (None, None) => Err(UpstreamError::Tls("no TLS client configuration".into())),
        }
    }

    /// How long a query waits on this server before the next one is asked
    /// too: twice its smoothed latency, within [`HEDGE_MIN`] and half the
    /// timeout; [`HEDGE_MIN`] while it is slow (a hedge fired and it has
    /// not answered since), [`HEDGE_UNKNOWN`] before its first answer.
    fn hedge_delay(&self, timing: &Timing) -> Duration {
        if self.slow.load(Ordering::Relaxed) {
            return HEDGE_MIN;
        }
        self.answer_within(timing)
    }

    /// When an answer from this server is due: twice its smoothed latency,
    /// within [`HEDGE_MIN`] and half the timeout; [`HEDGE_UNKNOWN`] before
    /// its first answer.
    fn answer_within(&self, timing: &Timing) -> Duration {
        let most = (timing.timeout / 2).max(HEDGE_MIN);
        self.health.latency().map_or(HEDGE_UNKNOWN, |latency| latency * 2).clamp(HEDGE_MIN, most)
    }

    fn record_success(&self, question: Option<&[u8]>, latency: Option<Duration>) {
        self.slow.store(false, Ordering::Relaxed);
        if self.health.success(question, latency) == Transition::CameUp {
            if let Some(held_back) = self.transitions.admit() {
                info!(upstream = %self.addr.label, held_back, "upstream up");
            }
            self.metrics.up.set(1);
            self.recovered.mark();
        }
    }

    pub fn health(&self) -> HealthReport {
        self.health.report()
    }
}

/// Sleeps until `at`, or forever without one (a `select!` branch that never fires).
async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Servers tried in priority order.
pub struct Pool {
    servers: Vec<Arc<Upstream>>,
    timing: Timing,
    /// `<apex> NS IN` in wire form, the probe's question.
    probe_question: Arc<[u8]>,
    /// Set while a recheck runs after a failed resolution (one at a time).
    rechecking: Arc<AtomicBool>,
    recovered: Arc<Recovered>,
}

impl Pool {
    fn new(
        servers: &[UpstreamAddr],
        apex: &[u8],
        config: &UpstreamConfig,
        metrics: &Metrics,
        previous: Option<&Upstreams>,
        recovered: &Arc<Recovered>,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Pool {
        let bootstrap = bootstrap_servers(config, servers);
        let servers = servers
            .iter()
            .map(|addr| {
                // A plain server that stays (same address and transport, same
                // fail_after; for TCP the same timeout, its connection's) keeps
                // its health and connection: a reload or a new resolv file
                // does not make a down server look up again. An encrypted one
                // is built anew: its certificates or bootstrap may have changed.
                let kept = previous.and_then(|p| p.servers().find(|s| s.addr == *addr)).filter(|s| {
                    s.addr.is_plain()
                        && s.health.fail_after() == config.fail_after
                        && s.connection.as_ref().is_none_or(|c| c.timeout() == config.timeout)
                });
                if let Some(kept) = kept {
                    return Arc::clone(kept);
                }
                let metrics = metrics.upstream(&addr.label);
                metrics.up.set(1);
                let connection = SharedConnection::new(addr, tls, &bootstrap, config.timeout);
                let udp = addr.socket_addr().filter(|_| matches!(addr.transport, Transport::Udp)).map(UdpSockets::new);
                Arc::new(Upstream {
                    addr: addr.clone(),
                    health: Health::new(config.fail_after),
                    metrics,
                    connection: connection.map(Arc::new),
                    udp,
                    recovered: Arc::clone(recovered),
                    transitions: RateLimit::default(),
                    slow: AtomicBool::new(false),
                })
            })
            .collect();
        let probe_question = wire::question_of(apex, TYPE_NS);
        Pool {
            servers,
            timing: Timing { timeout: config.timeout, probe_interval: config.probe_interval },
            probe_question: probe_question.into(),
            rechecking: Arc::default(),
            recovered: Arc::clone(recovered),
        }
    }

    /// Asks the servers in order until one answers; the error is the last
    /// server's. Hedged: a server that has not answered within its
    /// [`Upstream::hedge_delay`] keeps its query (and its full `timeout`
    /// before the attempt counts as a failure), and the next server is asked
    /// too; the first answer wins, with the server that gave it. A failure
    /// moves on to the next server at once.
    pub async fn resolve(&self, ask: &Ask<'_>) -> Result<Answered, UpstreamError> {
        let any_up = self.any_up();
        let mut last_error = UpstreamError::Timeout;
        // Another stubborn's loop probe goes to a server found looping too:
        // if it loops through that stubborn as well, both ends see it.
        let askable: Vec<&Arc<Upstream>> = self
            .servers
            .iter()
            .filter(|s| match s.health.is_looped() {
                true => LoopCheck::is_probe(ask.name()),
                false => !any_up || s.health.is_up(),
            })
            .collect();
        if let [only] = askable[..] {
            // Nobody to hedge to: no task, no timer.
            let result = only.ask(ask, &self.timing, &self.probe_question).await;
            return self.resolved(result.map(|reply| Answered { reply, by: Arc::clone(only) }));
        }
        let mut askable = askable.into_iter().peekable();
        let question: Arc<[u8]> = ask.question.into();
        let mut attempts = JoinSet::new();
        // The server asked last, and when the next one is asked too.
        let mut waiting_on: Option<(&Arc<Upstream>, Instant)> = None;
        loop {
            if attempts.is_empty() {
                let Some(server) = askable.next() else { break };
                waiting_on = Some(self.attempt(&mut attempts, server, ask, &question));
            }
            let hedge_at = waiting_on.filter(|_| askable.peek().is_some()).map(|(_, at)| at);
            tokio::select! {
                joined = attempts.join_next() => match joined {
                    Some(Ok(Ok(reply))) => {
                        // The others finish in the background: their health counts.
                        attempts.detach_all();
                        return self.resolved(Ok(reply));
                    }
                    Some(Ok(Err(error))) => {
                        last_error = error;
                        if let Some(server) = askable.next() {
                            waiting_on = Some(self.attempt(&mut attempts, server, ask, &question));
                        }
                    }
                    Some(Err(_)) | None => {}
                },
                () = sleep_until_or_never(hedge_at) => {
                    if let Some((slow, _)) = waiting_on {
                        slow.slow.store(true, Ordering::Relaxed);
                    }
                    if let Some(server) = askable.next() {
                        waiting_on = Some(self.attempt(&mut attempts, server, ask, &question));
                    }
                }
            }
        }
        self.resolved(Err(last_error))
    }

    /// How a resolution ended: an answer ends a recheck under way (the
    /// outage is over), a failure starts one.
    fn resolved(&self, result: Result<Answered, UpstreamError>) -> Result<Answered, UpstreamError> {
        match &result {
            Ok(_) if self.rechecking.load(Ordering::Relaxed) => self.recovered.mark(),
            Ok(_) => {}
            Err(_) => self.start_recheck(),
        }
        result
    }

    /// Starts one attempt at `server` in its own task; returns the server
    /// and when the next one is to be asked too.
    fn attempt<'s>(
        &self,
        attempts: &mut JoinSet<Result<Answered, UpstreamError>>,
        server: &'s Arc<Upstream>,
        ask: &Ask<'_>,
        question: &Arc<[u8]>,
    ) -> (&'s Arc<Upstream>, Instant) {
        let hedge_at = Instant::now() + server.hedge_delay(&self.timing);
        let (upstream, timing, probe_question) =
            (Arc::clone(server), self.timing.clone(), Arc::clone(&self.probe_question));
        let (question, payload, dnssec_ok, checking_disabled) =
            (Arc::clone(question), ask.payload, ask.dnssec_ok, ask.checking_disabled);
        attempts.spawn(async move {
            let ask = Ask { question: &question, payload, dnssec_ok, checking_disabled };
            let reply = upstream.ask(&ask, &timing, &probe_question).await?;
            Ok(Answered { reply, by: upstream })
        });
        (server, hedge_at)
    }

    fn start_recheck(&self) {
        if self.rechecking.swap(true, Ordering::Relaxed) {
            return;
        }
        tokio::spawn(recheck_until_answered(
            self.servers.iter().map(Arc::downgrade).collect(),
            self.timing.clone(),
            Arc::clone(&self.probe_question),
            Arc::clone(&self.rechecking),
            Arc::clone(&self.recovered),
        ));
    }

    /// False when every server is counted down: then a name with a stale
    /// answer is answered stale at once (no client waits on dead servers).
    pub fn any_up(&self) -> bool {
        self.servers.iter().any(|s| s.health.is_up())
    }

    /// How long a miss waits when every server is counted down: the sum of
    /// their [`Upstream::answer_within`], in which the hedged fetch reaches
    /// each server (a hedge fires no later than that) and hears back from
    /// one that is back; a pool still dead costs the client tens of
    /// milliseconds, not `timeout` per server.
    pub fn down_wait(&self) -> Duration {
        self.servers.iter().map(|s| s.answer_within(&self.timing)).sum()
    }

    pub fn servers(&self) -> &[Arc<Upstream>] {
        &self.servers
    }

    /// The longest a [`Pool::resolve`] can take: every server timing out.
    pub fn worst_case(&self) -> Duration {
        self.timing.timeout * u32::try_from(self.servers.len()).unwrap_or(u32::MAX)
    }
}

/// The default pool and the conditional-forwarding zones.
pub struct Upstreams {
    recovered: Arc<Recovered>,
    default: Pool,
    /// Conditional-forwarding pools, longest apex first.
    zones: Vec<ZonePool>,
}

struct ZonePool {
    /// As configured ("cluster.local").
    name: String,
    /// Lower-case wire form, for matching.
    apex: Vec<u8>,
    pool: Pool,
}

impl Upstreams {
    /// Pools for `config`. On a reload, `previous` (the pools being
    /// replaced) passes on when the upstreams last recovered, so that a
    /// reload neither ends nor lengthens a failure recheck.
    pub fn new(config: &UpstreamConfig, metrics: &Metrics, previous: Option<&Upstreams>) -> Upstreams {
        let recovered = &previous.map_or_else(Arc::default, |p| Arc::clone(&p.recovered));
        let tls = encrypted_tls(config);
        let mut zones: Vec<ZonePool> = config
            .zones
            .iter()
            .map(|zone| {
                let apex = wire_name(&zone.name);
                let pool = Pool::new(&zone.servers, &apex, config, metrics, previous, recovered, tls.as_ref());
                ZonePool { name: zone.name.clone(), apex, pool }
            })
            .collect();
        zones.sort_by_key(|zone| std::cmp::Reverse(zone.apex.len()));
        let default = Pool::new(&config.servers, &[0], config, metrics, previous, recovered, tls.as_ref());
        let upstreams = Upstreams { recovered: Arc::clone(recovered), default, zones };
        for gone in previous.iter().flat_map(|p| p.labels()).filter(|label| !upstreams.labels().any(|l| l == *label)) {
            metrics.forget_upstream(gone);
        }
        upstreams
    }

    /// The time one attempt at one server may take.
    fn timeout(&self) -> Duration {
        self.default.timing.timeout
    }

    /// Every server of every pool.
    fn servers(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.pools().flat_map(|(_, pool)| pool.servers.iter())
    }

    /// Every server's label (as written in the config), in every pool.
    fn labels(&self) -> impl Iterator<Item = &str> {
        self.pools().flat_map(|(_, pool)| pool.servers.iter().map(|s| s.addr.label.as_str()))
    }

    /// When the upstreams last answered again after failing.
    pub fn recovered(&self) -> Option<Instant> {
        self.recovered.last()
    }

    /// The pool for a lower-cased wire-form name: the longest zone it falls in, else the default.
    pub fn pool_for(&self, name: &[u8]) -> &Pool {
        self.zones.iter().find(|zone| wire::is_at_or_below(name, &zone.apex)).map_or(&self.default, |zone| &zone.pool)
    }

    /// Every pool with its zone ("." for the default pool).
    pub fn pools(&self) -> impl Iterator<Item = (&str, &Pool)> {
        std::iter::once((".", &self.default)).chain(self.zones.iter().map(|zone| (zone.name.as_str(), &zone.pool)))
    }
}

/// The TLS client config of the encrypted upstreams, when there is any:
/// the system roots and `ca_file`, loaded once per (re)load. A `ca_file`
/// that went bad after validation is logged and left out.
fn encrypted_tls(config: &UpstreamConfig) -> Option<Arc<ClientConfig>> {
    let mut all = config.servers.iter().chain(config.zones.iter().flat_map(|z| &z.servers));
    if all.all(UpstreamAddr::is_plain) {
        return None;
    }
    let tls = crate::tls::client_config(config.ca_file.as_deref()).or_else(|reason| {
        error!(%reason, "cannot load upstream ca_file; encrypted upstreams trust the system roots only");
        crate::tls::client_config(None)
    });
    match tls {
        Ok(tls) => Some(Arc::new(tls)),
        Err(reason) => {
            error!(%reason, "cannot set up TLS; encrypted upstreams will fail");
            None
        }
    }
}

/// Who resolves the host names of a list's encrypted upstreams:
/// `bootstrap`, else the list's own plain servers, else those of the
/// default list. Never stubborn itself.
fn bootstrap_servers(config: &UpstreamConfig, servers: &[UpstreamAddr]) -> Arc<[SocketAddr]> {
    if !config.bootstrap.is_empty() {
        return config.bootstrap.as_slice().into();
    }
    let plain = |list: &[UpstreamAddr]| -> Vec<SocketAddr> {
        list.iter().filter(|s| s.is_plain()).filter_map(UpstreamAddr::socket_addr).collect()
    };
    let own = plain(servers);
    if own.is_empty() { plain(&config.servers).into() } else { own.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn longest_zone_suffix_wins_on_label_boundaries() {
        let text = r#"
[upstream]
servers = ["192.0.2.1"]
[[upstream.zone]]
name = "local"
servers = ["192.0.2.2"]
[[upstream.zone]]
name = "cluster.local"
servers = ["192.0.2.3"]
"#;
        let config = Config::parse(std::path::Path::new("t"), text, None).unwrap();
        let upstreams = Upstreams::new(&config.upstream, &Metrics::new(), None);
        let first = |name: &str| upstreams.pool_for(&wire_name(name)).servers[0].addr.label.clone();
        assert_eq!(first("svc.cluster.local"), "192.0.2.3");
        assert_eq!(first("cluster.local"), "192.0.2.3");
        assert_eq!(first("notcluster.local"), "192.0.2.2");
        assert_eq!(first("example.com"), "192.0.2.1");
        assert_eq!(first("local.example.com"), "192.0.2.1");
    }
}
