//! Building the bytes sent to a client. Every reply echoes the query's ID,
//! opcode, RD and CD and its question byte for byte (letter case included);
//! carries an OPT record when the query did, with an Extended DNS Error
//! (RFC 8914) where one applies. A reply too big for the client's UDP size
//! is cut to the header, the question and as many whole answer records as
//! fit, with TC set (RFC 1035 §4.2.1, RFC 6891 §7, RFC 2181 §9): a client
//! that does not retry over TCP (musl before 1.2.4) still gets addresses.
//! Answers are copies of a cached entry's record sections with the TTLs
//! patched in place, so a cache hit costs one copy, not an encode.

use hickory_proto::{
    op::{Edns, Message, OpCode, Query as HickoryQuery},
    rr::Record,
    serialize::binary::{BinDecodable, BinDecoder},
};

use crate::{
    cache::Entry,
    query::{Query, Rejection, edns_after, question_end},
    wire::{
        self, AD, BADVERS, CD, EDE_STALE, EDE_STALE_NXDOMAIN, Ede, FORMERR, HEADER_LEN, NOERROR, NOTIMP, NXDOMAIN,
        OPCODE_MASK, OUR_UDP_PAYLOAD, QR, RA, RCODE_MASK, RD, Records, SERVFAIL, TC, u16_at,
    },
};

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
    let sections = entry.sections();
    let mut out = Vec::with_capacity(HEADER_LEN + query.question.len() + sections.len() + 64);
    // RFC 6840 §5.7-5.8: AD only to a client that asked with AD or DO; and
    // never on a stale answer, whose data no upstream vouches for now.
    let ad =
        entry.authentic_data && (query.dnssec_ok() || query.authentic_data) && matches!(ttl, Ttl::CountDown { .. });
    let [an, ns, ar] = entry.counts;
    header(&mut out, query, entry.rcode, ad, [an, ns, ar + u16::from(query.edns.is_some())]);
    out.extend_from_slice(&query.question);
    let base = out.len();
    out.extend_from_slice(sections);
    for (at, stored) in entry.ttls() {
        let value = match ttl {
            Ttl::CountDown { age } => stored.saturating_sub(age),
            Ttl::Stale(stale_ttl) => stale_ttl,
        };
        out[base + at..base + at + 4].copy_from_slice(&value.to_be_bytes());
    }
    if query.edns.is_some() {
        opt(&mut out, query, ede);
    }
    if out.len() > limit {
        return truncated(query, &out, ede, limit);
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
        Ok(bytes) => truncated(query, &bytes, None, limit),
        Err(_) => error(query, SERVFAIL, None),
    }
}

/// A reply with no records: `rcode`, the question, and OPT (with `ede`) if the query had EDNS.
pub fn error(query: &Query, rcode: u8, ede: Option<Ede>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + query.question.len() + wire::opt_len(ede));
    header(&mut out, query, rcode, false, [0, 0, u16::from(query.edns.is_some())]);
    out.extend_from_slice(&query.question);
    if query.edns.is_some() {
        opt(&mut out, query, ede);
    }
    out
}

/// The reply to a packet that is not a query stubborn answers, if any: ID,
/// opcode and RD echoed. NOTIMP (an opcode other than QUERY, a zone
/// transfer) and BADVERS echo the question, which parsed, and answer an
/// OPT record with one (RFC 6891 §6.1.3, §7; BADVERS carries extended
/// RCODE 16 in it). FORMERR is the header alone: the question or the OPT
/// record may be what is malformed.
pub fn rejection(packet: &[u8], why: Rejection) -> Option<Vec<u8>> {
    let rcode = match why {
        Rejection::Drop => return None,
        Rejection::FormErr => FORMERR,
        Rejection::NotImp => NOTIMP,
        Rejection::BadVers => (BADVERS as u8) & RCODE_MASK,
    };
    let question_end = if why == Rejection::FormErr || u16_at(packet, 4) != 1 { None } else { question_end(packet) };
    let question = question_end.map_or(&[][..], |end| &packet[HEADER_LEN..end]);
    // (DO bit, extended RCODE) of the OPT record to send, if any.
    let opt = match why {
        Rejection::BadVers => Some((false, (BADVERS >> 4) as u8)),
        _ => question_end.and_then(|end| edns_after(packet, end)).map(|edns| (edns.dnssec_ok, 0)),
    };
    let flags = [QR | (packet[2] & (OPCODE_MASK | RD)), RA | rcode];
    let mut out = Vec::with_capacity(HEADER_LEN + question.len() + wire::opt_len(None));
    wire::write_header(
        &mut out,
        u16_at(packet, 0),
        flags,
        [u16::from(!question.is_empty()), 0, 0, u16::from(opt.is_some())],
    );
    out.extend_from_slice(question);
    if let Some((dnssec_ok, extended_rcode)) = opt {
        wire::write_opt(&mut out, OUR_UDP_PAYLOAD, dnssec_ok, extended_rcode, None);
    }
    Some(out)
}

