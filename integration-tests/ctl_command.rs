//! Scenario: an operator drives a running stubborn with `stubborn ctl`, as
//! with `unbound-control` or `resolvectl`: the address comes from the
//! config's `[admin] listen` (or `--admin`), output is text tables or, with
//! `--json` before or after the command, the endpoint's JSON; exit 0 on
//! success, 1 when stubborn reports an error or a lookup finds nothing,
//! 2 on a usage error, 3 with one line on stderr when stubborn cannot be
//! reached or the admin endpoint is off (docs/reference.md "Command line").
//! `reload` reports a broken file's problems; `status` sums up a long list
//! of degraded names; output cut short by its reader ends quietly.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::ports::free_port;
use stubborn_test_support::stubborn::{run_to_exit, run_with_stdout_closed};
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

const WWW: &str = "www.example.test.";

#[test]
fn ctl_talks_to_the_admin_endpoint_of_the_config() {
    let knot = Knot::start("www 300 IN A 192.0.2.1\nsub 300 IN A 192.0.2.2\na.sub 300 IN A 192.0.2.3");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    for name in [WWW, "sub.example.test.", "a.sub.example.test."] {
        stubborn.ask(&Ask::new(name, RecordType::A));
    }

    let status = stubborn.ctl(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("UPSTREAM") && status.stdout.contains(&knot.server()), "{}", status.stdout);
    assert!(status.stdout.contains("cache: 3 entries of 100000, "), "{}", status.stdout);
    assert!(status.stdout.contains(" MiB of 97.7 MiB; tcp:"), "{}", status.stdout);

    let lookup = stubborn.ctl(&["lookup", "www.example.test", "A"]);
    assert_eq!(lookup.code, Some(0), "{lookup:?}");
    let header = lookup.stdout.lines().next().unwrap_or("");
    assert!(header.starts_with("NAME") && header.contains("STATE"), "a table: {}", lookup.stdout);
    assert!(lookup.stdout.contains("fresh") && lookup.stdout.contains("192.0.2.1"), "{}", lookup.stdout);

    for args in [["--json", "lookup", "www.example.test"], ["lookup", "www.example.test", "--json"]] {
        let json = stubborn.ctl(&args);
        assert_eq!(json.code, Some(0), "{args:?}: {json:?}");
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("--json prints JSON");
        assert_eq!(value[0]["state"], "fresh", "{args:?}: {value}");
    }

    let missing = stubborn.ctl(&["lookup", "nothing.example.test"]);
    assert_eq!(missing.code, Some(1), "nothing cached: {missing:?}");

    let dump = stubborn.ctl(&["dump"]);
    assert_eq!(dump.code, Some(0), "{dump:?}");
    assert!(dump.stdout.contains("; www.example.test. A NOERROR fresh"), "{}", dump.stdout);

    let flushed = stubborn.ctl(&["flush", "www.example.test"]);
    assert_eq!((flushed.code, flushed.stdout.trim()), (Some(0), "removed 1 entry"), "{flushed:?}");
    let zone = stubborn.ctl(&["flush-zone", "sub.example.test", "--json"]);
    assert_eq!(zone.code, Some(0), "{zone:?}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&zone.stdout).expect("JSON")["removed"], 2);
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    let all = stubborn.ctl(&["flush-all"]);
    assert_eq!((all.code, all.stdout.trim()), (Some(0), "removed 1 entry"), "{all:?}");

    // A bad name is an error reported by stubborn: exit 1, its reason on stderr.
    let bad = stubborn.ctl(&["flush", "bad..name"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("not a DNS name"), "{}", bad.stderr);
    // Said plainly, not with a dangling "Malformed label:".
    let bad = stubborn.ctl(&["lookup", "a..b"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("\"a..b\" is not a DNS name: it has an empty label"), "{}", bad.stderr);
    assert!(!bad.stderr.trim_end().ends_with(':'), "{}", bad.stderr);
}

/// `ctl reload` reloads as SIGHUP does; a broken file is exit 1 with its
/// problems (as `check` prints them) and the running config keeps serving.
#[test]
fn ctl_reload_reports_the_problems_of_a_broken_file() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let reloaded = stubborn.ctl(&["reload"]);
    assert_eq!((reloaded.code, reloaded.stdout.trim()), (Some(0), "config reloaded"), "{reloaded:?}");
    assert!(stubborn.log().contains("config reloaded"), "{}", stubborn.log());

    let broken = stubborn.config_text.replace("[cache]\n", "[cache]\ncapacity = 0\n");
    std::fs::write(stubborn.config_path(), broken).expect("rewrite config");
    let rejected = stubborn.ctl(&["reload"]);
    assert_eq!(rejected.code, Some(1), "{rejected:?}");
    let path = stubborn.config_path().display().to_string();
    assert!(rejected.stderr.contains("reload rejected; the running config stays"), "{}", rejected.stderr);
    assert!(
        rejected.stderr.lines().any(|line| line.starts_with(&path) && line.contains("cache.capacity")),
        "PATH:LINE:COL: key: ... on stderr: {}",
        rejected.stderr
    );
    let json = stubborn.ctl(&["reload", "--json"]);
    assert_eq!(json.code, Some(1), "{json:?}");
    let answer: Value = serde_json::from_str(&json.stdout).expect("--json prints the answer");
    assert_eq!(answer["reloaded"], false, "{answer}");
    assert!(answer["problems"][0].as_str().is_some_and(|p| p.contains("cache.capacity")), "{answer}");
    assert_eq!(stubborn.ask(&Ask::new(WWW, RecordType::A)).ipv4s().len(), 1, "the running config serves");
}

/// `ctl status` sums the degraded names up and lists the most recent;
/// `--all` lists every one.
#[test]
fn ctl_status_sums_up_many_degraded_names() {
    let fake = FakeUpstream::start(Mode::Answer);
    fake.set_ttl(1);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let names: Vec<String> = (0..12).map(|i| format!("n{i}.example.test.")).collect();
    for name in &names {
        stubborn.ask(&Ask::new(name, RecordType::A));
    }
    fake.set_mode(Mode::ServFail);
    std::thread::sleep(Duration::from_millis(1_200));
    for name in &names {
        let reply = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(reply.ipv4s().len(), 1, "stale: {}", reply.summary());
    }
    let rows = |text: &str| text.lines().filter(|line| line.contains(".example.test.")).count();
    let status = stubborn.ctl(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert!(status.stdout.contains("degraded in the last 10 minutes: 12 names (12 stale)"), "{}", status.stdout);
    assert_eq!(rows(&status.stdout), 10, "{}", status.stdout);
    assert!(status.stdout.contains("... and 2 more: stubborn ctl status --all"), "{}", status.stdout);
    let all = stubborn.ctl(&["status", "--all"]);
    assert_eq!(rows(&all.stdout), 12, "{}", all.stdout);
}

/// `stubborn ctl dump | head`: a reader that closes the pipe early ends the
/// command quietly (exit 0), not with a panic and exit 101.
#[test]
fn ctl_output_cut_short_by_its_reader_ends_quietly() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    let admin = stubborn.admin.to_string();
    for args in [&["dump"][..], &["dump", "--json"], &["status"], &["status", "--json"]] {
        let mut all = vec!["ctl", "--admin", &admin];
        all.extend_from_slice(args);
        assert_eq!(run_with_stdout_closed(&all), (Some(0), String::new()), "{args:?}");
    }
}

/// `ctl log-queries on|off` switches the query log without a reload.
#[test]
fn ctl_switches_the_query_log() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let on = stubborn.ctl(&["log-queries", "on"]);
    assert_eq!((on.code, on.stdout.trim()), (Some(0), "query log on"), "{on:?}");
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    stubborn_test_support::wait::until("the query in the log", Duration::from_secs(3), || {
        stubborn.log().contains("stubborn::query").then_some(())
    });
    let off = stubborn.ctl(&["--json", "log-queries", "off"]);
    assert_eq!(off.code, Some(0), "{off:?}");
    assert_eq!(serde_json::from_str::<Value>(&off.stdout).expect("JSON")["queries"], false, "{}", off.stdout);
    let usage = stubborn.ctl(&["log-queries", "maybe"]);
    assert_eq!(usage.code, Some(2), "{usage:?}");
}

#[test]
fn ctl_with_admin_flag_and_usage_errors() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    let admin = stubborn.admin.to_string();
    // --admin wins over a config without [admin].
    let flushed = run_to_exit(&["ctl", "--admin", &admin, "flush-all"], "", std::time::Duration::from_secs(20));
    assert_eq!((flushed.code, flushed.stdout.trim()), (Some(0), "removed 1 entry"), "{flushed:?}");

    let usage = stubborn.ctl(&["lookup"]);
    assert_eq!(usage.code, Some(2), "missing NAME is a usage error: {usage:?}");
    let unknown = stubborn.ctl(&["frobnicate"]);
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
    for bad in ["notanaddr", "127.0.0.1", "::1", "localhost:99999", "http://127.0.0.1:9153"] {
        let usage = run_to_exit(&["ctl", "--admin", bad, "status"], "", std::time::Duration::from_secs(20));
        assert_eq!(usage.code, Some(2), "--admin {bad} is a usage error: {usage:?}");
        assert!(usage.stderr.contains("HOST:PORT"), "{}", usage.stderr);
    }
    let named = format!("localhost:{}", stubborn.admin.port());
    let status = run_to_exit(&["ctl", "--admin", &named, "status"], "", std::time::Duration::from_secs(20));
    assert_eq!(status.code, Some(0), "--admin {named}: {status:?}");
}

#[test]
fn ctl_exits_3_when_stubborn_is_unreachable_or_admin_is_off() {
    let closed = format!("127.0.0.1:{}", free_port());
    let unreachable = run_to_exit(&["ctl", "--admin", &closed, "status"], "", std::time::Duration::from_secs(20));
    assert_eq!(unreachable.code, Some(3), "{unreachable:?}");
    assert_eq!(unreachable.stderr.lines().count(), 1, "one line: {}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach") && unreachable.stderr.contains(&closed),
        "{}",
        unreachable.stderr
    );

    let off = run_to_exit(
        &["ctl", "flush-all"],
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n",
        std::time::Duration::from_secs(20),
    );
    assert_eq!(off.code, Some(3), "{off:?}");
    assert_eq!(off.stderr.lines().count(), 1, "one line: {}", off.stderr);
    assert!(off.stderr.contains("no [admin] listen"), "{}", off.stderr);
}
