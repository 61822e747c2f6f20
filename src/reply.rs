//! Building the bytes sent to a client. Every reply echoes the query's ID,
//! opcode, RD and CD and its question byte for byte (letter case included);
//! carries an OPT record when the query did, with an Extended DNS Error
//! (RFC 8914) where one applies; and is cut down to the header and question
//! with TC set when it would not fit the client's UDP size (RFC 1035 §4.2.1,
//! RFC 6891 §7). Answers are copies of a cached entry's record sections with
//! the TTLs patched in place, so a cache hit costs one copy, not an encode.

use hickory_proto::{
    op::{Edns, Message, OpCode, Query as HickoryQuery},
    rr::Record,
    serialize::binary::{BinDecodable, BinDecoder},
};

use crate::{
    cache::{Entry, NXDOMAIN},
    query::{Query, Rejection},
};

/// The UDP payload size stubborn advertises (DNS flag day 2020).
pub const OUR_UDP_PAYLOAD: u16 = 1232;
/// RFC 8914 EDNS option code.
const OPTION_EDE: u16 = 15;

pub const SERVFAIL: u8 = 2;
pub const FORMERR: u8 = 1;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;

/// An Extended DNS Error (RFC 8914 §4): INFO-CODE and EXTRA-TEXT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ede {
    pub code: u16,
    pub text: &'static str,
}

/// RFC 8914 §4.4.
pub const EDE_STALE: Ede = Ede { code: 3, text: "stale answer" };
/// RFC 8914 §4.20.
pub const EDE_STALE_NXDOMAIN: Ede = Ede { code: 19, text: "stale NXDOMAIN answer" };
/// RFC 8914 §4.23.
pub const EDE_NO_REACHABLE_AUTHORITY: Ede = Ede { code: 22, text: "no reachable authority" };

/// How the TTLs of a cached answer are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Fresh: each record's TTL less the seconds since it was stored.
    CountDown { age: u32 },
    /// Stale (RFC 8767 §4): every TTL set to `stale_ttl`.
    Stale(u32),
}

/// The reply to `query` from a cached `entry`, at most `limit` bytes.
pub fn answer(query: &Query, entry: &Entry, ttl: Ttl, ede: Option<Ede>, limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + query.question.len() + entry.sections.len() + 64);
    let ad = entry.authentic_data && (query.dnssec_ok() || query.authentic_data);
    let [an, ns, ar] = entry.counts;
    header(&mut out, query, entry.rcode, ad, [an, ns, ar + u16::from(query.edns.is_some())]);
    out.extend_from_slice(&query.question);
    let base = out.len();
    out.extend_from_slice(&entry.sections);
    for &(at, stored) in &*entry.ttls {
        let value = match ttl {
            Ttl::CountDown { age } => stored.saturating_sub(age),
            Ttl::Stale(stale_ttl) => stale_ttl,
        };
        out[base + at..base + at + 4].copy_from_slice(&value.to_be_bytes());
    }
    if query.edns.is_some() {
        opt(&mut out, query.dnssec_ok(), 0, ede);
    }
    if out.len() > limit {
        return truncated(query, entry.rcode, ede);
    }
    out
}

/// Whether a stale `entry` is a stale NXDOMAIN (EDE 19) or a stale answer (EDE 3).
pub fn stale_ede(entry: &Entry) -> Ede {
    if entry.rcode == NXDOMAIN { EDE_STALE_NXDOMAIN } else { EDE_STALE }
}

/// A NOERROR reply made of `answers` (synthesized by stubborn, e.g. a
/// service's CNAME and addresses), encoded by hickory-proto.
pub fn records(query: &Query, answers: Vec<Record>, limit: usize) -> Vec<u8> {
    let Ok(question) = HickoryQuery::read(&mut BinDecoder::new(&query.question)) else {
        return error(query, SERVFAIL, None);
    };
    let mut message = Message::response(query.id, OpCode::Query);
    message.metadata.recursion_desired = query.recursion_desired();
    message.metadata.recursion_available = true;
    message.metadata.checking_disabled = query.checking_disabled;
    message.add_query(question);
    message.add_answers(answers);
    if let Some(client) = query.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(OUR_UDP_PAYLOAD).set_dnssec_ok(client.dnssec_ok);
        message.set_edns(edns);
    }
    match message.to_vec() {
        Ok(bytes) if bytes.len() <= limit => bytes,
        Ok(_) => truncated(query, 0, None),
        Err(_) => error(query, SERVFAIL, None),
    }
}

/// A reply with no records: `rcode`, the question, and OPT (with `ede`) if the query had EDNS.
pub fn error(query: &Query, rcode: u8, ede: Option<Ede>) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + query.question.len() + 32);
    header(&mut out, query, rcode, false, [0, 0, u16::from(query.edns.is_some())]);
    out.extend_from_slice(&query.question);
    if query.edns.is_some() {
        opt(&mut out, query.dnssec_ok(), 0, ede);
    }
    out
}

/// The reply to a packet that is not a query stubborn answers, if any:
/// header only (the question may be what is malformed), ID, opcode and RD echoed.
pub fn rejection(packet: &[u8], why: Rejection) -> Option<Vec<u8>> {
    let rcode = match why {
        Rejection::Drop => return None,
        Rejection::FormErr => FORMERR,
        Rejection::NotImp => NOTIMP,
        Rejection::BadVers => 0,
    };
    let mut out = vec![packet[0], packet[1], 0x80 | (packet[2] & 0x79), 0x80 | rcode, 0, 0, 0, 0, 0, 0, 0, 0];
    if why == Rejection::BadVers {
        // RFC 6891 §6.1.3: BADVERS (16) = upper bits 1 in the OPT, 0 in the header.
        out[11] = 1;
        opt(&mut out, false, 1, None);
    }
    Some(out)
}

