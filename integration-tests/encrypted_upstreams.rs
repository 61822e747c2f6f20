//! Scenario: stubborn forwards over DNS over TLS (RFC 7858) and DNS over
//! HTTPS (RFC 8484) to a real Unbound on loopback (`tls-port`,
//! `https-port`, a certificate from a CA made by the test), which forwards
//! to Knot. Pins: answers equal the plain ones; a wrong tls-name,
//! an untrusted CA and an expired certificate each fail over with the
//! reason in /status; killing the DoT server fails over, every upstream
//! down serves stale, and the DoT server is used again within
//! `probe_interval` of coming back; 200 sequential and 200 concurrent
//! queries share one connection, reopened after the server side closes it;
//! a DoH upstream given by host name resolves through `bootstrap`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use stubborn_test_support::dns::EDE_STALE_ANSWER;
use stubborn_test_support::proxy::CountingProxy;
use stubborn_test_support::test_ca::TestCa;
use stubborn_test_support::unbound::TLS_NAME;
use stubborn_test_support::wait;
use stubborn_test_support::{Ask, Config, Knot, Stubborn, Unbound, UnboundSpec};

/// `big` is a TXT RRset of about 1 200 octets: plain UDP at 512 would truncate it.
const RECORDS: &str = "www 300 IN A 192.0.2.80
www 300 IN AAAA 2001:db8::80
short 1 IN A 192.0.2.1
dns 300 IN A 127.0.0.1
*.wild 300 IN A 192.0.2.99
big 300 IN TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"
big 300 IN TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"
big 300 IN TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"
big 300 IN TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"
big 300 IN TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"";

/// Knot with [`RECORDS`] and Unbound in front of it, with a certificate for `names`.
fn servers(ca: &TestCa, names: &[&str], expired: bool, idle: Duration) -> (Knot, Unbound) {
    let knot = Knot::start(RECORDS);
    let (cert, key) = ca.leaf_files(names, expired);
    let spec = UnboundSpec { forward_to: knot.addr, cert: &cert, key: &key, tcp_idle_timeout: idle };
    let unbound = Unbound::start(&spec);
    (knot, unbound)
}

fn with_ca(config: Config, ca: &TestCa) -> Config {
    config.set_str("upstream", "ca_file", &ca.pem_path().display().to_string())
}

/// The /status entry of `upstream`.
fn upstream_status(stubborn: &Stubborn, upstream: &str) -> Value {
    let (code, body) = stubborn.get("/status");
    assert_eq!(code, 200, "{body}");
    let status: Value = serde_json::from_str(&body).expect("/status is JSON");
    status["upstreams"]
        .as_array()
        .and_then(|all| all.iter().find(|u| u["upstream"] == upstream))
        .cloned()
        .unwrap_or_else(|| panic!("{upstream} not in /status: {body}"))
}

fn ok_queries(stubborn: &Stubborn, upstream: &str) -> f64 {
    let query = format!("stubborn_upstream_queries_total{{upstream=\"{upstream}\",result=\"ok\"}}");
    stubborn_test_support::metrics::metric_in(&stubborn.metrics(), &query)
}

#[test]
fn answers_over_dot_and_doh_equal_the_plain_ones() {
    let ca = TestCa::new("equal");
    let (knot, unbound) = servers(&ca, &[TLS_NAME], false, Duration::from_secs(30));
    for server in [unbound.tls_server(), unbound.https_server()] {
        let stubborn = Stubborn::start(with_ca(Config::new(&[&server]), &ca));
        let asks = [
            Ask::new("www.example.test.", RecordType::A),
            Ask::new("www.example.test.", RecordType::AAAA),
            Ask::new("nothing-here.example.test.", RecordType::A),
            Ask::new("big.example.test.", RecordType::TXT).tcp(),
        ];
        for ask in &asks {
            let plain = knot.ask(ask);
            let encrypted = stubborn.ask(ask);
            assert_eq!(encrypted.rcode(), plain.rcode(), "{server} {}: {}", ask.name(), encrypted.summary());
            assert_eq!(encrypted.answer_set(), plain.answer_set(), "{server} {}", ask.name());
            assert!(!encrypted.truncated(), "{server}: {}", encrypted.summary());
        }
        assert_eq!(upstream_status(&stubborn, &server)["up"], true);
        assert!(ok_queries(&stubborn, &server) >= 4.0, "every answer came over {server}");
    }
}

