//! Scenario: an upstream written `tcp://IP:PORT` is asked over TCP only; one
//! written `udp://IP:PORT` over UDP (docs/reference.md `[upstream] servers`
//! forms; RFC 7766). A `tcp://` upstream's queries share one connection,
//! pipelined (RFC 7766 §6.2.1), reopened after the server closed it and
//! closed by stubborn after 30 s unused; a TCP proxy in front of the fake
//! upstream counts the connections.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::proxy::CountingProxy;
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn, wait};

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

fn answered(stubborn: &Stubborn, name: &str) {
    let reply = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{name}: {}", reply.summary());
}

/// 200 sequential then 200 concurrent misses open one connection; cut by
/// the server side, or the server restarted, the next query opens a new
/// one and is answered.
#[test]
fn tcp_queries_share_one_connection_reopened_after_a_close() {
    let fake = FakeUpstream::start(Mode::Answer);
    let proxy = CountingProxy::start(fake.addr);
    let server = format!("tcp://{}", proxy.addr);
    let stubborn = Stubborn::start(Config::new(&[&server]).set_str("upstream", "timeout", "2s"));
    for i in 0..200 {
        answered(&stubborn, &format!("s{i}.example.test."));
    }
    assert_eq!(proxy.accepted(), 1, "200 sequential queries over {server}");

    std::thread::scope(|scope| {
        let stubborn = &stubborn;
        let askers: Vec<_> =
            (0..200).map(|i| scope.spawn(move || answered(stubborn, &format!("c{i}.example.test.")))).collect();
        for asker in askers {
            asker.join().expect("asker thread");
        }
    });
    assert_eq!(proxy.accepted(), 1, "200 concurrent queries over {server}");
    assert!(fake.tcp_queries() >= 400, "asked over TCP: {}", fake.tcp_queries());
    assert_eq!(fake.udp_queries(), 0);

    proxy.cut_all();
    answered(&stubborn, "after-cut.example.test.");
    assert_eq!(proxy.accepted(), 2, "reopened once after the cut");

    let addr = fake.addr;
    drop(fake);
    wait::until("stubborn to close its side too", Duration::from_secs(2), || {
        (proxy.client_closed() == 2).then_some(())
    });
    let _fake = FakeUpstream::start_at(addr, Mode::Answer).expect("the fake's port again");
    answered(&stubborn, "after-restart.example.test.");
    assert_eq!(proxy.accepted(), 3, "reopened once after the restart");
    let ok = format!(r#"stubborn_upstream_queries_total{{upstream="{server}",result="ok"}}"#);
    assert!(stubborn.metric(&ok) >= 402.0, "{}", stubborn.metric(&ok));
}

/// stubborn closes a connection nobody used for 30 s; the next query opens
/// a new one. (The fake keeps its side open for 60 s.)
#[test]
fn an_idle_tcp_connection_is_closed_after_30_s() {
    let fake = FakeUpstream::start(Mode::Answer);
    let proxy = CountingProxy::start(fake.addr);
    let stubborn = Stubborn::start(Config::new(&[format!("tcp://{}", proxy.addr)]));
    answered(&stubborn, "first.example.test.");
    let used = Instant::now();
    assert_eq!((proxy.accepted(), proxy.client_closed()), (1, 0));
    let closed_after = wait::until("stubborn to close the idle connection", Duration::from_secs(35), || {
        (proxy.client_closed() == 1).then(|| used.elapsed())
    });
    assert!(closed_after >= Duration::from_secs(29), "closed after {closed_after:?}, used then");
    answered(&stubborn, "later.example.test.");
    assert_eq!(proxy.accepted(), 2, "a new connection after the idle close");
}
