//! Scenario: an upstream answers SERVFAIL, REFUSED, garbage bytes, a reply
//! with the wrong ID, or a reply to another question. Each is a failure: the
//! next upstream is tried and answers; with no other upstream the client gets
//! a clean SERVFAIL (its own ID, its question), never the bad bytes; and
//! nothing is cached from the failure, so once the upstream is fixed the very
//! next query for that name gets the real answer (RFC 5452 section 9.1 for ID and question matching; docs/reference.md
//! "Answers").

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

const GOOD_FIRST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SECOND: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Bad first upstream, good second: the answer is the second's.
fn falls_through_to_second(mode: Mode) {
    let bad = FakeUpstream::start(mode.clone());
    let good = FakeUpstream::start(Mode::Answer);
    good.set_ipv4(SECOND);
    let stubborn = Stubborn::start(Config::new(&[bad.server(), good.server()]));
    let reply = stubborn.ask(&Ask::new("host.example.test.", RecordType::A).id(0x1111));
    assert_eq!(reply.msg.metadata.id, 0x1111);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{mode:?}: {}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![SECOND], "{mode:?}: answer must come from the second upstream");
    assert!(bad.queries_for("host.example.test") >= 1, "{mode:?}: the first upstream was asked");
    assert!(reply.elapsed < Duration::from_secs(2), "{mode:?}: took {:?}", reply.elapsed);
}

/// Only a bad upstream: a clean SERVFAIL; then fixed: the real answer at once.
fn servfail_then_real_answer_once_fixed(mode: Mode) {
    let bad = FakeUpstream::start(mode.clone());
    bad.set_ipv4(GOOD_FIRST);
    let stubborn = Stubborn::start(Config::new(&[bad.server()]));
    let name = "Host.Example.Test.";
    let reply = stubborn.ask(&Ask::new(name, RecordType::A).id(0x2222));
    assert_eq!(reply.msg.metadata.id, 0x2222, "{mode:?}: {}", reply.summary());
    assert_eq!(reply.rcode(), ResponseCode::ServFail, "{mode:?}: {}", reply.summary());
    assert!(reply.msg.answers.is_empty(), "{mode:?}: no records from a bad reply: {}", reply.summary());
    assert_eq!(reply.msg.queries.len(), 1);
    assert_eq!(reply.msg.queries[0].name.to_ascii(), name, "{mode:?}: the client's question");
    let asked_before = bad.queries_for(name);
    assert!(asked_before >= 1);

    bad.set_mode(Mode::Answer);
    stubborn.wait_metric(
        &format!("stubborn_upstream_up{{upstream=\"{}\"}}", bad.server()),
        Duration::from_secs(5),
        |v| v == 1.0,
    );
    let fixed = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(
        fixed.rcode(),
        ResponseCode::NoError,
        "{mode:?}: after the upstream is fixed the answer must not be a cached failure: {}",
        fixed.summary()
    );
    assert_eq!(fixed.ipv4s(), vec![GOOD_FIRST], "{mode:?}: {}", fixed.summary());
    assert!(fixed.ede().is_empty(), "{mode:?}: fresh, not stale: {}", fixed.summary());
    assert!(bad.queries_for(name) > asked_before, "{mode:?}: asked upstream again");
}

#[test]
fn servfail_reply_falls_through_to_second_upstream() {
    falls_through_to_second(Mode::ServFail);
}

#[test]
fn refused_reply_falls_through_to_second_upstream() {
    falls_through_to_second(Mode::Refused);
}

#[test]
fn garbage_reply_falls_through_to_second_upstream() {
    falls_through_to_second(Mode::Garbage);
}

#[test]
fn wrong_id_reply_falls_through_to_second_upstream() {
    falls_through_to_second(Mode::WrongId);
}

#[test]
fn wrong_question_reply_falls_through_to_second_upstream() {
    falls_through_to_second(Mode::WrongQuestion);
}

#[test]
fn servfail_reply_not_cached() {
    servfail_then_real_answer_once_fixed(Mode::ServFail);
}

#[test]
fn refused_reply_not_cached() {
    servfail_then_real_answer_once_fixed(Mode::Refused);
}

#[test]
fn garbage_reply_not_cached() {
    servfail_then_real_answer_once_fixed(Mode::Garbage);
}

#[test]
fn wrong_id_reply_not_cached() {
    servfail_then_real_answer_once_fixed(Mode::WrongId);
}

#[test]
fn wrong_question_reply_not_cached() {
    servfail_then_real_answer_once_fixed(Mode::WrongQuestion);
}
