//! Scenario: an answer too big for the client's UDP size comes back with
//! TC=1 and fits in that size, keeping as many whole answer records as fit
//! (musl before 1.2.4 does not retry over TCP, so it still gets addresses;
//! RFC 2181 section 9); the client's retry over TCP gets
//! all of it.
//! Upstream side: an upstream that truncates over UDP is asked again over
//! TCP, so the client gets the full answer (RFC 1035 section 4.2.1, RFC 6891
//! section 6.2.5, RFC 7766 section 5).

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

/// Ten TXT records of 200 bytes: about 2.1 kB, more than 512 and 1232.
fn big_zone() -> String {
    (0..10).map(|i| format!("big 300 IN TXT \"{i:02}{}\"\n", "x".repeat(198))).collect::<String>()
        + "www 300 IN A 192.0.2.1\n"
}

const BIG: &str = "big.example.test.";

/// Forty A records: 16 bytes each on the wire, about 680 bytes in all.
fn many_zone() -> String {
    (1..=40).map(|i| format!("many 300 IN A 192.0.2.{i}\n")).collect()
}

const MANY: &str = "many.example.test.";

#[test]
fn udp_without_edns_keeps_the_whole_a_records_that_fit() {
    let knot = Knot::start(&many_zone());
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let full = knot.ask(&Ask::new(MANY, RecordType::A).tcp());
    assert_eq!(full.ipv4s().len(), 40, "premise: knotd has 40 A: {}", full.summary());

    for ask in [Ask::new(MANY, RecordType::A).no_edns(), Ask::new(MANY, RecordType::A).edns(512)] {
        let udp = stubborn.ask(&ask);
        assert!(udp.truncated(), "680 bytes of answer over a 512-byte limit must set TC: {}", udp.summary());
        assert!(udp.raw.len() <= 512, "UDP reply is {} bytes, over the 512 limit", udp.raw.len());
        assert_eq!(udp.msg.queries.len(), 1, "TC reply keeps the question");
        let ips = udp.ipv4s();
        assert!(ips.len() >= 20, "whole A records that fit are kept, got {}: {}", ips.len(), udp.summary());
        assert_eq!(udp.msg.answers.len(), ips.len(), "every kept record is an A: {}", udp.summary());
        assert!(udp.msg.answers.iter().all(|r| r.name.to_string() == MANY), "{}", udp.summary());
        assert!(ips.iter().all(|ip| full.ipv4s().contains(ip)), "{}", udp.summary());
        assert!(udp.msg.authorities.is_empty(), "{}", udp.summary());
        assert_eq!(udp.msg.edns.is_some(), ask.message().edns.is_some(), "OPT iff the query had one");
    }

    let tcp = stubborn.ask(&Ask::new(MANY, RecordType::A).no_edns().tcp());
    assert!(!tcp.truncated(), "{}", tcp.summary());
    assert_eq!(tcp.answer_set(), full.answer_set(), "TCP answer must be complete");
}

#[test]
fn udp_without_edns_gets_tc_then_full_answer_over_tcp() {
    let knot = Knot::start(&big_zone());
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let full = knot.ask(&Ask::new(BIG, RecordType::TXT).tcp());
    assert_eq!(full.msg.answers.len(), 10, "premise: knotd has 10 TXT: {}", full.summary());

    let udp = stubborn.ask(&Ask::new(BIG, RecordType::TXT).no_edns().id(0x5151));
    assert!(udp.truncated(), "2 kB answer over UDP without EDNS must set TC: {}", udp.summary());
    assert!(udp.raw.len() <= 512, "UDP reply is {} bytes, over the 512 limit", udp.raw.len());
    assert_eq!(udp.msg.metadata.id, 0x5151);
    assert_eq!(udp.msg.queries.len(), 1, "TC reply keeps the question");

    let tcp = stubborn.ask(&Ask::new(BIG, RecordType::TXT).no_edns().tcp());
    assert!(!tcp.truncated(), "{}", tcp.summary());
    assert_eq!(tcp.rcode(), ResponseCode::NoError);
    assert_eq!(tcp.answer_set(), full.answer_set(), "TCP answer must be complete");
}

#[test]
fn udp_with_edns_1232_gets_tc_within_1232_bytes() {
    let knot = Knot::start(&big_zone());
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let udp = stubborn.ask(&Ask::new(BIG, RecordType::TXT).edns(1232));
    assert!(udp.truncated(), "{}", udp.summary());
    assert!(udp.raw.len() <= 1232, "UDP reply is {} bytes, over the client's 1232", udp.raw.len());
    let tcp = stubborn.ask(&Ask::new(BIG, RecordType::TXT).edns(1232).tcp());
    assert_eq!(tcp.msg.answers.len(), 10, "{}", tcp.summary());
}

/// knotd truncates UDP answers at its own 1232-byte limit, so stubborn can
/// only give a 4096-byte client the whole RRset over UDP if it fetched it
/// from knotd over TCP.
#[test]
fn udp_with_edns_4096_gets_whole_answer_fetched_over_tcp_upstream() {
    let knot = Knot::start(&big_zone());
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let ask = Ask::new(BIG, RecordType::TXT).edns(4096);
    let direct = knot.ask(&ask);
    assert!(direct.truncated(), "premise: knotd truncates 2 kB over UDP: {}", direct.summary());
    let udp = stubborn.ask(&ask);
    assert!(!udp.truncated(), "fits the client's 4096 bytes: {}", udp.summary());
    assert_eq!(udp.rcode(), ResponseCode::NoError);
    assert_eq!(udp.msg.answers.len(), 10, "{}", udp.summary());
    assert!(udp.raw.len() <= 4096);
}

/// A fake that answers TC=1 with no records over UDP and the real answer
/// over TCP: stubborn must retry the same upstream over TCP.
#[test]
fn upstream_tc_over_udp_is_retried_over_tcp() {
    let fake = FakeUpstream::start(Mode::TruncateUdp);
    fake.set_ipv4(Ipv4Addr::new(192, 0, 2, 77));
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "1s"));
    let reply = stubborn.ask(&Ask::new("small.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 77)], "{}", reply.summary());
    assert!(!reply.truncated(), "{}", reply.summary());
    assert!(fake.udp_queries() >= 1, "asked over UDP first");
    assert!(fake.tcp_queries() >= 1, "never retried over TCP (udp {}, tcp {})", fake.udp_queries(), fake.tcp_queries());
}
