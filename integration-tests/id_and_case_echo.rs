//! Scenario: a client sends a query with a chosen ID and a name in mixed
//! letter case (as 0x20-randomising clients do); the reply carries the same
//! ID and the question exactly as asked, letter case included, whether the
//! answer came from upstream or from the cache, over UDP and TCP
//! (RFC 1035 section 4.1.1; docs/reference.md "Answers": the reply echoes the
//! query's ID and question; draft-vixie-dnsext-dns0x20).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use stubborn_test_support::{Ask, Config, Knot, Reply, Stubborn};

fn assert_echo(ask_name: &str, id: u16, reply: &Reply) {
    assert_eq!(reply.msg.metadata.id, id, "ID not echoed: {}", reply.summary());
    assert_eq!(reply.msg.queries.len(), 1, "question not echoed: {}", reply.summary());
    let asked = Name::from_ascii(ask_name).expect("valid name");
    let echoed = &reply.msg.queries[0].name;
    assert!(echoed.eq_case(&asked), "question name not echoed with its case: asked {ask_name}, got {echoed}");
    assert_eq!(reply.msg.queries[0].query_type, RecordType::A);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
}

#[test]
fn id_and_name_case_echoed_on_miss_and_hit_udp() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    // Miss: goes upstream.
    let name = "wWw.ExAmPlE.tEsT.";
    assert_echo(name, 0xBEEF, &stubborn.ask(&Ask::new(name, RecordType::A).id(0xBEEF)));
    // Hits: from the cache, each with its own ID and case.
    for (name, id) in [("WWW.EXAMPLE.TEST.", 0x0001), ("www.example.test.", 0xFFFF), ("Www.Example.Test.", 0x1234)] {
        assert_echo(name, id, &stubborn.ask(&Ask::new(name, RecordType::A).id(id)));
    }
}

#[test]
fn id_and_name_case_echoed_over_tcp() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let name = "WwW.eXaMpLe.TeSt.";
    assert_echo(name, 0x4242, &stubborn.ask(&Ask::new(name, RecordType::A).id(0x4242).tcp()));
    let name = "www.EXAMPLE.test.";
    assert_echo(name, 0x0102, &stubborn.ask(&Ask::new(name, RecordType::A).id(0x0102).tcp()));
}

/// Without EDNS too: the echo must not depend on the OPT record.
#[test]
fn id_and_name_case_echoed_without_edns() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let name = "WWW.example.TEST.";
    let reply = stubborn.ask(&Ask::new(name, RecordType::A).id(7).no_edns());
    assert_echo(name, 7, &reply);
    assert!(reply.msg.edns.is_none(), "no OPT in reply to a query without one: {}", reply.summary());
}
