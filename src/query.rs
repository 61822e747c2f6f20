//! Reading a client's query off the wire: header, the one question, and the
//! EDNS OPT record (RFC 6891). This runs for every packet, cache hits
//! included, so it reads the few fields stubborn needs in place instead of
//! building a full hickory `Message`; everything else about the packet is
//! left alone. What it can't accept is a [`Rejection`] saying how to answer.

use std::fmt;

use hickory_proto::rr::RecordType;

use crate::wire::{
    self, AD, CD, CLASS_IN, HEADER_LEN, MAX_UDP_PAYLOAD, PLAIN_UDP_LIMIT, QR, RD, Records, TYPE_AXFR, TYPE_IXFR,
    TYPE_OPT, skip_name, u16_at,
};

/// A query stubborn will answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Header byte 2 as received: opcode and RD are echoed from it.
    pub flags: u8,
    /// CD and AD of header byte 3.
    pub checking_disabled: bool,
    pub authentic_data: bool,
    /// The question exactly as received (name in the client's letter case, type, class):
    /// replies echo it byte for byte.
    pub question: Box<[u8]>,
    pub qtype: u16,
    pub qclass: u16,
    /// Present when the query carried an OPT record.
    pub edns: Option<ClientEdns>,
    /// Cache and coalescing key: the lower-cased question plus a byte of
    /// the DNSSEC bits that change the answer ([`KEY_DO`], [`KEY_CD`]): an
    /// answer fetched with CD=1 (data a validating upstream would refuse)
    /// is never given to a CD=0 client, nor one without RRSIGs to DO=1.
    pub key: Box<[u8]>,
}

/// The DO bit in a cache key's last byte.
pub const KEY_DO: u8 = 1;
/// The CD bit in a cache key's last byte.
pub const KEY_CD: u8 = 2;

/// A cache key's last byte for these DNSSEC bits.
pub fn key_bits(dnssec_ok: bool, checking_disabled: bool) -> u8 {
    (if dnssec_ok { KEY_DO } else { 0 }) | if checking_disabled { KEY_CD } else { 0 }
}

/// What the client said in its OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEdns {
    /// The largest UDP reply the client accepts.
    pub payload: u16,
    /// The DO bit: the client wants DNSSEC records.
    pub dnssec_ok: bool,
}

impl ClientEdns {
    /// The client's payload size within what stubborn sends and asks for:
    /// at least 512, at most [`MAX_UDP_PAYLOAD`].
    pub fn udp_payload(&self) -> u16 {
        self.payload.clamp(PLAIN_UDP_LIMIT, MAX_UDP_PAYLOAD)
    }
}

/// Why a packet is not answered normally, and so how it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Too short to have a header, or a response: no reply at all (never
    /// answer a response, or two resolvers could bounce packets forever).
    Drop,
    /// Malformed, or not exactly one question: FORMERR.
    FormErr,
    /// An opcode other than QUERY, or a zone transfer: NOTIMP.
    NotImp,
    /// EDNS version other than 0: BADVERS (RFC 6891 §6.1.3).
    BadVers,
}

impl Query {
    /// Parses `packet`, or says how to reject it.
    pub fn parse(packet: &[u8]) -> Result<Query, Rejection> {
        if packet.len() < HEADER_LEN || packet[2] & QR != 0 {
            return Err(Rejection::Drop);
        }
        let count = |i: usize| u16_at(packet, i);
        if wire::opcode(packet[2]) != 0 {
            return Err(Rejection::NotImp);
        }
        if count(4) != 1 {
            return Err(Rejection::FormErr);
        }
        let question_end = question_end(packet).ok_or(Rejection::FormErr)?;
        let question = &packet[HEADER_LEN..question_end];
        let qtype = u16_at(packet, question_end - 4);
        let qclass = u16_at(packet, question_end - 2);
        if qtype == TYPE_AXFR || qtype == TYPE_IXFR {
            return Err(Rejection::NotImp);
        }
        let records = usize::from(count(6)) + usize::from(count(8)) + usize::from(count(10));
        let edns = find_edns(packet, question_end, records, usize::from(count(6)) + usize::from(count(8)))?;

        let mut key = Vec::with_capacity(question.len() + 1);
        key.extend(question[..question.len() - 4].iter().map(u8::to_ascii_lowercase));
        key.extend_from_slice(&question[question.len() - 4..]);
        let checking_disabled = packet[3] & CD != 0;
        key.push(key_bits(edns.is_some_and(|e| e.dnssec_ok), checking_disabled));
        Ok(Query {
            id: count(0),
            flags: packet[2],
            checking_disabled,
            authentic_data: packet[3] & AD != 0,
            question: question.into(),
            qtype,
            qclass,
            edns,
            key: key.into_boxed_slice(),
        })
    }

