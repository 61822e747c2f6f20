//! Scenario: a fleet of stubborns shares its last good answers in a real
//! Redis (`[fleet]`): standalone, a three-master Cluster, and over TLS.
//! Nodes A and B warm up from Knot; Knot stops; node C starts with an empty
//! cache and no snapshot, during the outage, and answers every name A and B
//! had (stale, EDE 3, source `fleet`). The same when the provider publishes
//! an empty record instead: C serves the last good records and all three
//! accept the empty answer together, `keep_positive` after it first
//! appeared. A store that is killed changes nothing but the counters and
//! comes back; a forged or garbage value is never answered; a flood of names
//! writes at most `publish_rate` a second; a `serve_stale = false` zone is
//! never read from the store.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::wait;
use stubborn_test_support::{Ask, Config, Knot, Redis, RedisCluster, Stubborn};

const NAMES: usize = 20;

fn zone() -> String {
    (0..NAMES).map(|i| format!("n{i} 300 IN A 192.0.2.{}\n", i + 1)).collect()
}

fn name(i: usize) -> String {
    format!("n{i}.example.test.")
}

fn address(i: usize) -> Vec<Ipv4Addr> {
    vec![Ipv4Addr::new(192, 0, 2, (i + 1) as u8)]
}

/// A node of the fleet: `store` URLs, optional extra `[fleet]` lines.
fn node(knot: &Knot, store: &[String], extra: &str) -> Stubborn {
    let urls = store.iter().map(|url| format!("\"{url}\"")).collect::<Vec<_>>().join(", ");
    Stubborn::start(Config::new(&[knot.server()]).append(&format!("[fleet]\nstore = [{urls}]\n{extra}")))
}

