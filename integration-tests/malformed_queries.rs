//! Scenario: queries that are not a single-question QUERY: no question or two
//! questions get FORMERR; opcodes other than QUERY (STATUS, NOTIFY, UPDATE)
//! and zone transfers get NOTIMP, with the question echoed and OPT answered
//! by OPT; each reply echoes the ID and has QR set (RFC 1035 section
//! 4.1.1, RFC 9619 for qdcount).

use std::time::Duration;

use hickory_proto::op::Message;

use stubborn_test_support::dns::{exchange_tcp, exchange_udp, header_of, raw_query};
use stubborn_test_support::{Config, FakeUpstream, Mode, Stubborn};

const FORMERR: u16 = 1;
const NOTIMP: u16 = 4;

fn assert_rcode(stubborn: &Stubborn, wire: &[u8], tcp: bool, rcode: u16, what: &str) {
    let timeout = Duration::from_secs(3);
    let raw = if tcp { exchange_tcp(stubborn.dns, wire, timeout) } else { exchange_udp(stubborn.dns, wire, timeout) }
        .unwrap_or_else(|e| panic!("{what}: no reply ({e})"));
    let (id, flags) = header_of(&raw).unwrap_or_else(|| panic!("{what}: reply shorter than a header: {raw:02x?}"));
    let sent_id = u16::from_be_bytes([wire[0], wire[1]]);
    assert_eq!(id, sent_id, "{what}: ID echoed");
    assert!(flags & 0x8000 != 0, "{what}: QR set in the reply");
    assert_eq!(flags & 0x000F, rcode, "{what}: rcode (flags {flags:#06x})");
}

#[test]
fn query_without_question_gets_formerr() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    assert_rcode(&stubborn, &raw_query(0x0A0A, 0x0100, 0, "", 1), false, FORMERR, "qdcount 0 over UDP");
    assert_rcode(&stubborn, &raw_query(0x0B0B, 0x0100, 0, "", 1), true, FORMERR, "qdcount 0 over TCP");
}

#[test]
fn query_with_two_questions_gets_formerr() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let wire = raw_query(0x0C0C, 0x0100, 2, "www.example.test", 1);
    assert_rcode(&stubborn, &wire, false, FORMERR, "qdcount 2");
    assert_eq!(fake.queries_for("www.example.test"), 0, "nothing resolved for a malformed query");
}

#[test]
fn non_query_opcodes_get_notimp() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    for (opcode, what) in [(2u16, "STATUS"), (4, "NOTIFY"), (5, "UPDATE")] {
        let flags = opcode << 11;
        let wire = raw_query(0x1000 + opcode, flags, 1, "example.test", 6);
        assert_rcode(&stubborn, &wire, false, NOTIMP, &format!("opcode {what} over UDP"));
    }
    let wire = raw_query(0x2000, 4 << 11, 1, "example.test", 6);
    assert_rcode(&stubborn, &wire, true, NOTIMP, "opcode NOTIFY over TCP");
}

/// A well-formed request stubborn does not serve — a NOTIFY with EDNS and
/// DO, a zone transfer over TCP — gets NOTIMP with its question echoed
/// (docs/reference.md: the reply echoes the query's ID and question), and an OPT
/// record when the request had one (RFC 6891 §7).
#[test]
fn notimp_echoes_the_question_and_answers_opt_with_opt() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let timeout = Duration::from_secs(3);

    let mut notify = raw_query(0x4444, 4 << 11, 1, "Example.test", 6);
    let question = notify[12..].to_vec();
    notify[11] = 1; // ARCOUNT: an OPT record, version 0, DO set
    notify.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    let raw = exchange_udp(stubborn.dns, &notify, timeout).expect("a reply to the NOTIFY");
    let msg = Message::from_vec(&raw).unwrap_or_else(|e| panic!("reply does not parse ({e}): {raw:02x?}"));
    assert_eq!((msg.metadata.id, u16::from(msg.metadata.response_code)), (0x4444, NOTIMP), "{msg:?}");
    assert_eq!(raw.get(12..12 + question.len()), Some(&question[..]), "the question echoed: {raw:02x?}");
    assert!(msg.edns.as_ref().is_some_and(|edns| edns.flags().dnssec_ok), "OPT with DO answered: {msg:?}");

    let axfr = raw_query(0x5555, 0x0000, 1, "example.test", 252);
    let raw = exchange_tcp(stubborn.dns, &axfr, timeout).expect("a reply to the AXFR");
    let msg = Message::from_vec(&raw).unwrap_or_else(|e| panic!("reply does not parse ({e}): {raw:02x?}"));
    assert_eq!((msg.metadata.id, u16::from(msg.metadata.response_code)), (0x5555, NOTIMP), "{msg:?}");
    assert_eq!(raw.get(12..), Some(&axfr[12..]), "the question echoed, no OPT: {raw:02x?}");
    assert_eq!(fake.queries_for("example.test"), 0, "nothing forwarded");
}

/// RFC 6891 section 6.1.3: an OPT record of EDNS version 1 gets BADVERS
/// (extended RCODE 16: 1 in the OPT record's upper bits, 0 in the header),
/// and the reply echoes the question like any other (dnspython rejects a
/// BADVERS reply without it).
#[test]
fn edns_version_1_gets_badvers_with_the_question_echoed() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    let mut wire = raw_query(0x6891, 0x0100, 1, "www.Example.test", 1);
    let question = wire[12..].to_vec();
    wire[11] = 1; // ARCOUNT: the OPT record, version 1
    wire.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 1, 0, 0, 0, 0]);
    for tcp in [false, true] {
        let timeout = Duration::from_secs(3);
        let raw =
            if tcp { exchange_tcp(stubborn.dns, &wire, timeout) } else { exchange_udp(stubborn.dns, &wire, timeout) }
                .unwrap_or_else(|e| panic!("no reply over {} ({e})", if tcp { "TCP" } else { "UDP" }));
        let msg = Message::from_vec(&raw).unwrap_or_else(|e| panic!("reply does not parse ({e}): {raw:02x?}"));
        assert_eq!(msg.metadata.id, 0x6891);
        assert_eq!(u16::from_be_bytes([raw[4], raw[5]]), 1, "QDCOUNT 1: {raw:02x?}");
        assert_eq!(raw.get(12..12 + question.len()), Some(&question[..]), "the question echoed byte for byte");
        // hickory names 16 BADSIG (its TSIG meaning); in an OPT reply it is BADVERS.
        assert_eq!(u16::from(msg.metadata.response_code), 16, "BADVERS: {msg:?}");
        assert_eq!(msg.edns.as_ref().map(|e| e.version()), Some(0), "we speak version 0");
    }
    assert_eq!(fake.queries_for("www.example.test"), 0, "nothing resolved for a BADVERS query");
}
