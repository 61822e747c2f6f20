//! Scenario: a real Knot authoritative serves 60 names whose TXT set is
//! about 4 KiB each; stubborn, with `[cache] max_memory = "64KiB"` and a
//! `capacity` of 1000, is asked for every one (fetched over TCP after
//! truncation, then cached). `stubborn_cache_bytes` stays within 64 KiB all
//! along, and the cache holds far fewer than 60 of them (a cache
//! bounded in bytes as well as entries, so one huge TXT set can't inflate
//! it). That small answers still fill `capacity` is the cache's unit test.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, Knot, Stubborn};

const BIG: usize = 60;
const MAX_MEMORY: f64 = 64.0 * 1024.0;

fn zone() -> String {
    let strings = vec![format!("\"{}\"", "x".repeat(250)); 16].join(" ");
    (0..BIG).map(|i| format!("big{i} 300 IN TXT {strings}\n")).collect()
}

#[test]
fn big_answers_cannot_push_the_cache_past_max_memory() {
    let knot = Knot::start(&zone());
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).set("cache", "capacity", "1000").set(
        "cache",
        "max_memory",
        "\"64KiB\"",
    ));
    for i in 0..BIG {
        let reply = stubborn.ask(&Ask::new(&format!("big{i}.example.test."), RecordType::TXT).tcp());
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.summary());
        let bytes = stubborn.metric("stubborn_cache_bytes");
        assert!(bytes <= MAX_MEMORY, "stubborn_cache_bytes {bytes} after {} big answers", i + 1);
    }
    let entries = stubborn.metric("stubborn_cache_entries");
    assert!((1.0..=16.0).contains(&entries), "{entries} entries of about 4 KiB within 64 KiB");
}
