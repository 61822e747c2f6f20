//! Scenario: a laptop's upstreams change with the network. With `[upstream]
//! resolv_file`, the file's nameservers (port 53) are the upstream list; a
//! rewrite, or a new file renamed over it as DHCP clients do, applies
//! within 2 s; an empty file keeps the last list (docs/reference.md `[upstream]
//! resolv_file`). The fakes listen on port 53 of 127.0.1.x (root needed;
//! skipped with a message otherwise).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn, wait};

fn fake_on_port_53(last: u8, answer: Ipv4Addr) -> Option<FakeUpstream> {
    let fake = FakeUpstream::start_at(SocketAddr::from(([127, 0, 1, last], 53)), Mode::Answer)?;
    fake.set_ipv4(answer);
    fake.set_ttl(0);
    Some(fake)
}

#[test]
fn the_upstream_list_follows_the_resolv_file() {
    let (Some(a), Some(b)) =
        (fake_on_port_53(2, Ipv4Addr::new(192, 0, 2, 2)), fake_on_port_53(3, Ipv4Addr::new(192, 0, 2, 3)))
    else {
        eprintln!("SKIPPED: cannot bind port 53 on 127.0.1.2 and 127.0.1.3 (needs root)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "# from DHCP\nnameserver 127.0.1.2\n").expect("write resolv file");
    let config = Config::new::<&str>(&[]).unset("upstream", "servers").set_str(
        "upstream",
        "resolv_file",
        resolv.to_str().expect("utf-8"),
    );
    let stubborn = Stubborn::start(config);
    let ask = Ask::new("www.example.test.", RecordType::A);
    assert_eq!(stubborn.ask(&ask).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)]);

    // A new network: the DHCP client writes a new file and renames it over.
    let next = dir.path().join("resolv.conf.new");
    std::fs::write(&next, "nameserver 127.0.1.3\n").expect("write");
    std::fs::rename(&next, &resolv).expect("rename over");
    wait::until("answers from the new nameserver within 2 s", Duration::from_millis(2_500), || {
        (stubborn.ask(&ask).ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 3)]).then_some(())
    });
    let log = stubborn.log();
    assert!(log.contains("upstreams from the resolv file changed"), "{log}");
    assert!(log.contains("127.0.1.2:53") && log.contains("127.0.1.3:53"), "old and new in the log: {log}");

    // Emptied (a network manager between writes): the last list stays.
    std::fs::write(&resolv, "").expect("empty the file");
    wait::until("the warning about the empty file", Duration::from_secs(3), || {
        stubborn.log().contains("keeping the upstreams there are").then_some(())
    });
    assert_eq!(stubborn.ask(&ask).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 3)]);
    drop((a, b));
}

#[test]
fn check_rejects_servers_and_resolv_file_together() {
    let out = stubborn_test_support::stubborn::check(
        "[upstream]\nservers = [\"192.0.2.1\"]\nresolv_file = \"/etc/resolv.conf\"\n",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("upstream.resolv_file: set either servers or resolv_file"), "{}", out.stderr);
}
