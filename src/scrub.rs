//! What of an upstream reply's answer section may be cached and answered,
//! decided before either happens:
//!
//! - **scrubbing** (as Unbound's `iter_scrub.c`): a record is kept only if
//!   its owner is the question's name or a name on its CNAME/DNAME chain
//!   (RFC 1034 §3.6.2, RFC 6672), or it is a DNAME (or the RRSIG of one)
//!   above such a name. The chain is followed from the question in
//!   whatever order the records come, at most [`MAX_CHAIN`] names long. An
//!   unrelated record (`evil.test A` in the answer for `a.test A`) never
//!   reaches the cache, nor a client, nor a cache downstream of it;
//! - **rebind protection** (`rebind_protection`, as dnsmasq's
//!   `stop-dns-rebind`): A and AAAA records whose address is private,
//!   loopback, link-local, CGNAT, ULA or unspecified (also as IPv4-mapped
//!   IPv6) are dropped, so that a public name cannot be made to point into
//!   the LAN. The resolver decides which names this applies to.
//!
//! Almost every reply keeps every record: the answers are owned by the
//! question's name, which one walk sees without decompressing a name or
//! allocating, and the reply is used as it came. Only a reply that loses
//! records is decoded and encoded again, by hickory-proto, so that no
//! compression pointer of a kept record can point into a dropped one.

use std::{borrow::Cow, net::IpAddr};

use hickory_proto::op::Message;

use crate::wire::{self, HEADER_LEN, Malformed, Record, Records, TYPE_CNAME, TYPE_DNAME, TYPE_RRSIG, u16_at};

/// Names on a CNAME/DNAME chain at most, the question's included: past
/// this, the rest of the chain is dropped (Unbound follows 11 CNAMEs;
/// a longer chain is a loop or an attack), and the walk stays bounded.
pub const MAX_CHAIN: usize = 16;

/// An upstream reply with what was dropped from its answer section.
#[derive(Debug, PartialEq, Eq)]
pub struct Scrubbed<'a> {
    /// The reply as it came, or re-encoded without the dropped records.
    pub reply: Cow<'a, [u8]>,
    /// Records dropped as unrelated to the question.
    pub unrelated: u64,
    /// Addresses dropped by rebind protection.
    pub private: u64,
}

/// Scrubs `reply`, an answer to a question of `question_len` octets (the
/// question checked to match ours); with `drop_private`, rebind protection
/// too. Malformed when the records do not walk.
pub fn scrub(reply: &[u8], question_len: usize, drop_private: bool) -> Result<Scrubbed<'_>, Malformed> {
    let start = HEADER_LEN + question_len;
    if question_len < 5 || reply.len() < start {
        return Err(Malformed);
    }
    let qname = &reply[HEADER_LEN..start - 4];
    let answers = || Records::new(reply, start, usize::from(u16_at(reply, 6)));
    // The usual reply: every record the question's, none to drop; one walk, nothing allocated.
    let mut clean = true;
    for record in answers() {
        let record = record?;
        clean &= owned_by(reply, &record, qname) && !(drop_private && record.address(reply).is_some_and(is_private));
    }
    if clean {
        return Ok(Scrubbed { reply: Cow::Borrowed(reply), unrelated: 0, private: 0 });
    }
    let answers: Vec<Record> = answers().collect::<Result<_, _>>()?;
    let mut keep = if answers.iter().all(|record| owned_by(reply, record, qname)) {
        vec![true; answers.len()]
    } else {
        on_chain(reply, &answers, qname)
    };
    let unrelated = keep.iter().filter(|kept| !**kept).count() as u64;
    let mut private = 0;
    if drop_private {
        for (record, kept) in answers.iter().zip(&mut keep) {
            if *kept && record.address(reply).is_some_and(is_private) {
                *kept = false;
                private += 1;
            }
        }
    }
    if unrelated + private == 0 {
        return Ok(Scrubbed { reply: Cow::Borrowed(reply), unrelated, private });
    }
    Ok(Scrubbed { reply: Cow::Owned(without(reply, &keep)?), unrelated, private })
}

/// True when the record's owner is `qname` (the question's, uncompressed):
/// a pointer to the question, or the same labels.
fn owned_by(reply: &[u8], record: &Record, qname: &[u8]) -> bool {
    let owner = &reply[record.name.clone()];
    owner == [0xc0, HEADER_LEN as u8] || owner.eq_ignore_ascii_case(qname)
}

