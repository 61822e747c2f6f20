//! An upstream's reply through the path a real one takes: the checks of
//! `upstream::exchange` (QR, one question, OPCODE QUERY; `wire::check_records`
//! reads every record; NOERROR or NXDOMAIN — mirrored here, as they are
//! private), held against hickory-proto's full parse
//! (`src/wire/differential.rs`: what hickory refuses the check refuses, and
//! both read the same records), `Entry::from_reply`, then a client's reply rendered from the
//! entry (`reply::answer`), fresh and stale, at several size limits.
//! `from_reply` must never panic, whatever the bytes (the snapshot loader
//! feeds it unchecked ones); a reply the check accepts must be cached (unless
//! a name is read from the header or a TTL), and the client's reply made from it must
//! fit its limit and parse.
//!
//! Scrubbing (`scrub::scrub`, which the resolver runs before
//! `from_reply`) must never panic either; a reply it cuts records from must
//! still parse and, when hickory accepted the original, make an entry and
//! client replies as above.
//!
//! The reply's ID carries the variations (no code reads it past the ID
//! check): byte 0 bit 0 EDNS, bit 1 DO, bit 2 a 4096-octet payload (else
//! 1232), bit 3 rebind protection on; byte 1 the letter-case flips of the
//! client's question and the age.
#![no_main]

#[path = "common/mod.rs"]
mod common;
#[path = "../../src/wire/differential.rs"]
mod differential;

use std::borrow::Cow;

use differential::{Verdict, compare};
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use stubborn::{
    cache::Entry,
    config::CacheConfig,
    query::question_end,
    scrub::{Scrubbed, scrub},
    wire::{self, HEADER_LEN, NOERROR, NXDOMAIN, QR, Records, TYPE_OPT, check_records, opcode, u16_at},
};
use tokio::time::Instant;

fuzz_target!(|reply: &[u8]| {
    let Some(end) = question_end(reply) else { return };
    let [control, twist] = [reply[0], reply[1]];
    let payload = if control & 4 != 0 { 4096 } else { 1232 };
    let edns = (control & 1 != 0).then_some((payload, control & 2 != 0));
    let client_question = common::flip_case(&reply[HEADER_LEN..end], twist);
    let Some(query) = common::client_query(0x5a5a, &client_question, edns) else { return };

    // What `exchange::valid` lets through; the check agrees with hickory-proto.
    let verdict = compare(reply).unwrap_or_else(|difference| panic!("{difference}"));
    let ours = reply[2] & QR != 0 && u16_at(reply, 4) == 1 && opcode(reply[2]) == 0;
    let accepted = ours
        && verdict == Verdict::BothAccept
        && check_records(reply, end)
            .is_ok_and(|checked| checked.rcode == u16::from(NOERROR) || checked.rcode == u16::from(NXDOMAIN));

    let config = CacheConfig::default();
    if let Ok(Scrubbed { reply: Cow::Owned(kept), .. }) = scrub(reply, query.question.len(), control & 8 != 0) {
        assert!(Message::from_vec(&kept).is_ok(), "a scrubbed reply does not parse");
        match Entry::from_reply(&kept, query.question.len(), query.qtype, &config, Instant::now()) {
            Ok(entry) => common::render_all(&query, &entry, u32::from(twist), accepted),
            Err(_) => assert!(
                !accepted || from_reply_may_refuse(&kept, end),
                "the check accepts the reply, its scrubbed form makes no entry"
            ),
        }
    }
    match Entry::from_reply(reply, query.question.len(), query.qtype, &config, Instant::now()) {
        Ok(entry) => common::render_all(&query, &entry, u32::from(twist), accepted),
        Err(_) => assert!(
            !accepted || from_reply_may_refuse(reply, end),
            "the check accepts the reply, Entry::from_reply does not"
        ),
    }
});

/// Whether `Entry::from_reply` may refuse `reply` (its records from `end`
/// on) although the check accepts it: only for a name read from the header
/// or from a TTL, or one in the RDATA of a type hickory-proto keeps opaque
/// but `from_reply` reads names in (RFC 1035's MD, MF, MB, …), which is not
/// a name or points forward.
fn from_reply_may_refuse(reply: &[u8], end: usize) -> bool {
    let count = [6, 8, 10].map(|at| usize::from(u16_at(reply, at))).iter().sum();
    let records =
        || Records::new(reply, end, count).map_while(Result::ok).take_while(|record| record.rtype != TYPE_OPT);
    let ttls: Vec<_> = records().map(|record| record.ttl_at..record.ttl_at + 4).collect();
    let outside_ttls =
        |read: std::ops::Range<usize>| !ttls.iter().any(|ttl| ttl.start < read.end && read.start < ttl.end);
    records().any(|record| !record.points_back_to(reply, &outside_ttls))
}
