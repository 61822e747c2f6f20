//! Scenario: clients query stubborn over TCP (RFC 1035 section 4.2.2 framing,
//! RFC 7766): the answer equals the authoritative's, several queries can be
//! sent one after another on one connection, and TCP queries are counted
//! under `protocol="tcp"`.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::io::Write;

use stubborn_test_support::dns::read_tcp_message;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

const ZONE: &str = "www 300 IN A 192.0.2.1\nwww 300 IN AAAA 2001:db8::1\napi 300 IN A 192.0.2.7";

#[test]
fn tcp_answer_equals_authoritative() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    for qtype in [RecordType::A, RecordType::AAAA] {
        let ask = Ask::new("www.example.test.", qtype).tcp();
        let direct = knot.ask(&ask);
        let via = stubborn.ask(&ask);
        assert_eq!(via.rcode(), ResponseCode::NoError, "{}", via.summary());
        assert_eq!(via.answer_set(), direct.answer_set(), "{qtype} over TCP");
        assert_eq!(via.msg.metadata.id, via.query_id);
    }
    let tcp = stubborn.metric(r#"stubborn_queries_total{protocol="tcp"}"#);
    assert!(tcp >= 2.0, "stubborn_queries_total{{protocol=\"tcp\"}} = {tcp}, expected >= 2");
}

/// RFC 7766 section 6.2.1: a client may send several queries on one
/// connection; each gets its own reply.
#[test]
fn several_queries_on_one_tcp_connection() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let mut stream = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2)).expect("connect");
    for (i, name) in ["www.example.test.", "api.example.test.", "www.example.test."].iter().enumerate() {
        let query = Ask::new(name, RecordType::A).id(100 + i as u16).message();
        let wire = query.to_vec().expect("encode");
        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&wire);
        stream.write_all(&framed).expect("write query");
        let raw = read_tcp_message(&mut stream, Instant::now() + Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("query {i} ({name}) on the same connection: {e}"));
        let reply = Message::from_vec(&raw).expect("reply parses");
        assert_eq!(reply.metadata.id, 100 + i as u16);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1, "query {i} ({name}): {reply:?}");
    }
}

/// RFC 7766 section 6.2.1.1: queries pipelined on one connection are
/// processed at once and each reply is sent when ready, so cache hits sent
/// behind a slow miss are answered first, without waiting for it.
#[test]
fn pipelined_cache_hits_do_not_wait_behind_a_slow_miss() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set_str("upstream", "timeout", "3s"));
    let hits = ["h1.example.test.", "h2.example.test.", "h3.example.test."];
    for name in hits {
        stubborn.ask(&Ask::new(name, RecordType::A));
    }
    fake.set_mode(Mode::Slow(Duration::from_millis(800)));

    let mut stream = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2)).expect("connect");
    let mut framed = Vec::new();
    for (id, name) in std::iter::once("slow-miss.example.test.").chain(hits).enumerate() {
        let wire = Ask::new(name, RecordType::A).id(id as u16).message().to_vec().expect("encode");
        framed.extend_from_slice(&(wire.len() as u16).to_be_bytes());
        framed.extend_from_slice(&wire);
    }
    let sent = Instant::now();
    stream.write_all(&framed).expect("write four queries at once");
    let mut order = Vec::new();
    for _ in 0..4 {
        let raw = read_tcp_message(&mut stream, sent + Duration::from_secs(5)).expect("a reply for every query");
        let reply = Message::from_vec(&raw).expect("reply parses");
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{reply:?}");
        assert_eq!(reply.answers.len(), 1, "{reply:?}");
        order.push((reply.metadata.id, sent.elapsed()));
    }
    let ids: Vec<u16> = order.iter().map(|(id, _)| *id).collect();
    assert_eq!(*ids.last().unwrap(), 0, "the slow miss is answered last: {order:?}");
    for (id, took) in &order[..3] {
        assert!(*took < Duration::from_millis(300), "cache hit {id} waited {took:?} (behind the miss?): {order:?}");
    }
    assert!(order[3].1 >= Duration::from_millis(700), "the miss went upstream: {order:?}");
}

