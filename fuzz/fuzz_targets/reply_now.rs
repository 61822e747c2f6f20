//! A client's packet through the whole synchronous path of the listeners
//! (`Server::reply_now`: parse, ACL, services, cache), from an allowed and a
//! refused client: a reply (never longer than the client's UDP limit), no
//! reply for responses, or a query to resolve — never a panic. The cache
//! holds real answers (Knot's replies in `seeds/upstream_reply`) for the
//! names of the seed queries, so mutated queries for them take the
//! cache-hit path: fresh answers, CNAME chains, NXDOMAIN, NODATA, and one
//! too big for 512 octets.
#![no_main]

use std::{
    net::SocketAddr,
    path::Path,
    sync::{Arc, OnceLock},
};

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use stubborn::{
    cache::{Cache, Entry},
    config::Config,
    metrics::Metrics,
    query::{Query, question_end},
    server::{Server, Step, Via},
    wire::{HEADER_LEN, u16_at},
};
use tokio::time::Instant;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]
allow = ["127.0.0.0/8"]
[upstream]
servers = ["192.0.2.1"]
[cache]
# The cached answers stay fresh however long the run.
min_ttl = "1d"
"#;

/// Upstream replies the cache is filled with, cached for both DO bits.
const CACHED: &[&[u8]] = &[
    include_bytes!("../seeds/upstream_reply/www-A"),
    include_bytes!("../seeds/upstream_reply/www-AAAA"),
    include_bytes!("../seeds/upstream_reply/chain-A"),
    include_bytes!("../seeds/upstream_reply/mail-MX"),
    include_bytes!("../seeds/upstream_reply/srv-SRV"),
    include_bytes!("../seeds/upstream_reply/txt-TXT"),
    include_bytes!("../seeds/upstream_reply/big-A"),
    include_bytes!("../seeds/upstream_reply/nx-A"),
    include_bytes!("../seeds/upstream_reply/www-TXT-nodata"),
    include_bytes!("../seeds/upstream_reply/apex-SOA"),
];

/// `config`'s cache, holding an entry for each of `CACHED`.
fn filled_cache(config: &Config) -> Cache {
    let cache = Cache::new(&config.cache);
    for reply in CACHED {
        let end = question_end(reply).expect("a seed reply has a question");
        let question = &reply[HEADER_LEN..end];
        let entry = Entry::from_reply(reply, question.len(), u16_at(reply, end - 4), &config.cache, Instant::now())
            .expect("a seed reply is well-formed");
        let entry = Arc::new(entry);
        for dnssec_ok in [0, 1] {
            let mut key = question.to_ascii_lowercase();
            key.push(dnssec_ok);
            cache.insert(key.into_boxed_slice(), Arc::clone(&entry));
        }
    }
    cache
}

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
        let server = Arc::new(Server::new(&config, filled_cache(&config), Arc::new(Metrics::new())));
        Fixture { runtime, server }
    })
}

fuzz_target!(|packet: &[u8]| {
    let fixture = fixture();
    let _entered = fixture.runtime.enter();
    let allowed: SocketAddr = "127.0.0.1:5353".parse().expect("an address");
    let refused: SocketAddr = "192.0.2.9:5353".parse().expect("an address");
    let query = Query::parse(packet).ok();
    for (client, via) in [(allowed, Via::Udp), (allowed, Via::Tcp), (refused, Via::Udp)] {
        match fixture.server.reply_now(packet, client, via, std::time::Instant::now()) {
            Step::Done(Some(reply)) => {
                assert!(reply.len() >= 12);
                assert_eq!(reply[..2], packet[..2]);
                let limit = match via {
                    Via::Udp => query.as_ref().map_or(512, Query::udp_limit),
                    Via::Tcp => usize::from(u16::MAX),
                };
                assert!(reply.len() <= limit, "{} octets over a limit of {limit}", reply.len());
                if query.is_some() {
                    Message::from_vec(&reply).unwrap_or_else(|e| panic!("the reply does not parse: {e}\n{reply:02x?}"));
                }
            }
            Step::Done(None) => assert!(packet.len() < 12 || packet[2] & 0x80 != 0),
            Step::Resolve(query, _) => assert!(!query.question.is_empty()),
        }
    }
});
