//! Scenario: during an outage a name is answered stale at once (its refresh
//! failed, RFC 8767 §5 failure recheck); when the authoritative comes back
//! and the background probe sees it, fresh answers resume within a couple
//! of probe intervals, not only when the 30 s recheck window ends.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::harness::dns::EDE_STALE_ANSWER;
use crate::harness::wait::sleep_until;
use crate::harness::{Ask, Config, Knot, Stubborn, wait};

const WEB: &str = "web.example.test.";

#[test]
fn fresh_answers_resume_soon_after_the_upstream_returns() {
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WEB, RecordType::A));
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();
    for _ in 0..2 {
        let stale = stubborn.ask(&Ask::new(WEB, RecordType::A));
        assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
    }

    knot.start_again();
    let back = Instant::now();
    let fresh = wait::until("a fresh answer after the authoritative is back", Duration::from_secs(3), || {
        let reply = stubborn.ask(&Ask::new(WEB, RecordType::A));
        (reply.ede_codes().is_empty() && reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 80)]).then_some(reply)
    });
    assert!(fresh.answer_ttls().iter().all(|&t| t <= 1), "fresh TTL: {}", fresh.summary());
    assert!(back.elapsed() < Duration::from_secs(3), "took {:?}", back.elapsed());
}
