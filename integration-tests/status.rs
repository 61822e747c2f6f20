//! Scenario: during an outage an operator asks `GET /status`. The answer is
//! JSON with the documented fields, and says what is degraded right now: the
//! upstream that is down (since when, last error) and the names answered
//! stale (docs/operations.md).

use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, Knot, Stubborn};

#[test]
fn status_names_the_down_upstream_and_the_stale_names() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new("web.example.test.", RecordType::A));
    let fetched = Instant::now();

    let (code, body) = stubborn.get("/status");
    assert_eq!(code, 200, "{body}");
    let healthy: Value = serde_json::from_str(&body).expect("valid JSON");
    for field in ["version", "started", "uptime_seconds", "config", "cache", "upstreams", "services", "degraded"] {
        assert!(healthy.get(field).is_some(), "field {field} missing: {body}");
    }
    assert_eq!(healthy["upstreams"][0]["upstream"], knot.server().as_str());
    assert_eq!(healthy["upstreams"][0]["up"], true);
    assert!(healthy["cache"]["entries"].as_u64().unwrap_or(0) >= 1, "{body}");
    // One A record: a few hundred bytes, within the default max_memory (1 KiB per entry of capacity).
    assert!((100..=4096).contains(&healthy["cache"]["bytes"].as_u64().unwrap_or(0)), "{body}");
    assert_eq!(healthy["cache"]["max_memory"].as_u64(), Some(100_000 * 1024), "{body}");
    assert_eq!(healthy["degraded"]["answers"].as_array().map(Vec::len), Some(0), "{body}");

    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();
    stubborn.ask(&Ask::new("web.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("web.example.test.", RecordType::A));

    let (_, body) = stubborn.get("/status");
    let outage: Value = serde_json::from_str(&body).expect("valid JSON");
    let down = &outage["degraded"]["upstreams_down"][0];
    assert_eq!(down["upstream"], knot.server().as_str(), "{body}");
    assert!(down["last_error"].is_string() && down["since"].is_string(), "{body}");
    let stale = &outage["degraded"]["answers"][0];
    assert_eq!(
        (stale["name"].as_str(), stale["type"].as_str(), stale["reason"].as_str()),
        (Some("web.example.test."), Some("A"), Some("stale")),
        "{body}"
    );
    assert_eq!(stale["count"], 2, "{body}");
}
