//! Every metric stubborn exports, by the names INTERFACE.md gives, in one
//! place. Handles are resolved once (per upstream at start, per answer
//! source here) and kept, so the query path increments an atomic and never
//! looks a label set up (linkerd's `Metrics` structs do the same).

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

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
    upstream_up: Family<Labels, Gauge>,
    upstream_queries: Family<Labels, Counter>,
    upstream_latency: Family<Labels, Histogram, fn() -> Histogram>,
    service_target: Family<Labels, Gauge>,
    failovers: Family<Labels, Counter>,
}

/// One counter per answer source.
pub struct Answers {
    pub cache: Counter,
    pub upstream: Counter,
    pub stale: Counter,
    pub kept_positive: Counter,
    pub refused: Counter,
    pub servfail: Counter,
    pub service: Counter,
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

        let label = |name: &'static str, value: &str| vec![(name, value.to_string())];
        let counter = |family: &Family<Labels, Counter>, name, value| family.get_or_create(&label(name, value)).clone();
        Metrics {
            queries_udp: counter(&queries, "protocol", "udp"),
            queries_tcp: counter(&queries, "protocol", "tcp"),
            answers: Answers {
                cache: counter(&answers, "source", "cache"),
                upstream: counter(&answers, "source", "upstream"),
                stale: counter(&answers, "source", "stale"),
                kept_positive: counter(&answers, "source", "kept_positive"),
                refused: counter(&answers, "source", "refused"),
                servfail: counter(&answers, "source", "servfail"),
                service: counter(&answers, "source", "service"),
            },
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
            upstream_up,
            upstream_queries,
            upstream_latency,
            service_target,
            failovers,
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
    pub fn render(&self, cache_entries: u64) -> String {
        // The gauge's integer type is narrower on 32-bit targets (MIPS routers).
        self.cache_entries.set(cache_entries.try_into().unwrap_or_default());
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String does not fail");
        text
    }
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
    fn every_interface_metric_of_the_core_is_exported() {
        let metrics = Metrics::new();
        let upstream = metrics.upstream("192.0.2.1:53");
        upstream.result(UpstreamResult::Timeout).inc();
        upstream.latency.observe(0.01);
        metrics.answers.stale.inc();
        metrics.cache_evictions.negative_size.inc();
        metrics.service_target("api.example.com", "api.aws.example.net").set(1);
        metrics.failovers("api.example.com").inc();
        let text = metrics.render(7);
        for line in [
            "stubborn_queries_total{protocol=\"udp\"} 0",
            "stubborn_answers_total{source=\"stale\"} 1",
            "stubborn_kept_positive_total 0",
            "stubborn_cache_entries 7",
            "stubborn_cache_evictions_total{kind=\"negative\",reason=\"size\"} 1",
            "stubborn_cache_evictions_total{kind=\"positive\",reason=\"expired\"} 0",
            "stubborn_upstream_up{upstream=\"192.0.2.1:53\"} 0",
            "stubborn_upstream_queries_total{upstream=\"192.0.2.1:53\",result=\"timeout\"} 1",
            "stubborn_upstream_latency_seconds_count{upstream=\"192.0.2.1:53\"} 1",
            "stubborn_service_target{service=\"api.example.com\",target=\"api.aws.example.net\"} 1",
            "stubborn_failovers_total{service=\"api.example.com\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
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
        let text = metrics.render(0);
        assert!(!text.contains("192.0.2.1:53") && text.contains("192.0.2.2:53"), "{text}");
        assert!(!text.contains("b.example.net") && text.contains("a.example.net"), "{text}");
        metrics.forget_service("api.example.com", &["a.example.net".to_string()], true);
        assert!(!metrics.render(0).contains("api.example.com"));
    }
}
