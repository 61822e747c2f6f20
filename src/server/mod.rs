//! The DNS listeners: UDP and TCP on every `listen` address, all turning a
//! packet into a reply through [`Server::reply_now`] / [`Server::reply`]
//! (the client's rate, the ACL, then services, then the resolver, within
//! the client's share of the queries waiting on upstream), each answer
//! counted and, while the query log is on, logged ([`crate::query_log`]).
//! Sockets are bound by the caller and handed in (mini-redis
//! `server::run`), so binding errors surface before serving.
//!
//! Why not hickory-server's `Server`: HICKORY.md §4 measured its request
//! path at ≈5.6 µs of CPU per query against ≈4.4 µs for a socket loop that
//! patches a pre-built reply — the difference between trailing and matching
//! Unbound on cache hits. A cache hit here is parse-in-place, one moka
//! lookup and one copy with ID/TTLs patched, answered inline by the socket
//! task; only misses spawn a task.

mod acl;
mod clients;
pub mod connections;
mod tcp;
mod udp;

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use tokio::sync::Notify;

pub use acl::Acl;
use clients::Clients;
use connections::Connections;
pub use tcp::serve as serve_tcp;
pub use udp::serve as serve_udp;

use crate::{
    cache::Cache,
    config::{ClientRate, Config, UpstreamConfig},
    fleet::Fleet,
    metrics::{Metrics, Source},
    query::{Query, Rejection},
    query_log::{self, QueryLog},
    reply,
    resolver::{Answer, Resolver, Unanswered},
    service::Services,
    upstream::{LoopCheck, Upstreams},
    wire::{BADVERS, RCODE_MASK, REFUSED},
};

/// The header RCODE of a reply stubborn built (always at least a header).
fn rcode_of(reply: &[u8]) -> u16 {
    reply.get(3).map_or(0, |flags| u16::from(flags & RCODE_MASK))
}

/// What every listener shares: the whole answering side of stubborn, built
/// from a config and changed in place by a reload ([`Server::apply`]).
pub struct Server {
    /// The cache, the upstream pools and the answer rules.
    resolver: Arc<Resolver>,
    /// Who may ask; swapped whole on reload.
    acl: ArcSwap<Acl>,
    /// The failover names, answered before the resolver; swapped whole on reload.
    services: ArcSwap<Services>,
    /// Counted into on every query.
    metrics: Arc<Metrics>,
    /// The TCP connection limit and idle timeout; swapped whole on reload.
    tcp_limits: ArcSwap<TcpLimits>,
    /// Every open TCP connection, for the limit.
    tcp_connections: Arc<Connections>,
    /// The forwarding-loop probes in flight.
    loop_check: Arc<LoopCheck>,
    /// Queries waiting on upstream right now: a graceful stop lets them finish.
    in_flight: AtomicUsize,
    /// Each client's rate and share of `in_flight`.
    clients: Clients,
    /// `client_rate` and its companions; swapped whole on reload.
    client_rate: ArcSwap<ClientRate>,
    /// Notified when the last query in flight is answered (see [`Server::drained`]).
    drained: Notify,
    /// `[log] queries`, switched at run time too.
    query_log: QueryLog,
}

/// How many TCP connections may be open, and how long one may idle.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub connections: usize,
    pub idle_timeout: Duration,
}

impl TcpLimits {
    fn of(config: &Config) -> TcpLimits {
        TcpLimits { connections: config.server.tcp_connections, idle_timeout: config.server.tcp_idle_timeout }
    }
}

/// How the query came in: it bounds the reply's size.
#[derive(Clone, Copy)]
pub enum Via {
    /// The client's EDNS size, or 512 (RFC 1035 §4.2.1).
    Udp,
    /// Anything that fits the 16-bit length prefix (RFC 7766).
    Tcp,
}

impl Via {
    fn limit(self, query: &Query) -> usize {
        match self {
            Via::Udp => query.udp_limit(),
            Via::Tcp => usize::from(u16::MAX),
        }
    }
}

/// What [`Server::reply_parsed`] could do without waiting.
enum Now {
    Answered(Answer),
    /// Ask upstream, with what the cache held (None: a service's name, not looked up).
    Resolve(Option<Unanswered>),
}

