//! Scenario: the admin endpoint is reachable from an address outside
//! `[admin] allow` (here a client bound to 127.0.0.2, with allow =
//! 127.0.0.1/32): it gets 403 and nothing else — no status, no metrics, no
//! flush — while /healthz and /readyz answer everyone, since probes come
//! from the node, one request per connection. A client let in by `allow`
//! but outside `[admin] control_allow` reads /metrics, /status and the
//! status page (/), and gets 403 on every control path.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, Knot, Stubborn};

/// `METHOD path` from a socket bound to `from`: the status code.
fn request_from(from: &str, admin: SocketAddr, method: &str, path: &str) -> u16 {
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: stubborn\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    let response = exchange_from(from, admin, &request).expect("read the answer to the end");
    status_of(&response)
}

/// Sends `request` from a socket bound to `from` and reads until the
/// server closes the connection (5 s at most).
fn exchange_from(from: &str, admin: SocketAddr, request: &str) -> std::io::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(format!("{from}:0").parse().expect("address")).expect("bind the client address");
        socket.connect(admin).await.expect("connect")
    });
    let mut stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).map(|_| response)
}

fn status_of(response: &str) -> u16 {
    let status = response.split_whitespace().nth(1).unwrap_or_else(|| panic!("no status line: {response:?}"));
    status.parse().unwrap_or_else(|_| panic!("bad status line: {response:?}"))
}

/// Stubborn in front of Knot with `[admin] allow = allow` (raw TOML), and
/// www.example.test cached.
fn with_admin_allow(allow: &str) -> (Knot, Stubborn) {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("admin", "allow", allow));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    (knot, stubborn)
}

#[test]
fn admin_allow_refuses_other_addresses_except_probes() {
    let (_knot, stubborn) = with_admin_allow(r#"["127.0.0.1/32"]"#);
    let admin = stubborn.admin;
    for path in ["/status", "/", "/metrics", "/cache/lookup?name=www.example.test", "/cache/dump"] {
        assert_eq!(request_from("127.0.0.2", admin, "GET", path), 403, "GET {path} from 127.0.0.2");
        assert_eq!(request_from("127.0.0.1", admin, "GET", path), 200, "GET {path} from 127.0.0.1");
    }
    assert_eq!(request_from("127.0.0.2", admin, "POST", "/cache/flush?all=1"), 403);
    assert_eq!(stubborn.lookup("www.example.test", None).len(), 1, "nothing was flushed");
    for path in ["/healthz", "/readyz"] {
        assert_eq!(request_from("127.0.0.2", admin, "GET", path), 200, "{path} answers everyone");
    }
    // One request per connection outside the lists, even when asked to keep
    // it alive: closed at once after the answer, not at the idle timeout.
    let keep_alive = "GET /healthz HTTP/1.1\r\nHost: stubborn\r\n\r\n";
    let start = Instant::now();
    let response = exchange_from("127.0.0.2", admin, keep_alive).expect("closed after the answer");
    assert_eq!(status_of(&response), 200, "{response}");
    assert!(start.elapsed() < Duration::from_secs(2), "closed after {:?}", start.elapsed());
}

/// 127.0.0.2 is in `allow` (127.0.0.0/8) but not in `control_allow` (by
/// default 127.0.0.1 and ::1, whatever `allow` says): it scrapes /metrics
/// and reads /status and /, and gets 403 on the cache control paths, and on
/// /reload and /log, and nothing is flushed; 127.0.0.1 has them all.
#[test]
fn control_paths_answer_only_control_allow() {
    let (_knot, stubborn) = with_admin_allow(r#"["127.0.0.0/8"]"#);
    let admin = stubborn.admin;
    for path in ["/metrics", "/status", "/", "/healthz", "/readyz"] {
        assert_eq!(request_from("127.0.0.2", admin, "GET", path), 200, "GET {path} from 127.0.0.2");
    }
    let lookup = "/cache/lookup?name=www.example.test";
    for path in [lookup, "/cache/dump", "/cache/dump?format=json", "/reload", "/log?queries=on"] {
        assert_eq!(request_from("127.0.0.2", admin, "GET", path), 403, "GET {path} from 127.0.0.2");
    }
    for path in ["/cache/flush?all=1", "/cache/flush?name=www.example.test", "/reload", "/log?queries=on"] {
        assert_eq!(request_from("127.0.0.2", admin, "POST", path), 403, "POST {path} from 127.0.0.2");
    }
    for path in [lookup, "/cache/dump"] {
        assert_eq!(request_from("127.0.0.1", admin, "GET", path), 200, "GET {path} from 127.0.0.1");
    }
    assert_eq!(stubborn.lookup("www.example.test", None).len(), 1, "nothing was flushed");
}
