//! Scenario: an upstream written `tcp://IP:PORT` is asked over TCP only; one
//! written `udp://IP:PORT` over UDP (docs/reference.md `[upstream] servers`
//! forms; RFC 7766).

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn tcp_scheme_upstream_is_asked_over_tcp_only() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ipv4(Ipv4Addr::new(192, 0, 2, 53));
    let stubborn = Stubborn::start(Config::new(&[format!("tcp://{}", fake.server())]));
    let reply = stubborn.ask(&Ask::new("overtcp.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 53)]);
    assert!(fake.tcp_queries() >= 1, "asked over TCP");
    assert_eq!(fake.udp_queries(), 0, "a tcp:// upstream must not be asked over UDP");
}

#[test]
fn udp_scheme_upstream_is_asked_over_udp() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ipv4(Ipv4Addr::new(192, 0, 2, 54));
    let stubborn = Stubborn::start(Config::new(&[format!("udp://{}", fake.server())]));
    let reply = stubborn.ask(&Ask::new("overudp.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 54)], "{}", reply.summary());
    assert!(fake.udp_queries() >= 1, "asked over UDP");
    assert_eq!(fake.tcp_queries(), 0, "no TCP without truncation");
}
