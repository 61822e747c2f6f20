//! Scenario: an operator knows a cached record is wrong (moved, poisoned, a
//! test record) and drops it through the admin endpoint: `POST
//! /cache/flush` of a name, a zone or everything; the next query goes
//! upstream and gets the new data — also while the name was being served
//! stale or kept-positive, and when the flush races a fetch in flight.
//! `GET /cache/lookup` reports each entry's state (fresh, negative, stale,
//! kept_positive) and `GET /cache/dump` lists every entry once
//! (docs/reference.md "Admin endpoint").

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait::{self, sleep_until};
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

const WWW: &str = "www.example.test.";
const OLD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn states(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["state"].as_str().expect("state is a string")).collect()
}

#[test]
fn flush_of_a_name_sends_the_next_query_upstream_for_the_new_data() {
    let mut knot = Knot::start("www 300 IN A 192.0.2.1\nwww 300 IN AAAA 2001:db8::1\nother 300 IN A 192.0.2.9");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let a = Ask::new(WWW, RecordType::A);
    assert_eq!(stubborn.ask(&a).ipv4s(), vec![OLD]);
    stubborn.ask(&Ask::new(WWW, RecordType::AAAA));
    stubborn.ask(&Ask::new("other.example.test.", RecordType::A));
    knot.set_records("www 300 IN A 192.0.2.2\nwww 300 IN AAAA 2001:db8::2\nother 300 IN A 192.0.2.9");
    assert_eq!(stubborn.ask(&a).ipv4s(), vec![OLD], "premise: the old answer is cached for 300 s");

    // One type only: the AAAA entry stays.
    assert_eq!(stubborn.flush("name=WWW.example.test&type=A"), 1, "names are matched in any letter case");
    assert_eq!(stubborn.ask(&a).ipv4s(), vec![NEW], "after the flush the query goes upstream");
    assert_eq!(stubborn.lookup(WWW, Some("AAAA")).len(), 1, "the AAAA entry was not flushed");

    // Every type of the name; other names stay.
    assert_eq!(stubborn.flush("name=www.example.test."), 2);
    assert!(stubborn.lookup(WWW, None).is_empty());
    assert_eq!(stubborn.lookup("other.example.test", None).len(), 1);
    assert_eq!(stubborn.flush("name=www.example.test."), 0, "nothing left to remove");
}

/// Flush is POST only: any other method gets 405 and flushes nothing.
#[test]
fn flush_is_post_only() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    for method in ["GET", "PUT", "DELETE"] {
        let (status, body) =
            stubborn_test_support::http_client::http_request(method, stubborn.admin, "/cache/flush?all=1")
                .expect("request");
        assert_eq!(status, 405, "{method} /cache/flush: {body}");
    }
    assert_eq!(stubborn.lookup(WWW, None).len(), 1, "nothing was flushed");
    let (status, body) = stubborn.post("/cache/flush?name=www.example.test&zone=example.test");
    assert_eq!(status, 400, "name and zone together: {body}");
    let (status, body) = stubborn.post("/cache/flush?name=bad..name");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("error"), "{body}");
}

/// `all=` takes only `1`: `all=true`, `all=0`, `all=` and the like are a
/// 400 and flush nothing, so that a typo can never empty the cache.
#[test]
fn flush_all_takes_only_1() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    for value in ["true", "yes", "0", "", "01", "1x"] {
        let (status, body) = stubborn.post(&format!("/cache/flush?all={value}"));
        assert_eq!(status, 400, "all={value}: {body}");
        assert!(body.contains("only all=1"), "all={value}: {body}");
    }
    assert_eq!(stubborn.lookup(WWW, None).len(), 1, "nothing was flushed");
    assert_eq!(stubborn.flush("all=1"), 1);
}

/// A name served stale (the authoritative is down) is flushed: with nothing
/// to fall back on the next query fails instead of getting the old data,
/// and once the authoritative is back it gets the new data.
#[test]
fn flush_while_served_stale() {
    let mut knot = Knot::start("www 1 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let ask = Ask::new(WWW, RecordType::A);
    stubborn.ask(&ask);
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(1_300));
    knot.stop();
    let stale = stubborn.ask(&ask);
    assert_eq!(stale.ipv4s(), vec![OLD], "premise: served stale: {}", stale.summary());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "{}", stale.summary());
    assert_eq!(states(&stubborn.lookup(WWW, Some("A"))), ["stale"]);
    let (_, status) = stubborn.get("/status");
    assert!(status.contains("www.example.test."), "premise: listed as degraded: {status}");

    assert_eq!(stubborn.flush("name=www.example.test"), 1);
    let (_, status) = stubborn.get("/status");
    assert!(!status.contains("www.example.test."), "a flushed name leaves degraded: {status}");
    let after = stubborn.ask(&ask);
    assert_eq!(after.rcode(), ResponseCode::ServFail, "the old data is gone: {}", after.summary());

    knot.set_records("www 300 IN A 192.0.2.2");
    knot.start_again();
    let fresh = wait::until("the new data once the authoritative is back", Duration::from_secs(5), || {
        let reply = stubborn.ask(&ask);
        (reply.ipv4s() == vec![NEW]).then_some(reply)
    });
    assert!(fresh.ede().is_empty(), "{}", fresh.summary());
}

