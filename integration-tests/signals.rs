//! Scenario: stubborn is stopped with SIGTERM and exits 0 within the 2 s
//! drain bound, answering the queries in flight first; SIGHUP with a broken config file keeps the old config serving
//! (INTERFACE.md "Signals", "Exit status").

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::harness::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn sigterm_exits_zero() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    stubborn.signal("TERM");
    let status = stubborn.wait_exit(Duration::from_secs(4));
    let status = status.expect("stubborn still running 4 s after SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}");
}

/// A query waiting on a slow upstream when SIGTERM arrives is still
/// answered (the drain), and the exit follows as soon as it is.
#[test]
fn sigterm_lets_a_query_in_flight_finish() {
    let fake = FakeUpstream::start(Mode::Slow(Duration::from_millis(600)));
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "2s"));
    let dns = stubborn.dns;
    let client = std::thread::spawn(move || Ask::new("slow.example.test.", RecordType::A).try_send(dns));
    crate::harness::wait::until("the query to reach the upstream", Duration::from_secs(2), || {
        (fake.queries_for("slow.example.test.") > 0).then_some(())
    });
    let stopped = std::time::Instant::now();
    stubborn.signal("TERM");
    let reply = client.join().expect("client thread").expect("the query in flight is answered");
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    let status = stubborn.wait_exit(Duration::from_secs(3)).expect("stubborn still running after the drain");
    assert_eq!(status.code(), Some(0));
    assert!(stopped.elapsed() < Duration::from_millis(1_500), "exit took {:?}", stopped.elapsed());
}

#[test]
fn sighup_with_invalid_config_keeps_serving() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    std::fs::write(stubborn.config_path(), "[upstream\nthis is not toml").expect("rewrite config");
    stubborn.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(stubborn.exit_status().is_none(), "stubborn exited on SIGHUP with a bad config");
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s().len(), 1);
}
