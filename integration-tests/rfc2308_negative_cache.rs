//! Scenario: NXDOMAIN and NODATA answers are cached for the negative TTL
//! given by the SOA in the authority section (its TTL, at most its MINIMUM):
//! a second query within it does not reach the upstream and its SOA TTL is
//! counted down; after it the upstream is asked again (RFC 2308 sections 3
//! and 5).

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Reply, Stubborn};

fn soa_ttl(reply: &Reply) -> Option<u32> {
    reply.msg.authorities.iter().find(|r| matches!(r.data, RData::SOA(_))).map(|r| r.ttl)
}

#[test]
fn nxdomain_cached_second_query_not_sent_upstream() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_negative_ttl(60);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let name = "nxthing.example.test.";
    for round in 0..3 {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NXDomain, "round {round}: {}", reply.summary());
        let ttl = soa_ttl(&reply).unwrap_or_else(|| panic!("round {round}: SOA in authority: {}", reply.summary()));
        assert!((55..=60).contains(&ttl), "round {round}: negative TTL {ttl}");
        assert!(reply.ede().is_empty(), "round {round}: fresh: {}", reply.summary());
    }
    assert_eq!(fake.queries_for(name), 1, "NXDOMAIN must be answered from the cache after the first query");
    let hits = stubborn.metric(r#"stubborn_answers_total{source="cache"}"#);
    assert!(hits >= 2.0, "stubborn_answers_total{{source=\"cache\"}} = {hits}");
}

#[test]
fn nodata_cached_second_query_not_sent_upstream() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let name = "www.example.test.";
    for round in 0..3 {
        // The fake has only A records: AAAA is NODATA.
        let reply = stubborn.ask(&Ask::new(name, RecordType::AAAA));
        assert_eq!(reply.rcode(), ResponseCode::NoError, "round {round}: {}", reply.summary());
        assert!(reply.msg.answers.is_empty(), "round {round}: {}", reply.summary());
        assert!(soa_ttl(&reply).is_some(), "round {round}: SOA in authority: {}", reply.summary());
    }
    assert_eq!(fake.queries_for(name), 1, "NODATA must be answered from the cache after the first query");
}

#[test]
fn negative_entry_expires_after_soa_negative_ttl() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_negative_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let name = "nxshort.example.test.";
    let first = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(first.rcode(), ResponseCode::NXDomain, "{}", first.summary());
    sleep_until(fetched, Duration::from_millis(1_600));
    let second = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(second.rcode(), ResponseCode::NXDomain, "{}", second.summary());
    assert!(second.ede().is_empty(), "upstream is up: fresh, not stale: {}", second.summary());
    assert_eq!(fake.queries_for(name), 2, "a negative entry lives only as long as its SOA TTL");
}

/// With a real authoritative: the NXDOMAIN is served from the cache after
/// knotd is gone, fresh (no EDE) with the SOA TTL counting down from 300.
#[test]
fn cached_nxdomain_ttl_counts_down_with_authoritative_stopped() {
    let mut knot = Knot::start_with_negative_ttl("www 300 IN A 192.0.2.1", 300);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let name = "missing.example.test.";
    let first = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(first.rcode(), ResponseCode::NXDomain, "{}", first.summary());
    assert!(matches!(soa_ttl(&first), Some(298..=300)), "{}", first.summary());
    knot.stop();
    sleep_until(fetched, Duration::from_millis(2_200));
    let second = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(second.rcode(), ResponseCode::NXDomain, "{}", second.summary());
    assert!(second.ede().is_empty(), "a fresh negative hit is not stale: {}", second.summary());
    let ttl = soa_ttl(&second).unwrap_or_else(|| panic!("SOA in authority: {}", second.summary()));
    assert!((294..=298).contains(&ttl), "negative TTL counted down by ~2 s: {ttl}");
}
