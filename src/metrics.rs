//! Every metric stubborn exports, by the names docs/reference.md gives, in one
//! place. Handles are resolved once (per upstream at start, per answer
//! source here) and kept, so the query path increments an atomic and never
//! looks a label set up (linkerd's `Metrics` structs do the same).
//!
//! `stubborn_request_duration_seconds` is not prometheus-client's
//! `Histogram` (a lock per observation): the UDP loop answers a batch of
//! cache hits with one `sendmmsg`, so they share one receipt-to-reply time,
//! recorded once per batch with a count ([`Durations::record`]) in atomics.
//! The `process_*` series are read from `/proc/self` and `getrusage` at
//! each scrape ([`ProcessCollector`]): no crate of the prometheus-client
//! family provides them.
//!
//! prometheus-client writes OpenMetrics, served to scrapers that ask for it
//! (Prometheus does). Anyone else (curl, promtool, older agents) gets the
//! Prometheus text format 0.0.4 ([`text_0_0_4`]): the same series, but a
//! counter's HELP and TYPE lines carry its samples' `_total` name and there
//! is no `# EOF`, which is all that differs for these metrics.

use std::{
    fmt::{self, Write as _},
    sync::{Arc, OnceLock, atomic::Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet, text::encode},
    metrics::{
        MetricType, TypedMetric,
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
    },
    registry::Registry,
};

use crate::AtomicU64;
use crate::wire::{FORMERR, NOERROR, NOTIMP, NXDOMAIN, REFUSED, SERVFAIL, rcode_label};

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    pub queries_udp: Counter,
    pub queries_tcp: Counter,
    /// `stubborn_answers_total` by `source`.
    pub answers: Answers,
    pub kept_positive: Counter,
    /// `stubborn_cache_evictions_total` by `kind` and `reason`; the cache holds a clone.
    pub cache_evictions: Evictions,
    cache_entries: Gauge,
    cache_bytes: Gauge,
    upstream_up: Family<Labels, Gauge>,
    upstream_queries: Family<Labels, Counter>,
    upstream_latency: Family<Labels, Histogram, fn() -> Histogram>,
    service_target: Family<Labels, Gauge>,
    failovers: Family<Labels, Counter>,
    /// `stubborn_responses_total` by `rcode`.
    pub responses: Responses,
    /// `stubborn_request_duration_seconds{protocol="udp"}`.
    pub request_duration_udp: Durations,
    /// `stubborn_request_duration_seconds{protocol="tcp"}`.
    pub request_duration_tcp: Durations,
    /// `stubborn_upstream_fetches_shed_total`: misses answered at once (stale
    /// or SERVFAIL) because `MAX_FETCHES` fetches were in flight.
    pub fetches_shed: Counter,
    /// `stubborn_scrubbed_records_total`: answer records of upstream replies
    /// dropped as unrelated to the question (neither its name nor its CNAME/DNAME chain).
    pub scrubbed_records: Counter,
    /// `stubborn_rebind_blocked_total`: private addresses dropped from public names' answers.
    pub rebind_blocked: Counter,
    /// `stubborn_rate_limited_total`: queries dropped by `client_rate`.
    pub rate_limited: Counter,
    /// `stubborn_fleet_up`: 1 while the fleet store answers.
    pub fleet_up: Gauge,
    pub fleet_published: FleetPublished,
    pub fleet_reads: FleetReads,
    /// `stubborn_config_reloads_total` by `result`.
    pub config_reloads: ConfigReloads,
}

/// `stubborn_responses_total`: one counter per RCODE. The RCODEs stubborn
/// sends in the normal course ([`Responses::COMMON`]) have their series from
/// the start, at 0, so that a ratio alert has data before the first failure;
/// any other is made on first use and then kept.
pub struct Responses {
    family: Family<Labels, Counter>,
    /// RCODEs 0..=15 (the header's 4 bits) and 16 (BADVERS).
    by_rcode: [OnceLock<Counter>; 17],
}

