//! Scenario: the authoritative for the target names (Knot) dies, and while
//! it is down the primary cloud fails too, then comes back: the DNS outage
//! and the cloud outage at once, the case authoritative-side failover cannot
//! handle. The target names have a TTL of 1 s, so every target record in
//! play is expired and can only come from stale cache.
//!
//! Pins (docs/reference.md "Services": a name
//! target is resolved through stubborn's cache, stale allowed): with Knot
//! stopped, closing the primary's listener still moves answers to the
//! secondary — `CNAME secondary` + its (stale) A record — and reopening it
//! brings them back to `CNAME primary` + its stale A; no answer in between
//! is a SERVFAIL or an empty answer.

use std::time::{Duration, Instant};

use stubborn_test_support::cloud::{
    AWS, AWS_NAME, Answered, GCP, GCP_NAME, SERVICE, ServiceSpec, TcpTarget, assert_answers, failovers, service_port,
    target_zone, wait_switch,
};
use stubborn_test_support::{Config, Knot, Stubborn, wait};

#[test]
fn failover_during_an_authoritative_outage_answers_from_stale_data() {
    let port = service_port();
    let mut knot = Knot::start(&target_zone(1));
    let mut aws = TcpTarget::open(AWS, port);
    let gcp = TcpTarget::open(GCP, port);
    let spec = ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME]).check(&format!("tcp:{port}"));
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).append(&spec.toml()));
    let on_aws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);
    // Both targets resolved (the checks do it) before the outage.
    wait::until("both targets checked", Duration::from_secs(5), || (gcp.accepted() >= 1).then_some(()));
    assert_answers(&stubborn, SERVICE, &on_aws);

    knot.stop();
    let stopped = Instant::now();
    // Past the records' 1 s TTL: from now on they exist only as stale entries.
    wait::sleep_until(stopped, Duration::from_millis(1_500));
    assert_answers(&stubborn, SERVICE, &on_aws);

    aws.close();
    // A check may also wait for the upstream (at most `stale_answer_after`,
    // 1.8 s in the test config) before the stale address is checked.
    let deadline = spec.fall_deadline() + Duration::from_millis(1_800);
    let took = wait_switch(&stubborn, SERVICE, &on_aws, &on_gcp, deadline);
    eprintln!("failover with the authoritative down took {took:?}");
    assert_eq!(failovers(&stubborn, SERVICE), 1.0);

    aws.reopen();
    let deadline = spec.rise_deadline() + Duration::from_millis(1_800);
    let took = wait_switch(&stubborn, SERVICE, &on_gcp, &on_aws, deadline);
    eprintln!("fail-back with the authoritative down took {took:?}");
}
