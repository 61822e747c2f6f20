//! Scenario: 20 clients ask the same question at the same moment while the
//! upstream takes 800 ms to answer; stubborn sends one upstream query and
//! gives all 20 the answer, each with its own ID (docs/reference.md "Identical
//! queries in flight at once share one upstream query").

use std::net::Ipv4Addr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn twenty_identical_concurrent_queries_make_one_upstream_query() {
    let fake = FakeUpstream::start(Mode::Slow(Duration::from_millis(800)));
    fake.set_ipv4(Ipv4Addr::new(192, 0, 2, 42));
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "3s"));
    let server = stubborn.dns;
    let name = "popular.example.test.";
    let start = Arc::new(Barrier::new(20));
    let clients: Vec<_> = (0..20u16)
        .map(|i| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                Ask::new(name, RecordType::A).id(1000 + i).send(server)
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let reply = client.join().expect("client thread");
        assert_eq!(reply.msg.metadata.id, 1000 + i as u16, "client {i}: own ID");
        assert_eq!(reply.rcode(), ResponseCode::NoError, "client {i}: {}", reply.summary());
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 42)], "client {i}: {}", reply.summary());
    }
    assert_eq!(fake.queries_for(name), 1, "20 identical queries in flight must share one upstream query");
}
