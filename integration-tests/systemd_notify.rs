//! Scenario: stubborn under systemd, without systemd: the test listens on a
//! `NOTIFY_SOCKET` datagram socket as the service manager does and sees
//! `READY=1` once the sockets are bound, `RELOADING=1` with
//! `MONOTONIC_USEC=` then `READY=1` around a SIGHUP, and `STOPPING=1` on
//! SIGTERM (sd_notify(3), `Type=notify-reload`). With stderr named by
//! `JOURNAL_STREAM`, log lines carry journald priorities (`<4>` warning,
//! `<6>` info; sd-daemon(3)). With `WATCHDOG_USEC` (`WatchdogSec=`),
//! `WATCHDOG=1` comes every half period (sd_watchdog_enabled(3)).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

/// The service manager's end of `NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
    path: String,
    _dir: tempfile::TempDir,
}

impl Manager {
    /// A notify socket whose reads give up after `wait`.
    fn listen(wait: Duration) -> Manager {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket.set_read_timeout(Some(wait)).expect("timeout");
        Manager { socket, path: path.to_str().expect("utf-8").to_string(), _dir: dir }
    }

    fn next_message(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).expect("a notification in time");
        String::from_utf8_lossy(&buf[..n]).trim_end().to_string()
    }
}

#[test]
fn ready_reloading_and_stopping_reach_the_service_manager() {
    let manager = Manager::listen(Duration::from_secs(5));
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn =
        Stubborn::start_with(Config::new(&[fake.server()]), &[("NOTIFY_SOCKET", manager.path.as_str())], false);

    assert_eq!(manager.next_message(), "READY=1");
    // Ready means bound: it answers now.
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));

    stubborn.signal("HUP");
    let reloading = manager.next_message();
    let lines: Vec<&str> = reloading.lines().collect();
    assert_eq!(lines.first(), Some(&"RELOADING=1"), "{reloading}");
    assert!(
        lines.iter().any(|l| l.strip_prefix("MONOTONIC_USEC=").is_some_and(|v| v.parse::<u64>().is_ok_and(|v| v > 0))),
        "RELOADING=1 carries MONOTONIC_USEC: {reloading}"
    );
    assert_eq!(manager.next_message(), "READY=1", "after the reload");

    stubborn.signal("TERM");
    assert_eq!(manager.next_message(), "STOPPING=1");
    assert_eq!(stubborn.wait_exit(Duration::from_secs(4)).and_then(|s| s.code()), Some(0));
}

#[test]
fn log_lines_carry_journald_priorities_when_stderr_is_the_journal() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start_with(Config::new(&[fake.server()]), &[], true);
    std::fs::write(stubborn.config_path(), "[server]\nlisten = [\"nonsense\"]\n").expect("break the config");
    stubborn.signal("HUP");
    let log = stubborn_test_support::wait::until("the rejected reload in the log", Duration::from_secs(5), || {
        let log = stubborn.log();
        log.contains("reload rejected").then_some(log)
    });
    assert!(log.lines().any(|l| l.starts_with("<6>") && l.contains("ready")), "info at <6>:\n{log}");
    assert!(log.lines().any(|l| l.starts_with("<4>") && l.contains("reload rejected")), "warning at <4>:\n{log}");
    assert!(log.lines().all(|l| l.starts_with('<')), "every line has a priority:\n{log}");
}

#[test]
fn the_watchdog_hears_all_is_well_every_half_period() {
    let manager = Manager::listen(Duration::from_secs(5));
    let fake = FakeUpstream::start(Mode::Answer);
    // WatchdogSec=0.4s: a ping every 0.2 s.
    let env = [("NOTIFY_SOCKET", manager.path.as_str()), ("WATCHDOG_USEC", "400000")];
    let stubborn = Stubborn::start_with(Config::new(&[fake.server()]), &env, false);

    assert_eq!(manager.next_message(), "READY=1");
    let start = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(manager.next_message(), "WATCHDOG=1");
    }
    // Five pings: the first at once, then four periods of 0.2 s.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(700) && took < Duration::from_secs(3), "five pings in {took:?}");
    assert!(stubborn.log().contains("watchdog"), "{}", stubborn.log());
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
}

#[test]
fn no_watchdog_pings_when_the_watchdog_is_for_another_process() {
    let manager = Manager::listen(Duration::from_millis(800));
    let fake = FakeUpstream::start(Mode::Answer);
    // WATCHDOG_PID names PID 1, not stubborn: sd_watchdog_enabled(3) says no.
    let env = [("NOTIFY_SOCKET", manager.path.as_str()), ("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")];
    let _stubborn = Stubborn::start_with(Config::new(&[fake.server()]), &env, false);

    assert_eq!(manager.next_message(), "READY=1");
    let mut buf = [0u8; 64];
    assert!(manager.socket.recv(&mut buf).is_err(), "nothing more within 0.8 s: {:?}", String::from_utf8_lossy(&buf));
}
