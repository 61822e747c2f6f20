//! Scenario: `allow = ["10.0.0.0/8"]`, so the test client on 127.0.0.1 is
//! outside it: every query gets REFUSED (ID echoed), over UDP and TCP, and
//! nothing is resolved for it: the upstream never sees the name. A client
//! inside `allow` is served (docs/reference.md
//! `[server] allow`).

use std::thread::sleep;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn client_outside_allow_gets_refused_and_nothing_is_resolved() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set("server", "allow", r#"["10.0.0.0/8"]"#));
    let name = "secret.example.test.";
    let udp = stubborn.ask(&Ask::new(name, RecordType::A).id(0xACAC));
    assert_eq!(udp.rcode(), ResponseCode::Refused, "{}", udp.summary());
    assert_eq!(udp.msg.metadata.id, 0xACAC);
    assert!(udp.msg.answers.is_empty(), "{}", udp.summary());
    let tcp = stubborn.ask(&Ask::new(name, RecordType::A).tcp());
    assert_eq!(tcp.rcode(), ResponseCode::Refused, "{}", tcp.summary());
    assert!(tcp.msg.answers.is_empty(), "{}", tcp.summary());
    sleep(Duration::from_millis(300)); // nothing resolved in the background either
    assert_eq!(fake.queries_for(name), 0, "a refused client's query must not reach the upstream");
    let refused = stubborn.metric(r#"stubborn_answers_total{source="refused"}"#);
    assert!(refused >= 2.0, "stubborn_answers_total{{source=\"refused\"}} = {refused}");
}

#[test]
fn client_inside_allow_is_served() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn =
        Stubborn::start(Config::new(&[fake.server()]).set("server", "allow", r#"["10.0.0.0/8", "127.0.0.0/8"]"#));
    let reply = stubborn.ask(&Ask::new("open.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
}