/// Which of `answers` are on the chain that starts at `qname`.
fn on_chain(reply: &[u8], answers: &[Record], qname: &[u8]) -> Vec<bool> {
    let owners: Vec<Option<Vec<u8>>> = answers.iter().map(|r| wire::read_name(reply, r.name.start)).collect();
    let mut chain: Vec<Vec<u8>> = vec![qname.to_ascii_lowercase()];
    let mut keep = vec![false; answers.len()];
    // Each pass can only keep records of names the last pass added: at most MAX_CHAIN passes.
    let mut grew = true;
    while grew {
        grew = false;
        for ((record, owner), kept) in answers.iter().zip(&owners).zip(&mut keep) {
            let Some(owner) = owner.as_deref().filter(|_| !*kept) else { continue };
            let next = if chain.iter().any(|name| name == owner) {
                *kept = true;
                (record.rtype == TYPE_CNAME).then(|| wire::read_name(reply, record.rdata.start)).flatten()
            } else if let Some(below) = below_dname(reply, record, owner, &chain) {
                *kept = true;
                below
            } else {
                None
            };
            if let Some(next) = next.filter(|next| !chain.contains(next))
                && chain.len() < MAX_CHAIN
            {
                chain.push(next);
                grew = true;
            }
        }
    }
    keep
}

/// For a DNAME (or its RRSIG) owned by `owner`, strictly above a name on
/// `chain`: Some, with the name the DNAME maps that name to (RFC 6672
/// §2.2) if it is a DNAME. None for any other record.
fn below_dname(reply: &[u8], record: &Record, owner: &[u8], chain: &[Vec<u8>]) -> Option<Option<Vec<u8>>> {
    let covers_dname = || reply.get(record.rdata.start..record.rdata.start + 2) == Some(&TYPE_DNAME.to_be_bytes());
    if record.rtype != TYPE_DNAME && !(record.rtype == TYPE_RRSIG && covers_dname()) {
        return None;
    }
    let name = chain.iter().find(|name| name.len() > owner.len() && wire::is_at_or_below(name, owner))?;
    if record.rtype != TYPE_DNAME {
        return Some(None);
    }
    let target = wire::read_name(reply, record.rdata.start)?;
    let mut mapped = name[..name.len() - owner.len()].to_vec();
    mapped.extend_from_slice(&target);
    Some((mapped.len() <= 255).then_some(mapped))
}

/// `reply` without the answers `keep` says no to, encoded again.
fn without(reply: &[u8], keep: &[bool]) -> Result<Vec<u8>, Malformed> {
    let mut message = Message::from_vec(reply).map_err(|_| Malformed)?;
    if message.answers.len() != keep.len() {
        return Err(Malformed);
    }
    let answers = std::mem::take(&mut message.answers);
    message.answers = answers.into_iter().zip(keep).filter_map(|(record, kept)| kept.then_some(record)).collect();
    message.to_vec().map_err(|_| Malformed)
}

