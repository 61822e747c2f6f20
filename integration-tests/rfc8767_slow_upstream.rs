//! Scenario: the cached record (TTL 1 s) has expired and the upstream has
//! become slow: it answers, with new data, only after 3 s (within stubborn's
//! 5 s timeout). The client gets the old record as a stale answer at the
//! client response timer, `stale_answer_after` = 1.8 s (between 1.5 s and
//! 2.8 s), and the upstream's late answer then refreshes the cache, so the
//! next query gets the new data fresh, from the cache, without asking the
//! upstream again (RFC 8767 section 5, "client response timer").

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::{self, sleep_until};
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

const OLD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

#[test]
fn slow_upstream_stale_at_client_timer_then_cache_refreshed() {
    let name = "slow.example.test.";
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ipv4(OLD);
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "5s").set_str(
        "cache",
        "stale_answer_after",
        "1.8s",
    ));
    let fresh = stubborn.ask(&Ask::new(name, RecordType::A));
    let fetched = Instant::now();
    assert_eq!(fresh.ipv4s(), vec![OLD], "{}", fresh.summary());

    sleep_until(fetched, Duration::from_millis(1_300));
    fake.set_ipv4(NEW);
    fake.set_ttl(300);
    fake.set_mode(Mode::Slow(Duration::from_secs(3)));

    let asked = Instant::now();
    let stale = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(stale.rcode(), ResponseCode::NoError, "{}", stale.summary());
    assert_eq!(stale.ipv4s(), vec![OLD], "the old record, stale: {}", stale.summary());
    assert_eq!(stale.answer_ttls(), vec![30], "{}", stale.summary());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
    assert!(
        stale.elapsed >= Duration::from_millis(1_500) && stale.elapsed <= Duration::from_millis(2_800),
        "stale answer at stale_answer_after (1.8 s), took {:?}",
        stale.elapsed
    );

    // The slow answer lands 3 s after `asked`; the cache then has NEW.
    sleep_until(asked, Duration::from_millis(3_300));
    let upstream_queries = fake.queries_for(name);
    let refreshed = wait::until("the cache to hold the slow upstream's data", Duration::from_secs(3), || {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A));
        (reply.ipv4s() == vec![NEW]).then_some(reply)
    });
    assert!(refreshed.ede().is_empty(), "fresh, not stale: {}", refreshed.summary());
    assert!(
        refreshed.answer_ttls().iter().all(|&t| t > 290 && t <= 300),
        "the new record's own TTL: {}",
        refreshed.summary()
    );
    assert!(refreshed.elapsed < Duration::from_millis(500), "from the cache, took {:?}", refreshed.elapsed);
    assert_eq!(
        fake.queries_for(name),
        upstream_queries,
        "the refreshed answer came from the cache, not from asking the slow upstream again"
    );
}