    /// A query stubborn asks itself (service targets): `name_wire` (lower-case
    /// wire form) of `qtype`, class IN, RD, no EDNS — so it shares cache
    /// entries with clients' plain queries.
    pub fn internal(name_wire: &[u8], qtype: u16) -> Query {
        let question = wire::question_of(name_wire, qtype);
        let mut key = question.clone();
        key.push(0);
        Query {
            id: 0,
            flags: RD,
            checking_disabled: false,
            authentic_data: false,
            question: question.into_boxed_slice(),
            qtype,
            qclass: CLASS_IN,
            edns: None,
            key: key.into_boxed_slice(),
        }
    }

    /// RD: the client asked for recursion.
    pub fn recursion_desired(&self) -> bool {
        self.flags & RD != 0
    }

    /// DO bit of the client's OPT record.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The largest UDP reply this client takes: its EDNS payload (at least
    /// 512, at most [`MAX_UDP_PAYLOAD`]), or 512 without EDNS (RFC 1035 §4.2.1).
    pub fn udp_limit(&self) -> usize {
        usize::from(self.edns.map_or(PLAIN_UDP_LIMIT, |e| e.udp_payload()))
    }

    /// The lower-cased name in wire form (from the key).
    pub fn name_wire(&self) -> &[u8] {
        &self.key[..self.key.len() - 5]
    }

    /// The question lower-cased, as sent upstream and cached.
    pub fn lower_question(&self) -> &[u8] {
        &self.key[..self.key.len() - 1]
    }

    /// The name as text, for logs.
    pub fn name(&self) -> QueryName<'_> {
        QueryName(&self.question[..self.question.len() - 4])
    }
}

/// A wire-format name shown as dotted text (`example.com.`), for logs only.
pub struct QueryName<'a>(pub &'a [u8]);

impl fmt::Display for QueryName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        if self.0.first() == Some(&0) {
            return f.write_str(".");
        }
        while let Some(&len) = self.0.get(i) {
            if len == 0 {
                break;
            }
            let label = self.0.get(i + 1..i + 1 + usize::from(len)).unwrap_or_default();
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", char::from(b))?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
            f.write_str(".")?;
            i += 1 + usize::from(len);
        }
        Ok(())
    }
}

/// A query type shown by its mnemonic (`A`, `AAAA`), or as `TYPE65` (RFC
/// 3597 §5) when it has none, for logs.
pub struct QueryType(pub u16);

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match RecordType::from(self.0) {
            RecordType::Unknown(code) => write!(f, "TYPE{code}"),
            known => write!(f, "{known}"),
        }
    }
}

/// The offset just past the question of `packet` (a name without
/// compression, type and class), if it is there whole.
pub fn question_end(packet: &[u8]) -> Option<usize> {
    let end = skip_name(packet, HEADER_LEN, false)? + 4;
    (end <= packet.len()).then_some(end)
}

/// The OPT record of `packet`, whose question ends at `question_end`, for
/// the reply to a request stubborn does not serve (NOTIMP): a request with
/// OPT gets a response with OPT (RFC 6891 §7). `None` without one, or when
/// the records do not parse or the OPT record is not version 0.
pub fn edns_after(packet: &[u8], question_end: usize) -> Option<ClientEdns> {
    let count = |i: usize| usize::from(u16_at(packet, i));
    find_edns(packet, question_end, count(6) + count(8) + count(10), count(6) + count(8)).ok().flatten()
}

