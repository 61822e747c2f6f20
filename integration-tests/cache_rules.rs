//! Scenario: `[[cache.rule]]` gives a zone its own answer policy. In an
//! outage, a `serve_stale = false` zone (rotating addresses, login tokens)
//! gets SERVFAIL with EDE 22 while a sibling zone is answered stale; a
//! rule's `max_stale`, `stale_ttl` and `keep_positive` apply under its zone
//! only, the longest matching zone winning.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::{EDE_NO_REACHABLE_AUTHORITY, EDE_STALE_ANSWER};
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, Knot, Stubborn};

fn ask(stubborn: &Stubborn, name: &str) -> stubborn_test_support::Reply {
    stubborn.ask(&Ask::new(name, RecordType::A))
}

#[test]
fn a_zone_without_stale_answers_gets_servfail_while_its_sibling_is_served_stale() {
    let mut knot = Knot::start("www 1 IN A 192.0.2.80\na.login 1 IN A 192.0.2.90\nold 1 IN A 192.0.2.70");
    let config = Config::new(&[knot.server()])
        .append("[[cache.rule]]\nzone = \"login.example.test\"\nserve_stale = false\n")
        .append("[[cache.rule]]\nzone = \"old.example.test\"\nmax_stale = \"1s\"\nstale_ttl = \"7s\"\n");
    let stubborn = Stubborn::start(config);
    for name in ["www.example.test.", "a.login.example.test.", "old.example.test."] {
        assert_eq!(ask(&stubborn, name).ipv4s().len(), 1, "{name} answered fresh");
    }
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(1_500));
    knot.stop();

    let login = ask(&stubborn, "a.login.example.test.");
    assert_eq!(login.rcode(), ResponseCode::ServFail, "serve_stale = false: {}", login.summary());
    assert!(login.ede_codes().contains(&EDE_NO_REACHABLE_AUTHORITY), "{}", login.summary());
    let www = ask(&stubborn, "www.example.test.");
    assert_eq!(www.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "the sibling is served stale: {}", www.summary());
    assert!(www.ede_codes().contains(&EDE_STALE_ANSWER), "{}", www.summary());
    assert_eq!(www.answer_ttls(), vec![30], "[cache] stale_ttl: {}", www.summary());
    let old = ask(&stubborn, "old.example.test.");
    assert_eq!(old.answer_ttls(), vec![7], "the rule's stale_ttl: {}", old.summary());

    // old.example.test. expired 1 s + its rule's max_stale (1 s) ago: gone.
    sleep_until(fetched, Duration::from_millis(2_600));
    let old = ask(&stubborn, "old.example.test.");
    assert_eq!(old.rcode(), ResponseCode::ServFail, "past the rule's max_stale: {}", old.summary());
    let www = ask(&stubborn, "www.example.test.");
    assert_eq!(www.ipv4s().len(), 1, "[cache] max_stale (3d) still holds: {}", www.summary());
}

#[test]
fn a_rules_keep_positive_applies_under_its_zone_only() {
    let mut knot = Knot::start("a.kept 1 IN A 192.0.2.1\na.plain 1 IN A 192.0.2.2");
    let config =
        Config::new(&[knot.server()]).append("[[cache.rule]]\nzone = \"plain.example.test\"\nkeep_positive = \"0s\"\n");
    let stubborn = Stubborn::start(config);
    for name in ["a.kept.example.test.", "a.plain.example.test."] {
        assert_eq!(ask(&stubborn, name).ipv4s().len(), 1, "{name}");
    }
    let fetched = Instant::now();
    // The provider publishes empty records for both names (NXDOMAIN).
    knot.set_records("other 300 IN A 192.0.2.9");
    sleep_until(fetched, Duration::from_millis(1_500));

    let kept = ask(&stubborn, "a.kept.example.test.");
    assert_eq!(kept.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "[cache] keep_positive: {}", kept.summary());
    assert!(kept.ede_codes().contains(&EDE_STALE_ANSWER), "{}", kept.summary());
    let plain = ask(&stubborn, "a.plain.example.test.");
    assert_eq!(plain.rcode(), ResponseCode::NXDomain, "the rule turns keep_positive off: {}", plain.summary());
}
