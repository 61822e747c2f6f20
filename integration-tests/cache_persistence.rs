//! Scenario: stubborn has answers cached, is stopped (SIGTERM, or `kill -9`
//! after a periodic snapshot), and is started again while the authoritative
//! is down: the old names are answered stale from the first query. A
//! corrupt snapshot is logged and ignored, never fatal. A missing snapshot directory is created at start, 0700
//! (docs/reference.md `[cache] persist`); one that cannot be created is fatal
//! (exit 1, the directory and the OS error named). A flush is written to
//! the snapshot within seconds, so `kill -9` after it cannot bring the
//! flushed name back. Nothing at the snapshot path stalls or swamps the
//! start (a FIFO, a symlink to `/dev/zero`, a 1 GB file): it is refused
//! unread. A snapshot written ahead of the clock (the clock stepped back
//! since: a router without a real-time clock, a restored VM) is served
//! stale, never fresh for the TTLs it was stored with.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::stubborn::run_to_exit;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

const WEB: &str = "web.example.test.";

fn config(knot: &Knot, snapshot: &Path, interval: &str) -> Config {
    Config::new(&[knot.server()]).set_str("cache", "persist", &snapshot.display().to_string()).set_str(
        "cache",
        "persist_interval",
        interval,
    )
}

/// The old address, served stale, by a stubborn whose upstream is gone.
fn assert_served_stale(stubborn: &Stubborn) {
    let reply = stubborn.ask(&Ask::new(WEB, RecordType::A));
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", reply.summary());
    assert!(reply.ede_codes().contains(&EDE_STALE_ANSWER), "{}", reply.summary());
}

/// Kills `first` (no snapshot at stop), stops Knot, waits out the 1 s TTL
/// and starts a stubborn on the same snapshot.
fn kill_9_and_restart_without_upstream(first: Stubborn, knot: &mut Knot, snapshot: &Path) -> Stubborn {
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(3)).expect("killed");
    knot.stop();
    std::thread::sleep(Duration::from_millis(1_100));
    Stubborn::start(config(knot, snapshot, "1h"))
}

#[test]
fn sigterm_writes_the_snapshot_and_a_restart_serves_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("cache.snapshot");
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let first = Stubborn::start(config(&knot, &snapshot, "1h"));
    first.ask(&Ask::new(WEB, RecordType::A));

    let stopping = Instant::now();
    first.signal("TERM");
    let status = first.wait_exit(Duration::from_secs(3)).expect("exit within 3 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(snapshot.exists(), "snapshot written at stop ({:?} after SIGTERM)", stopping.elapsed());

    knot.stop();
    std::thread::sleep(Duration::from_millis(1_100)); // past the 1 s TTL
    let second = Stubborn::start(config(&knot, &snapshot, "1h"));
    assert_served_stale(&second);
    assert!(second.log().contains("cache snapshot loaded"), "{}", second.log());
}

#[test]
fn kill_9_after_a_periodic_snapshot_loses_nothing_older() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("cache.snapshot");
    let mut knot = Knot::start("web 1 IN A 192.0.2.80");
    let first = Stubborn::start(config(&knot, &snapshot, "300ms"));
    first.ask(&Ask::new(WEB, RecordType::A));
    wait::until("a periodic snapshot holding the entry", Duration::from_secs(5), || {
        std::fs::metadata(&snapshot).ok().filter(|m| m.len() > 40).map(|_| ())
    });
    let second = kill_9_and_restart_without_upstream(first, &mut knot, &snapshot);
    assert_served_stale(&second);
}

#[test]
fn a_flush_reaches_the_snapshot_before_a_kill_9() {
    const OLD: &str = "old.example.test.";
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("cache.snapshot");
    let mut knot = Knot::start("web 1 IN A 192.0.2.80\nold 1 IN A 192.0.2.81");
    // The periodic snapshot is an hour away: only the flush can write one.
    let first = Stubborn::start(config(&knot, &snapshot, "1h"));
    first.ask(&Ask::new(WEB, RecordType::A));
    first.ask(&Ask::new(OLD, RecordType::A));
    assert_eq!(first.flush(&format!("name={OLD}")), 1);
    wait::until("the snapshot written after the flush", Duration::from_secs(5), || {
        std::fs::metadata(&snapshot).ok().map(|_| ())
    });
    let second = kill_9_and_restart_without_upstream(first, &mut knot, &snapshot);
    assert_served_stale(&second);
    let flushed = second.ask(&Ask::new(OLD, RecordType::A));
    assert_eq!(flushed.rcode(), ResponseCode::ServFail, "the flushed name is not back: {}", flushed.summary());
}