/// Walks the `records` RRs after the question; the OPT record, if any, must
/// sit in the additional section (records after the first `before_additional`).
fn find_edns(
    packet: &[u8],
    at: usize,
    records: usize,
    before_additional: usize,
) -> Result<Option<ClientEdns>, Rejection> {
    let mut edns = None;
    for (index, record) in Records::new(packet, at, records).enumerate() {
        let record = record.map_err(|_| Rejection::FormErr)?;
        if record.rtype == TYPE_OPT {
            if edns.is_some() || index < before_additional {
                return Err(Rejection::FormErr);
            }
            if record.edns_version() != 0 {
                return Err(Rejection::BadVers);
            }
            edns = Some(ClientEdns { payload: record.class, dnssec_ok: record.edns_dnssec_ok() });
        }
    }
    Ok(edns)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::{tests::mutated, wire_name};

    /// `www.Example.com. A IN`, RD, id 0x1234, optionally with an OPT record.
    pub(crate) fn query_bytes(edns: Option<(u16, bool)>) -> Vec<u8> {
        let mut p = Vec::new();
        wire::write_header(&mut p, 0x1234, [RD, 0], [1, 0, 0, u16::from(edns.is_some())]);
        p.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        if let Some((payload, dnssec_ok)) = edns {
            wire::write_opt(&mut p, payload, dnssec_ok, 0, None);
        }
        p
    }

    #[test]
    fn reads_question_and_edns() {
        let q = Query::parse(&query_bytes(Some((1232, true)))).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.recursion_desired());
        assert_eq!(&*q.question, b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(q.name_wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!((q.qtype, q.qclass), (1, 1));
        assert_eq!(q.edns, Some(ClientEdns { payload: 1232, dnssec_ok: true }));
        assert_eq!(q.udp_limit(), 1232);
        assert_eq!(*q.key.last().unwrap(), KEY_DO);
        assert_eq!(q.name().to_string(), "www.Example.com.");
    }

    #[test]
    fn cd_and_do_are_in_the_key() {
        let mut checking_disabled = query_bytes(Some((1232, false)));
        checking_disabled[3] |= CD;
        let plain = Query::parse(&query_bytes(Some((1232, false)))).unwrap();
        let cd = Query::parse(&checking_disabled).unwrap();
        assert!(cd.checking_disabled);
        assert_eq!(*cd.key.last().unwrap(), KEY_CD);
        assert_ne!(plain.key, cd.key);
        assert_eq!(plain.lower_question(), cd.lower_question());
    }

    #[test]
    fn without_edns_the_limit_is_512() {
        let q = Query::parse(&query_bytes(None)).unwrap();
        assert_eq!(q.edns, None);
        assert_eq!(q.udp_limit(), 512);
        let q = Query::parse(&query_bytes(Some((100, false)))).unwrap();
        assert_eq!(q.udp_limit(), 512);
    }

    #[test]
    fn rejections() {
        assert_eq!(Query::parse(&[0; 11]), Err(Rejection::Drop));
        let mut response = query_bytes(None);
        response[2] |= QR;
        assert_eq!(Query::parse(&response), Err(Rejection::Drop));
        let mut notify = query_bytes(None);
        notify[2] = 4 << 3;
        assert_eq!(Query::parse(&notify), Err(Rejection::NotImp));
        let mut two = query_bytes(None);
        two[5] = 2;
        assert_eq!(Query::parse(&two), Err(Rejection::FormErr));
        let mut none = query_bytes(None);
        none[5] = 0;
        assert_eq!(Query::parse(&none), Err(Rejection::FormErr));
        let short = &query_bytes(None)[..20];
        assert_eq!(Query::parse(short), Err(Rejection::FormErr));
        let mut badvers = query_bytes(Some((1232, false)));
        let version = badvers.len() - 5;
        badvers[version] = 1;
        assert_eq!(Query::parse(&badvers), Err(Rejection::BadVers));
        let mut axfr = query_bytes(None);
        let qtype = axfr.len() - 3;
        axfr[qtype] = 252;
        assert_eq!(Query::parse(&axfr), Err(Rejection::NotImp));
    }

    #[test]
    fn internal_queries_share_the_plain_cache_key() {
        let q = Query::internal(&wire_name("www.example.com"), 1);
        let plain = Query::parse(&query_bytes(None)).unwrap();
        assert_eq!(q.key, plain.key);
        assert_eq!(wire_name(""), vec![0]);
    }

    /// Random and mutated packets: parsed or rejected, never a panic, and a
    /// rejection's reply (if any) is a well-formed header.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = query_bytes(Some((1232, true)));
        for round in 0..200_000u32 {
            let packet: Vec<u8> = if round % 2 == 0 {
                let len = rand::random_range(0..64usize);
                (0..len).map(|_| rand::random()).collect()
            } else {
                mutated(&valid, 0)
            };
            if let Err(why) = Query::parse(&packet)
                && let Some(reply) = crate::reply::rejection(&packet, why)
            {
                assert!(reply.len() >= 12);
                assert_eq!(reply[..2], packet[..2]);
            }
        }
    }

    #[test]
    fn types_show_as_mnemonics() {
        assert_eq!(QueryType(1).to_string(), "A");
        assert_eq!(QueryType(28).to_string(), "AAAA");
        assert_eq!(QueryType(65280).to_string(), "TYPE65280");
    }

    #[test]
    fn names_longer_than_255_octets_are_malformed() {
        let mut p = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..5 {
            p.push(63);
            p.extend_from_slice(&[b'a'; 63]);
        }
        p.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(Query::parse(&p), Err(Rejection::FormErr));
    }
}
