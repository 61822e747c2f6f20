//! Multi-cloud services (`[[service]]`, docs/reference.md "Services"): A and
//! AAAA queries for a service name are answered with its active target —
//! `name CNAME target` plus the target's records (cache or upstream, stale
//! allowed), or for an IP target the address itself as a record of `name`
//! — with the service's TTL. Only the name itself: names below it and other
//! query types are resolved as usual.
//!
//! The active target is the first healthy one of the primary and the
//! secondaries in order; when none is healthy the primary is answered
//! (fail-open: a health check that fails everywhere more likely says
//! something about the checker than about every cloud at once). Each target
//! has a check task ([`check`], every `interval`); every switch is logged
//! with its reason and counted. The query path reads the active target with
//! one atomic load.

mod check;
mod health;
pub mod http;

use std::{
    collections::HashMap,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use hickory_proto::{
    op::Query as HickoryQuery,
    rr::{
        RData, Record,
        rdata::{A, AAAA, CNAME},
    },
    serialize::binary::{BinDecodable, BinDecoder},
};
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use tracing::{error, info, warn};

use self::{health::Health, http::HttpChecker};
use crate::{
    config::{ServiceConfig, Target},
    metrics::Metrics,
    query::Query,
    reply,
    resolver::Resolver,
    wire::{CLASS_IN, SERVFAIL, TYPE_A, TYPE_AAAA, wire_name},
};

/// Every configured service, by name.
#[derive(Default)]
pub struct Services {
    /// Keyed by the lower-case wire-form name.
    by_name: HashMap<Vec<u8>, Arc<Service>>,
}

pub struct Service {
    config: ServiceConfig,
    targets: Vec<TargetState>,
    /// Index in `targets` of the one answered with.
    active: AtomicUsize,
    /// Set while no target is healthy, so that fail-open is warned about once.
    fail_open: AtomicBool,
    failovers: Counter,
    http: Option<HttpChecker>,
}

struct TargetState {
    target: Target,
    /// Shared with the previous config's service across a reload when the
    /// target and its check are unchanged.
    health: Arc<Health>,
    /// `stubborn_service_target{service, target}`.
    gauge: Gauge,
}

impl Services {
    /// Builds the services of `configs` and starts their check tasks; health
    /// of targets unchanged since `previous` is carried over.
    pub fn new(
        configs: &[ServiceConfig],
        previous: &Services,
        metrics: &Metrics,
        resolver: &Arc<Resolver>,
    ) -> Services {
        let mut by_name = HashMap::new();
        for config in configs {
            let kept = previous.by_name.get(&wire_name(&config.name)).filter(|old| same_checks(&old.config, config));
            let service = Arc::new(Service::new(config.clone(), kept.map(|s| &**s), metrics));
            for index in 0..service.targets.len() {
                tokio::spawn(check_loop(Arc::downgrade(&service), index, Arc::clone(resolver)));
            }
            by_name.insert(wire_name(&config.name), service);
        }
        for (name, old) in &previous.by_name {
            let new = by_name.get(name);
            let gone: Vec<String> = old
                .targets
                .iter()
                .filter(|t| new.is_none_or(|new| !new.targets.iter().any(|n| n.target == t.target)))
                .map(|t| t.target.to_string())
                .collect();
            metrics.forget_service(&old.config.name, &gone, new.is_none());
        }
        Services { by_name }
    }

    /// The service answering `query`, if it is an A or AAAA query for a service name.
    pub fn get(&self, query: &Query) -> Option<&Arc<Service>> {
        if self.by_name.is_empty() || query.qclass != CLASS_IN || !matches!(query.qtype, TYPE_A | TYPE_AAAA) {
            return None;
        }
        self.by_name.get(query.name_wire())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.by_name.values()
    }
}

/// Whether health state of `old` still means something for `new`.
fn same_checks(old: &ServiceConfig, new: &ServiceConfig) -> bool {
    (&old.check, old.timeout, &old.ca_file) == (&new.check, new.timeout, &new.ca_file)
}

impl Service {
    fn new(config: ServiceConfig, previous: Option<&Service>, metrics: &Metrics) -> Service {
        let targets: Vec<TargetState> = config
            .targets
            .iter()
            .map(|target| TargetState {
                target: target.clone(),
                health: previous
                    .and_then(|old| old.targets.iter().find(|t| t.target == *target))
                    .map_or_else(Arc::default, |t| Arc::clone(&t.health)),
                gauge: metrics.service_target(&config.name, &target.to_string()),
            })
            .collect();
        let http = match &config.check {
            crate::config::Check::Http(_) => match HttpChecker::new(config.ca_file.as_deref()) {
                Ok(http) => Some(http),
                Err(reason) => {
                    error!(service = %config.name, %reason, "cannot set up https checks; its targets will count as down");
                    None
                }
            },
            _ => None,
        };
        let service = Service {
            failovers: metrics.failovers(&config.name),
            config,
            targets,
            active: AtomicUsize::new(0),
            fail_open: AtomicBool::new(false),
            http,
        };
        let (active, _) = service.choose();
        service.active.store(active, Ordering::Relaxed);
        service.show_active(active);
        service
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The target answered with now.
    pub fn active(&self) -> &Target {
        &self.targets[self.active.load(Ordering::Relaxed)].target
    }

    /// Each target with its health, in order.
    pub fn targets(&self) -> impl Iterator<Item = (&Target, bool)> {
        self.targets.iter().map(|t| (&t.target, t.health.is_healthy()))
    }

    /// The first healthy target, or the primary when none is (and whether that is fail-open).
    fn choose(&self) -> (usize, bool) {
        match self.targets.iter().position(|t| t.health.is_healthy()) {
            Some(index) => (index, false),
            None => (0, true),
        }
    }

    /// Puts the right target in place after a health change, logging and counting a switch.
    fn reselect(&self, why: &str) {
        let (index, fail_open) = self.choose();
        if fail_open && !self.fail_open.swap(true, Ordering::Relaxed) {
            warn!(service = %self.config.name, target = %self.targets[0].target, "no target is healthy; answering with the primary (fail-open)");
        }
        if !fail_open {
            self.fail_open.store(false, Ordering::Relaxed);
        }
        let previous = self.active.swap(index, Ordering::Relaxed);
        if previous == index {
            return;
        }
        let (from, to) = (&self.targets[previous].target, &self.targets[index].target);
        if fail_open {
            warn!(service = %self.config.name, %from, %to, why, "service failed open to its primary");
        } else if index < previous {
            info!(service = %self.config.name, %from, %to, why, "service back to a preferred target");
        } else {
            warn!(service = %self.config.name, %from, %to, why, "service failed over");
        }
        self.failovers.inc();
        self.show_active(index);
    }

    fn show_active(&self, active: usize) {
        for (index, target) in self.targets.iter().enumerate() {
            target.gauge.set((index == active).into());
        }
    }

    /// The reply to `query` (an A or AAAA query for this service's name).
    pub async fn answer(&self, query: &Query, resolver: &Arc<Resolver>, limit: usize) -> Vec<u8> {
        let Ok(question) = HickoryQuery::read(&mut BinDecoder::new(&query.question)) else {
            return reply::error(query, SERVFAIL, None);
        };
        let owner = question.name().clone();
        let ttl = u32::try_from(self.config.ttl.as_secs()).unwrap_or(u32::MAX);
        let mut answers = Vec::new();
        match self.active() {
            Target::Ip(ip) => match (ip, query.qtype) {
                (std::net::IpAddr::V4(v4), TYPE_A) => answers.push(Record::from_rdata(owner, ttl, RData::A(A(*v4)))),
                (std::net::IpAddr::V6(v6), TYPE_AAAA) => {
                    answers.push(Record::from_rdata(owner, ttl, RData::AAAA(AAAA(*v6))))
                }
                _ => {}
            },
            Target::Name(name) => {
                let Ok(target) = hickory_proto::rr::Name::from_ascii(format!("{name}.")) else {
                    return reply::error(query, SERVFAIL, None);
                };
                answers.push(Record::from_rdata(owner, ttl, RData::CNAME(CNAME(target))));
                for mut record in resolver.records(&wire_name(name), query.qtype).await {
                    record.ttl = ttl;
                    answers.push(record);
                }
            }
        }
        reply::records(query, answers, limit)
    }
}

/// Checks target `index` of `service` every `interval` while the service
/// exists (a reload that drops it ends the task at its next tick).
async fn check_loop(service: Weak<Service>, index: usize, resolver: Arc<Resolver>) {
    let Some(interval) = service.upgrade().map(|s| s.config.interval) else { return };
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(service) = service.upgrade() else { return };
        let target = &service.targets[index];
        let result = check::run(&target.target, &service.config, &resolver, service.http.as_ref()).await;
        let (fall, rise) = (service.config.fall, service.config.rise);
        match target.health.record(result.is_ok(), fall, rise) {
            Some(true) => {
                info!(service = %service.config.name, target = %target.target, "target healthy");
                service.reselect(&format!("{} is healthy again", target.target));
            }
            Some(false) => {
                let why = format!("{} failed {fall} checks: {}", target.target, result.err().unwrap_or_default());
                warn!(service = %service.config.name, target = %target.target, why, "target unhealthy");
                service.reselect(&why);
            }
            None => {}
        }
    }
}
