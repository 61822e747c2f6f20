//! Scenario: a service `api.example.test` (check `dns`, primary
//! `api.aws.example.test`) whose name also exists at the authoritative, with
//! its own A, MX and TXT records and a name below it.
//!
//! Pins (docs/reference.md "Services"): only A and AAAA of the
//! service name itself are answered locally — the authoritative's own A for
//! the name is not what clients get; MX, TXT and names below the service
//! name are forwarded upstream as usual; the service name matches in any
//! letter case and the question is echoed as asked; several services are
//! answered side by side.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use stubborn_test_support::cloud::{
    AWS, AWS_NAME, Answered, GCP, GCP_NAME, SERVICE, ServiceSpec, answered, assert_answers,
};
use stubborn_test_support::{Ask, Config, Knot, Stubborn};

const ZONE: &str = "api.aws 300 IN A 127.0.0.2
api.gcp 300 IN A 127.0.0.3
api 300 IN A 192.0.2.99
api 300 IN MX 10 mail.example.test.
api 300 IN TXT \"served by knot\"
www.api 300 IN A 192.0.2.98";

fn start() -> (Knot, Stubborn) {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(
        Config::new(&[knot.server()])
            .append(&ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME]).toml())
            .append(&ServiceSpec::new("other.example.test", GCP_NAME, &[]).toml()),
    );
    (knot, stubborn)
}

#[test]
fn a_of_the_service_name_is_the_service_answer_not_the_authoritative_one() {
    let (_knot, stubborn) = start();
    let reply = assert_answers(&stubborn, SERVICE, &Answered::via(AWS_NAME, AWS));
    assert!(!reply.ipv4s().contains(&Ipv4Addr::new(192, 0, 2, 99)), "{}", reply.summary());
    assert_answers(&stubborn, "other.example.test", &Answered::via(GCP_NAME, GCP));
}

#[test]
fn other_types_of_the_service_name_are_forwarded() {
    let (knot, stubborn) = start();
    for qtype in [RecordType::MX, RecordType::TXT] {
        let ask = Ask::new(&format!("{SERVICE}."), qtype);
        let reply = stubborn.ask(&ask);
        let direct = knot.ask(&ask);
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{qtype}: {}", reply.summary());
        assert_eq!(reply.answer_set(), direct.answer_set(), "{qtype} is the authoritative's answer");
        assert!(!reply.answer_set().is_empty(), "{qtype}: {}", reply.summary());
        assert!(
            !reply.msg.answers.iter().any(|r| matches!(r.data, RData::CNAME(_))),
            "no service CNAME for {qtype}: {}",
            reply.summary()
        );
    }
}

#[test]
fn names_below_the_service_name_are_forwarded() {
    let (_knot, stubborn) = start();
    let reply = stubborn.ask(&Ask::new(&format!("www.{SERVICE}."), RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 98)], "{}", reply.summary());
}

#[test]
fn service_name_matches_in_any_letter_case_and_the_question_is_echoed() {
    let (_knot, stubborn) = start();
    let asked = "API.Example.TEST.";
    let reply = stubborn.ask(&Ask::new(asked, RecordType::A));
    assert_eq!(answered(&reply, SERVICE), Answered::via(AWS_NAME, AWS), "{}", reply.summary());
    let question = reply.msg.queries.first().expect("a question in the reply");
    assert_eq!(question.name().to_ascii(), asked, "the question is echoed as asked");
}
