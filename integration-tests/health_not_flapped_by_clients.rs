//! Scenario: no client can mark a healthy upstream down by what it asks.
//! A real authoritative (Knot) answers REFUSED for names outside its zone;
//! 1000 such queries leave it up and its own names answered. A server that
//! refuses everything is still counted down within `fail_after` queries,
//! and a silent one too (INTERFACE.md "Answers": failures "about the
//! server" versus REFUSED/SERVFAIL about particular names).

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

#[test]
fn a_thousand_refused_names_leave_a_healthy_upstream_up() {
    let knot = Knot::start("www 300 IN A 192.0.2.1\nother 0 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("upstream", "fail_after", "3"));
    assert_eq!(
        stubborn.ask(&Ask::new("other.example.test.", RecordType::A)).ipv4s(),
        vec![Ipv4Addr::new(192, 0, 2, 2)]
    );
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", knot.server());
    for i in 0..1000 {
        let refused = stubborn.ask(&Ask::new(&format!("n{i}.not-served-here.test."), RecordType::A));
        assert_eq!(refused.rcode(), ResponseCode::ServFail, "{}", refused.summary());
        if i % 100 == 99 {
            assert_eq!(stubborn.metric(&up), 1.0, "counted down after {} refused names", i + 1);
        }
    }
    // Answers for its own names are fresh and quick: it was never skipped.
    let fresh = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(fresh.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", fresh.summary());
    assert!(fresh.ede_codes().is_empty(), "{}", fresh.summary());
    std::thread::sleep(Duration::from_millis(300)); // a last verification, if one is running
    assert_eq!(stubborn.metric(&up), 1.0);
    assert!(!stubborn.log().contains("upstream down"), "{}", stubborn.log());
}

#[test]
fn a_server_that_refuses_everything_is_still_counted_down() {
    assert_counted_down_after_three_queries(Mode::Refused);
}

#[test]
fn a_silent_server_is_counted_down_after_fail_after_timeouts() {
    assert_counted_down_after_three_queries(Mode::Blackhole);
}

/// A fake that answered once, then fails every query as `mode` says: down
/// after `fail_after` (3) queries, a verification included.
fn assert_counted_down_after_three_queries(mode: Mode) {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set("upstream", "fail_after", "3"));
    stubborn.ask(&Ask::new("known.example.test.", RecordType::A));
    fake.set_mode(mode.clone());
    for i in 0..3 {
        stubborn.ask(&Ask::new(&format!("q{i}.example.test."), RecordType::A));
    }
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", fake.server());
    stubborn.wait_metric(&up, Duration::from_secs(2), |v| v == 0.0);
    assert!(stubborn.log().contains("upstream down"), "{mode:?}: {}", stubborn.log());
}