impl Responses {
    /// NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP and REFUSED.
    const COMMON: [u8; 6] = [NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED];

    fn new(family: Family<Labels, Counter>) -> Responses {
        let responses = Responses { family, by_rcode: Default::default() };
        for rcode in Responses::COMMON {
            responses.counter(u16::from(rcode));
        }
        responses
    }

    /// Counts one response with `rcode` (the full, extended value).
    pub fn count(&self, rcode: u16) {
        if let Some(counter) = self.counter(rcode) {
            counter.inc();
        }
    }

    /// The counter of `rcode`, made now if it is the first; None past BADVERS.
    fn counter(&self, rcode: u16) -> Option<&Counter> {
        let slot = self.by_rcode.get(usize::from(rcode))?;
        Some(slot.get_or_init(|| {
            let label = rcode_label(rcode).into_owned();
            self.family.get_or_create(&vec![("rcode", label)]).clone()
        }))
    }
}

/// Upper bounds of `stubborn_request_duration_seconds`, in seconds: cache
/// hits take tens of microseconds, misses one upstream round trip or more,
/// stale answers up to `stale_answer_after` (1.8 s by default).
const DURATION_BOUNDS: [f64; 16] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A histogram of durations that takes `count` observations of one value at
/// once, in atomics (no lock).
#[derive(Clone, Default)]
pub struct Durations(Arc<DurationsInner>);

#[derive(Default)]
struct DurationsInner {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [AtomicU64; DURATION_BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Durations {
    /// Records `count` requests that each took `elapsed`.
    pub fn record(&self, elapsed: Duration, count: u64) {
        if count == 0 {
            return;
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = DURATION_BOUNDS.iter().position(|&bound| seconds <= bound).unwrap_or(DURATION_BOUNDS.len());
        let inner = &self.0;
        inner.buckets[bucket].fetch_add(count, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        inner.sum_nanos.fetch_add(nanos.saturating_mul(count), Ordering::Relaxed);
        inner.count.fetch_add(count, Ordering::Relaxed);
    }
}

impl fmt::Debug for Durations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Durations").field("count", &self.0.count.load(Ordering::Relaxed)).finish()
    }
}

impl TypedMetric for Durations {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Durations {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let inner = &self.0;
        let buckets: Vec<(f64, u64)> = DURATION_BOUNDS
            .iter()
            .copied()
            .chain([f64::MAX])
            .zip(inner.buckets.iter().map(|b| b.load(Ordering::Relaxed)))
            .collect();
        // The count is the buckets' total, so that a scrape between the
        // updates of one `record` cannot show a count the buckets disagree with.
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = Duration::from_nanos(inner.sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The standard `process_*` series (as Prometheus' client libraries export
/// them), read at each scrape: CPU from `getrusage`, RSS from
/// `/proc/self/status`, open fds by listing `/proc/self/fd`, the fd limit
/// from `getrlimit`. A value that cannot be read (not Linux) is left out.
#[derive(Debug)]
struct ProcessCollector {
    started: SystemTime,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage};
        if let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) {
            let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            let cpu = ConstCounter::new(seconds(usage.user_time()) + seconds(usage.system_time()));
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        if let Some(rss) = resident_bytes() {
            gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory size in bytes", rss)?;
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            gauge(&mut encoder, "process_open_fds", "Number of open file descriptors", fds.count() as f64)?;
        }
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
            gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors", soft as f64)?;
        }
        let started = self.started.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            started,
        )
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: f64) -> Result<(), fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Where an answer came from: the `source` label of `stubborn_answers_total`
/// (and the query log's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Upstream,
    Stale,
    KeptPositive,
    Refused,
    Servfail,
    Service,
    /// Answered from the fleet store.
    Fleet,
}

impl Source {
    pub const ALL: [Source; 8] = [
        Source::Cache,
        Source::Upstream,
        Source::Stale,
        Source::KeptPositive,
        Source::Refused,
        Source::Servfail,
        Source::Service,
        Source::Fleet,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Upstream => "upstream",
            Source::Stale => "stale",
            Source::KeptPositive => "kept_positive",
            Source::Refused => "refused",
            Source::Servfail => "servfail",
            Source::Service => "service",
            Source::Fleet => "fleet",
        }
    }
}

/// One counter per answer source, in the order of [`Source::ALL`], each
/// made at start so that every source has a series from the first scrape.
pub struct Answers([Counter; 8]);

impl Answers {
    /// Counts one answer from `source`.
    #[inline]
    pub fn count(&self, source: Source) {
        self.0[source as usize].inc();
    }

