//! Scenario: stubborn made its own upstream — directly, and through a
//! second stubborn that forwards back to it. The loop check after a reload
//! finds the looping upstream, marks it down with `last error: forwarding
//! loop`, logs it, and no query storm follows; the other upstream still
//! answers (docs/reference.md "Answers": forwarding loops).

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn, wait};

/// Rewrites `stubborn`'s upstream list to `servers`, reloads, and waits for
/// the loop check to mark `looping` down.
fn reload_with_loop(stubborn: &Stubborn, good: &FakeUpstream, looping: &str) {
    let edited = stubborn
        .config_text
        .replace(&format!("[\"{}\"]", good.server()), &format!("[\"{looping}\", \"{}\"]", good.server()));
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    stubborn.signal("HUP");
    // Found: /status names the loop as the upstream's last error.
    wait::until("the loop to be found", Duration::from_secs(5), || {
        stubborn.get("/status").1.contains("forwarding loop").then_some(())
    });
    let up = format!("stubborn_upstream_up{{upstream=\"{looping}\"}} 0");
    assert!(stubborn.metrics().contains(&up), "{up} in {}", stubborn.metrics());
    assert!(stubborn.log().contains("forwarding loop"), "{}", stubborn.log());
}

fn answers_without_a_storm(stubborn: &Stubborn) {
    for i in 0..20 {
        let reply = stubborn.ask(&Ask::new(&format!("n{i}.example.test."), RecordType::A));
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", reply.summary());
    }
}

#[test]
fn stubborn_listed_as_its_own_upstream_is_found_and_skipped() {
    let good = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[good.server()]));
    let itself = stubborn.dns.to_string();
    reload_with_loop(&stubborn, &good, &itself);
    let before = stubborn.metric("stubborn_queries_total");
    answers_without_a_storm(&stubborn);
    std::thread::sleep(Duration::from_millis(500));
    let received = stubborn.metric("stubborn_queries_total") - before;
    assert!(received <= 25.0, "20 client queries, {received} received: a storm");
}

/// A second stubborn forwarding to the first, which is then given the
/// second as its first upstream and has found the loop.
fn loop_through_a_second_stubborn() -> (FakeUpstream, Stubborn, Stubborn) {
    let good = FakeUpstream::start(Mode::Answer);
    let first = Stubborn::start(Config::new(&[good.server()]));
    let second = Stubborn::start(Config::new(&[first.dns.to_string()]));
    reload_with_loop(&first, &good, &second.dns.to_string());
    (good, first, second)
}

#[test]
fn a_loop_through_a_second_stubborn_is_found() {
    let (_good, first, second) = loop_through_a_second_stubborn();
    let before = second.metric("stubborn_queries_total");
    answers_without_a_storm(&first);
    std::thread::sleep(Duration::from_millis(500));
    let relayed = second.metric("stubborn_queries_total") - before;
    assert!(relayed <= 5.0, "the looping upstream was still asked {relayed} times");
}

/// The loop between two stubborns found from both ends: once the first has
/// marked the second as a loop, the second's own check (after a reload)
/// still goes round through the first — a loop probe is sent to a server
/// found looping — and the second marks the first. The first keeps naming
/// the loop as its upstream's last error (the REFUSED its probe-forward got
/// back does not replace it).
#[test]
fn both_ends_of_a_loop_between_two_stubborns_see_it() {
    let (_good, first, second) = loop_through_a_second_stubborn();
    second.signal("HUP");
    wait::until("the second stubborn to find the loop", Duration::from_secs(5), || {
        second.get("/status").1.contains("forwarding loop").then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let status = first.get("/status").1;
    assert!(status.contains("forwarding loop"), "the first still names the loop: {status}");
    answers_without_a_storm(&first);
}
