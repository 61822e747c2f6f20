//! Scenario: stubborn under systemd, without systemd: the test listens on a
//! `NOTIFY_SOCKET` datagram socket as the service manager does and sees
//! `READY=1` once the sockets are bound, `RELOADING=1` with
//! `MONOTONIC_USEC=` then `READY=1` around a SIGHUP, and `STOPPING=1` on
//! SIGTERM (sd_notify(3), `Type=notify-reload`). With stderr named by
//! `JOURNAL_STREAM`, log lines carry journald priorities (`<4>` warning,
//! `<6>` info; sd-daemon(3)).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, Config, FakeUpstream, Mode, Stubborn};

fn next_message(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification within 5 s");
    String::from_utf8_lossy(&buf[..n]).trim_end().to_string()
}

#[test]
fn ready_reloading_and_stopping_reach_the_service_manager() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn =
        Stubborn::start_with(Config::new(&[fake.server()]), &[("NOTIFY_SOCKET", path.to_str().expect("utf-8"))], false);

    assert_eq!(next_message(&socket), "READY=1");
    // Ready means bound: it answers now.
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));

    stubborn.signal("HUP");
    let reloading = next_message(&socket);
    let lines: Vec<&str> = reloading.lines().collect();
    assert_eq!(lines.first(), Some(&"RELOADING=1"), "{reloading}");
    assert!(
        lines.iter().any(|l| l.strip_prefix("MONOTONIC_USEC=").is_some_and(|v| v.parse::<u64>().is_ok_and(|v| v > 0))),
        "RELOADING=1 carries MONOTONIC_USEC: {reloading}"
    );
    assert_eq!(next_message(&socket), "READY=1", "after the reload");

    stubborn.signal("TERM");
    assert_eq!(next_message(&socket), "STOPPING=1");
    assert_eq!(stubborn.wait_exit(Duration::from_secs(4)).and_then(|s| s.code()), Some(0));
}

#[test]
fn log_lines_carry_journald_priorities_when_stderr_is_the_journal() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start_with(Config::new(&[fake.server()]), &[], true);
    std::fs::write(stubborn.config_path(), "[server]\nlisten = [\"nonsense\"]\n").expect("break the config");
    stubborn.signal("HUP");
    let log = crate::harness::wait::until("the rejected reload in the log", Duration::from_secs(5), || {
        let log = stubborn.log();
        log.contains("reload rejected").then_some(log)
    });
    assert!(log.lines().any(|l| l.starts_with("<6>") && l.contains("ready")), "info at <6>:\n{log}");
    assert!(log.lines().any(|l| l.starts_with("<4>") && l.contains("reload rejected")), "warning at <4>:\n{log}");
    assert!(log.lines().all(|l| l.starts_with('<')), "every line has a priority:\n{log}");
}
