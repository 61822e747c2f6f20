//! The upstream pools: the configured servers in priority order, each with
//! its health, and `[[upstream.zone]]` pools chosen by longest suffix.
//!
//! Algorithm of one resolution ([`Pool::resolve`]):
//! - try the servers that are up, in the configured order, each with
//!   `timeout`; the first answer (NOERROR or NXDOMAIN) wins;
//! - a failure counts against the server; after `fail_after` in a row it is
//!   down: skipped by queries and probed every `probe_interval` in the
//!   background (`<zone> NS`; any well-formed matching reply but SERVFAIL
//!   means it is alive, so an authoritative that refuses the root comes back
//!   too) until it answers, then it is up and, being earlier in the list,
//!   preferred again;
//! - when no server is up, all are tried in order anyway rather than failing
//!   without asking.

mod error;
mod exchange;
mod health;

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use tokio::time::Instant;
use tracing::{info, warn};

pub use error::UpstreamError;
pub use exchange::Ask;
pub use health::HealthReport;
use health::{Health, Transition};

use crate::{
    config::{Transport, UpstreamAddr, UpstreamConfig},
    metrics::{Metrics, UpstreamMetrics},
    wire::{CLASS_IN, OUR_UDP_PAYLOAD, TYPE_NS, wire_name},
};

/// One upstream server and what is known of it.
pub struct Upstream {
    pub addr: UpstreamAddr,
    health: Health,
    metrics: UpstreamMetrics,
    recovered: Arc<Recovered>,
}

/// When an upstream last came back up. The resolver's failure recheck
/// (RFC 8767 §5) ends early then: names whose refresh failed during the
/// outage are asked again at once instead of up to 30 s later.
#[derive(Debug, Default)]
pub struct Recovered(std::sync::Mutex<Option<Instant>>);

impl Recovered {
    pub fn last(&self) -> Option<Instant> {
        *self.0.lock().expect("no panics while held")
    }

    fn mark(&self) {
        *self.0.lock().expect("no panics while held") = Some(Instant::now());
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
        self.metrics.result(result.as_ref().err()).inc();
        match &result {
            Ok(_) => self.record_success(Some(started.elapsed())),
            Err(UpstreamError::Local(_)) => {}
            Err(error) => {
                if self.health.failure(error) == Transition::WentDown {
                    warn!(upstream = %self.addr.label, %error, "upstream down");
                    self.metrics.up.set(0);
                    tokio::spawn(probe_until_up(Arc::downgrade(self), timing.clone(), Arc::clone(probe_question)));
                }
            }
        }
        result
    }

    async fn exchange(&self, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
        match self.addr.transport {
            Transport::Udp => exchange::udp(self.addr.addr, ask, deadline).await,
            Transport::Tcp => exchange::tcp(self.addr.addr, ask, deadline).await,
        }
    }

    fn record_success(&self, latency: Option<Duration>) {
        if self.health.success(latency) == Transition::CameUp {
            info!(upstream = %self.addr.label, "upstream up");
            self.metrics.up.set(1);
            self.recovered.mark();
        }
    }

    pub fn health(&self) -> HealthReport {
        self.health.report()
    }
}

/// Runs while the server is down: asks it `probe_question` every
/// `probe_interval` until it answers, or until a reload has dropped it.
async fn probe_until_up(upstream: Weak<Upstream>, timing: Timing, probe_question: Arc<[u8]>) {
    let ask = Ask { question: &probe_question, payload: OUR_UDP_PAYLOAD, dnssec_ok: false, checking_disabled: false };
    loop {
        tokio::time::sleep(timing.probe_interval).await;
        let Some(upstream) = upstream.upgrade() else { return };
        if upstream.health.is_up() {
            return;
        }
        let result = upstream.exchange(&ask, Instant::now() + timing.timeout).await;
        if matches!(result, Ok(_) | Err(UpstreamError::Refused | UpstreamError::Rcode(_))) {
            upstream.record_success(None);
            return;
        }
    }
}