/// A name kept-positive (the upstream answers NXDOMAIN, the old records
/// win for `keep_positive`) is flushed: the next query gets the new, empty
/// answer, and the last-known-good bookkeeping and `degraded` go with it.
#[test]
fn flush_while_kept_positive() {
    let mut knot = Knot::start("www 1 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set_str("cache", "keep_positive", "1h"));
    let ask = Ask::new(WWW, RecordType::A);
    stubborn.ask(&ask);
    let fetched = Instant::now();
    knot.set_records("other 300 IN A 192.0.2.9");
    sleep_until(fetched, Duration::from_millis(1_300));
    let kept = stubborn.ask(&ask);
    assert_eq!(kept.ipv4s(), vec![OLD], "premise: kept positive: {}", kept.summary());
    assert!(kept.ede_codes().contains(&EDE_STALE_ANSWER), "{}", kept.summary());
    let entries = stubborn.lookup(WWW, Some("A"));
    assert_eq!(states(&entries), ["kept_positive"], "{entries:?}");
    assert_eq!(entries[0]["rcode"], "NOERROR");
    assert!(entries[0]["records"][0].as_str().unwrap_or("").contains("192.0.2.1"), "{entries:?}");
    let (_, status) = stubborn.get("/status");
    assert!(status.contains("kept_positive"), "premise: {status}");

    assert_eq!(stubborn.flush("name=www.example.test&type=A"), 1);
    let (_, status) = stubborn.get("/status");
    assert!(!status.contains("www.example.test."), "{status}");
    let empty = stubborn.ask(&ask);
    assert_eq!(empty.rcode(), ResponseCode::NXDomain, "the new data at once: {}", empty.summary());
    assert!(empty.ede().is_empty(), "{}", empty.summary());
    assert_eq!(states(&stubborn.lookup(WWW, None)), ["negative"]);
}

/// A flush while the name's fetch is in flight: the fetch's answer (taken
/// before the flush) still reaches the client that asked, but is not
/// cached, so the next query goes upstream for the new data.
#[test]
fn a_fetch_in_flight_does_not_resurrect_a_flushed_answer() {
    let fake = FakeUpstream::start(Mode::Slow(Duration::from_millis(800)));
    fake.set_ipv4(OLD);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "3s"));
    let dns = stubborn.dns;
    let name = "slow.example.test.";
    let client = std::thread::spawn(move || Ask::new(name, RecordType::A).try_send(dns));
    wait::until("the query to reach the upstream", Duration::from_secs(2), || {
        (fake.queries_for(name) > 0).then_some(())
    });
    fake.set_ipv4(NEW);
    stubborn.flush("name=slow.example.test");
    let first = client.join().expect("client thread").expect("the client asking before the flush is answered");
    assert_eq!(first.ipv4s(), vec![OLD], "{}", first.summary());
    assert!(stubborn.lookup(name, None).is_empty(), "the fetch stored nothing after the flush");
    fake.set_mode(Mode::Answer);
    let next = stubborn.ask(&Ask::new(name, RecordType::A));
    assert_eq!(next.ipv4s(), vec![NEW], "the next query goes upstream: {}", next.summary());
}

/// `zone=` drops the name and everything below it, on label boundaries.
#[test]
fn flush_zone_and_flush_all() {
    let knot = Knot::start(
        "sub 300 IN A 192.0.2.1\na.sub 300 IN A 192.0.2.2\nb.a.sub 300 IN A 192.0.2.3\nxsub 300 IN A 192.0.2.4",
    );
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    for name in ["sub", "a.sub", "b.a.sub", "xsub"] {
        stubborn.ask(&Ask::new(&format!("{name}.example.test."), RecordType::A));
    }
    stubborn.ask(&Ask::new("missing.example.test.", RecordType::A));
    assert_eq!(stubborn.flush("zone=SUB.example.test"), 3);
    assert!(stubborn.lookup("a.sub.example.test", None).is_empty());
    assert_eq!(stubborn.lookup("xsub.example.test", None).len(), 1, "xsub is not below sub");
    assert_eq!(stubborn.flush("all=1"), 2, "xsub and the negative entry");
    assert_eq!(stubborn.metric("stubborn_cache_entries"), 0.0);
    let (_, dump) = stubborn.get("/cache/dump");
    assert!(dump.lines().all(|l| l.starts_with("; stubborn cache dump")), "{dump}");
}

