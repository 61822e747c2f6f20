//! Scenario: the upstream goes silent (drops packets, as a dead resolver
//! behind a firewall or a lost route does) instead of refusing. After
//! `fail_after` timeouts it is counted down; from then on every name with a
//! stale entry is answered stale at once, not after a `timeout` per name,
//! and the refresh goes on in the background (docs/reference.md "Stale";
//! RFC 8767 §5). When it answers again, fresh answers resume.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn, wait};

#[test]
fn a_blackholed_upstream_costs_no_client_a_timeout_once_it_is_down() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    let config = Config::new(&[fake.server()])
        .set_str("upstream", "timeout", "500ms")
        .set("upstream", "fail_after", "3")
        .set_str("upstream", "probe_interval", "1s");
    let stubborn = Stubborn::start(config);
    let names: Vec<String> = (0..30).map(|i| format!("n{i}.example.test.")).collect();
    for name in &names {
        assert_eq!(stubborn.ask(&Ask::new(name, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    }
    let fetched = Instant::now();
    fake.set_mode(Mode::Blackhole);
    sleep_until(fetched, Duration::from_millis(1_500));

    // Until the upstream is counted down, a stale answer waits out the attempt.
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", fake.server());
    let mut asked = 0;
    while stubborn.metric(&up) == 1.0 {
        assert!(asked < 6, "not counted down after {asked} timeouts");
        let stale = stubborn.ask(&Ask::new(&names[asked], RecordType::A));
        assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
        asked += 1;
    }

    // Counted down: every other name comes stale at once, its refresh in the background.
    for name in &names[asked..] {
        let before = fake.queries_for(name);
        let stale = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(stale.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", stale.summary());
        assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
        assert!(stale.elapsed < Duration::from_millis(150), "{name}: stale answer took {:?}", stale.elapsed);
        wait::until(&format!("a background refresh of {name}"), Duration::from_secs(2), || {
            (fake.queries_for(name) > before).then_some(())
        });
    }
    let plain = stubborn.ask(&Ask::new(&names[asked], RecordType::A).no_edns());
    assert!(plain.elapsed < Duration::from_millis(150), "a client without EDNS waited {:?}", plain.elapsed);

    // Back: the probe sees it within a probe interval and answers are fresh again.
    fake.set_ipv4(Ipv4Addr::new(192, 0, 2, 2));
    fake.set_mode(Mode::Answer);
    let back = Instant::now();
    wait::until("fresh answers after the upstream answers again", Duration::from_secs(4), || {
        let reply = stubborn.ask(&Ask::new(&names[0], RecordType::A));
        (reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 2)] && reply.ede_codes().is_empty()).then_some(())
    });
    assert!(back.elapsed() < Duration::from_millis(2_500), "took {:?}", back.elapsed());
}
