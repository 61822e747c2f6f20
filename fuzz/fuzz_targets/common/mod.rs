//! What several targets share: a client's query for a question, and the
//! checks every reply rendered from a cache entry must pass.
#![allow(dead_code)]

use hickory_proto::op::Message;
use stubborn::{
    cache::Entry,
    query::Query,
    reply::{self, Ttl},
    wire::{AD, EDE_STALE, HEADER_LEN, RD, write_header, write_opt},
};

/// The client's query for `question` (the wire question: name, type,
/// class), with an OPT record when `edns` is `Some((payload, dnssec_ok))`;
/// `None` where stubborn would not take it as a query.
pub fn client_query(id: u16, question: &[u8], edns: Option<(u16, bool)>) -> Option<Query> {
    let mut packet = Vec::with_capacity(HEADER_LEN + question.len() + 11);
    write_header(&mut packet, id, [RD, AD], [1, 0, 0, u16::from(edns.is_some())]);
    packet.extend_from_slice(question);
    if let Some((payload, dnssec_ok)) = edns {
        write_opt(&mut packet, payload, dnssec_ok, 0, None);
    }
    Query::parse(&packet).ok()
}

/// `question` with the letter case of its name flipped where `mask`'s bits
/// say (0x20 randomisation, as resolvers send it).
pub fn flip_case(question: &[u8], mask: u8) -> Vec<u8> {
    let name_len = question.len().saturating_sub(4);
    question
        .iter()
        .enumerate()
        .map(|(i, &b)| if i < name_len && mask >> (i % 8) & 1 != 0 && b.is_ascii_alphabetic() { b ^ 0x20 } else { b })
        .collect()
}

/// Renders `entry` for `query` fresh (aged `age` s) and stale, within the
/// client's UDP limit, a 512-octet limit and TCP's; each reply fits its
/// limit, echoes the ID and the question, and — when `must_parse`, i.e.
/// the entry came from a reply hickory-proto accepted — parses whole.
pub fn render_all(query: &Query, entry: &Entry, age: u32, must_parse: bool) {
    let ways = [
        (Ttl::CountDown { age }, None),
        (Ttl::Stale(30), Some(reply::stale_ede(entry))),
        (Ttl::Stale(0), Some(EDE_STALE)),
    ];
    for (ttl, ede) in ways {
        for limit in [query.udp_limit(), 512, usize::from(u16::MAX)] {
            let out = reply::answer(query, entry, ttl, ede, limit);
            assert!(out.len() <= limit, "{} octets over a limit of {limit}", out.len());
            assert_eq!(u16::from_be_bytes([out[0], out[1]]), query.id);
            assert_eq!(&out[HEADER_LEN..HEADER_LEN + query.question.len()], &*query.question);
            if must_parse {
                let parsed = Message::from_vec(&out)
                    .unwrap_or_else(|e| panic!("rendered reply does not parse: {e}\n{out:02x?}"));
                assert_eq!(parsed.metadata.id, query.id);
                if out.len() < limit.min(usize::from(u16::MAX)) && out[2] & 0x02 == 0 {
                    assert_eq!(parsed.answers.len(), usize::from(entry.counts[0]));
                }
            }
        }
    }
}