/// Waits until `node` has published at least `count` answers.
fn published(node: &Stubborn, count: usize) {
    node.wait_metric(r#"stubborn_fleet_published_total{result="ok"}"#, Duration::from_secs(10), |n| n >= count as f64);
}

/// A and B each look up half the names, Knot stops, C starts: every name is
/// answered by C from the store.
fn new_node_answers_what_the_fleet_had(store: &[String], extra: &str) {
    let mut knot = Knot::start(&zone());
    let a = node(&knot, store, extra);
    let b = node(&knot, store, extra);
    for i in 0..NAMES {
        let asker = if i % 2 == 0 { &a } else { &b };
        assert_eq!(asker.ask(&Ask::new(&name(i), RecordType::A)).ipv4s(), address(i));
    }
    published(&a, NAMES / 2);
    published(&b, NAMES / 2);
    knot.stop();

    let c = node(&knot, store, extra);
    c.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    for i in 0..NAMES {
        let reply = c.ask(&Ask::new(&name(i), RecordType::A));
        assert_eq!(reply.ipv4s(), address(i), "{}: {}", name(i), reply.summary());
        assert!(reply.ede_codes().contains(&EDE_STALE_ANSWER), "{}", reply.summary());
        assert!(reply.elapsed < Duration::from_millis(1_500), "{} took {:?}", name(i), reply.elapsed);
    }
    assert_eq!(c.metric(r#"stubborn_answers_total{source="fleet"}"#), NAMES as f64);
    // Cached locally: asked again, no second read.
    let again = c.ask(&Ask::new(&name(0), RecordType::A));
    assert_eq!(again.ipv4s(), address(0));
    assert_eq!(c.metric(r#"stubborn_fleet_reads_total{result="hit"}"#), NAMES as f64);
}

#[test]
fn a_node_started_mid_outage_answers_from_a_standalone_store_with_a_password() {
    let redis = Redis::start_with_password("fleet-s3cret");
    let dir = tempfile::tempdir().expect("temp dir");
    let password_file = dir.path().join("fleet.password");
    std::fs::write(&password_file, "fleet-s3cret\n").expect("write password");
    new_node_answers_what_the_fleet_had(&[redis.url()], &format!("password_file = \"{}\"\n", password_file.display()));
}

#[test]
fn a_node_started_mid_outage_answers_from_a_cluster() {
    let cluster = RedisCluster::start(3);
    new_node_answers_what_the_fleet_had(&cluster.urls(), "");
}

#[test]
fn a_node_started_mid_outage_answers_from_a_tls_store_with_a_key() {
    let redis = Redis::start_tls();
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("fleet.key");
    std::fs::write(&key_file, [7u8; 32]).expect("write key");
    let extra = format!("ca_file = \"{}\"\nkey_file = \"{}\"\n", redis.ca_file().display(), key_file.display());
    new_node_answers_what_the_fleet_had(&[redis.url()], &extra);
}

#[test]
fn the_fleet_keeps_the_last_good_records_over_an_empty_answer_and_accepts_it_together() {
    let redis = Redis::start();
    let mut knot = Knot::start(&zone());
    let fleet_node = |knot: &Knot| {
        let config = Config::new(&[knot.server()])
            .set("cache", "keep_positive", "\"6s\"")
            .append(&format!("[fleet]\nstore = [\"{}\"]\n", redis.url()));
        Stubborn::start(config)
    };
    let a = fleet_node(&knot);
    let b = fleet_node(&knot);
    assert_eq!(a.ask(&Ask::new(&name(0), RecordType::A)).ipv4s(), address(0));
    assert_eq!(b.ask(&Ask::new(&name(0), RecordType::A)).ipv4s(), address(0));
    published(&a, 1);
    // The provider empties the record (the name is now NXDOMAIN).
    knot.set_records("other 300 IN A 192.0.2.99");
    a.flush("name=n0.example.test");
    let first = Instant::now();
    // A sees the empty answer first (flushed, so its next query asks), and keeps
    // nothing: its cache is empty; the fleet's records win.
    let from_a = a.ask(&Ask::new(&name(0), RecordType::A));
    assert_eq!(from_a.ipv4s(), address(0), "the fleet's last good records: {}", from_a.summary());
    // C starts now: it never saw the name; the fleet's records and first-seen time apply.
    let c = fleet_node(&knot);
    let from_c = c.ask(&Ask::new(&name(0), RecordType::A));
    assert_eq!(from_c.ipv4s(), address(0), "{}", from_c.summary());
    assert!(from_c.ede_codes().contains(&EDE_STALE_ANSWER), "{}", from_c.summary());

    // B, asking afresh 4 s in, still gets the records: the fleet's clock, not its own, counts.
    wait::sleep_until(first, Duration::from_millis(4_000));
    b.flush("name=n0.example.test");
    let from_b = b.ask(&Ask::new(&name(0), RecordType::A));
    assert_eq!(from_b.ipv4s(), address(0), "{}", from_b.summary());

    // All accept the empty answer at the same moment, 6 s after it first appeared.
    wait::sleep_until(first, Duration::from_millis(6_500));
    for (label, node) in [("A", &a), ("B", &b), ("C", &c)] {
        node.flush("name=n0.example.test");
        let reply = node.ask(&Ask::new(&name(0), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NXDomain, "{label} accepts the empty answer: {}", reply.summary());
    }
}

#[test]
fn a_killed_store_costs_nothing_and_is_found_again() {
    let mut redis = Redis::start();
    let knot = Knot::start(&zone());
    let a = node(&knot, &[redis.url()], "");
    a.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    redis.stop();
    // Misses and hits are answered as fast as without a store.
    for i in 0..NAMES {
        let reply = a.ask(&Ask::new(&name(i), RecordType::A));
        assert_eq!(reply.ipv4s(), address(i), "{}", reply.summary());
        assert!(reply.elapsed < Duration::from_millis(200), "{} took {:?}", name(i), reply.elapsed);
    }
    a.wait_metric("stubborn_fleet_up", Duration::from_secs(5), |up| up == 0.0);
    // A name nobody has, with the store down: SERVFAIL comes as fast as without it.
    let mut knot = knot;
    knot.stop();
    let missing = a.ask(&Ask::new("never.example.test.", RecordType::A));
    assert_eq!(missing.rcode(), ResponseCode::ServFail, "{}", missing.summary());
    assert!(missing.elapsed < Duration::from_millis(500), "took {:?}", missing.elapsed);
    let (status, body) = a.get("/status");
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
    assert_eq!(status["fleet"]["up"], false, "{body}");
    assert!(status["fleet"]["last_error"].is_string(), "{body}");
    assert_eq!(a.log().matches("fleet store down").count(), 1, "one line per change:\n{}", a.log());

    knot.start_again();
    redis.start_again();
    a.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    a.flush("all=1");
    assert_eq!(a.ask(&Ask::new(&name(3), RecordType::A)).ipv4s(), address(3));
    published(&a, 1);
    assert_ne!(redis.cli(&["DBSIZE"]), "0", "published again after the restart");
}

#[test]
fn forged_and_garbage_values_are_never_answered() {
    let redis = Redis::start();
    let mut knot = Knot::start(&zone());
    let dir = tempfile::tempdir().expect("temp dir");
    let write_key = |file: &Path, byte: u8| std::fs::write(file, [byte; 32]).expect("write key");
    let (ours, theirs) = (dir.path().join("ours.key"), dir.path().join("theirs.key"));
    write_key(&ours, 1);
    write_key(&theirs, 2);
    let key_line = |file: &Path| format!("key_file = \"{}\"\n", file.display());
    // A forger with another key publishes n0; garbage is written under n1's key.
    let forger = node(&knot, &[redis.url()], &key_line(&theirs));
    assert_eq!(forger.ask(&Ask::new(&name(0), RecordType::A)).ipv4s(), address(0));
    published(&forger, 1);
    redis.cli(&["SET", "stubborn:r:n1.example.test.:1:1:0", "\u{1}\u{2}garbage"]);
    knot.stop();

    let c = node(&knot, &[redis.url()], &key_line(&ours));
    c.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    for i in [0, 1] {
        let reply = c.ask(&Ask::new(&name(i), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}: {}", name(i), reply.summary());
    }
    assert_eq!(c.metric(r#"stubborn_fleet_reads_total{result="rejected"}"#), 1.0);
    assert_eq!(c.metric(r#"stubborn_fleet_reads_total{result="invalid"}"#), 1.0);
}

#[test]
fn a_flood_of_names_writes_at_most_publish_rate() {
    let redis = Redis::start();
    let knot = Knot::start("* 300 IN A 192.0.2.77");
    let a = node(&knot, &[redis.url()], "publish_rate = 50\n");
    let started = Instant::now();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let mut buf = [0u8; 1500];
    for i in 0..3_000u16 {
        let query = stubborn_test_support::dns::raw_query(i, 0x0100, 1, &format!("f{i}.example.test."), 1);
        socket.send_to(&query, a.dns).expect("send");
        let _ = socket.recv(&mut buf);
    }
    let seconds = started.elapsed().as_secs_f64() + 1.0;
    std::thread::sleep(Duration::from_millis(500));
    let written = a.metric(r#"stubborn_fleet_published_total{result="ok"}"#);
    let dropped = a.metric(r#"stubborn_fleet_published_total{result="dropped"}"#);
    assert!(written <= 50.0 * (seconds + 1.0), "{written} writes in {seconds:.1} s at publish_rate 50");
    assert!(dropped > 0.0, "the rest were dropped and counted");
    let keys: f64 = redis.cli(&["DBSIZE"]).parse().expect("DBSIZE");
    assert!(keys <= written, "{keys} keys, {written} writes");
}

#[test]
fn a_zone_without_stale_answers_is_never_read_from_the_store() {
    let redis = Redis::start();
    let mut knot = Knot::start(&zone());
    let rule = "[[cache.rule]]\nzone = \"n1.example.test\"\nserve_stale = false\n";
    let with_rule = |knot: &Knot| {
        Stubborn::start(
            Config::new(&[knot.server()]).append(rule).append(&format!("[fleet]\nstore = [\"{}\"]\n", redis.url())),
        )
    };
    let a = node(&knot, &[redis.url()], "");
    for i in [0, 1] {
        assert_eq!(a.ask(&Ask::new(&name(i), RecordType::A)).ipv4s(), address(i));
    }
    published(&a, 2);
    knot.stop();
    let c = with_rule(&knot);
    c.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    assert_eq!(c.ask(&Ask::new(&name(0), RecordType::A)).ipv4s(), address(0));
    let login = c.ask(&Ask::new(&name(1), RecordType::A));
    assert_eq!(login.rcode(), ResponseCode::ServFail, "{}", login.summary());
    let reads: f64 = ["hit", "miss", "error"]
        .iter()
        .map(|result| c.metric(&format!("stubborn_fleet_reads_total{{result=\"{result}\"}}")))
        .sum();
    assert_eq!(reads, 1.0, "only n0 was read");
}

/// Behind a silent pool counted down, a name the store does not have: the
/// read (a quick miss) ends before the fetch gives up, and the client still
/// gets its SERVFAIL at once (a finished read was once polled again, and the
/// query's task died without a reply).
#[test]
fn a_store_miss_behind_a_silent_pool_is_a_quick_servfail() {
    let redis = Redis::start();
    let silent = stubborn_test_support::FakeUpstream::start(stubborn_test_support::Mode::Blackhole);
    let config = Config::new(&[silent.server()])
        .set("upstream", "fail_after", "1")
        .append(&format!("[fleet]\nstore = [\"{}\"]\n", redis.url()));
    let node = Stubborn::start(config);
    node.wait_metric("stubborn_fleet_up", Duration::from_secs(10), |up| up == 1.0);
    assert_eq!(node.ask(&Ask::new("first.example.test.", RecordType::A)).rcode(), ResponseCode::ServFail);
    for i in 0..20 {
        let reply = node.ask(&Ask::new(&format!("m{i}.example.test."), RecordType::A).timeout(Duration::from_secs(2)));
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.summary());
        assert!(reply.elapsed < Duration::from_millis(300), "took {:?}", reply.elapsed);
    }
    assert!(node.metric(r#"stubborn_fleet_reads_total{result="miss"}"#) >= 20.0);
}
