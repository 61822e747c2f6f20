//! Scenario: with `rebind_protection` on (the router profile), a public
//! name whose upstream answer points into a private range (RFC 1918,
//! loopback, link-local, CGNAT, ULA, IPv4-mapped forms) loses those
//! addresses, and an answer left with none is NODATA; the event is logged
//! once per name and counted. Names under `rebind_allow`, a forwarded zone
//! (`[[upstream.zone]]`) and a service's name and targets keep theirs. Off,
//! nothing is removed.

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

/// A fake whose A answers hold a private, a CGNAT and a public address, and
/// AAAA answers a ULA and an IPv4-mapped loopback address.
fn rebinding_upstream() -> FakeUpstream {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ipv4(Ipv4Addr::new(192, 168, 1, 1));
    fake.set_script(|query, mut reply| {
        let q = &query.queries[0];
        match q.query_type {
            RecordType::A => {
                for ip in [Ipv4Addr::new(100, 64, 0, 9), Ipv4Addr::new(192, 0, 2, 7)] {
                    reply.add_answer(Record::from_rdata(q.name.clone(), 300, RData::A(A(ip))));
                }
            }
            RecordType::AAAA => {
                reply.authorities.clear();
                for ip in ["fd00::1", "::ffff:127.0.0.1"] {
                    let data = RData::AAAA(AAAA(ip.parse().expect("valid address")));
                    reply.add_answer(Record::from_rdata(q.name.clone(), 300, data));
                }
            }
            _ => {}
        }
        reply
    });
    fake
}

fn protected(fake: &FakeUpstream) -> Config {
    Config::new(&[fake.server()])
        .set("server", "rebind_protection", "true")
        .set("server", "rebind_allow", "[\"home.test\"]")
        .append(&format!("[[upstream.zone]]\nname = \"corp.test\"\nservers = [\"{}\"]\n", fake.server()))
        .append("[[service]]\nname = \"svc.test\"\nprimary = \"target.example.net\"\n")
}

#[test]
fn private_addresses_of_public_names_are_removed() {
    let fake = rebinding_upstream();
    let stubborn = Stubborn::start(protected(&fake));
    let reply = stubborn.ask(&Ask::new("public.example.net.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 7)], "only the public address: {}", reply.summary());
    assert_eq!(stubborn.metric("stubborn_rebind_blocked_total"), 2.0);

    let v6 = stubborn.ask(&Ask::new("public.example.net.", RecordType::AAAA));
    assert_eq!(v6.rcode(), ResponseCode::NoError, "NODATA: {}", v6.summary());
    assert!(v6.msg.answers.is_empty(), "an answer left without addresses is NODATA: {}", v6.summary());

    // Asked again (no longer cached: a NODATA without SOA is not kept), logged once per name.
    stubborn.ask(&Ask::new("public.example.net.", RecordType::AAAA));
    let log = stubborn.log();
    assert_eq!(log.matches("rebind_protection").count(), 1, "once per name:\n{log}");
}

#[test]
fn allowed_zones_forwarded_zones_and_services_keep_their_addresses() {
    let fake = rebinding_upstream();
    let stubborn = Stubborn::start(protected(&fake));
    let all = vec![Ipv4Addr::new(100, 64, 0, 9), Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 168, 1, 1)];
    for name in ["nas.home.test.", "git.corp.test.", "target.example.net."] {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(reply.ipv4s(), all, "{name} keeps its addresses: {}", reply.summary());
    }
    let service = stubborn.ask(&Ask::new("svc.test.", RecordType::A));
    assert_eq!(service.ipv4s(), all, "the service answers with its target's addresses: {}", service.summary());
    assert_eq!(stubborn.metric("stubborn_rebind_blocked_total"), 0.0);
}

#[test]
fn off_by_default() {
    let fake = rebinding_upstream();
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let reply = stubborn.ask(&Ask::new("public.example.net.", RecordType::A));
    assert_eq!(reply.ipv4s().len(), 3, "{}", reply.summary());
}