#[test]
fn a_corrupt_snapshot_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("cache.snapshot");
    std::fs::write(&snapshot, b"STUBCACH\x01\x00\x00\x00garbage garbage garbage").expect("write junk");
    let knot = Knot::start("web 300 IN A 192.0.2.80");
    let stubborn = Stubborn::start(config(&knot, &snapshot, "1h"));
    assert!(stubborn.log().contains("cache snapshot ignored"), "{}", stubborn.log());
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)]);
}

#[test]
fn a_missing_snapshot_directory_is_created_private_and_written_at_stop() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("state/stubborn/cache.snapshot");
    let knot = Knot::start("web 300 IN A 192.0.2.80");
    let stubborn = Stubborn::start(config(&knot, &snapshot, "1h"));
    for made in ["state", "state/stubborn"] {
        let mode = std::fs::metadata(dir.path().join(made)).expect("directory created").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{made} is private");
    }
    stubborn.ask(&Ask::new(WEB, RecordType::A));
    stubborn.signal("TERM");
    assert_eq!(stubborn.wait_exit(Duration::from_secs(3)).expect("exit after SIGTERM").code(), Some(0));
    assert!(snapshot.exists(), "snapshot written at stop");
}

/// Exit 1 (as for a bad config) with one line naming the directory and the
/// OS error. /proc takes no new directories, not even from root.
#[test]
fn a_snapshot_directory_that_cannot_be_created_is_fatal() {
    let toml = "[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"127.0.0.1:53\"]\n\
                [cache]\npersist = \"/proc/stubborn-test/state/cache.snapshot\"\n";
    let out = run_to_exit(&[], toml, Duration::from_secs(10));
    assert_eq!(out.code, Some(1), "stderr:\n{}", out.stderr);
    let line = out.stderr.lines().find(|l| l.contains("cannot create the cache snapshot directory"));
    let line = line.unwrap_or_else(|| panic!("no message naming the directory:\n{}", out.stderr));
    assert!(line.contains("/proc/stubborn-test/state") && line.contains("os error"), "{line}");

    // Under a regular file it can never be created: `check` and start both say so.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"").expect("write file");
    let toml = toml.replace("/proc/stubborn-test", &file.display().to_string());
    let out = run_to_exit(&[], &toml, Duration::from_secs(10));
    assert_eq!(out.code, Some(1), "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains(&format!("{} is not a directory", file.display())), "{}", out.stderr);
}

/// A reload that moves the snapshot to a missing directory creates it; one
/// that cannot be created leaves the running config in place.
#[test]
fn a_reload_moving_the_snapshot_creates_its_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = dir.path().join("cache.snapshot");
    let moved = dir.path().join("moved/here/cache.snapshot");
    let knot = Knot::start("web 300 IN A 192.0.2.80");
    let stubborn = Stubborn::start(config(&knot, &first, "1h"));
    let old = first.display().to_string();

    let edited = stubborn.config_text.replace(&old, "/proc/stubborn-test/cache.snapshot");
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    stubborn.signal("HUP");
    wait::until("the reload rejected", Duration::from_secs(5), || {
        stubborn.log().contains("cannot create the cache snapshot directory /proc/stubborn-test").then_some(())
    });
    assert!(stubborn.log().contains("reload rejected"), "{}", stubborn.log());

    let edited = stubborn.config_text.replace(&old, &moved.display().to_string());
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    stubborn.signal("HUP");
    wait::until("the config reloaded", Duration::from_secs(5), || {
        stubborn.log().contains("config reloaded").then_some(())
    });
    assert!(moved.parent().expect("a directory").is_dir(), "{}", stubborn.log());
    stubborn.ask(&Ask::new(WEB, RecordType::A));
    stubborn.signal("TERM");
    assert_eq!(stubborn.wait_exit(Duration::from_secs(3)).expect("exit after SIGTERM").code(), Some(0));
    assert!(moved.exists(), "snapshot written to the new place");
}

