//! Scenario: an operator drives a running stubborn with `stubborn ctl`, as
//! with `unbound-control` or `resolvectl`: the address comes from the
//! config's `[admin] listen` (or `--admin`), output is text tables or, with
//! `--json` before or after the command, the endpoint's JSON; exit 0 on
//! success, 1 when stubborn reports an error or a lookup finds nothing,
//! 2 on a usage error, 3 with one line on stderr when stubborn cannot be
//! reached or the admin endpoint is off (docs/reference.md "Command line").

use hickory_proto::rr::RecordType;

use crate::harness::ports::free_port;
use crate::harness::stubborn::run_to_exit;
use crate::harness::{Ask, Config, Knot, Stubborn};

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
