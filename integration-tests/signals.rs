//! Scenario: stubborn is stopped with SIGTERM (or SIGINT, SIGQUIT) and exits 0 within the 2 s
//! drain bound, answering the queries in flight first; SIGHUP with a broken config file keeps the old config serving;
//! SIGUSR1 (sent by habit for statistics) logs a state summary and keeps
//! serving from the cache; SIGUSR2 flushes the cache and logs how many
//! entries went; SIGALRM is ignored (docs/reference.md "Signals", "Exit
//! status": no signal a user may send by habit kills it without a clean
//! stop).

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn sigterm_exits_zero() {
    clean_stop_on("TERM");
}

/// SIGINT is Ctrl-C; SIGQUIT is Ctrl-\, which would dump core by default.
#[test]
fn sigint_and_sigquit_stop_cleanly_too() {
    clean_stop_on("INT");
    clean_stop_on("QUIT");
}

fn clean_stop_on(signal: &str) {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    stubborn.signal(signal);
    let status = stubborn.wait_exit(Duration::from_secs(4));
    let status = status.unwrap_or_else(|| panic!("stubborn still running 4 s after SIG{signal}"));
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}: {status}");
    assert!(stubborn.log().contains("shutting down"), "{}", stubborn.log());
}

/// SIGALRM's default action would kill it: it is logged and ignored.
#[test]
fn sigalrm_is_ignored() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    stubborn.signal("ALRM");
    stubborn_test_support::wait::until("SIGALRM in the log", Duration::from_secs(3), || {
        stubborn.log().contains("SIGALRM ignored").then_some(())
    });
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert!(stubborn.exit_status().is_none(), "stubborn exited on SIGALRM");
}

/// A query waiting on a slow upstream when SIGTERM arrives is still
/// answered (the drain), and the exit follows as soon as it is.
#[test]
fn sigterm_lets_a_query_in_flight_finish() {
    let fake = FakeUpstream::start(Mode::Slow(Duration::from_millis(600)));
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "2s"));
    let dns = stubborn.dns;
    let client = std::thread::spawn(move || Ask::new("slow.example.test.", RecordType::A).try_send(dns));
    stubborn_test_support::wait::until("the query to reach the upstream", Duration::from_secs(2), || {
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

#[test]
fn sigusr1_logs_a_summary_and_keeps_running() {
    let mut knot = stubborn_test_support::Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    knot.stop();
    stubborn.signal("USR1");
    stubborn_test_support::wait::until("the state summary in the log", Duration::from_secs(3), || {
        stubborn.log().contains("state summary").then_some(())
    });
    let log = stubborn.log();
    assert!(log.contains("cache_entries=1"), "{log}");
    assert!(log.contains("state: upstream") && log.contains(&knot.server()), "{log}");
    assert!(stubborn.exit_status().is_none(), "stubborn exited on SIGUSR1");
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s().len(), 1, "the cache survived: {}", reply.summary());
}

/// The summary names a degraded answer's type and reason as `/status` and
/// `stubborn ctl status` do: `type=A reason=stale`, not `qtype=1 reason=Stale`.
#[test]
fn sigusr1_names_types_and_reasons_as_ctl_does() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    fake.set_mode(Mode::ServFail);
    std::thread::sleep(Duration::from_millis(1_200));
    let stale = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(stale.ipv4s().len(), 1, "a stale answer: {}", stale.summary());
    stubborn.signal("USR1");
    let line = stubborn_test_support::wait::until("the degraded name in the summary", Duration::from_secs(3), || {
        stubborn.log().lines().find(|line| line.contains("state: degraded answer")).map(str::to_string)
    });
    for field in ["name=www.example.test.", "type=A", "reason=stale", "count=1"] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
}

#[test]
fn sigusr2_flushes_the_cache() {
    let mut knot = stubborn_test_support::Knot::start("www 300 IN A 192.0.2.1\napi 300 IN A 192.0.2.3");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("api.example.test.", RecordType::A));
    knot.set_records("www 300 IN A 192.0.2.2\napi 300 IN A 192.0.2.3");
    stubborn.signal("USR2");
    stubborn_test_support::wait::until("the flush in the log", Duration::from_secs(3), || {
        stubborn.log().contains("cache flushed").then_some(())
    });
    assert!(stubborn.log().contains("removed=2"), "{}", stubborn.log());
    assert!(stubborn.exit_status().is_none(), "stubborn exited on SIGUSR2");
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![std::net::Ipv4Addr::new(192, 0, 2, 2)], "{}", reply.summary());
}