/// An address no public name should have: private (RFC 1918), loopback,
/// link-local, CGNAT (RFC 6598), unspecified, ULA (RFC 4193), site-local,
/// and any of the IPv4 ones written as IPv4-mapped IPv6.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
                || v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // fec0::/10, site-local (deprecated by RFC 3879, still routed inside some networks).
                || v6.segments()[0] & 0xffc0 == 0xfec0
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::{
        Name, RData, Record as HickoryRecord, RecordType,
        rdata::{A, AAAA, CNAME, NULL},
    };

    use super::*;
    use crate::wire::{QR, RA, RD, write_header};

    const QUESTION: &[u8] = b"\x01a\x04test\x00\x00\x01\x00\x01";

    /// A reply to `a.test A` with these answer records, encoded by hickory
    /// (compressed: a record's owner may point into an earlier one).
    fn reply(answers: &[(&str, RData)]) -> Vec<u8> {
        let mut header = Vec::new();
        write_header(&mut header, 7, [QR | RD, RA], [1, 0, 0, 0]);
        header.extend_from_slice(QUESTION);
        let mut message = Message::from_vec(&header).unwrap();
        for (name, rdata) in answers {
            message.answers.push(HickoryRecord::from_rdata(Name::from_ascii(name).unwrap(), 60, rdata.clone()));
        }
        message.to_vec().unwrap()
    }

    fn a(ip: &str) -> RData {
        RData::A(A(ip.parse().unwrap()))
    }

    fn cname(target: &str) -> RData {
        RData::CNAME(CNAME(Name::from_ascii(target).unwrap()))
    }

    fn owners(reply: &[u8]) -> Vec<String> {
        Message::from_vec(reply).unwrap().answers.iter().map(|r| r.name.to_ascii()).collect()
    }

    #[test]
    fn answers_of_the_question_are_used_as_they_came() {
        let original = reply(&[("a.test.", a("192.0.2.1")), ("A.Test.", a("192.0.2.2"))]);
        let scrubbed = scrub(&original, QUESTION.len(), true).unwrap();
        assert_eq!((scrubbed.unrelated, scrubbed.private), (0, 0));
        assert!(matches!(scrubbed.reply, Cow::Borrowed(_)));
    }

    #[test]
    fn unrelated_records_are_dropped() {
        let original = reply(&[("a.test.", a("192.0.2.1")), ("evil.test.", a("192.0.2.66"))]);
        let scrubbed = scrub(&original, QUESTION.len(), false).unwrap();
        assert_eq!(scrubbed.unrelated, 1);
        assert_eq!(owners(&scrubbed.reply), ["a.test."]);
    }

    #[test]
    fn cname_chains_are_kept_whole_in_any_order() {
        let original = reply(&[
            ("c.test.", a("192.0.2.1")),
            ("b.test.", cname("c.test.")),
            ("evil.test.", a("192.0.2.66")),
            ("a.test.", cname("b.test.")),
        ]);
        let scrubbed = scrub(&original, QUESTION.len(), false).unwrap();
        assert_eq!(scrubbed.unrelated, 1);
        assert_eq!(owners(&scrubbed.reply), ["c.test.", "b.test.", "a.test."]);
    }

    #[test]
    fn a_dname_above_the_question_and_its_synthesized_cname_are_kept() {
        // hickory-proto without its DNSSEC features has no DNAME type: the RDATA, uncompressed.
        let target = wire::wire_name("other.example");
        let dname = RData::Unknown { code: RecordType::from(TYPE_DNAME), rdata: NULL::with(target) };
        let original = reply(&[
            ("test.", dname),
            ("a.test.", cname("a.other.example.")),
            ("a.other.example.", a("192.0.2.1")),
            ("b.other.example.", a("192.0.2.66")),
        ]);
        let scrubbed = scrub(&original, QUESTION.len(), false).unwrap();
        assert_eq!(scrubbed.unrelated, 1);
        assert_eq!(owners(&scrubbed.reply), ["test.", "a.test.", "a.other.example."]);
    }

    #[test]
    fn private_addresses_go_and_public_ones_stay() {
        let original = reply(&[
            ("a.test.", a("10.1.2.3")),
            ("a.test.", a("192.0.2.1")),
            ("a.test.", RData::AAAA(AAAA("::ffff:192.168.1.1".parse().unwrap()))),
        ]);
        let scrubbed = scrub(&original, QUESTION.len(), true).unwrap();
        assert_eq!((scrubbed.unrelated, scrubbed.private), (0, 2));
        let kept = Message::from_vec(&scrubbed.reply).unwrap();
        assert_eq!(kept.answers.len(), 1);
        assert_eq!(kept.answers[0].data, a("192.0.2.1"));
        assert_eq!(scrub(&original, QUESTION.len(), false).unwrap().private, 0);
    }

    #[test]
    fn the_ranges_of_rebind_protection() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "fec0::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.1", "100.128.0.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8", "172.32.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_long_chain_stops_at_max_chain() {
        let mut records: Vec<(String, RData)> = Vec::new();
        records.push(("a.test.".into(), cname("n0.test.")));
        for i in 0..40 {
            records.push((format!("n{i}.test."), cname(&format!("n{}.test.", i + 1))));
        }
        let answers: Vec<(&str, RData)> = records.iter().map(|(n, r)| (n.as_str(), r.clone())).collect();
        let original = reply(&answers);
        let scrubbed = scrub(&original, QUESTION.len(), false).unwrap();
        assert_eq!(Message::from_vec(&scrubbed.reply).unwrap().answers.len(), MAX_CHAIN);
    }

    /// Mutated replies: scrubbed or Malformed, never a panic; what is kept
    /// still parses.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = reply(&[("c.test.", a("10.0.0.1")), ("a.test.", cname("c.test.")), ("x.test.", a("192.0.2.1"))]);
        for round in 0..50_000u32 {
            let packet = wire::tests::mutated(&valid, (round % 2) as usize * HEADER_LEN);
            if let Ok(scrubbed) = scrub(&packet, QUESTION.len(), true)
                && matches!(scrubbed.reply, Cow::Owned(_))
            {
                assert!(Message::from_vec(&scrubbed.reply).is_ok());
            }
        }
    }
}