/// Each bad certificate fails the handshake, the next upstream (Knot, plain)
/// answers, and /status says which check failed.
#[test]
fn wrong_name_untrusted_ca_and_expired_certificate_fail_over_with_the_reason() {
    let ca = TestCa::new("trusted");
    let other_ca = TestCa::new("untrusted");
    let (knot, good) = servers(&ca, &[TLS_NAME], false, Duration::from_secs(30));
    let (_knot2, untrusted) = servers(&other_ca, &[TLS_NAME], false, Duration::from_secs(30));
    let (_knot3, expired) = servers(&ca, &[TLS_NAME], true, Duration::from_secs(30));
    let cases = [
        (format!("tls://{}#wrong.test", good.tls), "certificate not valid for name wrong.test"),
        (format!("https://{}/dns-query#wrong.test", good.https), "certificate not valid for name wrong.test"),
        (untrusted.tls_server(), "unknown issuer"),
        (expired.tls_server(), "certificate expired"),
        (expired.https_server(), "certificate expired"),
    ];
    let mut list: Vec<String> = cases.iter().map(|(server, _)| server.clone()).collect();
    list.push(knot.server());
    let stubborn = Stubborn::start(with_ca(Config::new(&list).set("upstream", "fail_after", "3"), &ca));
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", reply.summary());
    for (server, reason) in &cases {
        let status = upstream_status(&stubborn, server);
        let last_error = status["last_error"].as_str().unwrap_or_default();
        assert!(last_error.contains(reason), "{server}: last_error {last_error:?} should say {reason:?}");
        assert!(last_error.starts_with("TLS handshake failed"), "{server}: {last_error}");
    }
    assert!(ok_queries(&stubborn, &knot.server()) >= 1.0, "Knot answered");
}

/// Kill the DoT server: Knot (plain, second) answers; kill Knot too: stale;
/// both back: the DoT server is up and asked first again within a probe interval.
#[test]
fn dot_outage_fails_over_serves_stale_and_recovers_within_probe_interval() {
    let ca = TestCa::new("outage");
    let (mut knot, mut unbound) = servers(&ca, &[TLS_NAME], false, Duration::from_secs(30));
    let tls = unbound.tls_server();
    let stubborn = Stubborn::start(with_ca(Config::new(&[tls.clone(), knot.server()]), &ca));
    let first = stubborn.ask(&Ask::new("short.example.test.", RecordType::A));
    let fetched = Instant::now();
    assert_eq!(first.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", first.summary());
    // The first query also opens the TLS connection: on a busy machine that
    // can outlast the hedge delay (Knot is asked too and may answer first),
    // but the DoT attempt still completes and counts.
    let dot_ok = format!("stubborn_upstream_queries_total{{upstream=\"{tls}\",result=\"ok\"}}");
    stubborn.wait_metric(&dot_ok, Duration::from_secs(3), |v| v == 1.0);

    unbound.stop();
    let failover = stubborn.ask(&Ask::new("a.wild.example.test.", RecordType::A));
    assert_eq!(failover.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "{}", failover.summary());
    let status = upstream_status(&stubborn, &tls);
    assert_eq!(status["up"], false, "{status}");
    assert!(status["last_error"].as_str().is_some_and(|e| e.contains("refused")), "{status}");

    knot.stop();
    wait::sleep_until(fetched, Duration::from_millis(1_500)); // past short's 1 s TTL
    let stale = stubborn.ask(&Ask::new("short.example.test.", RecordType::A));
    assert_eq!(stale.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)], "{}", stale.summary());
    assert!(stale.ede_codes().contains(&EDE_STALE_ANSWER), "stale: {}", stale.summary());
    assert_eq!(stale.answer_ttls(), vec![30], "{}", stale.summary());

    knot.start_again();
    unbound.start_again();
    let back = Instant::now();
    wait::until("the DoT upstream up again", Duration::from_secs(5), || {
        (upstream_status(&stubborn, &tls)["up"] == true).then_some(())
    });
    // probe_interval is 200 ms in the tests; the margin covers a loaded machine.
    assert!(back.elapsed() < Duration::from_millis(200 + 1_500), "up after {:?}", back.elapsed());
    let before = ok_queries(&stubborn, &tls);
    let again = stubborn.ask(&Ask::new("b.wild.example.test.", RecordType::A));
    assert_eq!(again.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "{}", again.summary());
    // Asked first again; it may be the second to answer (a new connection).
    stubborn.wait_metric(&dot_ok, Duration::from_secs(3), |v| v > before);
}

