//! Scenario: the client's EDNS wishes reach the upstream: its DO bit and its
//! UDP payload size are passed on in the upstream query (RFC 6891,
//! RFC 3225).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn dnssec_ok_bit_passed_upstream() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let with_do = stubborn.ask(&Ask::new("signed.example.test.", RecordType::A).dnssec_ok());
    assert_eq!(with_do.rcode(), ResponseCode::NoError, "{}", with_do.summary());
    let seen = fake.last_edns_for("signed.example.test").expect("asked upstream");
    assert!(matches!(seen, Some((_, true))), "upstream query for a DO=1 client: EDNS {seen:?}");

    let without = stubborn.ask(&Ask::new("plain.example.test.", RecordType::A));
    assert_eq!(without.rcode(), ResponseCode::NoError, "{}", without.summary());
    let seen = fake.last_edns_for("plain.example.test").expect("asked upstream");
    assert!(!matches!(seen, Some((_, true))), "upstream query for a DO=0 client: EDNS {seen:?}");
}

#[test]
fn client_udp_payload_size_passed_upstream() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let reply = stubborn.ask(&Ask::new("sized.example.test.", RecordType::A).edns(1400));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    let seen = fake.last_edns_for("sized.example.test").expect("asked upstream");
    assert!(matches!(seen, Some((1400, _))), "upstream query for a 1400-byte client: EDNS {seen:?}");
}