/// The first step for one packet.
pub enum Step {
    /// Send this (or nothing) now.
    Done(Option<Vec<u8>>),
    /// Ask upstream: call [`Server::reply`] with the query and what the
    /// cache held for it (None when it was not looked up: a service's name).
    Resolve(Query, Option<Unanswered>),
}

/// Counts one query of `client` as in flight while it lives (in all, and
/// against the client's share).
pub struct InFlight(Arc<Server>, IpAddr);

impl InFlight {
    pub fn new(server: &Arc<Server>, client: IpAddr) -> InFlight {
        server.in_flight.fetch_add(1, Ordering::AcqRel);
        server.clients.started(client);
        InFlight(Arc::clone(server), client)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.clients.finished(self.1);
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

impl Server {
    /// The answering side for `config`, around `cache` (which may hold a
    /// restored snapshot); starts the services' health checks.
    pub fn new(config: &Config, cache: Cache, metrics: Arc<Metrics>) -> Server {
        let upstreams = Upstreams::new(&config.upstream, &metrics, None);
        let resolver = Arc::new(Resolver::new(cache, config.answers.clone(), upstreams, Arc::clone(&metrics)));
        resolver.set_fleet(config.fleet.clone().map(|fleet| Fleet::start(fleet, Arc::clone(&metrics))));
        let services = Services::new(&config.services, &Services::default(), &metrics, &resolver);
        Server {
            acl: ArcSwap::from_pointee(Acl::new(config.server.allow.clone())),
            services: ArcSwap::from_pointee(services),
            resolver,
            metrics,
            tcp_limits: ArcSwap::from_pointee(TcpLimits::of(config)),
            tcp_connections: Arc::new(Connections::new("tcp")),
            loop_check: Arc::default(),
            in_flight: AtomicUsize::new(0),
            clients: Clients::default(),
            client_rate: ArcSwap::from_pointee(config.server.client_rate.clone()),
            drained: Notify::new(),
            query_log: QueryLog::new(config.log.queries),
        }
    }

    /// Puts a reloaded config in place, replacing `old`: the cache's limits
    /// (entries kept), the upstream pools when they changed (fetches in
    /// flight finish on the old ones; the recovery time carries over), the
    /// ACL, the services (health of unchanged targets carried over) and the
    /// query log's switch. Listen and admin addresses are sockets, the
    /// daemon's business.
    pub fn apply(&self, old: &Config, new: &Config) {
        self.resolver.cache().reconfigure(&new.cache);
        self.resolver.set_policy(new.answers.clone());
        if new.fleet != old.fleet {
            // A new store, connected afresh; the old one's tasks end with it.
            self.resolver.set_fleet(new.fleet.clone().map(|fleet| Fleet::start(fleet, Arc::clone(&self.metrics))));
        }
        if new.upstream != old.upstream {
            self.apply_upstreams(&new.upstream);
        } else {
            self.check_loops();
        }
        self.acl.store(Arc::new(Acl::new(new.server.allow.clone())));
        self.client_rate.store(Arc::new(new.server.client_rate.clone()));
        self.tcp_limits.store(Arc::new(TcpLimits::of(new)));
        let services = Services::new(&new.services, &self.services.load(), &self.metrics, &self.resolver);
        self.services.store(Arc::new(services));
        self.query_log.set(new.log.queries);
    }

    /// Puts new upstream pools in place (a reload, or a changed resolv
    /// file): servers that stay keep their health, fetches in flight finish
    /// on the old pools.
    pub fn apply_upstreams(&self, config: &UpstreamConfig) {
        let upstreams = Upstreams::new(config, &self.metrics, Some(&self.resolver.upstreams()));
        self.resolver.set_upstreams(upstreams);
        self.check_loops();
    }

    /// Checks, in the background, whether an upstream forwards back to
    /// stubborn ([`LoopCheck`]); the listeners must be bound.
    pub fn check_loops(&self) {
        tokio::spawn(Arc::clone(&self.loop_check).run(self.resolver.upstreams()));
    }

    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    pub fn tcp_limits(&self) -> TcpLimits {
        **self.tcp_limits.load()
    }

    /// TCP connections open now, over every listener.
    pub fn tcp_connections_open(&self) -> usize {
        self.tcp_connections.count()
    }

    /// The query log's switch.
    pub fn query_log(&self) -> &QueryLog {
        &self.query_log
    }

    /// The services as configured right now.
    pub fn services(&self) -> Arc<Services> {
        self.services.load_full()
    }

    /// Queries being answered from upstream right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Returns once no query is waiting on upstream (a graceful stop's drain).
    pub async fn drained(&self) {
        loop {
            // Created before the check, so the last query's notification can't slip between.
            let notified = self.drained.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Handles `packet` from `client`, received at `received_at`, as far as
    /// possible without waiting.
    pub fn reply_now(&self, packet: &[u8], client: SocketAddr, via: Via, received_at: Instant) -> Step {
        match via {
            Via::Udp => self.metrics.queries_udp.inc(),
            Via::Tcp => self.metrics.queries_tcp.inc(),
        };
        if !self.clients.admit(client.ip(), &self.client_rate.load()) {
            self.metrics.rate_limited.inc();
            return Step::Done(None);
        }
        let query = match Query::parse(packet) {
            Ok(query) => query,
            Err(why) => {
                let reply = reply::rejection(packet, why);
                if let Some(reply) = &reply {
                    // BADVERS is the one extended RCODE sent: its upper bits are in the OPT record.
                    self.metrics.responses.count(if why == Rejection::BadVers { BADVERS } else { rcode_of(reply) });
                }
                return Step::Done(reply);
            }
        };
        match self.reply_parsed(&query, client, via) {
            Now::Answered(answer) => Step::Done(Some(self.sent(answer, &query, client, received_at))),
            Now::Resolve(cached) => Step::Resolve(query, cached),
        }
    }

    fn reply_parsed(&self, query: &Query, client: SocketAddr, via: Via) -> Now {
        if !self.acl.load().allows(client.ip()) {
            return Now::Answered(self.resolver.answered(Source::Refused, reply::error(query, REFUSED, None)));
        }
        if self.services.load().get(query).is_some() {
            return Now::Resolve(None);
        }
        match self.resolver.answer_now(query, via.limit(query)) {
            Ok(answer) => Now::Answered(answer),
            // This client has its share waiting on upstream already: the others keep theirs.
            Err(unanswered) if self.clients.over_share(client.ip()) => {
                Now::Answered(self.resolver.shed(query, unanswered, via.limit(query)))
            }
            Err(unanswered) => Now::Resolve(Some(unanswered)),
        }
    }

    /// The reply of `answer`, counted by RCODE and logged while the query log is on.
    #[inline]
    fn sent(&self, answer: Answer, query: &Query, client: SocketAddr, received_at: Instant) -> Vec<u8> {
        let rcode = rcode_of(&answer.reply);
        self.metrics.responses.count(rcode);
        if self.query_log.is_on() {
            query_log::record(client.ip(), query, &answer, rcode, received_at);
        }
        answer.reply
    }

    /// Answers a query from `client`, received at `received_at`, that needs
    /// upstream. The services are looked up again rather than carried over
    /// from [`Server::reply_now`]: a reload may have replaced them in
    /// between, and the answer follows the current ones.
    pub async fn reply(
        &self,
        query: &Query,
        cached: Option<Unanswered>,
        client: SocketAddr,
        via: Via,
        received_at: Instant,
    ) -> Vec<u8> {
        let answer = self.answer(query, cached, via).await;
        self.sent(answer, query, client, received_at)
    }

    async fn answer(&self, query: &Query, cached: Option<Unanswered>, via: Via) -> Answer {
        if LoopCheck::is_probe(query.name_wire()) && self.loop_check.received(query.name_wire()) {
            // Our own probe came back: answered here, not sent round again.
            return self.resolver.answered(Source::Refused, reply::error(query, REFUSED, None));
        }
        let services = self.services.load_full();
        if let Some(service) = services.get(query) {
            let reply = service.answer(query, &self.resolver, via.limit(query)).await;
            self.resolver.answered(Source::Service, reply)
        } else if let Some(cached) = cached {
            self.resolver.answer_after(query, cached, via.limit(query)).await
        } else {
            self.resolver.answer(query, via.limit(query)).await
        }
    }

    /// Records `count` requests answered `elapsed` after they were received
    /// (`stubborn_request_duration_seconds`).
    pub fn answered(&self, via: Via, elapsed: Duration, count: u64) {
        match via {
            Via::Udp => self.metrics.request_duration_udp.record(elapsed, count),
            Via::Tcp => self.metrics.request_duration_tcp.record(elapsed, count),
        }
    }
}
