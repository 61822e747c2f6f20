//! Scenario: cached TTLs are clamped by `[cache] min_ttl`, `max_ttl` and, for
//! NXDOMAIN/NODATA, `negative_max_ttl`; the clamped TTL is what clients see
//! and how long the entry is fresh (docs/reference.md `[cache]`; RFC 2308
//! section 5 for the negative cap).

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn max_ttl_caps_the_ttl() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(3600);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("cache", "max_ttl", "60s"));
    for round in 0..2 {
        let reply = stubborn.ask(&Ask::new("long.example.test.", RecordType::A));
        assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
        assert!(
            reply.answer_ttls().iter().all(|&t| (55..=60).contains(&t)),
            "round {round}: TTL capped at max_ttl 60: {}",
            reply.summary()
        );
    }
}

#[test]
fn min_ttl_raises_the_ttl_and_keeps_the_entry_fresh() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("cache", "min_ttl", "10s"));
    let name = "short.example.test.";
    let first = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert!(first.answer_ttls().iter().all(|&t| (9..=10).contains(&t)), "{}", first.summary());
    sleep_until(fetched, Duration::from_millis(2_000));
    let second = stubborn.ask(&Ask::new(name, RecordType::A));
    assert!(second.ede().is_empty(), "fresh: {}", second.summary());
    assert!(second.answer_ttls().iter().all(|&t| (6..=8).contains(&t)), "{}", second.summary());
    assert_eq!(fake.queries_for(name), 1, "fresh for min_ttl, so not asked again");
}

#[test]
fn negative_max_ttl_caps_negative_caching() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_negative_ttl(3600);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("cache", "negative_max_ttl", "2s"));
    let name = "nxcapped.example.test.";
    let first = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(first.rcode(), ResponseCode::NXDomain, "{}", first.summary());
    let again = stubborn.ask(&Ask::new(name, RecordType::A));
    let soa_ttl = again.msg.authorities.iter().find(|r| matches!(r.data, RData::SOA(_))).map(|r| r.ttl);
    assert!(matches!(soa_ttl, Some(0..=2)), "cached negative TTL capped at 2 s: {}", again.summary());
    assert_eq!(fake.queries_for(name), 1, "within 2 s: from the cache");
    sleep_until(fetched, Duration::from_millis(2_600));
    let later = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(later.rcode(), ResponseCode::NXDomain, "{}", later.summary());
    assert!(later.ede().is_empty(), "upstream is up: fresh: {}", later.summary());
    assert_eq!(fake.queries_for(name), 2, "after negative_max_ttl the upstream is asked again");
}
