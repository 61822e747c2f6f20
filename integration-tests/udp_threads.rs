//! Scenario: `[server] threads = 3`: three UDP sockets share the listen
//! address (SO_REUSEPORT), each with its own receive loop; clients from
//! many source ports (which the kernel spreads over the sockets) all get
//! their answers (issue 12, "every core for cache hits").

use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::harness::{Ask, Config, FakeUpstream, Mode, Stubborn};

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
