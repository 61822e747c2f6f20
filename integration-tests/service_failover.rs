//! Scenario: one service, `api.example.test`, on three "clouds": primary
//! `api.aws.example.test` (127.0.0.2), secondaries `api.gcp.example.test`
//! (127.0.0.3) and the fixed address 127.0.0.4, checked with `tcp:PORT`
//! against real TCP listeners on those addresses; Knot serves the target
//! names. Listeners are closed and reopened while a client keeps asking.
//!
//! Pins (docs/reference.md "Services"): a healthy primary is answered
//! as `name CNAME primary` + the primary's A record, TTL = the service
//! `ttl`; a closed primary moves answers to the first secondary within
//! `interval × fall` + 1 s, a closed secondary to the fixed address (an A
//! record of the service name, no CNAME); a reopened primary gets them back
//! within `interval × rise` + 1 s; no answer in between is anything but the
//! old or the new target; all targets down → the primary (fail-open, with a
//! warning); every switch is logged with service, from and to, and counted
//! in `stubborn_failovers_total`; `stubborn_service_target` is 1 for the
//! active target only; a `dns` check fails a target that stops resolving.

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::cloud::{
    AWS, AWS_NAME, Answered, FIXED, GCP, GCP_NAME, SERVICE, ServiceSpec, TcpTarget, ask_service, assert_answers,
    failovers, service_port, target_gauges, target_zone, wait_switch, wait_switch_through,
};
use stubborn_test_support::{Config, Knot, Stubborn, wait};

const FIXED_STR: &str = "127.0.0.4";
const TARGETS: [&str; 3] = [AWS_NAME, GCP_NAME, FIXED_STR];

struct Clouds {
    aws: TcpTarget,
    gcp: TcpTarget,
    fixed: TcpTarget,
    spec: ServiceSpec,
    stubborn: Stubborn,
    _knot: Knot,
}

/// Knot with the target names, a listener on each cloud, stubborn with the
/// three-cloud service checked by `tcp:PORT`.
fn start() -> Clouds {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let (aws, gcp, fixed) = (TcpTarget::open(AWS, port), TcpTarget::open(GCP, port), TcpTarget::open(FIXED, port));
    let spec = ServiceSpec::three_clouds().check(&format!("tcp:{port}"));
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).append(&spec.toml()));
    Clouds { aws, gcp, fixed, spec, stubborn, _knot: knot }
}

/// Waits (1 s) for the metrics to say `active` (index in TARGETS) and `switches` failovers.
fn assert_metrics(stubborn: &Stubborn, active: usize, switches: f64) {
    let expected: Vec<f64> = (0..TARGETS.len()).map(|i| if i == active { 1.0 } else { 0.0 }).collect();
    wait::until(
        &format!("stubborn_service_target = {expected:?} and {switches} failovers"),
        Duration::from_secs(1),
        || {
            (target_gauges(stubborn, SERVICE, &TARGETS) == expected && failovers(stubborn, SERVICE) == switches)
                .then_some(())
        },
    );
}

/// Whether the log has a line naming the service and the switch's two ends.
fn switch_logged(stubborn: &Stubborn, from: &str, to: &str) -> bool {
    stubborn
        .log()
        .lines()
        .any(|l| l.contains(SERVICE) && l.contains(from) && l.contains(to) && l.find(from) != l.find(to))
}

fn assert_switch_logged(stubborn: &Stubborn, from: &str, to: &str) {
    wait::until(&format!("a log line for the switch {from} -> {to}"), Duration::from_secs(1), || {
        switch_logged(stubborn, from, to).then_some(())
    });
}

#[test]
fn healthy_primary_is_answered_as_cname_and_its_address() {
    let c = start();
    // Let the checks run (and pass) a few times: the primary is answered
    // because it is healthy, not only because targets start healthy.
    wait::until("three checks of the primary", Duration::from_secs(5), || (c.aws.accepted() >= 3).then_some(()));
    let reply = assert_answers(&c.stubborn, SERVICE, &Answered::via(AWS_NAME, AWS));
    let cname = reply.msg.answers.iter().find(|r| r.record_type() == RecordType::CNAME).expect("a CNAME");
    assert_eq!(cname.ttl, 10, "the CNAME's TTL is the service ttl: {}", reply.summary());
    assert!(
        reply.answer_ttls().iter().all(|&t| t <= 10),
        "no record of a service answer outlives the service ttl: {}",
        reply.summary()
    );
    assert!(c.gcp.accepted() > 0 && c.fixed.accepted() > 0, "every target is checked, not only the active one");
    assert_metrics(&c.stubborn, 0, 0.0);
}

