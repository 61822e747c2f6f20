//! Scenario: every upstream is down (one drops queries, one is a stopped
//! Knot DNS) and the name was never cached: the client gets SERVFAIL, with
//! EDE 22 "No Reachable Authority" when it sent EDNS, within 3 s: never
//! silence, never a hang past its retry (RFC 8914 section 4.23; docs/reference.md "No answer at all"). Once every server is counted
//! down, an unknown name costs the client no `timeout`: SERVFAIL comes
//! within tens of milliseconds, and the fetch goes on, so the client's retry
//! gets the answer of a server that is back before any probe noticed.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_NO_REACHABLE_AUTHORITY;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

fn all_down() -> (FakeUpstream, Knot, Stubborn) {
    let blackhole = FakeUpstream::start(Mode::Blackhole);
    let mut knot = Knot::start("www 300 IN A 192.0.2.1");
    knot.stop();
    let stubborn = Stubborn::start(Config::new(&[blackhole.server(), knot.server()]));
    (blackhole, knot, stubborn)
}

#[test]
fn servfail_with_ede_22_when_every_upstream_is_down() {
    let (_blackhole, _knot, stubborn) = all_down();
    for name in ["unknown.example.test.", "other.example.test."] {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A).id(0x2222));
        assert_eq!(reply.msg.metadata.id, 0x2222);
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{name}: {}", reply.summary());
        assert!(reply.msg.answers.is_empty(), "{}", reply.summary());
        assert!(
            reply.ede_codes().contains(&EDE_NO_REACHABLE_AUTHORITY),
            "{name}: EDE 22 expected: {}",
            reply.summary()
        );
        assert!(reply.elapsed < Duration::from_secs(3), "{name}: took {:?}", reply.elapsed);
    }
    let counted = stubborn.metric(r#"stubborn_answers_total{source="servfail"}"#);
    assert!(counted >= 2.0, "stubborn_answers_total{{source=\"servfail\"}} = {counted}");
}

#[test]
fn servfail_without_opt_when_query_had_no_edns() {
    let (_blackhole, _knot, stubborn) = all_down();
    let reply = stubborn.ask(&Ask::new("unknown.example.test.", RecordType::A).no_edns());
    assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.summary());
    assert!(reply.msg.edns.is_none(), "no OPT record without EDNS in the query: {}", reply.summary());
    assert!(reply.elapsed < Duration::from_secs(3), "took {:?}", reply.elapsed);
}

#[test]
fn servfail_over_tcp_when_every_upstream_is_down() {
    let (_blackhole, _knot, stubborn) = all_down();
    let reply = stubborn.ask(&Ask::new("unknown.example.test.", RecordType::A).tcp());
    assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.summary());
    assert!(reply.ede_codes().contains(&EDE_NO_REACHABLE_AUTHORITY), "{}", reply.summary());
    assert!(reply.elapsed < Duration::from_secs(3), "took {:?}", reply.elapsed);
}

#[test]
fn an_unknown_name_costs_no_timeout_once_every_upstream_is_down() {
    let blackhole = FakeUpstream::start(Mode::Blackhole);
    let config = Config::new(&[blackhole.server()])
        .set_str("upstream", "timeout", "2s")
        .set("upstream", "fail_after", "1")
        .set_str("upstream", "probe_interval", "30s");
    let stubborn = Stubborn::start(config);
    let first = stubborn.ask(&Ask::new("first.example.test.", RecordType::A));
    assert_eq!(first.rcode(), ResponseCode::ServFail, "{}", first.summary());
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", blackhole.server());
    wait::until("the silent upstream counted down", Duration::from_secs(5), || {
        (stubborn.metric(&up) == 0.0).then_some(())
    });

    for i in 0..5 {
        let name = format!("unknown{i}.example.test.");
        let reply = stubborn.ask(&Ask::new(&name, RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{name}: {}", reply.summary());
        assert!(reply.ede_codes().contains(&EDE_NO_REACHABLE_AUTHORITY), "{name}: {}", reply.summary());
        assert!(reply.elapsed < Duration::from_millis(300), "{name}: SERVFAIL took {:?}", reply.elapsed);
        wait::until(&format!("the fetch of {name} sent on"), Duration::from_secs(2), || {
            (blackhole.queries_for(&name) > 0).then_some(())
        });
    }
}

#[test]
fn a_retry_gets_the_answer_of_a_server_back_before_its_probe() {
    let mut knot = Knot::start("www 300 IN A 192.0.2.1\nback 300 IN A 192.0.2.2");
    let config =
        Config::new(&[knot.server()]).set("upstream", "fail_after", "1").set_str("upstream", "probe_interval", "30s");
    let stubborn = Stubborn::start(config);
    assert_eq!(stubborn.ask(&Ask::new("www.example.test.", RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    knot.stop();
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", knot.server());
    wait::until("the stopped Knot counted down", Duration::from_secs(5), || {
        let reply = stubborn.ask(&Ask::new("gone.example.test.", RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.summary());
        (stubborn.metric(&up) == 0.0).then_some(())
    });

    // Back, 30 s before the next probe: the miss is sent on all the same,
    // and a retry within a second has the fresh answer.
    knot.start_again();
    let back = Instant::now();
    let answered = wait::until("the answer of the restarted Knot", Duration::from_secs(3), || {
        let reply = stubborn.ask(&Ask::new("back.example.test.", RecordType::A));
        assert!(reply.elapsed < Duration::from_millis(300), "took {:?}: {}", reply.elapsed, reply.summary());
        (reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 2)]).then_some(reply)
    });
    assert!(answered.ede_codes().is_empty(), "{}", answered.summary());
    assert!(back.elapsed() < Duration::from_secs(1), "answered {:?} after Knot was back", back.elapsed());
}
