//! Scenario: stubborn forwards to one Knot DNS authoritative; for A, AAAA, MX
//! and TXT its answer section equals what knotd itself answers (owner, type,
//! data), with TTLs no larger than the authoritative's; a second query comes
//! from the cache with the TTL counted down (docs/reference.md "Fresh hit").

use std::thread::sleep;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, Knot, Stubborn};

const ZONE: &str = r#"
www 300 IN A 192.0.2.1
www 300 IN A 192.0.2.2
www 300 IN AAAA 2001:db8::1
www 300 IN AAAA 2001:db8::2
@ 300 IN MX 10 mail
@ 300 IN MX 20 mail2.example.net.
mail 300 IN A 192.0.2.25
txt 300 IN TXT "hello world" "second string"
txt 300 IN TXT "v=spf1 -all"
"#;

fn assert_same_as_authoritative(knot: &Knot, stubborn: &Stubborn, name: &str, qtype: RecordType) {
    let ask = Ask::new(name, qtype);
    let direct = knot.ask(&ask);
    assert_eq!(direct.rcode(), ResponseCode::NoError, "knotd: {}", direct.summary());
    assert!(!direct.msg.answers.is_empty(), "premise: knotd has {name} {qtype}");
    let max_ttl = direct.answer_ttls().into_iter().max().unwrap_or(0);
    for round in ["miss", "cache hit"] {
        let via = stubborn.ask(&ask);
        assert_eq!(via.rcode(), ResponseCode::NoError, "{round} {name} {qtype}: {}", via.summary());
        assert_eq!(
            via.answer_set(),
            direct.answer_set(),
            "{round} {name} {qtype}: stubborn's answer differs from knotd's"
        );
        for ttl in via.answer_ttls() {
            assert!(
                ttl <= max_ttl && ttl + 5 >= max_ttl,
                "{round} {name} {qtype}: TTL {ttl} not within 5 s below knotd's {max_ttl}"
            );
        }
        assert!(via.ede().is_empty(), "{round}: a fresh answer carries no EDE: {}", via.summary());
    }
}

#[test]
fn a_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    assert_same_as_authoritative(&knot, &stubborn, "www.example.test.", RecordType::A);
}

#[test]
fn aaaa_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    assert_same_as_authoritative(&knot, &stubborn, "www.example.test.", RecordType::AAAA);
}

#[test]
fn mx_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    assert_same_as_authoritative(&knot, &stubborn, "example.test.", RecordType::MX);
}

#[test]
fn txt_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    assert_same_as_authoritative(&knot, &stubborn, "txt.example.test.", RecordType::TXT);
}

/// The second answer must come from the cache (the authoritative is gone)
/// with the TTL lowered by the time spent in the cache.
#[test]
fn cached_answer_ttl_counts_down() {
    let mut knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let ask = Ask::new("www.example.test.", RecordType::A);
    let first = stubborn.ask(&ask);
    let fetched = Instant::now();
    assert_eq!(first.ipv4s().len(), 2, "{}", first.summary());
    knot.stop();
    sleep(Duration::from_millis(2_200));
    let second = stubborn.ask(&ask);
    let waited = fetched.elapsed().as_secs() as u32;
    assert_eq!(second.rcode(), ResponseCode::NoError, "{}", second.summary());
    assert_eq!(second.ipv4s(), first.ipv4s(), "{}", second.summary());
    assert!(second.ede().is_empty(), "a fresh cache hit is not stale: {}", second.summary());
    for ttl in second.answer_ttls() {
        // 300 s minus the 2.2 s or more spent in the cache (whole seconds,
        // either rounding), never the stale TTL and never the original.
        assert!(
            (300 - waited - 2..=300 - 2).contains(&ttl),
            "TTL {ttl} after {waited} s in the cache, expected about {}: {}",
            300 - waited,
            second.summary()
        );
    }
}