#[test]
fn closed_primary_fails_over_to_secondary_then_fixed_address_then_back() {
    let mut c = start();
    let on_aws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);
    let on_fixed = Answered::literal(FIXED);
    assert_answers(&c.stubborn, SERVICE, &on_aws);

    c.aws.close();
    let took = wait_switch(&c.stubborn, SERVICE, &on_aws, &on_gcp, c.spec.fall_deadline());
    eprintln!("primary closed -> secondary answered in {took:?}");
    assert_metrics(&c.stubborn, 1, 1.0);
    assert_switch_logged(&c.stubborn, AWS_NAME, GCP_NAME);

    c.gcp.close();
    let took = wait_switch(&c.stubborn, SERVICE, &on_gcp, &on_fixed, c.spec.fall_deadline());
    eprintln!("secondary closed -> fixed address answered in {took:?}");
    let reply = assert_answers(&c.stubborn, SERVICE, &on_fixed);
    assert_eq!(reply.answer_ttls(), vec![10], "the literal answer has the service ttl: {}", reply.summary());
    assert_metrics(&c.stubborn, 2, 2.0);
    assert_switch_logged(&c.stubborn, GCP_NAME, FIXED_STR);

    c.aws.reopen();
    let took = wait_switch(&c.stubborn, SERVICE, &on_fixed, &on_aws, c.spec.rise_deadline());
    eprintln!("primary reopened -> primary answered in {took:?}");
    assert_metrics(&c.stubborn, 0, 3.0);
    assert_switch_logged(&c.stubborn, FIXED_STR, AWS_NAME);

    // The secondary coming back does not move answers off the primary.
    c.gcp.reopen();
    let checks = c.gcp.accepted();
    wait::until("the reopened secondary to be checked 3 times", Duration::from_secs(5), || {
        (c.gcp.accepted() >= checks + 3).then_some(())
    });
    assert_answers(&c.stubborn, SERVICE, &on_aws);
    assert_metrics(&c.stubborn, 0, 3.0);
}

#[test]
fn all_targets_down_answers_the_primary_and_warns() {
    let mut c = start();
    let on_aws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);
    let on_fixed = Answered::literal(FIXED);
    c.aws.close();
    wait_switch(&c.stubborn, SERVICE, &on_aws, &on_gcp, c.spec.fall_deadline());

    c.gcp.close();
    c.fixed.close();
    // Depending on which check fails first, the fixed address may be answered for a moment.
    let deadline = c.spec.fall_deadline();
    let start = std::time::Instant::now();
    wait::until("the primary to be answered with every target down (fail-open)", deadline, || {
        let (reply, now) = ask_service(&c.stubborn, SERVICE, RecordType::A);
        assert!(
            now == on_aws || now == on_gcp || now == on_fixed,
            "{:?} after closing the rest: {now:?}: {}",
            start.elapsed(),
            reply.summary()
        );
        (now == on_aws).then_some(())
    });
    assert_metrics(&c.stubborn, 0, failovers(&c.stubborn, SERVICE).max(2.0));
    wait::until("a warning about no healthy target", Duration::from_secs(1), || {
        c.stubborn
            .log()
            .lines()
            .any(|l| {
                let l = l.to_lowercase();
                l.contains("warn") && (l.contains("fail-open") || l.contains("no target") || l.contains("none"))
            })
            .then_some(())
    });
    // Still answered a while later: fail-open is a state, not a blip.
    let checks = c.gcp.accepted();
    let reply = assert_answers(&c.stubborn, SERVICE, &on_aws);
    assert_eq!(reply.rcode(), ResponseCode::NoError);
    assert_eq!(c.gcp.accepted(), checks, "closed listeners accept nothing");

    // One target back: answers move to it, fail-open ends.
    c.gcp.reopen();
    wait_switch(&c.stubborn, SERVICE, &on_aws, &on_gcp, c.spec.rise_deadline());
    assert_metrics(&c.stubborn, 1, failovers(&c.stubborn, SERVICE));
}

#[test]
fn aaaa_for_a_v4_only_target_is_the_cname_without_address() {
    let c = start();
    let (reply, what) = ask_service(&c.stubborn, SERVICE, RecordType::AAAA);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(what, Answered::Via { target: AWS_NAME.to_string(), addrs: vec![] }, "{}", reply.summary());
    assert_eq!(reply.msg.answers.len(), 1, "only the CNAME: {}", reply.summary());
    drop(c);
}

#[test]
fn aaaa_for_a_v4_fixed_address_is_nodata() {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let _fixed = TcpTarget::open(FIXED, port);
    let spec = ServiceSpec::new("fixed.example.test", FIXED_STR, &[]).check(&format!("tcp:{port}"));
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).append(&spec.toml()));
    assert_answers(&stubborn, "fixed.example.test", &Answered::literal(FIXED));
    let (reply, _) = ask_service(&stubborn, "fixed.example.test", RecordType::AAAA);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert!(reply.msg.answers.is_empty(), "no AAAA for a v4 address: {}", reply.summary());
}

#[test]
fn dns_check_fails_a_target_that_stops_resolving() {
    // The primary's A has a TTL of 1 s and negative answers are cached for
    // 1 s, so that its withdrawal and its return are seen soon.
    let with_aws = format!("api.aws 1 IN A {AWS}\napi.gcp 300 IN A {GCP}");
    let without_aws = format!("api.gcp 300 IN A {GCP}");
    let mut knot = Knot::start_with_negative_ttl(&with_aws, 1);
    let spec = ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME]); // check = "dns" (the default)
    // Last-known-good would keep the withdrawn address for `keep_positive`:
    // off here, so that the check sees the name go.
    let stubborn =
        Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "keep_positive", "0s").append(&spec.toml()));
    let on_aws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);
    assert_answers(&stubborn, SERVICE, &on_aws);

    knot.set_records(&without_aws);
    let ttl = Duration::from_secs(1);
    // Until `fall` checks have failed, the primary is still the target, and
    // it has no address any more: the CNAME alone.
    let aws_gone = Answered::Via { target: AWS_NAME.to_string(), addrs: vec![] };
    wait_switch_through(&stubborn, SERVICE, &[on_aws.clone(), aws_gone], &on_gcp, ttl + spec.fall_deadline());

    knot.set_records(&with_aws);
    wait_switch(&stubborn, SERVICE, &on_gcp, &on_aws, ttl + spec.rise_deadline());
}
