//! Scenario: the first upstream never answers (a blackhole). The first query
//! costs one `timeout` and is answered by the second upstream; the dead one
//! is then down and skipped, so the next query is fast. When the first
//! upstream answers again, a background probe sees it and it is first again.
//! With `fail_after = 2` it takes two consecutive failures to be skipped
//! (docs/reference.md `fail_after`, `probe_interval`).

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

const ZONE: &str = "a1 300 IN A 192.0.2.1\na2 300 IN A 192.0.2.2\na3 300 IN A 192.0.2.3";

#[test]
fn dead_first_upstream_is_hedged_then_skipped_then_taken_back() {
    let dead = FakeUpstream::start(Mode::Blackhole);
    let knot = Knot::start(ZONE);
    let stubborn =
        Stubborn::start(Config::new(&[dead.server(), knot.server()]).set_str("upstream", "timeout", "1s").set(
            "upstream",
            "fail_after",
            "1",
        ));

    let first = stubborn.ask(&Ask::new("a1.example.test.", RecordType::A));
    assert_eq!(first.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", first.summary());
    assert_eq!(dead.queries_for("a1.example.test"), 1, "the first upstream is tried first");
    assert!(
        first.elapsed < Duration::from_millis(2_500),
        "one 1 s timeout then the second upstream, took {:?}",
        first.elapsed
    );

    // Hedged, the answer came from the second server long before the dead
    // one's attempt ran out; that attempt counts when its 1 s timeout ends.
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", dead.server());
    stubborn.wait_metric(&up, Duration::from_secs(3), |v| v == 0.0);
    let second = stubborn.ask(&Ask::new("a2.example.test.", RecordType::A));
    assert_eq!(second.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)], "{}", second.summary());
    assert_eq!(dead.queries_for("a2.example.test"), 0, "a down upstream is skipped");
    assert!(
        second.elapsed < Duration::from_millis(500),
        "the dead upstream must not cost a timeout again, took {:?}",
        second.elapsed
    );

    // Recovery: the first upstream answers again, with its own data.
    dead.set_ipv4(Ipv4Addr::new(198, 51, 100, 7));
    dead.set_mode(Mode::Answer);
    let mut i = 0u32;
    wait::until("answers from the recovered first upstream", Duration::from_secs(5), || {
        i += 1;
        let reply = stubborn.ask(&Ask::new(&format!("back{i}.example.test."), RecordType::A));
        (reply.ipv4s() == vec![Ipv4Addr::new(198, 51, 100, 7)]).then_some(())
    });
    stubborn.wait_metric(
        &format!("stubborn_upstream_up{{upstream=\"{}\"}}", dead.server()),
        Duration::from_secs(2),
        |v| v == 1.0,
    );
    // And it stays first: a name the second upstream knows comes from it.
    let reply = stubborn.ask(&Ask::new("a3.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(198, 51, 100, 7)], "{}", reply.summary());
}

#[test]
fn upstream_is_skipped_only_after_fail_after_consecutive_failures() {
    let dead = FakeUpstream::start(Mode::Blackhole);
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(
        Config::new(&[dead.server(), knot.server()])
            .set_str("upstream", "timeout", "500ms")
            .set("upstream", "fail_after", "2")
            // Long enough that no probe brings it back during the test.
            .set_str("upstream", "probe_interval", "30s"),
    );
    for (n, ip) in [("a1", 1), ("a2", 2)] {
        let reply = stubborn.ask(&Ask::new(&format!("{n}.example.test."), RecordType::A));
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, ip)], "{}", reply.summary());
        assert_eq!(dead.queries_for(&format!("{n}.example.test")), 1, "{n}: still tried (fail_after = 2)");
    }
    // Each attempt counts when its timeout ends (the answers came hedged, earlier).
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", dead.server());
    stubborn.wait_metric(&up, Duration::from_secs(2), |v| v == 0.0);
    let third = stubborn.ask(&Ask::new("a3.example.test.", RecordType::A));
    assert_eq!(third.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 3)], "{}", third.summary());
    assert_eq!(dead.queries_for("a3.example.test"), 0, "down after 2 consecutive failures");
    assert!(third.elapsed < Duration::from_millis(400), "took {:?}", third.elapsed);
}