    /// The answers from `source` so far.
    pub fn get(&self, source: Source) -> u64 {
        self.0[source as usize].get()
    }
}

/// `stubborn_fleet_published_total` by `result`.
#[derive(Clone, Default)]
pub struct FleetPublished {
    pub ok: Counter,
    /// Over `publish_rate`, or the queue to the publisher full.
    pub dropped: Counter,
    pub error: Counter,
}

/// `stubborn_fleet_reads_total` by `result`.
#[derive(Clone, Default)]
pub struct FleetReads {
    pub hit: Counter,
    pub miss: Counter,
    /// The store was down, slow or failed the read.
    pub error: Counter,
    /// A value without a valid HMAC tag where `key_file` asks for one.
    pub rejected: Counter,
    /// A value that does not decode, or not into an entry stubborn would cache.
    pub invalid: Counter,
}

/// `stubborn_config_reloads_total` by `result`: reloads of the config
/// (SIGHUP, `watch_config`) that took effect (`ok`) or were rejected, the
/// old config serving on (`error`).
#[derive(Clone, Default)]
pub struct ConfigReloads {
    pub ok: Counter,
    pub error: Counter,
}

/// One counter per kind of cache entry (`positive`: holds records of the
/// asked type; `negative`: NXDOMAIN or NODATA) and reason it left the cache
/// (`size`: pushed out by newer entries; `expired`: older than its TTL plus
/// `max_stale`). Entries replaced by a newer answer for the same question are
/// not counted. The default is a set of counters registered nowhere (tests).
#[derive(Clone, Default)]
pub struct Evictions {
    pub positive_size: Counter,
    pub positive_expired: Counter,
    pub negative_size: Counter,
    pub negative_expired: Counter,
}

/// How one attempt at an upstream ended: the `result` label of
/// `stubborn_upstream_queries_total`. The upstream module maps its errors
/// here; this list is the only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamResult {
    Ok,
    Timeout,
    ServFail,
    Refused,
    Error,
}

impl UpstreamResult {
    const ALL: [UpstreamResult; 5] = [
        UpstreamResult::Ok,
        UpstreamResult::Timeout,
        UpstreamResult::ServFail,
        UpstreamResult::Refused,
        UpstreamResult::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            UpstreamResult::Ok => "ok",
            UpstreamResult::Timeout => "timeout",
            UpstreamResult::ServFail => "servfail",
            UpstreamResult::Refused => "refused",
            UpstreamResult::Error => "error",
        }
    }
}

/// The handles of one upstream's series.
pub struct UpstreamMetrics {
    pub up: Gauge,
    /// One counter per [`UpstreamResult`], in the order of `UpstreamResult::ALL`.
    results: [Counter; 5],
    pub latency: Histogram,
}

impl UpstreamMetrics {
    /// The counter of attempts that ended in `result`.
    pub fn result(&self, result: UpstreamResult) -> &Counter {
        &self.results[result as usize]
    }
}

