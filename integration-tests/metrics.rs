//! Scenario: after a little traffic (a miss, a cache hit, a TCP query, a
//! dead upstream) every metric INTERFACE.md lists for the core resolver shows
//! up in `GET /metrics` with the right labels and plausible values; /healthz
//! and /readyz answer 200 (INTERFACE.md "Admin endpoint"; issue 2, item 6;
//! in the spirit of CoreDNS's test/metric_naming_test.go).

use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::harness::stubborn::{metric_in, metric_present};
use crate::harness::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

/// A predicate on a metric's value.
type Check = Box<dyn Fn(f64) -> bool>;

#[test]
fn core_metrics_exposed_with_labels() {
    let dead = FakeUpstream::start(Mode::Blackhole);
    let knot = Knot::start("www 300 IN A 192.0.2.1\napi 300 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[dead.server(), knot.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A)); // miss (dead times out, knot answers)
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A)); // hit
    stubborn.ask(&Ask::new("api.example.test.", RecordType::A).tcp()); // miss over TCP
    // The dead upstream's attempt (hedged past) counts when its timeout ends.
    let down_up = format!(r#"stubborn_upstream_up{{upstream="{}"}}"#, dead.server());
    stubborn.wait_metric(&down_up, std::time::Duration::from_secs(2), |v| v == 0.0);

    let text = stubborn.metrics();
    let live = knot.server();
    let down = dead.server();
    let checks: Vec<(String, Check)> = vec![
        (r#"stubborn_queries_total{protocol="udp"}"#.into(), Box::new(|v| v >= 2.0)),
        (r#"stubborn_queries_total{protocol="tcp"}"#.into(), Box::new(|v| v >= 1.0)),
        (r#"stubborn_answers_total{source="upstream"}"#.into(), Box::new(|v| v >= 2.0)),
        (r#"stubborn_answers_total{source="cache"}"#.into(), Box::new(|v| v >= 1.0)),
        ("stubborn_cache_entries".into(), Box::new(|v| v >= 2.0)),
        (format!(r#"stubborn_upstream_up{{upstream="{live}"}}"#), Box::new(|v| v == 1.0)),
        (format!(r#"stubborn_upstream_up{{upstream="{down}"}}"#), Box::new(|v| v == 0.0)),
        (format!(r#"stubborn_upstream_queries_total{{upstream="{live}",result="ok"}}"#), Box::new(|v| v >= 2.0)),
        (format!(r#"stubborn_upstream_queries_total{{upstream="{down}",result="timeout"}}"#), Box::new(|v| v >= 1.0)),
        (format!(r#"stubborn_upstream_latency_seconds_count{{upstream="{live}"}}"#), Box::new(|v| v >= 2.0)),
    ];
    for (query, ok) in &checks {
        let v = metric_in(&text, query);
        assert!(ok(v), "{query} = {v}; /metrics:\n{text}");
    }
    for name in [
        "stubborn_queries_total",
        "stubborn_answers_total",
        "stubborn_cache_entries",
        "stubborn_upstream_up",
        "stubborn_upstream_queries_total",
        "stubborn_upstream_latency_seconds_bucket",
        "stubborn_upstream_latency_seconds_sum",
        "stubborn_upstream_latency_seconds_count",
    ] {
        assert!(metric_present(&text, name), "{name} missing from /metrics:\n{text}");
    }
    // The down upstream is listed even though it never answered.
    assert!(text.contains(&format!("upstream=\"{down}\"")), "{text}");
}

#[test]
fn healthz_and_readyz_answer_200() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    assert_eq!(stubborn.get("/healthz").0, 200);
    assert_eq!(stubborn.get("/readyz").0, 200);
    let (status, _) = stubborn.get("/metrics");
    assert_eq!(status, 200);
    // Stays healthy while it serves.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stubborn.get("/healthz").0, 200);
}
