//! Scenario: `[server] threads = 3`: three UDP sockets share the listen
//! address (SO_REUSEPORT), each with its own receive loop; clients from
//! many source ports (which the kernel spreads over the sockets) all get
//! their answers.

use std::process::Command;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

#[test]
fn three_udp_loops_share_the_address_and_every_client_is_answered() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).set("server", "threads", "3"));
    let sockets = Command::new("ss").args(["-H", "-uln", &format!("sport = :{}", stubborn.dns.port())]).output();
    match sockets {
        Ok(out) if out.status.success() => {
            let lines = String::from_utf8_lossy(&out.stdout).lines().count();
            assert_eq!(lines, 3, "UDP sockets on {}: {}", stubborn.dns, String::from_utf8_lossy(&out.stdout));
        }
        _ => eprintln!("ss(8) not available: the socket count is not checked"),
    }
    // Each Ask binds a fresh client socket, so a fresh source port: the
    // kernel hashes them over the three sockets.
    for i in 0..300 {
        let reply = stubborn.ask(&Ask::new(&format!("n{}.example.test.", i % 30), RecordType::A));
        assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
    }
    assert!(stubborn.log().contains("udp_loops=3"), "{}", stubborn.log());
}

/// Bursts from many clients at once, hits and misses mixed: every reply
/// reaches the socket that asked, with the ID and question it asked. (A
/// batched send that reused the receive headers once sent replies to the
/// wrong clients under load; one client at a time did not show it.) A
/// loaded machine may drop a datagram, or starve the fake upstream past its
/// timeout (SERVFAIL), so a client asks again after a second of silence for
/// what is unanswered or failed, as stub resolvers do; a reply to a question
/// the client never asked, or for the wrong name, fails at once.
#[test]
fn bursts_from_many_clients_each_get_their_own_replies() {
    use std::{collections::HashMap, net::UdpSocket, time::Duration};

    use hickory_proto::{
        op::{Message, Query, ResponseCode},
        rr::Name,
    };

    const TRIES: usize = 4;
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(
        Config::new(&[fake.server()]).set("server", "threads", "2").set_str("upstream", "timeout", "2s").set(
            "upstream",
            "fail_after",
            "3",
        ),
    );
    // Half the names cached before the bursts, half not: hits and misses.
    for i in 0..20 {
        let reply = stubborn.ask(&Ask::new(&format!("warm{i}.example.test."), RecordType::A));
        assert_eq!(reply.ipv4s().len(), 1, "{}", reply.summary());
    }
    let clients: Vec<UdpSocket> = (0..16).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    // Per client: ID -> (name, query bytes) still unanswered, and IDs answered.
    let mut waiting: Vec<HashMap<u16, (Name, Vec<u8>)>> = vec![HashMap::new(); clients.len()];
    let mut answered: Vec<HashMap<u16, Name>> = vec![HashMap::new(); clients.len()];
    for (c, client) in clients.iter().enumerate() {
        client.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        for q in 0..40u16 {
            let label = if q % 2 == 0 { format!("warm{}", q % 20) } else { format!("c{c}-q{q}") };
            let name = Name::from_ascii(format!("{label}.example.test.")).unwrap();
            let id = (c as u16) << 8 | q;
            let mut query = Message::query();
            query.metadata.id = id;
            query.metadata.recursion_desired = true;
            query.add_query(Query::query(name.clone(), RecordType::A));
            let bytes = query.to_vec().unwrap();
            client.send_to(&bytes, stubborn.dns).unwrap();
            waiting[c].insert(id, (name, bytes));
        }
    }
    let mut buf = [0u8; 4096];
    for (c, client) in clients.iter().enumerate() {
        let mut tries = 1;
        while !waiting[c].is_empty() {
            let (len, from) = match client.recv_from(&mut buf) {
                Ok(received) => received,
                Err(error) if tries < TRIES => {
                    eprintln!("client {c}: {} replies missing ({error}); asking again", waiting[c].len());
                    for (_, bytes) in waiting[c].values() {
                        client.send_to(bytes, stubborn.dns).unwrap();
                    }
                    tries += 1;
                    continue;
                }
                Err(error) => panic!("client {c}: {} replies missing after {TRIES} tries ({error})", waiting[c].len()),
            };
            assert_eq!(from, stubborn.dns);
            let reply = Message::from_vec(&buf[..len]).unwrap();
            let id = reply.metadata.id;
            let Some((name, bytes)) = waiting[c].remove(&id) else {
                // A late reply to a query that was asked again is fine.
                assert!(tries > 1 && answered[c].contains_key(&id), "client {c} got a reply to ID {id} it did not ask");
                assert_eq!(reply.queries[0].name(), &answered[c][&id], "client {c}, ID {id}");
                continue;
            };
            assert_eq!(reply.queries[0].name(), &name, "client {c}, ID {id}");
            if reply.metadata.response_code == ResponseCode::ServFail {
                waiting[c].insert(id, (name, bytes));
                continue;
            }
            assert_eq!(reply.answers.len(), 1, "client {c}: {name}: {}", reply.metadata.response_code);
            answered[c].insert(id, name);
        }
    }
}
