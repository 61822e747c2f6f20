//! The outage drill (`examples/drill.rs`, run by `scripts/drill`) in short
//! mode: a real knotd with 50 names behind the real stubborn, knotd killed
//! for 5 s after every record's TTL ran out. stubborn must answer every query
//! during the outage (stale, with EDE 3, counted in /metrics), while the same
//! run against a plain forwarder (`serve_stale = false`) answers none. And
//! `--new-node` in short mode: a node started mid-outage with an empty cache
//! answers from the fleet store (a real redis-server).
//!
//! The example's source is compiled into this test (`#[path]`), so no second
//! cargo build runs here; it uses the stubborn binary under test and the
//! harness the other tests use (the same free ports, so that they never
//! collide). Recovery after the outage (about 25 s more, RFC 8767's failure
//! recheck timer) is not waited for here; `scripts/drill` shows it.

#[allow(dead_code)] // main() and the argument parsing are the example's alone
#[path = "../examples/drill.rs"]
mod example;

use std::io::Write;

/// Runs `drill` (`example::run` or `example::run_new_node`) in short mode:
/// its report, and what it printed.
fn short<R>(drill: fn(&example::Options, &mut dyn Write) -> anyhow::Result<R>) -> (R, String) {
    let options = example::Options::short();
    let mut out = Vec::new();
    let result = drill(&options, &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    println!("{text}");
    let report = result.unwrap_or_else(|e| panic!("the drill could not run: {e:#}\n{text}"));
    (report, text)
}

#[test]
fn drill_short_mode_answers_every_name_during_the_outage() {
    let (report, text) = short(example::run);

    let s = &report.stubborn;
    assert!(report.rounds >= 4, "expected about 5 rounds in a 5 s outage\n{text}");
    assert_eq!(s.asked, 50 * report.rounds, "{text}");
    assert!(report.passed(), "stubborn did not answer every query during the outage\n{text}");
    assert_eq!(s.names_always_answered, 50, "{text}");
    assert_eq!(s.stale_replies, s.asked, "every answer during the outage is stale (EDE 3)\n{text}");
    assert_eq!(s.stale_metric, s.asked as f64, "stubborn_answers_total{{source=\"stale\"}} counts them\n{text}");
    assert!(text.contains("(100.0 %)") && text.contains("RESULT: PASS"), "the report shows 100 %\n{text}");

    let p = &report.plain;
    assert_eq!(p.asked, s.asked, "{text}");
    assert_eq!(p.answered, 0, "a plain forwarder has nothing to answer with\n{text}");
    assert_eq!(p.servfail, p.asked, "it answers SERVFAIL, never silence\n{text}");
}

/// `--new-node --short`: two stubborns with `[fleet]` warmed on 50 names, a
/// real redis-server as the store; in a silent outage and in an
/// empty-record outage a node started with an empty cache answers the names
/// with their right addresses, and one without `[fleet]` answers none.
#[cfg(feature = "fleet")]
#[test]
fn drill_new_node_short_mode_answers_from_the_fleet_store() {
    let (report, text) = short(example::run_new_node);

    assert!(report.passed(), "the new node missed the goal\n{text}");
    assert!(text.contains("RESULT: PASS"), "{text}");
    for outage in [&report.silent, &report.empty] {
        assert!(outage.rounds >= 4, "expected about 5 rounds in a 5 s outage\n{text}");
        assert_eq!(outage.fleet.asked, 50 * outage.rounds, "{text}");
        assert_eq!(outage.alone.from_fleet + outage.alone.kept_positive, 0.0, "{text}");
        assert_eq!(outage.alone.correct, 0, "without [fleet] a new node has nothing to answer with\n{text}");
    }
    assert_eq!(report.silent.fleet.from_fleet, 50.0, "each name read from the store once, then cached\n{text}");
    assert!(report.empty.fleet.kept_positive > 0.0, "the store's records kept over the empty answer\n{text}");
    assert_eq!(report.silent.alone.servfail, report.silent.alone.asked, "SERVFAIL, never silence\n{text}");
    assert_eq!(report.empty.alone.nxdomain, report.empty.alone.asked, "the empty answer, as the zone has it\n{text}");
    assert_eq!(report.empty.warmed_kept, Some((50, 50)), "the warmed nodes keep the last good records\n{text}");
}
