//! Scenario: `max_stale = "3s"`. A 1 s record is cached and the authoritative
//! stops. Shortly after expiry the stale record is served; once `max_stale`
//! has passed since expiry it is not, and the client gets SERVFAIL with EDE
//! 22 (RFC 8767 section 5, "maximum stale timer").

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::{EDE_NO_REACHABLE_AUTHORITY, EDE_STALE_ANSWER};
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, Knot, Stubborn};

#[test]
fn stale_record_not_served_after_max_stale() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "max_stale", "3s"));
    let ask = Ask::new("web.example.test.", RecordType::A);
    let fresh = stubborn.ask(&ask);
    // The entry expires at most 1 s after this instant.
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", fresh.summary());

    sleep_until(fetched, Duration::from_millis(1_300));
    knot.stop();
    let stale = stubborn.ask(&ask);
    assert_eq!(
        stale.ipv4s(),
        vec![Ipv4Addr::new(192, 0, 2, 80)],
        "premise: within max_stale the stale record is served: {}",
        stale.summary()
    );
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());

    // Expiry (<= fetched + 1 s) + max_stale (3 s) + 1 s margin.
    sleep_until(fetched, Duration::from_millis(5_000));
    let expired = stubborn.ask(&ask);
    assert_eq!(
        expired.rcode(),
        ResponseCode::ServFail,
        "past max_stale the record must not be served: {}",
        expired.summary()
    );
    assert!(expired.msg.answers.is_empty(), "{}", expired.summary());
    assert!(expired.ede_codes().contains(&EDE_NO_REACHABLE_AUTHORITY), "EDE 22 expected: {}", expired.summary());
    assert!(expired.elapsed < Duration::from_secs(3), "took {:?}", expired.elapsed);
}