/// The first upstream answers SERVFAIL: down, and its probes (answered
/// SERVFAIL too) do not bring it back; once it answers, it is first again.
#[test]
fn recovered_first_upstream_preferred_over_second() {
    let first = FakeUpstream::start(Mode::ServFail);
    let second = FakeUpstream::start(Mode::Answer);
    second.set_ipv4(Ipv4Addr::new(192, 0, 2, 2));
    first.set_ipv4(Ipv4Addr::new(192, 0, 2, 1));
    let stubborn = Stubborn::start(Config::new(&[first.server(), second.server()]));
    let reply = stubborn.ask(&Ask::new("x1.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)], "{}", reply.summary());
    // A probe answered SERVFAIL does not bring it back: over five probe
    // intervals it stays down and unused.
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", first.server());
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(stubborn.metric(&up), 0.0, "probe {i}: a SERVFAIL probe reply is no sign of life");
    }
    let reply = stubborn.ask(&Ask::new("x2.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)], "{}", reply.summary());
    assert_eq!(first.queries_for("x2.example.test"), 0, "still skipped while down");
    first.set_mode(Mode::Answer);
    let mut i = 0u32;
    wait::until("the first upstream to be used again", Duration::from_secs(5), || {
        i += 1;
        let reply = stubborn.ask(&Ask::new(&format!("y{i}.example.test."), RecordType::A));
        (reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 1)]).then_some(())
    });
}

/// A real authoritative that is stopped and started again: its probe
/// (`. NS`) is REFUSED by knotd, which is not authoritative for the root,
/// but the probe also asks the first name it answered, which it answers
/// again; so it is taken back and, listed first, answers again. Wildcards
/// let every fresh name resolve on both servers.
#[test]
fn restarted_authoritative_taken_back_although_it_refuses_the_probe() {
    let mut first = Knot::start("* 300 IN A 192.0.2.1");
    let second = Knot::start("* 300 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[first.server(), second.server()]));
    let reply = stubborn.ask(&Ask::new("r0.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", reply.summary());

    first.stop();
    let reply = stubborn.ask(&Ask::new("r1.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)], "{}", reply.summary());
    let root = refuses_root_ns(&second);
    assert!(root, "premise: knotd REFUSEs `. NS`");

    first.start_again();
    let mut i = 1u32;
    wait::until("the restarted first authoritative to answer again", Duration::from_secs(5), || {
        i += 1;
        let reply = stubborn.ask(&Ask::new(&format!("r{i}.example.test."), RecordType::A));
        (reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 1)]).then_some(())
    });
}

fn refuses_root_ns(knot: &Knot) -> bool {
    knot.ask(&Ask::new(".", RecordType::NS)).rcode() == ResponseCode::Refused
}

/// Hedged queries: with a silent first upstream and nothing learned yet,
/// no client waits the 500 ms `timeout` on it — the second server is asked
/// too once the first has not answered within its hedge delay (40 ms while
/// its latency is unknown, 20 ms once a hedge fired on it).
#[test]
fn a_silent_primary_costs_a_hedge_delay_not_a_timeout() {
    let silent = FakeUpstream::start(Mode::Blackhole);
    let good = FakeUpstream::start(Mode::Answer);
    let stubborn =
        Stubborn::start(Config::new(&[silent.server(), good.server()]).set_str("upstream", "timeout", "500ms").set(
            "upstream",
            "fail_after",
            "3",
        ));
    let mut took = Vec::new();
    for i in 0..10 {
        let reply = stubborn.ask(&Ask::new(&format!("h{i}.example.test."), RecordType::A));
        assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
        took.push(reply.elapsed);
    }
    assert!(took.iter().all(|t| *t < Duration::from_millis(300)), "each well under the timeout: {took:?}");
    let over_100ms = took.iter().filter(|t| **t > Duration::from_millis(100)).count();
    assert!(over_100ms <= 1, "at most the first waits longer: {took:?}");
    assert!(silent.queries() >= 1, "the silent server was asked too");
}
