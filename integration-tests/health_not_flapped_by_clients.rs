//! Scenario: no client can mark a healthy upstream down by what it asks.
//! A real authoritative (Knot) answers REFUSED for names outside its zone;
//! 1000 such queries leave it up and its own names answered. A server that
//! refuses everything is still counted down within `fail_after` queries,
//! and a silent one too (docs/reference.md "Answers": failures "about the
//! server" versus REFUSED/SERVFAIL about particular names).
//! The check of an upstream asks questions stubborn picks, never the name a
//! client asked last: a client's zone that answers once and then fails
//! leaves its resolver up, refused or failed names before any answer count
//! nothing, and a server that refuses everything goes down once and stays
//! down until it answers again.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

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

/// A recursive resolver's view of a zone a client controls: its servers
/// answered once, then went silent, so the resolver answers SERVFAIL for
/// every name in it from then on. Its name was even the first the upstream
/// answered. Asked 20 times over 2 s (ten probe intervals), three failures
/// in a row each time, among other names: the upstream stays up, because
/// its check asks the root (`. NS`), which no client controls.
#[test]
fn a_zone_that_answers_once_then_fails_cannot_mark_its_resolver_down() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(0); // nothing cached: every question reaches the upstream
    let answered_once = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&answered_once);
    fake.set_script(move |query, reply| match in_zone(query, "evil.example.test.") {
        true if seen.swap(true, Ordering::SeqCst) => servfail(reply),
        _ => reply,
    });
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set("upstream", "fail_after", "3"));
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", fake.server());
    let first = stubborn.ask(&Ask::new("evil.example.test.", RecordType::A));
    assert_eq!(first.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", first.summary());
    for i in 0..20 {
        for name in
            ["evil.example.test.".to_string(), format!("a{i}.evil.example.test."), format!("b{i}.evil.example.test.")]
        {
            let failed = stubborn.ask(&Ask::new(&name, RecordType::A));
            assert_eq!(failed.rcode(), ResponseCode::ServFail, "{}", failed.summary());
        }
        let other = stubborn.ask(&Ask::new(&format!("w{i}.example.test."), RecordType::A));
        assert_eq!(other.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", other.summary());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(stubborn.metric(&up), 1.0, "round {i}: {}", stubborn.log());
    }
    assert_eq!(upstream_up(&stubborn), Some(true));
    assert!(fake.queries_for(".") >= 1, "the check asked the root");
    assert!(!stubborn.log().contains("upstream down"), "{}", stubborn.log());
}

/// A fresh start: nothing answered yet, so nothing the upstream is known to
/// answer. Ten names Knot refuses (outside its zone; it refuses the root
/// too) leave it up, and its own name is answered by it, not by the second
/// server. No probe could bring it back within the test (30 s interval).
#[test]
fn refused_names_at_a_fresh_start_leave_an_authoritative_up() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let second = FakeUpstream::start(Mode::Answer);
    second.set_ipv4(Ipv4Addr::new(198, 51, 100, 2));
    let config = Config::new(&[knot.server(), second.server()]).set("upstream", "fail_after", "3").set_str(
        "upstream",
        "probe_interval",
        "30s",
    );
    let stubborn = Stubborn::start(config);
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", knot.server());
    for i in 0..10 {
        let reply = stubborn.ask(&Ask::new(&format!("n{i}.not-served-here.test."), RecordType::A));
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(198, 51, 100, 2)], "{}", reply.summary());
        assert_eq!(stubborn.metric(&up), 1.0, "counted down after {} refused names", i + 1);
    }
    std::thread::sleep(Duration::from_millis(300)); // a last check, if one is running
    let own = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(own.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "answered by Knot: {}", own.summary());
    assert_eq!(stubborn.metric(&up), 1.0);
    assert!(!stubborn.log().contains("upstream down"), "{}", stubborn.log());
}

/// The same for SERVFAIL: a resolver failing the names of one broken zone
/// from the start stays up and answers the others.
#[test]
fn failed_names_at_a_fresh_start_leave_a_resolver_up() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_script(|query, reply| if in_zone(query, "broken.example.test.") { servfail(reply) } else { reply });
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set("upstream", "fail_after", "3"));
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", fake.server());
    for i in 0..10 {
        let reply = stubborn.ask(&Ask::new(&format!("n{i}.broken.example.test."), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.summary());
    }
    std::thread::sleep(Duration::from_millis(300)); // a last check, if one is running
    assert_eq!(stubborn.metric(&up), 1.0);
    let other = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(other.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", other.summary());
    assert!(!stubborn.log().contains("upstream down"), "{}", stubborn.log());
}

/// A server that answered once, then refuses everything (the root and the
/// name it answered included): down within `fail_after` queries, and no
/// probe (every 500 ms) brings it back, so over 4 s of queries, sampled
/// every 100 ms, its state changes exactly once. Answering again, it is up
/// within about a probe interval.
#[test]
fn a_server_that_refuses_everything_goes_down_once_and_stays_down() {
    let fake = FakeUpstream::start(Mode::Answer);
    let config =
        Config::new(&[fake.server()]).set("upstream", "fail_after", "3").set_str("upstream", "probe_interval", "500ms");
    let stubborn = Stubborn::start(config);
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", fake.server());
    stubborn.ask(&Ask::new("known.example.test.", RecordType::A));
    fake.set_mode(Mode::Refused);
    let refusing = Instant::now();
    let mut samples = vec![(Duration::ZERO, 1.0)];
    for i in 0..40 {
        stubborn.ask(&Ask::new(&format!("q{i}.example.test."), RecordType::A));
        std::thread::sleep(Duration::from_millis(100));
        samples.push((refusing.elapsed(), stubborn.metric(&up)));
    }
    let changes: Vec<_> = samples.windows(2).filter(|w| w[0].1 != w[1].1).map(|w| w[1]).collect();
    assert_eq!(changes.len(), 1, "one change, up to down: {samples:?}");
    assert_eq!(changes[0].1, 0.0, "{samples:?}");
    assert!(changes[0].0 < Duration::from_secs(1), "down within fail_after queries: {samples:?}");
    assert_eq!(upstream_up(&stubborn), Some(false));
    assert!(fake.queries_for("known.example.test") >= 2, "the check asked the name it answered");

    fake.set_mode(Mode::Answer);
    let answering = Instant::now();
    stubborn.wait_metric(&up, Duration::from_secs(3), |v| v == 1.0);
    assert!(answering.elapsed() < Duration::from_millis(500 + 700), "up after {:?}", answering.elapsed());
    let reply = stubborn.ask(&Ask::new("again.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", reply.summary());
}

/// Is the query for `zone` or a name below it?
fn in_zone(query: &Message, zone: &str) -> bool {
    query.queries.first().is_some_and(|q| {
        let name = q.name.to_lowercase().to_ascii();
        name == zone || name.ends_with(&format!(".{zone}"))
    })
}

fn servfail(mut reply: Message) -> Message {
    reply.answers.clear();
    reply.authorities.clear();
    reply.metadata.response_code = ResponseCode::ServFail;
    reply
}

/// `up` of the only upstream in `/status`.
fn upstream_up(stubborn: &Stubborn) -> Option<bool> {
    let (_, body) = stubborn.get("/status");
    let status: Value = serde_json::from_str(&body).expect("/status is JSON");
    status["upstreams"][0]["up"].as_bool()
}