/// Each of these at the snapshot path used to hang the start before any
/// socket was bound (a FIFO: reading waits for a writer), read until memory
/// ran out (`/dev/zero`) or cost a gigabyte (a 1 GB file): now each is
/// refused with a warning, and stubborn serves within a second.
#[test]
fn nothing_at_the_snapshot_path_stalls_or_swamps_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo.snapshot");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", fifo.display());
    let zero = dir.path().join("zero.snapshot");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink to /dev/zero");
    let sparse = dir.path().join("sparse.snapshot");
    let file = std::fs::File::create(&sparse).expect("create the sparse file");
    file.set_len(1 << 30).expect("a 1 GB sparse file");
    let fake = FakeUpstream::start(Mode::Answer);
    for (path, why) in
        [(&fifo, "is not a regular file"), (&zero, "is not a regular file"), (&sparse, "bytes, more than")]
    {
        let config = Config::new(&[fake.server()]).set_str("cache", "persist", &path.display().to_string());
        let starting = Instant::now();
        let stubborn = Stubborn::start(config);
        let started = starting.elapsed();
        let reply = stubborn.ask(&Ask::new(WEB, RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}: {}", path.display(), reply.summary());
        assert!(started < Duration::from_secs(1), "{}: serving after {started:?}", path.display());
        let log = stubborn.log();
        let warning = log.lines().find(|l| l.contains("cache snapshot ignored"));
        assert!(warning.is_some_and(|l| l.contains("WARN") && l.contains(why)), "{}: {log}", path.display());
        let peak = stubborn.memory_kib("VmHWM");
        assert!(peak < 64 << 10, "{}: peak RSS {peak} KiB", path.display());
    }
}

/// The snapshot's layout (version 1), to move its times as a clock stepped
/// back would see them.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    written_unix_ms: u64,
    entries: Vec<SavedEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedEntry {
    key: Vec<u8>,
    rcode: u8,
    authentic_data: bool,
    counts: [u16; 3],
    sections: Vec<u8>,
    stored_unix_ms: u64,
}

/// Moves every time in the snapshot at `path` `ms` milliseconds ahead.
fn date_ahead(path: &Path, ms: u64) {
    let bytes = std::fs::read(path).expect("read the snapshot");
    assert_eq!(&bytes[..12], b"STUBCACH\x01\x00\x00\x00", "a version 1 snapshot");
    let mut snapshot: Snapshot = postcard::from_bytes(&bytes[24..]).expect("a snapshot payload");
    snapshot.written_unix_ms += ms;
    for entry in &mut snapshot.entries {
        entry.stored_unix_ms += ms;
    }
    let payload = postcard::to_stdvec(&snapshot).expect("encode");
    let mut file = bytes[..12].to_vec();
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    file.extend_from_slice(&payload);
    std::fs::write(path, file).expect("write the snapshot");
}

/// A snapshot written a day ahead of the clock: how long ago is unknown,
/// so its 300 s answer is served stale (EDE 3) in an outage, not as fresh
/// for 300 s more (its stored time "in the future" made it age 0).
#[test]
fn a_snapshot_written_ahead_of_the_clock_is_served_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("cache.snapshot");
    let mut knot = Knot::start("web 300 IN A 192.0.2.80");
    let first = Stubborn::start(config(&knot, &snapshot, "1h"));
    first.ask(&Ask::new(WEB, RecordType::A));
    first.signal("TERM");
    assert_eq!(first.wait_exit(Duration::from_secs(3)).expect("exit after SIGTERM").code(), Some(0));
    date_ahead(&snapshot, 86_400_000);
    knot.stop();
    let second = Stubborn::start(config(&knot, &snapshot, "1h"));
    assert!(second.log().contains("restored=1"), "{}", second.log());
    assert_served_stale(&second);
}
