//! Scenario: `[[upstream.zone]]` sends names at or below a zone to that
//! zone's servers; the longest matching suffix wins, matching is on label
//! boundaries and ignores letter case; other names go to the default servers
//! (docs/reference.md `[[upstream.zone]]`).

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

#[test]
fn longest_matching_zone_picks_the_servers() {
    let default = Knot::start("* 300 IN A 192.0.2.1");
    let corp = Knot::start("* 300 IN A 192.0.2.2");
    let deep = FakeUpstream::start(Mode::Answer);
    deep.set_ipv4(Ipv4Addr::new(192, 0, 2, 3));
    // "corp" is listed before the longer "deep.corp": a first-match rule
    // would send deep names to corp.
    let config = Config::new(&[default.server()]).append(&format!(
        "[[upstream.zone]]\nname = \"corp.example.test\"\nservers = [\"{}\"]\n\n\
         [[upstream.zone]]\nname = \"deep.corp.example.test\"\nservers = [\"{}\"]\n",
        corp.server(),
        deep.server()
    ));
    let stubborn = Stubborn::start(config);
    for (name, last) in [
        ("www.example.test.", 1),
        ("a.corp.example.test.", 2),
        ("corp.example.test.", 2),
        ("A.CORP.Example.TEST.", 2),
        ("xcorp.example.test.", 1),
        ("b.deep.corp.example.test.", 3),
        ("C.Deep.Corp.example.test.", 3),
        ("deep.corp.example.test.", 3),
        ("notdeep.corp.example.test.", 2),
    ] {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, last)], "{name}: {}", reply.summary());
    }
}