/// Each state with its numbers: a fresh entry counts its TTL down, a
/// negative one holds the SOA, an expired one reports how long ago.
#[test]
fn lookup_reports_fresh_negative_and_stale() {
    let knot = Knot::start_with_negative_ttl("www 300 IN A 192.0.2.1\nshort 1 IN A 192.0.2.5", 300);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    stubborn.ask(&Ask::new(WWW, RecordType::A));
    stubborn.ask(&Ask::new("gone.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("short.example.test.", RecordType::A));
    let asked = Instant::now();
    assert!(stubborn.lookup("nothing.example.test", None).is_empty());

    let fresh = &stubborn.lookup("www.example.test", None)[0];
    assert_eq!((fresh["name"].as_str(), fresh["type"].as_str()), (Some(WWW), Some("A")), "{fresh}");
    assert_eq!((fresh["state"].as_str(), fresh["rcode"].as_str()), (Some("fresh"), Some("NOERROR")), "{fresh}");
    let ttl = fresh["ttl"].as_u64().expect("ttl");
    assert!((295..=300).contains(&ttl), "{fresh}");
    assert_eq!(fresh["expired_for"], 0, "{fresh}");
    assert!(fresh["age"].as_u64().expect("age") <= 5, "{fresh}");
    let records: Vec<&str> = fresh["records"].as_array().expect("records").iter().filter_map(Value::as_str).collect();
    assert_eq!(records.len(), 1, "{fresh}");
    let fields: Vec<&str> = records[0].split_whitespace().collect();
    assert_eq!((fields[0], fields[2], fields[3], fields[4]), (WWW, "IN", "A", "192.0.2.1"), "{fresh}");

    let negative = &stubborn.lookup("gone.example.test", Some("A"))[0];
    assert_eq!((negative["state"].as_str(), negative["rcode"].as_str()), (Some("negative"), Some("NXDOMAIN")));
    assert!(negative["records"][0].as_str().unwrap_or("").contains("SOA"), "{negative}");

    sleep_until(asked, Duration::from_millis(2_500));
    let stale = &stubborn.lookup("short.example.test", Some("a"))[0];
    assert_eq!(stale["state"], "stale", "{stale}");
    assert_eq!(stale["ttl"], 0, "{stale}");
    assert!(stale["expired_for"].as_u64().expect("expired_for") >= 1, "{stale}");
    assert!(stale["age"].as_u64().expect("age") >= 2, "{stale}");
    let (status, body) = stubborn.get("/cache/lookup?type=A");
    assert_eq!(status, 400, "name is required: {body}");
}

/// The dump lists every cached entry once, its records in zone-file form.
#[test]
fn dump_lists_every_entry_once() {
    let mut zone = String::new();
    for i in 0..40 {
        zone.push_str(&format!("n{i} 300 IN A 192.0.2.{i}\n"));
    }
    let knot = Knot::start(&zone);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let mut names = Vec::new();
    for i in 0..40 {
        let name = format!("n{i}.example.test.");
        stubborn.ask(&Ask::new(&name, RecordType::A));
        names.push(name);
    }
    stubborn.ask(&Ask::new("n0.example.test.", RecordType::AAAA)); // NODATA
    let (status, dump) = stubborn.get("/cache/dump");
    assert_eq!(status, 200);
    let comments: Vec<&str> = dump.lines().filter(|l| l.starts_with("; ") && !l.contains("cache dump")).collect();
    assert_eq!(comments.len(), 41, "{dump}");
    for name in &names {
        let entry = format!("; {name} A NOERROR fresh ");
        assert_eq!(comments.iter().filter(|c| c.starts_with(&entry)).count(), 1, "{name}:\n{dump}");
        let record = format!("{name} ");
        assert_eq!(dump.lines().filter(|l| l.starts_with(&record)).count(), 1, "{name}:\n{dump}");
    }
    assert!(dump.contains("; n0.example.test. AAAA NOERROR negative "), "{dump}");
    let (_, json) = stubborn.get("/cache/dump?format=json");
    let json: Vec<Value> = serde_json::from_str(&json).expect("JSON list");
    assert_eq!(json.len(), 41);
}
