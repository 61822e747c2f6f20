//! The outage drill (`examples/drill.rs`, run by `scripts/drill`) in short
//! mode: a real knotd with 50 names behind the real stubborn, knotd killed
//! for 5 s after every record's TTL ran out. stubborn must answer every query
//! during the outage (stale, with EDE 3, counted in /metrics), while the same
//! run against a plain forwarder (`serve_stale = false`) answers none.
//!
//! The example's source is compiled into this test (`#[path]`), so no second
//! cargo build runs here; it uses the stubborn binary under test. Recovery
//! after the outage (about 25 s more, RFC 8767's failure recheck timer) is
//! not waited for here; `scripts/drill` shows it.

#[allow(dead_code)] // main() and the argument parsing are the example's alone
#[path = "../examples/drill.rs"]
mod example;

use std::path::PathBuf;

#[test]
fn drill_short_mode_answers_every_name_during_the_outage() {
    let options = example::Options {
        free_port: Some(crate::harness::ports::free_port),
        ..example::Options::short(PathBuf::from(crate::harness::stubborn::binary()))
    };
    let mut out = Vec::new();
    let result = example::run(&options, &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    println!("{text}");
    let report = result.unwrap_or_else(|e| panic!("the drill could not run: {e:#}\n{text}"));

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
