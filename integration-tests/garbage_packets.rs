//! Scenario: 1000 malformed UDP packets (random bytes and lengths, truncated
//! headers, qdcount 0, responses with QR set, unknown opcodes, broken names
//! and OPT records) and a few dozen broken TCP streams are thrown at stubborn;
//! it stays up and answers a normal query right afterwards.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::dns::raw_query;
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random::<u8>()).collect()
}

/// Packet number `i` of the barrage.
fn garbage(i: usize) -> Vec<u8> {
    let id: u16 = rand::random();
    match i % 10 {
        // Random bytes, random length (0..600).
        0 => random_bytes(rand::random_range(0..600)),
        // A header cut short.
        1 => random_bytes(rand::random_range(1..12)),
        // A query with qdcount 0.
        2 => raw_query(id, 0x0100, 0, "", 1),
        // A response (QR set) sent to the server.
        3 => raw_query(id, 0x8180, 1, "www.example.test", 1),
        // Unknown or unsupported opcodes (1..15).
        4 => raw_query(id, 0x0100 | (rand::random_range(1u16..16) << 11), 1, "www.example.test", 1),
        // qdcount 1 but the question is cut off.
        5 => {
            let mut q = raw_query(id, 0x0100, 1, "www.example.test", 1);
            q.truncate(12 + rand::random_range(0..10));
            q
        }
        // A name that is a compression pointer to itself.
        6 => {
            let mut q = raw_query(id, 0x0100, 0, "", 1);
            q[5] = 1;
            q.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
            q
        }
        // An OPT record whose option length runs past the end.
        7 => {
            let mut q = raw_query(id, 0x0100, 1, "www.example.test", 1);
            q[11] = 1; // arcount 1
            q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 8, 0, 15, 0xFF, 0xFF, 1, 2]);
            q
        }
        // A valid header with huge counts and random body.
        8 => {
            let mut q = vec![(id >> 8) as u8, id as u8, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
            q.extend(random_bytes(rand::random_range(0..100)));
            q
        }
        // A label longer than 63 bytes / a name longer than 255 bytes.
        _ => {
            let mut q = raw_query(id, 0x0100, 0, "", 1);
            q[5] = 1;
            for _ in 0..5 {
                q.push(63);
                q.extend(std::iter::repeat_n(b'a', 63));
            }
            q.push(0);
            q.extend_from_slice(&[0, 1, 0, 1]);
            q
        }
    }
}

#[test]
fn thousand_garbage_packets_do_not_kill_it() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let before = stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    assert_eq!(before.rcode(), ResponseCode::NoError, "premise: {}", before.summary());

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 4096];
    for i in 0..1000 {
        let _ = socket.send_to(&garbage(i), stubborn.dns);
        while socket.recv_from(&mut buf).is_ok() {} // drop any replies
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(5)); // let the socket drain
        }
    }

    // Broken TCP streams: random bytes, a length prefix longer than what
    // follows, a zero length, a lone byte.
    for i in 0..40 {
        if let Ok(mut stream) = TcpStream::connect_timeout(&stubborn.dns, Duration::from_secs(1)) {
            let bytes = match i % 4 {
                0 => random_bytes(rand::random_range(1..300)),
                1 => {
                    let mut b = vec![0x10, 0x00];
                    b.extend(garbage(i));
                    b
                }
                2 => vec![0, 0],
                _ => vec![0x42],
            };
            let _ = stream.write_all(&bytes);
        }
    }

    assert!(stubborn.exit_status().is_none(), "stubborn died: {:?}", stubborn.exit_status());
    for (name, tcp) in [("www.example.test.", false), ("after.example.test.", false), ("tcp.example.test.", true)] {
        let mut ask = Ask::new(name, RecordType::A).timeout(Duration::from_secs(3));
        if tcp {
            ask = ask.tcp();
        }
        let reply = stubborn.ask(&ask);
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{name} after the garbage: {}", reply.summary());
        assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
    }
    assert_eq!(stubborn.get("/healthz").0, 200);
}
