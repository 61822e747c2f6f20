//! A client's packet through the query parser: parsed, or rejected with a
//! reply that echoes the ID in a whole header — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stubborn::{query::Query, reply};

fuzz_target!(|packet: &[u8]| {
    match Query::parse(packet) {
        Ok(query) => {
            assert!(query.question.len() >= 5);
            assert!(query.udp_limit() >= 512);
        }
        Err(why) => {
            if let Some(reply) = reply::rejection(packet, why) {
                assert!(reply.len() >= 12);
                assert_eq!(reply[..2], packet[..2]);
            }
        }
    }
});
