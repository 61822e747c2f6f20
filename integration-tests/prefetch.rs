//! Scenario: `prefetch = true` (the default). A name asked for in the last
//! tenth of its TTL is answered from the cache and refreshed in the
//! background, so that it does not expire for its clients: after the
//! authoritative stops, the prefetched answer is still fresh where without
//! prefetch it would be stale (docs/reference.md `[cache] prefetch`).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, Knot, Stubborn};

const WEB: &str = "web.example.test.";

fn fetch_late_then_stop(prefetch: bool) -> stubborn_test_support::Reply {
    let mut knot = Knot::start("web 4 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("cache", "prefetch", &prefetch.to_string()));
    stubborn.ask(&Ask::new(WEB, RecordType::A));
    let fetched = Instant::now();
    knot.set_records("web 4 IN A 192.0.2.81");
    sleep_until(fetched, Duration::from_millis(3_700)); // in the last tenth of the 4 s TTL
    let late = stubborn.ask(&Ask::new(WEB, RecordType::A));
    assert_eq!(late.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "still the cached answer: {}", late.summary());
    sleep_until(fetched, Duration::from_millis(4_000));
    knot.stop();
    sleep_until(fetched, Duration::from_millis(4_600)); // past the first answer's TTL
    stubborn.ask(&Ask::new(WEB, RecordType::A))
}

#[test]
fn a_name_asked_late_in_its_ttl_is_refreshed_before_it_expires() {
    let reply = fetch_late_then_stop(true);
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 81)], "prefetched answer: {}", reply.summary());
    assert!(reply.ede_codes().is_empty(), "fresh, not stale: {}", reply.summary());
}

#[test]
fn without_prefetch_the_same_name_goes_stale() {
    let reply = fetch_late_then_stop(false);
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", reply.summary());
    assert!(reply.ede_codes().contains(&EDE_STALE_ANSWER), "{}", reply.summary());
}