/// 200 sequential then 200 concurrent misses over one upstream open one
/// connection; cut by the server side, the next query opens a second.
fn one_connection(https: bool) {
    let ca = TestCa::new("reuse");
    let (_knot, unbound) = servers(&ca, &[TLS_NAME], false, Duration::from_secs(30));
    let proxy = CountingProxy::start(if https { unbound.https } else { unbound.tls });
    let server = if https {
        format!("https://{}/dns-query#{TLS_NAME}", proxy.addr)
    } else {
        format!("tls://{}#{TLS_NAME}", proxy.addr)
    };
    let stubborn = Stubborn::start(with_ca(Config::new(&[&server]).set_str("upstream", "timeout", "2s"), &ca));
    for i in 0..200 {
        let reply = stubborn.ask(&Ask::new(&format!("s{i}.wild.example.test."), RecordType::A));
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "query {i}: {}", reply.summary());
    }
    assert_eq!(proxy.accepted(), 1, "200 sequential queries over {server}");

    let replies: Vec<_> = std::thread::scope(|scope| {
        let askers: Vec<_> = (0..200)
            .map(|i| {
                let stubborn = &stubborn;
                scope.spawn(move || stubborn.ask(&Ask::new(&format!("c{i}.wild.example.test."), RecordType::A)))
            })
            .collect();
        askers.into_iter().map(|a| a.join().expect("asker thread")).collect()
    });
    for reply in &replies {
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "{}", reply.summary());
    }
    assert_eq!(proxy.accepted(), 1, "200 concurrent queries over {server}");
    assert_eq!(ok_queries(&stubborn, &server), 400.0);

    proxy.cut_all();
    std::thread::sleep(Duration::from_millis(100));
    let reply = stubborn.ask(&Ask::new("after-cut.wild.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "{}", reply.summary());
    assert_eq!(proxy.accepted(), 2, "reopened once after the cut");
    assert_eq!(upstream_status(&stubborn, &server)["up"], true);
}

#[test]
fn dot_queries_share_one_connection_reopened_after_a_close() {
    one_connection(false);
}

#[test]
fn doh_queries_share_one_connection_reopened_after_a_close() {
    one_connection(true);
}

/// Unbound closes idle connections after 300 ms here; the next query,
/// later, opens a new one and is answered.
#[test]
fn a_connection_the_server_closed_when_idle_is_reopened() {
    let ca = TestCa::new("idle");
    let (_knot, unbound) = servers(&ca, &[TLS_NAME], false, Duration::from_millis(300));
    let proxy = CountingProxy::start(unbound.tls);
    let server = format!("tls://{}#{TLS_NAME}", proxy.addr);
    let stubborn = Stubborn::start(with_ca(Config::new(&[&server]), &ca));
    for i in 0..3 {
        let reply = stubborn.ask(&Ask::new(&format!("idle{i}.wild.example.test."), RecordType::A));
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
        assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 99)], "{}", reply.summary());
        std::thread::sleep(Duration::from_millis(800));
    }
    assert_eq!(proxy.accepted(), 3, "one connection per idle period");
    assert_eq!(upstream_status(&stubborn, &server)["up"], true, "an idle close is no failure");
}

/// The host name of a DoH upstream is resolved through `bootstrap` (Knot,
/// which serves `dns.example.test A 127.0.0.1`); nothing else could resolve it.
#[test]
fn doh_upstream_by_host_name_resolves_through_bootstrap() {
    let ca = TestCa::new("bootstrap");
    let (knot, unbound) = servers(&ca, &["dns.example.test"], false, Duration::from_secs(30));
    let server = format!("https://dns.example.test:{}/dns-query", unbound.https.port());
    let config = Config::new(&[&server]).set("upstream", "bootstrap", &format!("[\"{}\"]", knot.server()));
    let stubborn = Stubborn::start(with_ca(config, &ca));
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(reply.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 80)], "{}", reply.summary());
    assert_eq!(ok_queries(&stubborn, &server), 1.0, "answered over DoH");
    assert_eq!(ok_queries(&stubborn, &knot.server()), 0.0, "Knot is no upstream, only the bootstrap");
}