/// `full`, a reply to `query` larger than `limit`, cut down with TC set:
/// its header flags, the question, the longest run of whole answer records
/// that fits together with the OPT record (with `ede`) the query calls
/// for, and nothing of the other sections. A kept record may hold
/// compression pointers only to bytes before it (so never into what is cut
/// away); the run stops at the first that does not.
fn truncated(query: &Query, full: &[u8], ede: Option<Ede>, limit: usize) -> Vec<u8> {
    let answers_at = HEADER_LEN + query.question.len();
    let opt_len = if query.edns.is_some() { wire::opt_len(ede) } else { 0 };
    let budget = limit.saturating_sub(opt_len);
    // `full` carries the client's question (hickory's encoding of it included), so its pointers fit ours.
    let same_question = full.get(HEADER_LEN..answers_at).is_some_and(|q| q.eq_ignore_ascii_case(&query.question));
    let ancount = if same_question { usize::from(u16_at(full, 6)) } else { 0 };
    let mut cut = answers_at;
    let mut kept: u16 = 0;
    for record in Records::new(full, answers_at, ancount) {
        match record {
            Ok(record) if record.rdata.end <= budget && record.points_back(full) => {
                cut = record.rdata.end;
                kept += 1;
            }
            _ => break,
        }
    }
    let mut out = Vec::with_capacity(cut + opt_len);
    wire::write_header(&mut out, query.id, [full[2] | TC, full[3]], [1, kept, 0, u16::from(query.edns.is_some())]);
    out.extend_from_slice(&query.question);
    out.extend_from_slice(&full[answers_at..cut]);
    if query.edns.is_some() {
        opt(&mut out, query, ede);
    }
    out
}

fn header(out: &mut Vec<u8>, query: &Query, rcode: u8, ad: bool, [an, ns, ar]: [u16; 3]) {
    let flags2 = QR | (query.flags & (OPCODE_MASK | RD));
    let flags3 = RA | if ad { AD } else { 0 } | if query.checking_disabled { CD } else { 0 } | (rcode & RCODE_MASK);
    wire::write_header(out, query.id, [flags2, flags3], [1, an, ns, ar]);
}

/// Our OPT record: our payload size, the client's DO bit, `ede` if any.
fn opt(out: &mut Vec<u8>, query: &Query, ede: Option<Ede>) {
    wire::write_opt(out, OUR_UDP_PAYLOAD, query.dnssec_ok(), NOERROR, ede);
}

#[cfg(test)]
mod tests {
    use hickory_proto::{
        op::{Message, ResponseCode},
        rr::rdata::opt::EdnsOption,
    };
    use tokio::time::Instant;

    use super::*;
    use crate::{cache::Entry, config::CacheConfig, query::tests::query_bytes, wire::EDE_NO_REACHABLE_AUTHORITY};

    fn query(edns: Option<(u16, bool)>) -> Query {
        Query::parse(&query_bytes(edns)).unwrap()
    }

    fn entry() -> Entry {
        let reply = crate::test_packets::positive_reply();
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
        assert_eq!(m.queries[0].name().to_string(), "www.Example.com.");
        assert_eq!(m.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(), vec![290, 50]);
        assert_eq!(m.answers[0].name.to_string(), "www.Example.com.");
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
    fn truncation_keeps_the_whole_answer_records_that_fit() {
        // Header and question: 33 bytes; each A record: 16.
        let m = Message::from_vec(&answer(&query(None), &entry(), Ttl::Stale(30), None, 64)).unwrap();
        assert!(m.metadata.truncation);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 30);
        assert_eq!(m.queries[0].name().to_string(), "www.Example.com.");
        let edns = query(Some((512, false)));
        let with_opt = 49 + wire::opt_len(Some(EDE_STALE));
        let bytes = answer(&edns, &entry(), Ttl::Stale(30), Some(EDE_STALE), with_opt);
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!((bytes.len(), m.answers.len(), m.metadata.truncation), (with_opt, 1, true));
        assert_eq!(ede_of(&m).map(|e| e.0), Some(3), "the OPT record and its EDE are kept");
        let m = Message::from_vec(&answer(&edns, &entry(), Ttl::Stale(30), Some(EDE_STALE), with_opt - 1)).unwrap();
        assert!(m.answers.is_empty() && m.metadata.truncation);
    }

