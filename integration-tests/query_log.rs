//! Scenario: with `[log] queries = true` every answered query is one log
//! line of target `stubborn::query` giving the client, name, type, rcode,
//! source (as in `stubborn_answers_total`), upstream and milliseconds; with
//! `--log-format json` each is a JSON field. `POST /log?queries=on|off`
//! switches it without a reload, and a reload sets it from the config again.

use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::{Ask, Config, Knot, Stubborn};

/// The `fields` of each JSON query-log line so far.
fn logged_queries(stubborn: &Stubborn) -> Vec<Value> {
    stubborn
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "stubborn::query")
        .map(|event| event["fields"].clone())
        .collect()
}

#[test]
fn answered_queries_are_logged_with_their_fields() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let config = Config::new(&[knot.server()]).set("log", "queries", "true");
    let stubborn = Stubborn::start_with_args(config, &["--log-format", "json"]);
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("WWW.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("missing.example.test.", RecordType::AAAA));

    let logged = logged_queries(&stubborn);
    assert_eq!(logged.len(), 3, "one line per answered query: {logged:?}");
    let (miss, hit, nxdomain) = (&logged[0], &logged[1], &logged[2]);
    assert_eq!(miss["client"], "127.0.0.1", "{miss}");
    assert_eq!(miss["name"], "www.example.test.", "{miss}");
    assert_eq!(miss["type"], "A", "{miss}");
    assert_eq!(miss["rcode"], "NOERROR", "{miss}");
    assert_eq!(miss["source"], "upstream", "{miss}");
    assert_eq!(miss["upstream"], knot.server().as_str(), "{miss}");
    assert!(miss["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{miss}");
    assert_eq!(hit["name"], "WWW.example.test.", "the name as asked: {hit}");
    assert_eq!((&hit["source"], &hit["upstream"]), (&Value::from("cache"), &Value::from("")), "{hit}");
    assert_eq!((&nxdomain["type"], &nxdomain["rcode"]), (&Value::from("AAAA"), &Value::from("NXDOMAIN")), "{nxdomain}");

    // Off at run time: answered, not logged.
    assert_eq!(stubborn.post("/log?queries=off"), (200, "{\n  \"queries\": false\n}\n".to_string()));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(logged_queries(&stubborn).len(), 3, "logged while off");
    // A reload sets it from the config again (on).
    let (status, body) = stubborn.post("/reload");
    assert_eq!(status, 200, "{body}");
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(logged_queries(&stubborn).len(), 4, "on again after the reload");
}

#[test]
fn the_switch_takes_post_and_on_or_off() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert!(!stubborn.log().contains("stubborn::query"), "off by default:\n{}", stubborn.log());
    assert_eq!(stubborn.get("/log?queries=on").0, 405);
    let (status, body) = stubborn.post("/log?queries=maybe");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("queries=on or queries=off"), "{body}");
    assert_eq!(stubborn.post("/log?queries=on").0, 200);
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    let log = stubborn.log();
    let line = log.lines().find(|line| line.contains("stubborn::query")).unwrap_or_else(|| panic!("{log}"));
    for field in ["client=127.0.0.1", "name=www.example.test.", "type=A", "rcode=NOERROR", "source=cache", "ms="] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
}