/// Header and question only, TC set: "ask again over TCP".
fn truncated(query: &Query, rcode: u8, ede: Option<Ede>) -> Vec<u8> {
    let mut out = error(query, rcode, ede);
    out[2] |= 0x02;
    out
}

fn header(out: &mut Vec<u8>, query: &Query, rcode: u8, ad: bool, [an, ns, ar]: [u16; 3]) {
    let flags2 = 0x80 | (query.flags & 0x79);
    let flags3 = 0x80 | (u8::from(ad) << 5) | (u8::from(query.checking_disabled) << 4) | (rcode & 0x0f);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&[flags2, flags3, 0, 1]);
    for count in [an, ns, ar] {
        out.extend_from_slice(&count.to_be_bytes());
    }
}

/// Appends an OPT record (RFC 6891 §6.1.2), with an EDE option when given.
fn opt(out: &mut Vec<u8>, dnssec_ok: bool, extended_rcode: u8, ede: Option<Ede>) {
    out.extend_from_slice(&[0, 0, 41]);
    out.extend_from_slice(&OUR_UDP_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[extended_rcode, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
    match ede {
        None => out.extend_from_slice(&[0, 0]),
        Some(ede) => {
            let option_len = 2 + ede.text.len();
            out.extend_from_slice(&((4 + option_len) as u16).to_be_bytes());
            out.extend_from_slice(&OPTION_EDE.to_be_bytes());
            out.extend_from_slice(&(option_len as u16).to_be_bytes());
            out.extend_from_slice(&ede.code.to_be_bytes());
            out.extend_from_slice(ede.text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::{
        op::{Message, ResponseCode},
        rr::rdata::opt::EdnsOption,
    };
    use tokio::time::Instant;

    use super::*;
    use crate::{cache::Entry, config::CacheConfig};

    fn query(edns: Option<(u16, bool)>) -> Query {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())];
        p.extend_from_slice(b"\x03WWW\x07Example\x03com\x00\x00\x01\x00\x01");
        if let Some((payload, dnssec_ok)) = edns {
            p.extend_from_slice(&[0, 0, 41]);
            p.extend_from_slice(&payload.to_be_bytes());
            p.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        Query::parse(&p).unwrap()
    }

    fn entry() -> Entry {
        let reply = crate::cache::tests_support::positive_reply();
        Entry::from_reply(&reply, 21, 1, &CacheConfig::default(), Instant::now()).unwrap()
    }

    fn ede_of(message: &Message) -> Option<(u16, String)> {
        message.edns.as_ref()?.options().as_ref().iter().find_map(|(_, option)| match option {
            EdnsOption::Unknown(15, data) => {
                Some((u16::from_be_bytes([data[0], data[1]]), String::from_utf8_lossy(&data[2..]).into_owned()))
            }
            _ => None,
        })
    }

    #[test]
    fn fresh_answer_echoes_id_and_case_and_counts_ttls_down() {
        let bytes = answer(&query(None), &entry(), Ttl::CountDown { age: 10 }, None, 512);
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
        assert_eq!(m.queries[0].name().to_string(), "WWW.Example.com.");
        assert_eq!(m.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(), vec![290, 50]);
        assert_eq!(m.answers[0].name.to_string(), "WWW.Example.com.");
        assert!(m.edns.is_none());
    }

    #[test]
    fn stale_answer_has_stale_ttl_and_ede_3() {
        let bytes = answer(&query(Some((1232, false))), &entry(), Ttl::Stale(30), Some(EDE_STALE), 1232);
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(), vec![30, 30]);
        assert_eq!(ede_of(&m), Some((3, "stale answer".to_string())));
    }

    #[test]
    fn too_large_for_the_client_sets_tc() {
        let bytes = answer(&query(None), &entry(), Ttl::CountDown { age: 0 }, None, 40);
        let m = Message::from_vec(&bytes).unwrap();
        assert!(m.metadata.truncation);
        assert!(m.answers.is_empty());
        assert_eq!(m.queries.len(), 1);
    }

    #[test]
    fn servfail_with_ede_22_only_when_the_query_had_edns() {
        let m =
            Message::from_vec(&error(&query(Some((1232, true))), SERVFAIL, Some(EDE_NO_REACHABLE_AUTHORITY))).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(ede_of(&m).map(|e| e.0), Some(22));
        assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
        let m = Message::from_vec(&error(&query(None), SERVFAIL, Some(EDE_NO_REACHABLE_AUTHORITY))).unwrap();
        assert!(m.edns.is_none());
    }

    #[test]
    fn rejections_echo_the_id() {
        let mut packet = vec![0xbe, 0xef, 4 << 3, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let m = Message::from_vec(&rejection(&packet, Rejection::NotImp).unwrap()).unwrap();
        assert_eq!((m.metadata.id, m.metadata.response_code), (0xbeef, ResponseCode::NotImp));
        packet[2] = 0;
        let m = Message::from_vec(&rejection(&packet, Rejection::FormErr).unwrap()).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        let m = Message::from_vec(&rejection(&packet, Rejection::BadVers).unwrap()).unwrap();
        // 16 is BADVERS in an OPT context (hickory names the code BADSIG, its TSIG meaning).
        assert_eq!(u16::from(m.metadata.response_code), 16);
        assert_eq!(rejection(&packet, Rejection::Drop), None);
    }
}
