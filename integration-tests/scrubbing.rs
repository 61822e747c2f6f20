//! Scenario: an upstream slips a record that does not belong into its
//! answer (`evil.example.test A` in the answer for `a.example.test A`, the
//! classic cache-poisoning shape). The client never sees it, nothing is
//! cached under either name from it, and `stubborn_scrubbed_records_total`
//! counts it; a CNAME chain in the same answer is kept whole.

use std::net::Ipv4Addr;
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

fn record(name: &str, rdata: RData) -> Record {
    Record::from_rdata(Name::from_str(name).expect("valid name"), 300, rdata)
}

#[test]
fn unrelated_answer_records_are_dropped_and_counted() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_script(|_, mut reply| {
        reply.add_answer(record("evil.example.test.", RData::A(A(Ipv4Addr::new(203, 0, 113, 66)))));
        reply
    });
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let reply = stubborn.ask(&Ask::new("a.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "only the asked name's record: {}", reply.summary());
    assert!(reply.msg.answers.iter().all(|r| r.name.to_ascii() == "a.example.test."), "{}", reply.summary());
    let cached = stubborn.ask(&Ask::new("a.example.test.", RecordType::A));
    assert_eq!(cached.msg.answers.len(), 1, "the cached answer is scrubbed too: {}", cached.summary());
    assert!(stubborn.lookup("evil.example.test", None).is_empty(), "nothing cached under the injected name");
    assert!(stubborn.metric("stubborn_scrubbed_records_total") >= 1.0);
}

#[test]
fn a_cname_chain_is_kept_whole_and_only_strays_go() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_script(|query, mut reply| {
        let asked = query.queries[0].name.to_ascii().to_ascii_lowercase();
        if asked == "www.example.test." {
            let target = |n: &str| RData::CNAME(CNAME(Name::from_str(n).expect("valid name")));
            reply.answers = vec![
                record("edge.cdn.test.", RData::A(A(Ipv4Addr::new(192, 0, 2, 80)))),
                record("stray.test.", RData::A(A(Ipv4Addr::new(203, 0, 113, 66)))),
                record("www.example.test.", target("web.example.test.")),
                record("web.example.test.", target("edge.cdn.test.")),
            ];
        }
        reply
    });
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    let names: Vec<String> = reply.msg.answers.iter().map(|r| r.name.to_ascii()).collect();
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", reply.summary());
    assert_eq!(names.len(), 3, "the chain, whole: {names:?}");
    assert!(!names.contains(&"stray.test.".to_string()), "{names:?}");
    assert_eq!(stubborn.metric("stubborn_scrubbed_records_total"), 1.0);
}
