//! Well-formed DNS replies for unit tests, written with the `wire::write_*`
//! functions stubborn writes its own replies with: a header, one question,
//! then records in section order, each name compressed against the names
//! written before it (RFC 1035 §4.1.4), as an upstream would send them.
//!
//! ```text
//! let reply = Packet::reply("www.example.com", TYPE_A).a("www.example.com", 300, [192, 0, 2, 1]).build();
//! ```
//!
//! Bytes that are wrong on purpose (a header that lies, a pointer loop,
//! fuzz-style mutations) stay written out by hand in their tests: there the
//! bytes are the point.

use crate::wire::{
    self, CLASS_IN, HEADER_LEN, NOERROR, NXDOMAIN, QR, RA, RCODE_MASK, RD, TYPE_A, TYPE_CNAME, TYPE_SOA,
};

/// The section a record goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Answer = 1,
    Authority = 2,
    Additional = 3,
}

/// A reply being built: `Packet::reply(..)`, then records, then [`Packet::build`].
#[derive(Clone, Debug)]
pub(crate) struct Packet {
    id: u16,
    flags: [u8; 2],
    /// The message as written so far, behind a header left zero until `build`.
    bytes: Vec<u8>,
    /// Question, answer, authority and additional counts.
    counts: [u16; 4],
    /// The section the last record went in: records come in section order.
    section: Section,
    /// Every name written so far, and each name it ends in, in lower-case
    /// wire form with the offset it starts at: what later names point to.
    names: Vec<(Vec<u8>, usize)>,
    question_len: usize,
}

impl Packet {
    /// A reply to `name` (dotted) `qtype`, class IN: ID 0, QR RD RA, NOERROR, no records yet.
    pub(crate) fn reply(name: &str, qtype: u16) -> Packet {
        Packet::reply_to(&wire::question(name, qtype))
    }

    /// A reply to `question` (its name in wire form, uncompressed, then type and class).
    pub(crate) fn reply_to(question: &[u8]) -> Packet {
        let mut packet = Packet {
            id: 0,
            flags: [QR | RD, RA | NOERROR],
            bytes: vec![0; HEADER_LEN],
            counts: [1, 0, 0, 0],
            section: Section::Answer,
            names: Vec::new(),
            question_len: question.len(),
        };
        let name_len = wire::skip_name(question, 0, false).expect("a question starts with an uncompressed name");
        packet.bytes.extend_from_slice(question);
        packet.remember(&question[..name_len], HEADER_LEN);
        packet
    }

    pub(crate) fn id(mut self, id: u16) -> Packet {
        self.id = id;
        self
    }

    /// The RCODE (NOERROR unless set).
    pub(crate) fn rcode(mut self, rcode: u8) -> Packet {
        self.flags[1] = (self.flags[1] & !RCODE_MASK) | (rcode & RCODE_MASK);
        self
    }

    /// The length of the question section (name, type, class).
    pub(crate) fn question_len(&self) -> usize {
        self.question_len
    }

    /// The question's name, dotted (`a.test.`), for a record it owns.
    pub(crate) fn qname(&self) -> String {
        let mut name = String::new();
        let mut at = HEADER_LEN;
        while self.bytes[at] != 0 {
            let len = usize::from(self.bytes[at]);
            name.push_str(&String::from_utf8_lossy(&self.bytes[at + 1..at + 1 + len]));
            name.push('.');
            at += 1 + len;
        }
        if name.is_empty() { ".".to_string() } else { name }
    }

    /// An A record of `owner` in the answer section.
    pub(crate) fn a(self, owner: &str, ttl: u32, address: [u8; 4]) -> Packet {
        self.answer(owner, TYPE_A, ttl, &address)
    }

    /// A CNAME record of `owner` to `target` in the answer section.
    pub(crate) fn cname(mut self, owner: &str, ttl: u32, target: &str) -> Packet {
        let rdata_at = self.start_record(Section::Answer, owner, TYPE_CNAME, ttl);
        self.write_name(&wire::wire_name(target));
        self.end_record(rdata_at)
    }

    /// An SOA record of `owner`, naming `owner` itself as MNAME and RNAME,
    /// in the authority section. `fields`: serial, refresh, retry, expire,
    /// minimum (RFC 1035 §3.3.13).
    pub(crate) fn soa(mut self, owner: &str, ttl: u32, fields: [u32; 5]) -> Packet {
        let rdata_at = self.start_record(Section::Authority, owner, TYPE_SOA, ttl);
        let name = wire::wire_name(owner);
        self.write_name(&name);
        self.write_name(&name);
        for field in fields {
            self.bytes.extend_from_slice(&field.to_be_bytes());
        }
        self.end_record(rdata_at)
    }

    /// A record of `owner` with this RDATA, as it is, in the answer section.
    pub(crate) fn answer(self, owner: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Packet {
        self.record(Section::Answer, owner, rtype, ttl, rdata)
    }

    /// A record of `owner` with this RDATA, as it is, in `section`.
    pub(crate) fn record(mut self, section: Section, owner: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Packet {
        let rdata_at = self.start_record(section, owner, rtype, ttl);
        self.bytes.extend_from_slice(rdata);
        self.end_record(rdata_at)
    }

    /// An OPT record offering `payload` (RFC 6891) in the additional section.
    pub(crate) fn opt(mut self, payload: u16, dnssec_ok: bool) -> Packet {
        self.enter(Section::Additional);
        wire::write_opt(&mut self.bytes, payload, dnssec_ok, 0, None);
        self
    }

    /// The reply in wire form.
    pub(crate) fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len());
        wire::write_header(&mut out, self.id, self.flags, self.counts);
        out.extend_from_slice(&self.bytes[HEADER_LEN..]);
        out
    }

