//! Scenario: a record with a 1 s TTL is cached, expires, and then the
//! authoritative stops. Clients get the old data with TTL = `stale_ttl`
//! (30 s), marked with EDE 3 "Stale Answer" when they sent EDNS, within
//! `stale_answer_after` plus a margin; a stale NXDOMAIN is marked EDE 19.
//! After a failed refresh, stale answers come at once for the failure-recheck
//! window instead of costing the client timer again (RFC 8767 sections 4 and
//! 5, RFC 8914 section 4.4 and 4.20).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::{EDE_OPTION, EDE_STALE_ANSWER, EDE_STALE_NXDOMAIN};
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

const WEB: &str = "web.example.test.";

#[test]
fn stale_answer_with_stale_ttl_and_ede_3_after_authoritative_stops() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let fresh = stubborn.ask(&Ask::new(WEB, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", fresh.summary());
    assert!(fresh.answer_ttls().iter().all(|&t| t <= 1), "{}", fresh.summary());

    sleep_until(fetched, Duration::from_millis(1_500)); // past the 1 s TTL
    knot.stop();

    let stale = stubborn.ask(&Ask::new(WEB, RecordType::A));
    assert_eq!(stale.rcode(), ResponseCode::NoError, "{}", stale.summary());
    assert_eq!(stale.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "old data: {}", stale.summary());
    assert_eq!(stale.answer_ttls(), vec![30], "TTL = stale_ttl: {}", stale.summary());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "EDE 3 Stale Answer expected: {}", stale.summary());
    assert!(
        stale.elapsed < Duration::from_millis(1_800 + 1_000),
        "stale answer within stale_answer_after + 1 s, took {:?}",
        stale.elapsed
    );

    // A client without EDNS gets the same stale data, and no OPT record.
    let plain = stubborn.ask(&Ask::new(WEB, RecordType::A).no_edns());
    assert_eq!(plain.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", plain.summary());
    assert_eq!(plain.answer_ttls(), vec![30], "{}", plain.summary());
    assert!(plain.msg.edns.is_none(), "no OPT without EDNS in the query: {}", plain.summary());

    let counted = stubborn.metric(r#"stubborn_answers_total{source="stale"}"#);
    assert!(counted >= 2.0, "stubborn_answers_total{{source=\"stale\"}} = {counted}");
}

#[test]
fn stale_nxdomain_marked_ede_19() {
    // Negative TTL (SOA minimum) of 1 s.
    let mut knot = Knot::start_with_negative_ttl("web 300 IN A 192.0.2.80", 1);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let name = "gone.example.test.";
    let fresh = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(fresh.rcode(), ResponseCode::NXDomain, "{}", fresh.summary());

    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();

    let stale = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(stale.rcode(), ResponseCode::NXDomain, "stale NXDOMAIN expected: {}", stale.summary());
    assert!(
        stale.ede_codes().contains(&EDE_STALE_NXDOMAIN),
        "EDE 19 Stale NXDOMAIN Answer expected: {}",
        stale.summary()
    );
    assert!(stale.elapsed < Duration::from_millis(2_800), "took {:?}", stale.elapsed);
}

/// The upstream silently drops queries and its timeout (3 s) is longer than
/// the client timer (1.8 s): the first stale answer costs the client timer;
/// once that refresh has failed, the next ones come at once.
#[test]
fn stale_answers_at_once_after_a_failed_refresh() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "3s").set(
        "upstream",
        "fail_after",
        "3",
    ));
    let fresh = stubborn.ask(&Ask::new(WEB, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", fresh.summary());

    sleep_until(fetched, Duration::from_millis(1_300));
    fake.set_mode(Mode::Blackhole);
    let first = stubborn.ask(&Ask::new(WEB, RecordType::A));
    let first_at = Instant::now();
    assert_eq!(first.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", first.summary());
    assert!(first.ede_codes().contains(&EDE_STALE_ANSWER), "{}", first.summary());
    assert!(
        first.elapsed >= Duration::from_millis(1_500) && first.elapsed < Duration::from_millis(2_800),
        "first stale answer at the client timer (1.8 s), took {:?}",
        first.elapsed
    );

    // The refresh times out 3 s after the query was sent; after that:
    sleep_until(first_at, Duration::from_millis(1_200 + 500));
    for i in 0..3 {
        let again = stubborn.ask(&Ask::new(WEB, RecordType::A));
        assert_eq!(again.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{i}: {}", again.summary());
        assert_eq!(again.answer_ttls(), vec![30], "{i}: {}", again.summary());
        assert!(again.ede_codes().contains(&EDE_STALE_ANSWER), "{i}: {}", again.summary());
        assert!(
            again.elapsed < Duration::from_millis(600),
            "{i}: after a failed refresh the stale answer must come at once, took {:?}",
            again.elapsed
        );
    }
}

/// EDE 3's option carries the INFO-CODE big-endian in its first two bytes.
#[test]
fn ede_option_wire_format() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let fetched = Instant::now();
    stubborn.ask(&Ask::new(WEB, RecordType::A));
    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();
    let stale = stubborn.ask(&Ask::new(WEB, RecordType::A));
    // Find the option in the raw bytes: code 15, length >= 2, then 0x0003.
    let raw = &stale.raw;
    let found = raw.windows(6).any(|w| {
        u16::from_be_bytes([w[0], w[1]]) == EDE_OPTION
            && u16::from_be_bytes([w[2], w[3]]) >= 2
            && u16::from_be_bytes([w[4], w[5]]) == EDE_STALE_ANSWER
    });
    assert!(found, "no EDE option (15, info 3) in the reply bytes {raw:02x?}");
}

/// `serve_stale = false`: an expired record is not served; with the
/// authoritative gone the client gets SERVFAIL.
#[test]
fn serve_stale_false_gives_servfail_after_expiry() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("cache", "serve_stale", "false").set_str(
        "cache",
        "keep_positive",
        "0s",
    ));
    let fresh = stubborn.ask(&Ask::new(WEB, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", fresh.summary());
    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();
    let reply = stubborn.ask(&Ask::new(WEB, RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::ServFail, "no stale answers when serve_stale = false: {}", reply.summary());
    assert!(reply.msg.answers.is_empty(), "{}", reply.summary());
}
