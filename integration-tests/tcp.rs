//! Scenario: clients query stubborn over TCP (RFC 1035 section 4.2.2 framing,
//! RFC 7766): the answer equals the authoritative's, several queries can be
//! sent one after another on one connection, and TCP queries are counted
//! under `protocol="tcp"` (issue 2, "TCP").

use std::net::TcpStream;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::io::Write;

use crate::harness::dns::read_tcp_message;
use crate::harness::{Ask, Config, Knot, Stubborn};

const ZONE: &str = "www 300 IN A 192.0.2.1\nwww 300 IN AAAA 2001:db8::1\napi 300 IN A 192.0.2.7";

#[test]
fn tcp_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    for qtype in [RecordType::A, RecordType::AAAA] {
        let ask = Ask::new("www.example.test.", qtype).tcp();
        let direct = knot.ask(&ask);
        let via = stubborn.ask(&ask);
        assert_eq!(via.rcode(), ResponseCode::NoError, "{}", via.summary());
        assert_eq!(via.answer_set(), direct.answer_set(), "{qtype} over TCP");
        assert_eq!(via.msg.metadata.id, via.query_id);
    }
    let tcp = stubborn.metric(r#"stubborn_queries_total{protocol="tcp"}"#);
    assert!(tcp >= 2.0, "stubborn_queries_total{{protocol=\"tcp\"}} = {tcp}, expected >= 2");
}

/// RFC 7766 section 6.2.1: a client may send several queries on one
/// connection; each gets its own reply.
#[test]
fn several_queries_on_one_tcp_connection() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let mut stream = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2)).expect("connect");
    for (i, name) in ["www.example.test.", "api.example.test.", "www.example.test."].iter().enumerate() {
        let query = Ask::new(name, RecordType::A).id(100 + i as u16).message();
        let wire = query.to_vec().expect("encode");
        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&wire);
        stream.write_all(&framed).expect("write query");
        let raw = read_tcp_message(&mut stream, Instant::now() + Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("query {i} ({name}) on the same connection: {e}"));
        let reply = Message::from_vec(&raw).expect("reply parses");
        assert_eq!(reply.metadata.id, 100 + i as u16);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1, "query {i} ({name}): {reply:?}");
    }
}