    /// Counts a record in `section`, which may not come before the last one's.
    fn enter(&mut self, section: Section) {
        assert!(section >= self.section, "a record for the {section:?} section after one for the {:?}", self.section);
        self.section = section;
        self.counts[section as usize] += 1;
    }

    /// Writes owner, type, class, TTL and a zero RDLENGTH; returns where the RDATA starts.
    fn start_record(&mut self, section: Section, owner: &str, rtype: u16, ttl: u32) -> usize {
        self.enter(section);
        self.write_name(&wire::wire_name(owner));
        self.bytes.extend_from_slice(&rtype.to_be_bytes());
        self.bytes.extend_from_slice(&CLASS_IN.to_be_bytes());
        self.bytes.extend_from_slice(&ttl.to_be_bytes());
        self.bytes.extend_from_slice(&[0, 0]);
        self.bytes.len()
    }

    /// Sets the RDLENGTH of the record whose RDATA started at `rdata_at`.
    fn end_record(mut self, rdata_at: usize) -> Packet {
        let len = u16::try_from(self.bytes.len() - rdata_at).expect("RDATA fits in 65535 octets");
        self.bytes[rdata_at - 2..rdata_at].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// Writes `name` (uncompressed wire form): its labels up to the first
    /// name ending already written, then a pointer to that.
    fn write_name(&mut self, name: &[u8]) {
        let at = self.bytes.len();
        let mut label = 0;
        while name[label] != 0 {
            let rest = name[label..].to_ascii_lowercase();
            if let Some(&(_, offset)) = self.names.iter().find(|(written, _)| *written == rest) {
                self.bytes.extend_from_slice(&name[..label]);
                self.bytes.extend_from_slice(&(0xc000 | offset as u16).to_be_bytes());
                self.remember(&name[..label], at);
                return;
            }
            label += 1 + usize::from(name[label]);
        }
        self.bytes.extend_from_slice(name);
        self.remember(name, at);
    }

    /// Notes the name each label of `labels` starts, as written at `at`.
    fn remember(&mut self, labels: &[u8], at: usize) {
        let mut label = 0;
        while label < labels.len() && labels[label] != 0 {
            let offset = at + label;
            if offset < 0x4000 {
                let rest = self.resolved_from(offset);
                self.names.push((rest, offset));
            }
            label += 1 + usize::from(labels[label]);
        }
    }

    /// The name written at `offset`, pointers followed, in lower-case uncompressed wire form.
    fn resolved_from(&self, offset: usize) -> Vec<u8> {
        let mut name = Vec::new();
        let mut at = offset;
        loop {
            match self.bytes.get(at).copied() {
                Some(len @ 1..=63) => {
                    name.extend_from_slice(&self.bytes[at..at + 1 + usize::from(len)]);
                    at += 1 + usize::from(len);
                }
                Some(high @ 0xc0..) => at = usize::from(u16::from_be_bytes([high & 0x3f, self.bytes[at + 1]])),
                _ => break,
            }
        }
        name.push(0);
        name.to_ascii_lowercase()
    }
}

/// A reply to `www.example.com. A` (ID 0xabcd): two A records (TTL 300 and
/// 60, 192.0.2.1 and .2), then an OPT record; the question is 21 octets.
pub(crate) fn positive_reply() -> Vec<u8> {
    Packet::reply("www.example.com", TYPE_A)
        .id(0xabcd)
        .a("www.example.com", 300, [192, 0, 2, 1])
        .a("www.example.com", 60, [192, 0, 2, 2])
        .opt(1232, false)
        .build()
}

/// NXDOMAIN for `www.example.com. A` (ID 0xabcd) with the SOA of
/// `example.com` (TTL 3600, MINIMUM 120).
pub(crate) fn negative_reply() -> Vec<u8> {
    Packet::reply("www.example.com", TYPE_A)
        .id(0xabcd)
        .rcode(NXDOMAIN)
        .soa("example.com", 3600, [1, 7200, 900, 1_209_600, 120])
        .build()
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RData;

    use super::*;

    /// What the builder writes reads back as meant, each name after the
    /// question compressed: `example` is written once.
    #[test]
    fn replies_read_back_with_every_name_compressed() {
        let reply = Packet::reply("www.example.com", TYPE_A)
            .id(7)
            .rcode(NXDOMAIN)
            .cname("www.example.com", 60, "edge.example.com")
            .a("edge.example.com", 30, [192, 0, 2, 1])
            .soa("example.com", 300, [1, 2, 3, 4, 5])
            .opt(1232, true)
            .build();
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!((m.metadata.id, m.metadata.response_code), (7, ResponseCode::NXDomain));
        let answers: Vec<String> = m.answers.iter().map(|r| format!("{} {} {}", r.name, r.ttl, r.data)).collect();
        assert_eq!(answers, ["www.example.com. 60 edge.example.com.", "edge.example.com. 30 192.0.2.1"]);
        assert!(
            matches!(&m.authorities[0].data, RData::SOA(soa) if soa.minimum == 5 && soa.mname.to_ascii() == "example.com.")
        );
        assert!(m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok && e.max_payload() == 1232));
        assert_eq!(reply.windows(8).filter(|w| w.eq_ignore_ascii_case(b"\x07example")).count(), 1);
        assert_eq!(Packet::reply_to(&reply[HEADER_LEN..HEADER_LEN + 21]).qname(), "www.example.com.");
    }

    #[test]
    #[should_panic(expected = "a record for the Answer section after one for the Authority")]
    fn records_come_in_section_order() {
        Packet::reply("a.test", TYPE_A).soa("test", 60, [1, 2, 3, 4, 5]).a("a.test", 60, [192, 0, 2, 1]);
    }
}
