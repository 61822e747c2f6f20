//! Scenario: during an outage a name is answered stale at once (its refresh
//! failed, RFC 8767 §5 failure recheck); when the authoritative comes back
//! and the background probe sees it, fresh answers resume within a couple
//! of probe intervals, not only when the 30 s recheck window ends. A dead
//! server earlier in the list does not hold that up: the recheck probes
//! every server on its own schedule.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

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

/// One failed query is below `fail_after` (3): the upstream is never counted
/// down and no down-probe runs. Fresh answers must still resume within
/// `probe_interval` of the authoritative answering again, not when the 30 s
/// failure-recheck window ends (docs/reference.md "Stale").
#[test]
fn fresh_answers_resume_within_a_probe_interval_without_a_down_mark() {
    outage_then_recovery(1);
}

/// The same with one query per name for many names (the upstream is counted
/// down on the way): every name is fresh again within a probe interval.
#[test]
fn many_names_are_fresh_within_a_probe_interval_after_an_outage() {
    outage_then_recovery(20);
}

fn outage_then_recovery(count: usize) {
    let names: Vec<String> = (0..count).map(|i| format!("short{i}.example.test.")).collect();
    let zone = |last: u8| names.iter().map(|n| format!("{n} 2 IN A 192.0.2.{last}\n")).collect::<String>();
    let mut knot = Knot::start(&zone(80));
    let config =
        Config::new(&[knot.server()]).set("upstream", "fail_after", "3").set_str("upstream", "probe_interval", "1s");
    let stubborn = Stubborn::start(config);
    for name in &names {
        assert_eq!(stubborn.ask(&Ask::new(name, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)]);
    }
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(2_500));
    knot.stop();
    // One query per name during the outage: each is answered stale.
    for name in &names {
        let stale = stubborn.ask(&Ask::new(name, RecordType::A));
        assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{name}: {}", stale.summary());
    }
    if count < 3 {
        let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", knot.server());
        assert_eq!(stubborn.metric(&up), 1.0, "below fail_after the upstream is not counted down");
    }

    knot.set_records(&zone(81));
    knot.start_again();
    let back = Instant::now();
    for name in &names {
        wait::until(&format!("a fresh answer for {name}"), Duration::from_secs(4), || {
            let reply = stubborn.ask(&Ask::new(name, RecordType::A));
            (reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 81)] && reply.ede_codes().is_empty()).then_some(())
        });
    }
    // probe_interval (1 s) plus generous slack, far below the 30 s recheck window.
    assert!(back.elapsed() < Duration::from_millis(2_500), "fresh answers took {:?}", back.elapsed());
}

/// A blackholed first server (3 s timeout) and Knot second, neither counted
/// down (`fail_after` 3): after a failed resolution only the recheck can
/// see Knot return. Knot comes back half a second into the recheck, while
/// the probe of the blackhole waits out its 3 s; fresh answers must not wait
/// for that probe to end (probing in turn, they came 2.8 s after Knot).
#[test]
fn a_dead_first_server_does_not_delay_the_recheck_of_the_second() {
    let blackhole = FakeUpstream::start(Mode::Blackhole);
    let mut knot = Knot::start("web 2 IN A 192.0.2.80");
    let config = Config::new(&[blackhole.server(), knot.server()])
        .set_str("upstream", "timeout", "3s")
        .set("upstream", "fail_after", "3")
        .set_str("upstream", "probe_interval", "300ms");
    let stubborn = Stubborn::start(config);
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)]);
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(2_500));
    knot.stop();
    let asked = Instant::now();
    let stale = stubborn.ask(&Ask::new(WEB, RecordType::A));
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());

    // The resolution fails when the blackhole's 3 s are up; the recheck starts then.
    sleep_until(asked, Duration::from_millis(3_500));
    knot.start_again();
    let back = Instant::now();
    wait::until("a fresh answer after Knot is back", Duration::from_secs(5), || {
        let reply = stubborn.ask(&Ask::new(WEB, RecordType::A));
        (reply.ede_codes().is_empty() && reply.ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 80)]).then_some(())
    });
    assert!(back.elapsed() < Duration::from_millis(1_500), "fresh answers took {:?}", back.elapsed());
}
