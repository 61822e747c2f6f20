//! Scenario: every upstream is down (one drops queries, one is a stopped
//! Knot DNS) and the name was never cached: the client gets SERVFAIL, with
//! EDE 22 "No Reachable Authority" when it sent EDNS, within 3 s: never
//! silence, never a hang past its retry (RFC 8914 section 4.23; issue 2,
//! "SERVFAIL + EDE 22 for an unknown name with every upstream down, within a
//! bound"; INTERFACE.md "No answer at all").

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::dns::EDE_NO_REACHABLE_AUTHORITY;
use crate::harness::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

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
