//! Scenario: two healthy Knot DNS servers hold different data for the same
//! names; every answer comes from the one listed first in `servers`, and the
//! second is never asked. Swapping the order swaps the source, so the choice
//! is the config's order, not the port or a race (docs/reference.md "Answers").

use std::net::Ipv4Addr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, Knot, Stubborn};

const NAMES: [&str; 5] = ["n0", "n1", "n2", "n3", "n4"];

/// The zone of server `server` (1 or 2): nK -> 192.0.2.(server*10+K).
fn zone(server: u8) -> String {
    NAMES.iter().enumerate().map(|(k, n)| format!("{n} 300 IN A 192.0.2.{}\n", server * 10 + k as u8)).collect()
}

fn assert_all_from(stubborn: &Stubborn, server: u8) {
    for (k, n) in NAMES.iter().enumerate() {
        let reply = stubborn.ask(&Ask::new(&format!("{n}.example.test."), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
        assert_eq!(
            reply.ipv4s(),
            vec![Ipv4Addr::new(192, 0, 2, server * 10 + k as u8)],
            "{n}: expected the data of upstream {server} (listed first)"
        );
    }
}

#[test]
fn first_listed_upstream_answers_when_both_healthy() {
    let one = Knot::start(&zone(1));
    let two = Knot::start(&zone(2));
    let stubborn = Stubborn::start(Config::new(&[one.server(), two.server()]));
    assert_all_from(&stubborn, 1);
    let asked = stubborn.metric(&format!("stubborn_upstream_queries_total{{upstream=\"{}\"}}", two.server()));
    assert_eq!(asked, 0.0, "the second upstream was asked {asked} times while the first was healthy");
}

#[test]
fn swapped_order_swaps_the_answering_upstream() {
    let one = Knot::start(&zone(1));
    let two = Knot::start(&zone(2));
    let stubborn = Stubborn::start(Config::new(&[two.server(), one.server()]));
    assert_all_from(&stubborn, 2);
}
