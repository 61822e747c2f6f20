//! Scenario (the October 2025 outage): the provider's automation publishes an
//! *empty* record. Here the authoritative's zone is edited to drop a name's
//! A records (NODATA) or the whole name (NXDOMAIN), the SOA serial bumped and
//! knotd reloaded. Clients keep getting the old addresses as a stale answer
//! (TTL = `stale_ttl`, EDE 3) until the empty answer has held for
//! `keep_positive`; then they get the empty answer. `keep_positive = "0s"`
//! turns this off (docs/reference.md "Empty after positive").

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, Knot, Reply, Stubborn};

const APP: &str = "app.example.test.";
const OLD: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11)];
const WITH_ADDRESSES: &str = "app 1 IN A 192.0.2.10\napp 1 IN A 192.0.2.11\napp 1 IN TXT \"still here\"";
const KEEP_POSITIVE: Duration = Duration::from_secs(4);

fn is_kept(reply: &Reply) -> bool {
    reply.rcode() == ResponseCode::NoError
        && reply.ipv4s() == OLD.to_vec()
        && reply.answer_ttls().iter().all(|&t| t == 30)
        && reply.ede_codes().contains(&EDE_STALE_ANSWER)
}

/// Runs the scenario: `emptied` is the new zone content, `empty_rcode` what
/// knotd then answers for `app A`.
fn old_addresses_kept_until_keep_positive(emptied: &str, empty_rcode: ResponseCode) {
    let mut knot = Knot::start(WITH_ADDRESSES);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "keep_positive", "4s"));
    let ask = Ask::new(APP, RecordType::A);
    let fresh = stubborn.ask(&ask);
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), OLD.to_vec(), "{}", fresh.summary());

    knot.set_records(emptied);
    let changed = Instant::now();
    let direct = knot.ask(&ask);
    assert_eq!(direct.rcode(), empty_rcode, "premise: knotd now answers empty: {}", direct.summary());
    assert!(direct.msg.answers.is_empty(), "premise: {}", direct.summary());

    // Let the 1 s entry expire so that stubborn asks upstream again.
    sleep_until(fetched, Duration::from_millis(1_300));

    // Until keep_positive has passed since the empty answer could first have
    // been seen (the zone change), every answer is the old addresses, stale.
    let mut kept = 0;
    for i in 0..200 {
        if changed.elapsed() + Duration::from_millis(500) >= KEEP_POSITIVE {
            break;
        }
        let reply = stubborn.ask(&ask);
        assert!(
            is_kept(&reply),
            "query {i}, {:?} after the record was emptied (keep_positive 4 s): expected the old \
             addresses with TTL 30 and EDE 3, got {}",
            changed.elapsed(),
            reply.summary()
        );
        kept += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(kept >= 3, "premise: {kept} queries in the keep_positive window");
    let counted = stubborn.metric("stubborn_kept_positive_total");
    assert!(counted >= 1.0, "stubborn_kept_positive_total = {counted}");
    let answered = stubborn.metric(r#"stubborn_answers_total{source="kept_positive"}"#);
    assert!(answered >= 1.0, "stubborn_answers_total{{source=\"kept_positive\"}} = {answered}");

    // Then the empty answer is accepted (deadline: keep_positive + 3 s
    // after the first kept answer).
    let mut empty = None;
    for _ in 0..400 {
        let reply = stubborn.ask(&ask);
        if reply.ipv4s().is_empty() {
            empty = Some(reply);
            break;
        }
        assert!(
            changed.elapsed() < KEEP_POSITIVE + Duration::from_secs(4),
            "still not the empty answer {:?} after the change: {}",
            changed.elapsed(),
            reply.summary()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let empty = empty.expect("the empty answer within the loop bound");
    assert_eq!(empty.rcode(), empty_rcode, "{}", empty.summary());
    assert!(empty.ede().is_empty(), "the accepted empty answer is not stale: {}", empty.summary());
    // And it is what is cached now.
    let again = stubborn.ask(&ask);
    assert_eq!(again.rcode(), empty_rcode, "{}", again.summary());
    assert!(again.ipv4s().is_empty(), "{}", again.summary());
}

#[test]
fn nodata_after_positive_serves_old_addresses_until_keep_positive() {
    old_addresses_kept_until_keep_positive("app 1 IN TXT \"still here\"", ResponseCode::NoError);
}

#[test]
fn nxdomain_after_positive_serves_old_addresses_until_keep_positive() {
    old_addresses_kept_until_keep_positive("other 1 IN A 192.0.2.99", ResponseCode::NXDomain);
}

#[test]
fn keep_positive_zero_passes_the_empty_answer_through() {
    let mut knot = Knot::start(WITH_ADDRESSES);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "keep_positive", "0s"));
    let ask = Ask::new(APP, RecordType::A);
    let fresh = stubborn.ask(&ask);
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), OLD.to_vec(), "{}", fresh.summary());
    knot.set_records("app 1 IN TXT \"still here\"");
    sleep_until(fetched, Duration::from_millis(1_300));
    let reply = stubborn.ask(&ask);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert!(reply.ipv4s().is_empty(), "keep_positive = 0s: the empty answer at once: {}", reply.summary());
}

/// An empty answer with a negative TTL of 0 is not cached once it is
/// accepted; the old records go with it, so later queries get the empty
/// answer and the acceptance is logged once, not on every fetch.
#[test]
fn an_accepted_empty_answer_with_ttl_0_is_logged_once() {
    let mut knot = Knot::start_with_negative_ttl(WITH_ADDRESSES, 0);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "keep_positive", "1s"));
    let ask = Ask::new(APP, RecordType::A);
    assert_eq!(stubborn.ask(&ask).ipv4s(), OLD.to_vec());
    knot.set_records("other 1 IN A 192.0.2.99");
    let emptied = Instant::now();
    sleep_until(emptied, Duration::from_millis(1_500));
    for _ in 0..10 {
        stubborn.ask(&ask);
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = stubborn.ask(&ask);
    assert_eq!(reply.rcode(), ResponseCode::NXDomain, "the empty answer, accepted: {}", reply.summary());
    let accepted = stubborn.log().matches("accepting it").count();
    assert_eq!(accepted, 1, "acceptance logged {accepted} times:\n{}", stubborn.log());
}