/// Servers tried in priority order.
pub struct Pool {
    servers: Vec<Arc<Upstream>>,
    timing: Timing,
    /// `<apex> NS IN` in wire form, the probe's question.
    probe_question: Arc<[u8]>,
}

impl Pool {
    fn new(
        servers: &[UpstreamAddr],
        apex: &[u8],
        config: &UpstreamConfig,
        metrics: &Metrics,
        recovered: &Arc<Recovered>,
    ) -> Pool {
        let servers = servers
            .iter()
            .map(|addr| {
                let metrics = metrics.upstream(&addr.label);
                metrics.up.set(1);
                Arc::new(Upstream {
                    addr: addr.clone(),
                    health: Health::new(config.fail_after),
                    metrics,
                    recovered: Arc::clone(recovered),
                })
            })
            .collect();
        let mut probe_question = apex.to_vec();
        probe_question.extend_from_slice(&TYPE_NS.to_be_bytes());
        probe_question.extend_from_slice(&CLASS_IN.to_be_bytes());
        Pool {
            servers,
            timing: Timing { timeout: config.timeout, probe_interval: config.probe_interval },
            probe_question: probe_question.into(),
        }
    }

    /// Asks the servers in order until one answers; the error is the last server's.
    pub async fn resolve(&self, ask: &Ask<'_>) -> Result<Vec<u8>, UpstreamError> {
        let any_up = self.servers.iter().any(|s| s.health.is_up());
        let mut last_error = UpstreamError::Timeout;
        for server in self.servers.iter().filter(|s| !any_up || s.health.is_up()) {
            match server.ask(ask, &self.timing, &self.probe_question).await {
                Ok(reply) => return Ok(reply),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
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
    /// Pools for `config`; `recovered` is shared with the pools a reload replaces.
    pub fn new(config: &UpstreamConfig, metrics: &Metrics, recovered: &Arc<Recovered>) -> Upstreams {
        let mut zones: Vec<ZonePool> = config
            .zones
            .iter()
            .map(|zone| {
                let apex = wire_name(&zone.name);
                let pool = Pool::new(&zone.servers, &apex, config, metrics, recovered);
                ZonePool { name: zone.name.clone(), apex, pool }
            })
            .collect();
        zones.sort_by_key(|zone| std::cmp::Reverse(zone.apex.len()));
        let default = Pool::new(&config.servers, &[0], config, metrics, recovered);
        Upstreams { recovered: Arc::clone(recovered), default, zones }
    }

    pub fn recovered(&self) -> &Arc<Recovered> {
        &self.recovered
    }

    /// The pool for a lower-cased wire-form name: the longest zone it falls in, else the default.
    pub fn pool_for(&self, name: &[u8]) -> &Pool {
        self.zones.iter().find(|zone| is_at_or_below(name, &zone.apex)).map_or(&self.default, |zone| &zone.pool)
    }

    /// Every pool with its zone ("." for the default pool).
    pub fn pools(&self) -> impl Iterator<Item = (&str, &Pool)> {
        std::iter::once((".", &self.default)).chain(self.zones.iter().map(|zone| (zone.name.as_str(), &zone.pool)))
    }
}

/// `name` equals `apex` or is below it, on label boundaries (both lower-cased wire form).
fn is_at_or_below(name: &[u8], apex: &[u8]) -> bool {
    let mut at = 0;
    while at < name.len() {
        if name[at..] == *apex {
            return true;
        }
        at += 1 + usize::from(name[at]);
    }
    false
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
        let upstreams = Upstreams::new(&config.upstream, &Metrics::new(), &Arc::default());
        let first = |name: &str| upstreams.pool_for(&wire_name(name)).servers[0].addr.label.clone();
        assert_eq!(first("svc.cluster.local"), "192.0.2.3");
        assert_eq!(first("cluster.local"), "192.0.2.3");
        assert_eq!(first("notcluster.local"), "192.0.2.2");
        assert_eq!(first("example.com"), "192.0.2.1");
        assert_eq!(first("local.example.com"), "192.0.2.1");
    }
}