fn latency_histogram() -> Histogram {
    // 250 µs .. ~4 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let queries = Family::<Labels, Counter>::default();
        registry.register("stubborn_queries", "Queries received", queries.clone());
        let answers = Family::<Labels, Counter>::default();
        registry.register("stubborn_answers", "Answers sent, by where they came from", answers.clone());
        let kept_positive = Counter::default();
        registry.register(
            "stubborn_kept_positive",
            "Empty answers overridden by last-known-good records",
            kept_positive.clone(),
        );
        let cache_entries = Gauge::default();
        registry.register("stubborn_cache_entries", "Entries in the cache", cache_entries.clone());
        let cache_bytes = Gauge::default();
        registry.register(
            "stubborn_cache_bytes",
            "Bytes the cache entries count for against [cache] max_memory",
            cache_bytes.clone(),
        );
        let cache_evictions = Family::<Labels, Counter>::default();
        registry.register(
            "stubborn_cache_evictions",
            "Cache entries dropped to make room (size) or past max_stale (expired), by kind",
            cache_evictions.clone(),
        );
        let upstream_up = Family::<Labels, Gauge>::default();
        registry.register("stubborn_upstream_up", "1 while the upstream is up, 0 while down", upstream_up.clone());
        let upstream_queries = Family::<Labels, Counter>::default();
        registry.register("stubborn_upstream_queries", "Attempts at an upstream, by result", upstream_queries.clone());
        let upstream_latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "stubborn_upstream_latency_seconds",
            "Time an upstream took to answer or fail",
            upstream_latency.clone(),
        );

        let service_target = Family::<Labels, Gauge>::default();
        registry.register(
            "stubborn_service_target",
            "1 for the target a service answers with, 0 for the others",
            service_target.clone(),
        );
        let failovers = Family::<Labels, Counter>::default();
        registry.register("stubborn_failovers", "Switches of a service's active target", failovers.clone());

        let responses = Family::<Labels, Counter>::default();
        registry.register("stubborn_responses", "Responses sent to clients, by RCODE", responses.clone());
        let request_duration = Family::<Labels, Durations>::default();
        registry.register(
            "stubborn_request_duration_seconds",
            "Time from receiving a client's query to sending the reply",
            request_duration.clone(),
        );
        let fetches_shed = Counter::default();
        registry.register(
            "stubborn_upstream_fetches_shed",
            "Misses answered at once (stale or SERVFAIL) because the in-flight fetch bound was reached",
            fetches_shed.clone(),
        );
        let scrubbed_records = Counter::default();
        registry.register(
            "stubborn_scrubbed_records",
            "Upstream answer records dropped as unrelated to the question",
            scrubbed_records.clone(),
        );
        let rebind_blocked = Counter::default();
        registry.register(
            "stubborn_rebind_blocked",
            "Private, loopback or link-local addresses dropped from answers of public names (rebind_protection)",
            rebind_blocked.clone(),
        );
        let rate_limited = Counter::default();
        registry.register("stubborn_rate_limited", "Queries dropped by client_rate", rate_limited.clone());
        let fleet_up = Gauge::default();
        registry.register("stubborn_fleet_up", "1 while the fleet store answers ([fleet])", fleet_up.clone());
        let fleet_published = Family::<Labels, Counter>::default();
        registry.register(
            "stubborn_fleet_published",
            "Answers published to the fleet store, by result",
            fleet_published.clone(),
        );
        let fleet_reads = Family::<Labels, Counter>::default();
        registry.register("stubborn_fleet_reads", "Reads of the fleet store, by result", fleet_reads.clone());
        let config_reloads = Family::<Labels, Counter>::default();
        registry.register(
            "stubborn_config_reloads",
            "Config reloads, by result (ok: in effect; error: rejected, the old config serving on)",
            config_reloads.clone(),
        );
        let build_info = Family::<Labels, Gauge>::default();
        registry.register(
            "stubborn_build_info",
            "Always 1; the version label is the running build",
            build_info.clone(),
        );
        build_info.get_or_create(&vec![("version", env!("STUBBORN_VERSION").to_string())]).set(1);
        registry.register_collector(Box::new(ProcessCollector { started: SystemTime::now() }));

        let label = |name: &'static str, value: &str| vec![(name, value.to_string())];
        let counter = |family: &Family<Labels, Counter>, name, value| family.get_or_create(&label(name, value)).clone();
        // A closure, so that the family's read guard is dropped before the next series is made.
        let durations =
            |family: &Family<Labels, Durations>, protocol| family.get_or_create(&label("protocol", protocol)).clone();
        Metrics {
            queries_udp: counter(&queries, "protocol", "udp"),
            queries_tcp: counter(&queries, "protocol", "tcp"),
            answers: Answers(Source::ALL.map(|source| counter(&answers, "source", source.label()))),
            kept_positive,
            cache_evictions: {
                let eviction = |kind: &str, reason: &str| {
                    let labels = vec![("kind", kind.to_string()), ("reason", reason.to_string())];
                    cache_evictions.get_or_create(&labels).clone()
                };
                Evictions {
                    positive_size: eviction("positive", "size"),
                    positive_expired: eviction("positive", "expired"),
                    negative_size: eviction("negative", "size"),
                    negative_expired: eviction("negative", "expired"),
                }
            },
            cache_entries,
            cache_bytes,
            upstream_up,
            upstream_queries,
            upstream_latency,
            service_target,
            failovers,
            responses: Responses::new(responses),
            request_duration_udp: durations(&request_duration, "udp"),
            request_duration_tcp: durations(&request_duration, "tcp"),
            fetches_shed,
            scrubbed_records,
            rebind_blocked,
            rate_limited,
            fleet_up,
            fleet_published: FleetPublished {
                ok: counter(&fleet_published, "result", "ok"),
                dropped: counter(&fleet_published, "result", "dropped"),
                error: counter(&fleet_published, "result", "error"),
            },
            fleet_reads: FleetReads {
                hit: counter(&fleet_reads, "result", "hit"),
                miss: counter(&fleet_reads, "result", "miss"),
                error: counter(&fleet_reads, "result", "error"),
                rejected: counter(&fleet_reads, "result", "rejected"),
                invalid: counter(&fleet_reads, "result", "invalid"),
            },
            config_reloads: ConfigReloads {
                ok: counter(&config_reloads, "result", "ok"),
                error: counter(&config_reloads, "result", "error"),
            },
            registry,
        }
    }

    /// The series of the upstream written as `label` in the config.
    pub fn upstream(&self, label: &str) -> UpstreamMetrics {
        let upstream = vec![("upstream", label.to_string())];
        let result = |result: &str| {
            let mut labels = upstream.clone();
            labels.push(("result", result.to_string()));
            self.upstream_queries.get_or_create(&labels).clone()
        };
        UpstreamMetrics {
            up: self.upstream_up.get_or_create(&upstream).clone(),
            results: UpstreamResult::ALL.map(|r| result(r.label())),
            latency: self.upstream_latency.get_or_create(&upstream).clone(),
        }
    }

    /// Drops the series of an upstream that a reload removed, so that
    /// /metrics shows no frozen values of servers no longer asked.
    pub fn forget_upstream(&self, label: &str) {
        let upstream = vec![("upstream", label.to_string())];
        self.upstream_up.remove(&upstream);
        self.upstream_latency.remove(&upstream);
        for result in UpstreamResult::ALL {
            let mut labels = upstream.clone();
            labels.push(("result", result.label().to_string()));
            self.upstream_queries.remove(&labels);
        }
    }

    /// Drops the series of `targets` of a service that a reload removed or
    /// changed; `whole`: the service itself is gone (its failover count too).
    pub fn forget_service(&self, service: &str, targets: &[String], whole: bool) {
        for target in targets {
            self.service_target.remove(&vec![("service", service.to_string()), ("target", target.clone())]);
        }
        if whole {
            self.failovers.remove(&vec![("service", service.to_string())]);
        }
    }

    /// The `stubborn_service_target` gauge of one target of a service.
    pub fn service_target(&self, service: &str, target: &str) -> Gauge {
        let labels = vec![("service", service.to_string()), ("target", target.to_string())];
        self.service_target.get_or_create(&labels).clone()
    }

    /// The `stubborn_failovers_total` counter of a service.
    pub fn failovers(&self, service: &str) -> Counter {
        self.failovers.get_or_create(&vec![("service", service.to_string())]).clone()
    }

    /// The Prometheus text exposition, with the gauges read now set first.
    pub fn render(&self, cache_entries: u64, cache_bytes: u64) -> String {
        // The gauge's integer type is narrower on 32-bit targets (MIPS routers).
        self.cache_entries.set(cache_entries.try_into().unwrap_or_default());
        self.cache_bytes.set(cache_bytes.try_into().unwrap_or_default());
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String does not fail");
        text
    }
}

