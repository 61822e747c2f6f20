//! A client's packet through the whole synchronous path of the listeners
//! (`Server::reply_now`: parse, ACL, services, cache), from an allowed and a
//! refused client: a reply (never longer than the client's UDP limit), no
//! reply for responses, or a query to resolve — never a panic.
#![no_main]

use std::{net::SocketAddr, path::Path, sync::{Arc, OnceLock}};

use libfuzzer_sys::fuzz_target;
use stubborn::{
    cache::Cache,
    config::Config,
    metrics::Metrics,
    server::{Server, Step, Via},
};

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]
allow = ["127.0.0.0/8"]
[upstream]
servers = ["192.0.2.1"]
"#;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Arc<Server>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        let config = Config::parse(Path::new("fuzz.toml"), CONFIG, None).expect("the fixture config is valid");
        let _entered = runtime.enter();
        let server = Arc::new(Server::new(&config, Cache::new(&config.cache), Arc::new(Metrics::new())));
        Fixture { runtime, server }
    })
}

fuzz_target!(|packet: &[u8]| {
    let fixture = fixture();
    let _entered = fixture.runtime.enter();
    let allowed: SocketAddr = "127.0.0.1:5353".parse().expect("an address");
    let refused: SocketAddr = "192.0.2.9:5353".parse().expect("an address");
    for (client, via) in [(allowed, Via::Udp), (allowed, Via::Tcp), (refused, Via::Udp)] {
        match fixture.server.reply_now(packet, client, via) {
            Step::Done(Some(reply)) => {
                assert!(reply.len() >= 12);
                assert_eq!(reply[..2], packet[..2]);
            }
            Step::Done(None) => assert!(packet.len() < 12 || packet[2] & 0x80 != 0),
            Step::Resolve(query) => assert!(!query.question.is_empty()),
        }
    }
});
