//! Scenario: a host asks its upstream a new name every 60 ms (17 queries a
//! second, a busy desktop's rate): nearly every query leaves from a port of
//! its own, so a port found once (seen on the path, or probed through the
//! ICMP side channel of SAD DNS) leaves a spoofer no later query to aim at
//! with only the 16-bit ID to guess. RFC 5452 §9.2 (port randomization);
//! shared upstream sockets that lived until their hundredth query gave 13
//! ports for 1002 such queries.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

/// 340 queries at 17 a second: 20 s, a third of a minute at a desktop's pace.
const QUERIES: usize = 340;
const EVERY: Duration = Duration::from_millis(60);

#[test]
fn queries_at_a_desktops_rate_each_leave_from_a_new_port() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let before = fake.udp_source_ports().len();
    for i in 0..QUERIES {
        let sent = Instant::now();
        let reply = stubborn.ask(&Ask::new(&format!("n{i}.example.test."), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
        std::thread::sleep(EVERY.saturating_sub(sent.elapsed()));
    }
    let ports = fake.udp_source_ports();
    let ours = &ports[before..];
    assert!(ours.len() >= QUERIES, "every name asked upstream: {} queries", ours.len());
    let distinct = ours.iter().collect::<HashSet<_>>().len();
    // Random ports from Linux's 28 232-port range repeat now and then (about
    // 2 in 340); a socket shared by the queries of a minute gave a handful.
    assert!(distinct * 10 >= ours.len() * 9, "{distinct} distinct ports for {} queries: {ours:?}", ours.len());
}