/// RFC 7766 section 6.2.3: idle clients must not lock new ones out. With
/// more idle connections open than the limit (512 by default), a new
/// client's query is still answered at once: the connection idle longest
/// is closed to admit it.
#[test]
fn idle_connections_beyond_the_limit_do_not_lock_out_a_new_client() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let idle: Vec<TcpStream> = (0..600)
        .map(|i| {
            TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("idle {i}: {e}"))
        })
        .collect();
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A).tcp());
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    assert!(reply.elapsed < Duration::from_millis(500), "a new TCP client waited {:?}", reply.elapsed);
    // The oldest idle connection was closed to make room; the newest is open.
    let mut oldest = idle.first().expect("600 connections").try_clone().expect("clone");
    let raw = read_tcp_message(&mut oldest, Instant::now() + Duration::from_secs(2));
    assert!(raw.is_err_and(|e| e.kind() == std::io::ErrorKind::UnexpectedEof), "the idlest connection is closed");
    let status: serde_json::Value = serde_json::from_str(&stubborn.get("/status").1).expect("status is JSON");
    assert_eq!(status["tcp"]["limit"], 512, "{status}");
    let warned = stubborn.log().lines().any(|l| l.contains("connection limit reached") && l.contains("listener=tcp"));
    assert!(warned, "warned once: {}", stubborn.log());
    drop(idle);
}

/// `tcp_idle_timeout` and `tcp_connections` are configurable.
#[test]
fn idle_timeout_and_limit_follow_the_config() {
    let knot = Knot::start(ZONE);
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("server", "tcp_connections", "3").set_str(
        "server",
        "tcp_idle_timeout",
        "1s",
    ));
    let mut idle = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2)).expect("connect");
    let opened = Instant::now();
    let closed = read_tcp_message(&mut idle, opened + Duration::from_secs(4));
    assert!(closed.is_err_and(|e| e.kind() == std::io::ErrorKind::UnexpectedEof), "closed when idle");
    let took = opened.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(2_500), "closed after {took:?}");

    let held: Vec<TcpStream> =
        (0..5).map(|_| TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2)).expect("connect")).collect();
    let reply = stubborn.ask(&Ask::new("www.example.test.", RecordType::A).tcp());
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
    let status: serde_json::Value = serde_json::from_str(&stubborn.get("/status").1).expect("status is JSON");
    assert!(status["tcp"]["connections"].as_u64().is_some_and(|n| n <= 3), "{status}");
    drop(held);
}

/// 600 connections each announce a 65 535-byte message and send 10 bytes of
/// it: stubborn's memory grows with the bytes sent, not with the lengths
/// announced (which took 64 KiB a connection, 32 MiB at the 512-connection
/// limit, for anyone who may open TCP connections).
#[test]
fn announced_lengths_cost_no_memory_until_the_bytes_arrive() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let warm = stubborn.ask(&Ask::new("www.example.test.", RecordType::A).tcp());
    assert_eq!(warm.rcode(), ResponseCode::NoError, "{}", warm.summary());
    let before = stubborn.memory_kib("VmRSS");
    let mut announced = [0u8; 12];
    announced[..2].copy_from_slice(&u16::MAX.to_be_bytes());
    let held: Vec<TcpStream> = (0..600)
        .map(|i| {
            let mut stream = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"));
            stream.write_all(&announced).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            stream
        })
        .collect();
    wait::until("stubborn to hold 512 connections", Duration::from_secs(10), || {
        let status: serde_json::Value = serde_json::from_str(&stubborn.get("/status").1).ok()?;
        (status["tcp"]["connections"].as_u64()? >= 512).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300)); // each connection's reader at its bytes
    let grown = stubborn.memory_kib("VmRSS").saturating_sub(before);
    assert!(grown < 5 * 1024, "RSS grew by {grown} KiB for 600 connections of 12 bytes each");
    drop(held);
}
