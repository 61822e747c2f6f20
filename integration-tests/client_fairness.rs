//! Scenario: one client (127.0.0.2, a device on a router looping on unique
//! names) floods stubborn with misses that a slow upstream takes 1.5 s to
//! answer, while another client (127.0.0.1) looks names up at 20 per second.
//! The flooder may hold only its share of the queries waiting on upstream,
//! so the other client's misses are all answered, as fast as without the
//! flood; with `client_rate`, the flood is also dropped past the client's
//! rate and counted in `stubborn_rate_limited_total`.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::raw_query;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

/// Unique names under `slow.test.` from 127.0.0.2 for `length`, about 4000
/// a second (enough to fill the 1024 fetches stubborn runs at once in a
/// quarter of a second; replies read and dropped); bounded to 200 000
/// queries. Returns how many were sent and how many answered.
fn flood(server: SocketAddr, length: Duration) -> (usize, usize) {
    let socket = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    socket.connect(server).expect("connect");
    socket.set_nonblocking(true).expect("nonblocking");
    let end = Instant::now() + length;
    let (mut sent, mut answered) = (0, 0);
    let mut buf = [0u8; 1500];
    while Instant::now() < end && sent < 200_000 {
        if socket.send(&raw_query(sent as u16, 0x0100, 1, &format!("n{sent}.slow.test."), 1)).is_ok() {
            sent += 1;
        }
        while socket.recv(&mut buf).is_ok() {
            answered += 1;
        }
        if sent % 4 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    (sent, answered)
}

/// 80 unique names from Knot at 20 per second from 127.0.0.1; returns the
/// answers' latencies, sorted, after checking each one is the address.
fn look_up(stubborn: &Stubborn, round: &str) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = (0..80)
        .map(|i| {
            let started = Instant::now();
            let reply = stubborn.ask(&Ask::new(&format!("{round}{i}.example.test."), RecordType::A));
            assert_eq!(reply.rcode(), ResponseCode::NoError, "{round}{i}: {}", reply.summary());
            assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
            thread::sleep(Duration::from_millis(50).saturating_sub(started.elapsed()));
            reply.elapsed
        })
        .collect();
    latencies.sort();
    latencies
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 99 / 100]
}

fn setup(config: impl FnOnce(Config) -> Config) -> (Knot, FakeUpstream, Stubborn) {
    let knot = Knot::start("* 300 IN A 192.0.2.10");
    let slow = FakeUpstream::start(Mode::Slow(Duration::from_millis(1_500)));
    let base = Config::new(&[knot.server()])
        .set_str("upstream", "timeout", "3s")
        .set("upstream", "fail_after", "3")
        .set("server", "allow", "[\"127.0.0.0/8\"]")
        .append(&format!("[[upstream.zone]]\nname = \"slow.test\"\nservers = [\"{}\"]\n", slow.server()));
    let stubborn = Stubborn::start(config(base));
    (knot, slow, stubborn)
}

#[test]
fn a_flooding_client_cannot_take_the_others_upstream_share() {
    let (_knot, slow, stubborn) = setup(|config| config);
    let quiet = look_up(&stubborn, "before");
    let dns = stubborn.dns;
    let flooder = thread::spawn(move || flood(dns, Duration::from_secs(6)));
    thread::sleep(Duration::from_millis(500));
    let flooded = look_up(&stubborn, "during");
    let (sent, _) = flooder.join().expect("flood thread");
    assert!(sent > 5_000, "the flood sent {sent} queries");
    assert!(
        p99(&flooded) <= p99(&quiet) + Duration::from_millis(250),
        "p99 during the flood {:?}, before {:?}",
        p99(&flooded),
        p99(&quiet)
    );
    // The flooder held a quarter of the 1024 fetches at most, and got its other misses shed.
    assert!(slow.queries() <= 1_024 * 6 / 4, "the slow upstream saw {} queries", slow.queries());
    assert!(stubborn.metric("stubborn_upstream_fetches_shed_total") > 0.0);
}

#[test]
fn queries_over_client_rate_are_dropped_and_counted() {
    let (_knot, _slow, stubborn) =
        setup(|config| config.set("server", "client_rate", "100").set("server", "client_burst", "200"));
    let dns = stubborn.dns;
    let (sent, answered) = flood(dns, Duration::from_secs(3));
    assert!(sent > 2_000, "the flood sent {sent} queries");
    let dropped = stubborn.metric("stubborn_rate_limited_total");
    // 200 of burst and 100 per second: about 500 in 3 s (the slow answers come after the flood ends).
    assert!(dropped >= (sent - 700) as f64, "{dropped} of {sent} dropped, {answered} answered");
    let during = look_up(&stubborn, "exempt");
    assert_eq!(during.len(), 80, "127.0.0.1 is exempt by default");
}