    /// A kept record whose name points past the cut would point into bytes
    /// that are not sent: the cut stops before it (a forward pointer).
    #[test]
    fn truncation_stops_before_a_record_pointing_past_the_cut() {
        let mut reply = Vec::new();
        wire::write_header(&mut reply, 1, [QR | RD, RA], [1, 2, 0, 0]);
        reply.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        reply.extend_from_slice(b"\x03www\x07example\x03com\x00");
        reply.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2]);
        let mut entry = Entry::from_reply(&reply, 21, 1, &CacheConfig::default(), Instant::now()).unwrap();
        // First answer: owner is a pointer to the second answer's owner (offset 49).
        entry.sections_mut()[1] = 49;
        let full = answer(&query(None), &entry, Ttl::Stale(30), None, 512);
        // hickory rejects such a pointer, and so does Entry::from_reply (so cached entries never
        // hold one); the cut does not rely on that.
        assert!(Message::from_vec(&full).is_err());
        assert_eq!(full[7], 2, "both answers when nothing is cut");
        let cut = answer(&query(None), &entry, Ttl::Stale(30), None, full.len() - 1);
        let m = Message::from_vec(&cut).unwrap();
        assert!(m.metadata.truncation && m.answers.is_empty(), "{m:?}");
    }

    #[test]
    fn service_records_truncate_to_whole_records_too() {
        use hickory_proto::rr::{Name, RData, rdata::A};
        let owner = Name::from_ascii("www.Example.com.").unwrap();
        let answers =
            (0..40).map(|i| Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, i)))).collect::<Vec<_>>();
        let bytes = records(&query(Some((512, false))), answers, 512);
        assert!(bytes.len() <= 512);
        let m = Message::from_vec(&bytes).unwrap();
        assert!(m.metadata.truncation);
        assert!(m.answers.len() > 10, "{} answers", m.answers.len());
        assert!(m.answers.iter().all(|r| matches!(r.data, RData::A(_))));
        assert!(m.edns.is_some());
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
        assert!(m.queries.is_empty(), "the question count says 1 but there is none to echo");
        packet[2] = 0;
        let m = Message::from_vec(&rejection(&packet, Rejection::FormErr).unwrap()).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        assert_eq!(rejection(&packet, Rejection::Drop), None);
    }

    /// A NOTIFY (opcode 4) with OPT and DO: NOTIMP with the question, and
    /// an OPT record (DO echoed) because the request had one; without OPT in
    /// the request, none in the reply.
    #[test]
    fn notimp_echoes_the_question_and_answers_opt_with_opt() {
        let mut packet = query_bytes(Some((1232, true)));
        packet[2] = (packet[2] & !OPCODE_MASK) | 4 << 3;
        assert_eq!(Query::parse(&packet), Err(Rejection::NotImp));
        let m = Message::from_vec(&rejection(&packet, Rejection::NotImp).unwrap()).unwrap();
        assert_eq!((m.metadata.id, m.metadata.response_code), (0x1234, ResponseCode::NotImp));
        assert_eq!(m.metadata.op_code, OpCode::Notify);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name().to_string(), "www.Example.com.");
        let edns = m.edns.expect("OPT answers OPT");
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), OUR_UDP_PAYLOAD);

        let mut plain = query_bytes(None);
        plain[2] = (plain[2] & !OPCODE_MASK) | 4 << 3;
        let m = Message::from_vec(&rejection(&plain, Rejection::NotImp).unwrap()).unwrap();
        assert_eq!(m.queries.len(), 1);
        assert!(m.edns.is_none());
    }

    /// RFC 6891 §6.1.3: BADVERS is a reply like any other, question included.
    #[test]
    fn badvers_echoes_the_question() {
        let mut packet = query_bytes(Some((1232, false)));
        let version = packet.len() - 5;
        packet[version] = 1;
        assert_eq!(Query::parse(&packet), Err(Rejection::BadVers));
        let m = Message::from_vec(&rejection(&packet, Rejection::BadVers).unwrap()).unwrap();
        // 16 is BADVERS in an OPT context (hickory names the code BADSIG, its TSIG meaning).
        assert_eq!(u16::from(m.metadata.response_code), 16);
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name().to_string(), "www.Example.com.");
        assert_eq!(m.edns.unwrap().max_payload(), OUR_UDP_PAYLOAD);
    }
}