/// Content type of [`Metrics::render`]'s output.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of [`text_0_0_4`]'s output.
pub const TEXT_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The Prometheus text format (0.0.4) of `openmetrics`, as
/// prometheus-client writes it: counter families renamed to their samples'
/// `_total` name in HELP and TYPE, `# UNIT` and `# EOF` dropped.
pub fn text_0_0_4(openmetrics: &str) -> String {
    let lines: Vec<&str> = openmetrics.lines().collect();
    let counters: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .filter(|name| !name.ends_with("_total"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len() + 8 * counters.len());
    for line in lines {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|tag| Some((tag, line.strip_prefix(tag)?)));
        match meta {
            Some((tag, rest)) => {
                let (name, after) = rest.split_once(' ').unwrap_or((rest, ""));
                let total = if counters.contains(&name) { "_total" } else { "" };
                let _ = writeln!(text, "{tag}{name}{total} {after}");
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_0_0_4_names_counters_by_their_samples() {
        let metrics = Metrics::new();
        let text = text_0_0_4(&metrics.render(3, 1024));
        assert!(text.contains("# HELP stubborn_queries_total Queries received.\n"), "{text}");
        assert!(text.contains("# TYPE stubborn_queries_total counter\n"), "{text}");
        assert!(text.contains("# TYPE stubborn_cache_entries gauge\nstubborn_cache_entries 3\n"), "{text}");
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# TYPE stubborn_queries counter"), "{text}");
        // Every sample line follows a TYPE line of its own family name.
        let mut family = "";
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or("");
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or("");
                let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
                assert!(name == family || base == family, "{name} under TYPE {family}");
            }
        }
    }

    #[test]
    fn every_interface_metric_of_the_core_is_exported() {
        let metrics = Metrics::new();
        let upstream = metrics.upstream("192.0.2.1:53");
        upstream.result(UpstreamResult::Timeout).inc();
        upstream.latency.observe(0.01);
        metrics.answers.count(Source::Stale);
        metrics.cache_evictions.negative_size.inc();
        metrics.service_target("api.example.com", "api.aws.example.net").set(1);
        metrics.failovers("api.example.com").inc();
        metrics.responses.count(3);
        metrics.responses.count(16);
        metrics.responses.count(3);
        metrics.request_duration_udp.record(Duration::from_micros(70), 32);
        metrics.request_duration_udp.record(Duration::from_secs(9), 1);
        metrics.config_reloads.error.inc();
        let text = metrics.render(7, 4096);
        for line in [
            "stubborn_queries_total{protocol=\"udp\"} 0",
            "stubborn_answers_total{source=\"stale\"} 1",
            "stubborn_kept_positive_total 0",
            "stubborn_cache_entries 7",
            "stubborn_cache_bytes 4096",
            "stubborn_cache_evictions_total{kind=\"negative\",reason=\"size\"} 1",
            "stubborn_cache_evictions_total{kind=\"positive\",reason=\"expired\"} 0",
            "stubborn_upstream_up{upstream=\"192.0.2.1:53\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"timeout\"} 1",
            "stubborn_upstream_latency_seconds_count{upstream=\"192.0.2.1:53\"} 1",
            "stubborn_service_target{service=\"api.example.com\",target=\"api.aws.example.net\"} 1",
            "stubborn_failovers_total{service=\"api.example.com\"} 1",
            "stubborn_responses_total{rcode=\"NXDOMAIN\"} 2",
            "stubborn_responses_total{rcode=\"BADVERS\"} 1",
            "stubborn_request_duration_seconds_count{protocol=\"udp\"} 33",
            "stubborn_request_duration_seconds_bucket{le=\"0.0001\",protocol=\"udp\"} 32",
            "stubborn_request_duration_seconds_bucket{le=\"5.0\",protocol=\"udp\"} 32",
            "stubborn_request_duration_seconds_bucket{le=\"+Inf\",protocol=\"udp\"} 33",
            "stubborn_request_duration_seconds_count{protocol=\"tcp\"} 0",
            "stubborn_upstream_fetches_shed_total 0",
            "stubborn_scrubbed_records_total 0",
            "stubborn_rebind_blocked_total 0",
            "stubborn_rate_limited_total 0",
            "stubborn_fleet_up 0",
            "stubborn_fleet_published_total{result=\"dropped\"} 0",
            "stubborn_fleet_reads_total{result=\"rejected\"} 0",
            "stubborn_answers_total{source=\"fleet\"} 0",
            "stubborn_config_reloads_total{result=\"ok\"} 0",
            "stubborn_config_reloads_total{result=\"error\"} 1",
            // Series known in advance are there at 0 before anything happens.
            "stubborn_answers_total{source=\"cache\"} 0",
            "stubborn_answers_total{source=\"upstream\"} 0",
            "stubborn_answers_total{source=\"kept_positive\"} 0",
            "stubborn_answers_total{source=\"service\"} 0",
            "stubborn_answers_total{source=\"refused\"} 0",
            "stubborn_answers_total{source=\"servfail\"} 0",
            "stubborn_responses_total{rcode=\"NOERROR\"} 0",
            "stubborn_responses_total{rcode=\"FORMERR\"} 0",
            "stubborn_responses_total{rcode=\"SERVFAIL\"} 0",
            "stubborn_responses_total{rcode=\"NOTIMP\"} 0",
            "stubborn_responses_total{rcode=\"REFUSED\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"ok\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"servfail\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"refused\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"error\"} 0",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "stubborn_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(!text.contains("rcode=\"YXDOMAIN\""), "an uncommon RCODE never sent has no series:\n{text}");
        let sum = text.lines().find(|l| l.starts_with("stubborn_request_duration_seconds_sum{protocol=\"udp\"}"));
        let sum: f64 = sum.and_then(|l| l.rsplit(' ').next()?.parse().ok()).expect("the sum");
        assert!((sum - (32.0 * 70e-6 + 9.0)).abs() < 1e-6, "{sum}");
    }

    #[test]
    fn forgotten_series_leave_the_exposition() {
        let metrics = Metrics::new();
        metrics.upstream("192.0.2.1:53").result(UpstreamResult::Ok).inc();
        metrics.upstream("192.0.2.2:53");
        metrics.service_target("api.example.com", "a.example.net").set(1);
        metrics.service_target("api.example.com", "b.example.net").set(0);
        metrics.failovers("api.example.com").inc();
        metrics.forget_upstream("192.0.2.1:53");
        metrics.forget_service("api.example.com", &["b.example.net".to_string()], false);
        let text = metrics.render(0, 0);
        assert!(!text.contains("192.0.2.1:53") && text.contains("192.0.2.2:53"), "{text}");
        assert!(!text.contains("b.example.net") && text.contains("a.example.net"), "{text}");
        metrics.forget_service("api.example.com", &["a.example.net".to_string()], true);
        assert!(!metrics.render(0, 0).contains("api.example.com"));
    }
}
