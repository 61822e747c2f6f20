//! The one check of an upstream reply: every record after the question is
//! read as a full DNS parser would read it, on the record walker
//! ([`Records`]) alone, without building a message. A reply it passes is
//! one hickory-proto's `Message` decoder also accepts, with the same
//! records (the `upstream_reply` fuzz target and the differential tests
//! hold the two side by side); it may refuse a little more (a compression
//! pointer into the header, an OPT record whose root owner is compressed).
//!
//! What it checks, record by record:
//! - names, the owner's and those in RDATA: labels of at most 63 octets,
//!   at most 255 octets uncompressed, compression pointers only to before
//!   the stretch of labels they end and past the header, and each stretch
//!   reached by a pointer wholly before the one that pointed (RFC 1035
//!   §4.1.4: "a prior occurrence", and no loop);
//! - RDATA is not empty (that is an UPDATE's prerequisite, RFC 2136 §2.4),
//!   and fills RDLENGTH exactly as its type's layout says: A, AAAA, the
//!   name types (NS, CNAME, PTR, ANAME), MX, SRV, SOA and TXT by hand; the
//!   types hickory-proto keeps opaque (DNSSEC's, DNAME and unknown ones)
//!   as any bytes; the other types it parses (SVCB, HTTPS, CAA, NAPTR, …:
//!   rare) through hickory-proto's own RDATA reader, on that record alone;
//! - OPT, SIG and TSIG only in the additional section, one OPT at most,
//!   with the root as owner; its options framing the RDATA exactly, and
//!   Client Subnet and NSID (which hickory-proto parses) through its reader.
//!
//! It allocates nothing for the usual reply (no NSID or Client Subnet, no
//! rare type).

use hickory_proto::{
    rr::{RData, RecordType},
    serialize::binary::{BinDecoder, Restrict},
};

use super::{
    HEADER_LEN, Malformed, Record, Records, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_OPT, TYPE_SOA, u16_at,
};

const TYPE_PTR: u16 = 12;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;
const TYPE_SIG: u16 = 24;
const TYPE_SRV: u16 = 33;
const TYPE_TSIG: u16 = 250;
/// hickory-proto's ANAME (a draft): RDATA is one name.
const TYPE_ANAME: u16 = 65305;

/// Types whose RDATA hickory-proto keeps as opaque bytes (built without
/// its DNSSEC feature, as stubborn is): DNAME, and DNSSEC's DS, RRSIG,
/// NSEC, DNSKEY, NSEC3, NSEC3PARAM, CDS, CDNSKEY. The test
/// `hickory_keeps_these_types_opaque` holds hickory-proto to it.
const OPAQUE: [u16; 9] = [39, 43, 46, 47, 48, 50, 51, 59, 60];

/// What the check found beside "well-formed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The RCODE, with the upper 8 bits an OPT record carries (RFC 6891 §6.1.3).
    pub rcode: u16,
}

/// Checks the records of `reply` from `start` (just past its one question,
/// which the caller has matched to its own)
/// to the last one its header counts. Bytes after that are not DNS and are
/// not looked at (every DNS parser ignores them).
pub fn check_records(reply: &[u8], start: usize) -> Result<Checked, Malformed> {
    if reply.len() < HEADER_LEN || start < HEADER_LEN || u16_at(reply, 4) != 1 {
        return Err(Malformed);
    }
    let [answers, authorities, additionals] = [6, 8, 10].map(|at| usize::from(u16_at(reply, at)));
    let mut rcode = u16::from(reply[3] & super::RCODE_MASK);
    let mut seen_opt = false;
    for (index, record) in Records::new(reply, start, answers + authorities + additionals).enumerate() {
        let record = record?;
        if name_end(reply, record.name.start) != Some(record.name.end) {
            return Err(Malformed);
        }
        let additional = index >= answers + authorities;
        match record.rtype {
            TYPE_OPT if !additional || seen_opt || reply[record.name.start] != 0 => return Err(Malformed),
            TYPE_OPT => {
                seen_opt = true;
                rcode |= u16::from(record.ttl.to_be_bytes()[0]) << 4;
                options_ok(reply, &record)?;
            }
            TYPE_SIG | TYPE_TSIG if !additional => return Err(Malformed),
            _ => rdata_ok(reply, &record)?,
        }
    }
    Ok(Checked { rcode })
}

/// Whether the RDATA of `record` (not OPT) reads whole as its type says.
fn rdata_ok(reply: &[u8], record: &Record) -> Result<(), Malformed> {
    let rdata = record.rdata.clone();
    // A name at `at` that ends the RDATA exactly.
    let name_ends_rdata = |at: usize| name_end(reply, at) == Some(rdata.end);
    let ok = match record.rtype {
        _ if rdata.is_empty() => false,
        TYPE_A => rdata.len() == 4,
        TYPE_AAAA => rdata.len() == 16,
        TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_ANAME => name_ends_rdata(rdata.start),
        TYPE_MX => name_ends_rdata(rdata.start + 2),
        TYPE_SRV => name_ends_rdata(rdata.start + 6),
        // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM.
        TYPE_SOA => name_end(reply, rdata.start)
            .and_then(|rname| name_end(reply, rname))
            .is_some_and(|end| end + 20 == rdata.end),
        // One or more character-strings, the last ending the RDATA.
        TYPE_TXT => {
            let mut at = rdata.start;
            while at < rdata.end {
                at += 1 + usize::from(reply[at]);
            }
            at == rdata.end
        }
        rtype if OPAQUE.contains(&rtype) => true,
        _ => return hickory_reads(reply, record),
    };
    if ok { Ok(()) } else { Err(Malformed) }
}

/// Whether the options of the OPT `record` frame its RDATA exactly (code,
/// length, data; RFC 6891 §6.1.2). The two that hickory-proto parses
/// (NSID and Client Subnet) go through its reader; other options are opaque
/// to it, Padding and EDE among them.
fn options_ok(reply: &[u8], record: &Record) -> Result<(), Malformed> {
    const OPTION_NSID: u16 = 3;
    const OPTION_SUBNET: u16 = 8;
    let mut at = record.rdata.start;
    while at < record.rdata.end {
        if at + 4 > record.rdata.end {
            return Err(Malformed);
        }
        if matches!(u16_at(reply, at), OPTION_NSID | OPTION_SUBNET) {
            return hickory_reads(reply, record);
        }
        at += 4 + usize::from(u16_at(reply, at + 2));
    }
    if at == record.rdata.end { Ok(()) } else { Err(Malformed) }
}

/// Reads the RDATA of `record` with hickory-proto's reader for its type
/// (names in it may point anywhere before them in `reply`), which must take
/// exactly RDLENGTH octets. For the types this module does not read by hand.
fn hickory_reads(reply: &[u8], record: &Record) -> Result<(), Malformed> {
    let at = u16::try_from(record.rdata.start).map_err(|_| Malformed)?;
    let length = u16::try_from(record.rdata.len()).map_err(|_| Malformed)?;
    let mut decoder = BinDecoder::new(reply).clone(at);
    match RData::read(&mut decoder, RecordType::from(record.rtype), Restrict::new(length)) {
        Ok(_) => Ok(()),
        Err(_) => Err(Malformed),
    }
}

/// The offset just past the name at `at` of `packet` (after its root octet
/// or its first pointer), if it is a well-formed name: labels of up to 63
/// octets; compression pointers past the header and before the stretch of
/// labels they end; each stretch a pointer leads to ending before the
/// stretch that pointed (which rules out loops); at most 255 octets
/// uncompressed, the root octet included. These are hickory-proto's rules
/// for a name, less pointers into the header (which holds no name).
fn name_end(packet: &[u8], at: usize) -> Option<usize> {
    let mut end = None;
    let mut stretch = at;
    let mut bound = packet.len();
    let mut octets = 1;
    let mut at = at;
    loop {
        let len = *packet.get(at)?;
        if at >= bound {
            return None;
        }
        match len {
            0 => return end.or(Some(at + 1)),
            1..=63 => {
                octets += 1 + usize::from(len);
                if octets > 255 {
                    return None;
                }
                at += 1 + usize::from(len);
            }
            0xc0..=0xff => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *packet.get(at + 1)?]));
                if target >= stretch || target < HEADER_LEN {
                    return None;
                }
                end = end.or(Some(at + 2));
                bound = stretch;
                stretch = target;
                at = target;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
use crate::wire;
#[cfg(test)]
#[path = "differential.rs"]
mod differential;

#[cfg(test)]
mod tests {
    use hickory_proto::op::Message;

    use super::{
        differential::{Verdict, compare},
        *,
    };
    use crate::wire::{QR, RA, RD, tests::mutated, write_header, write_opt};

    const QUESTION: &[u8] = b"\x07example\x00\x00\x01\x00\x01";
    const START: usize = HEADER_LEN + QUESTION.len();

    /// A reply to `example A` with `records` (raw, after the question)
    /// counted as `counts` (answer, authority, additional).
    fn reply(counts: [u16; 3], records: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        write_header(&mut p, 7, [QR | RD, RA], [1, counts[0], counts[1], counts[2]]);
        p.extend_from_slice(QUESTION);
        p.extend_from_slice(records);
        p
    }

    /// A record owned by the question's name (a pointer to it).
    fn record(rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut r = vec![0xc0, 12];
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 1, 44]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    fn both(p: &[u8]) -> (bool, bool) {
        (check_records(p, START).is_ok(), Message::from_vec(p).is_ok())
    }

    #[test]
    fn the_usual_records_pass_and_agree_with_hickory() {
        let soa = [&b"\x02ns\xc0\x0c\x04mail\xc0\x0c"[..], &[0; 20]].concat();
        let cases: [(u16, &[u8]); 8] = [
            (TYPE_A, &[192, 0, 2, 1]),
            (TYPE_AAAA, &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            (TYPE_CNAME, b"\x03www\xc0\x0c"),
            (TYPE_MX, b"\x00\x0a\x02mx\xc0\x0c"),
            (TYPE_SRV, b"\x00\x01\x00\x02\x00\x35\x00"),
            (TYPE_SOA, &soa),
            (TYPE_TXT, b"\x05hello\x00\x03abc"),
            (46, b"anything at all"),
        ];
        for (rtype, rdata) in cases {
            let p = reply([1, 0, 0], &record(rtype, rdata));
            assert_eq!(both(&p), (true, true), "type {rtype}");
        }
    }

    #[test]
    fn records_hickory_refuses_are_refused() {
        let cases: [(u16, &[u8]); 7] = [
            (TYPE_A, &[192, 0, 2]),
            (TYPE_AAAA, &[0; 4]),
            (TYPE_CNAME, b"\x03www\xc0\x0c\x00"),
            (TYPE_MX, b"\x00"),
            (TYPE_TXT, b"\x05hel"),
            (TYPE_A, b""),
            // HTTPS (type 65) with a truncated SvcParam: hickory-proto's reader decides.
            (65, b"\x00\x01\x00\x00\x01\x00\x05h2"),
        ];
        for (rtype, rdata) in cases {
            let p = reply([1, 0, 0], &record(rtype, rdata));
            assert_eq!(both(&p), (false, false), "type {rtype} {rdata:?}");
        }
    }

    #[test]
    fn opt_only_once_and_only_in_the_additional_section() {
        let mut opt = Vec::new();
        write_opt(&mut opt, 1232, false, 0, None);
        assert_eq!(both(&reply([0, 0, 1], &opt)), (true, true));
        assert_eq!(both(&reply([1, 0, 0], &opt)), (false, false));
        assert_eq!(both(&reply([0, 0, 2], &[&opt[..], &opt].concat())), (false, false));
        let mut badvers = Vec::new();
        write_opt(&mut badvers, 1232, false, 1, None);
        assert_eq!(check_records(&reply([0, 0, 1], &badvers), START), Ok(Checked { rcode: 16 }));
    }

    #[test]
    fn opt_options_frame_the_rdata() {
        let opt = |options: &[u8]| {
            let mut r = vec![0, 0, 41, 4, 0xd0, 0, 0, 0, 0];
            r.extend_from_slice(&(options.len() as u16).to_be_bytes());
            r.extend_from_slice(options);
            reply([0, 0, 1], &r)
        };
        let padding = [&[0, 12, 0, 100][..], &[0; 100]].concat();
        assert_eq!(both(&opt(&padding)), (true, true));
        let ede = b"\x00\x0f\x00\x07\x00\x03stale";
        assert_eq!(both(&opt(&[&padding[..], ede].concat())), (true, true));
        assert_eq!(both(&opt(&padding[..50])), (false, false), "an option longer than the RDATA");
        let cut = [&[0, 12, 0, 32][..], &[0; 30]].concat();
        assert_eq!(both(&opt(&cut)), (false, true), "a cut last option: hickory drops it, the check refuses");
        assert_eq!(both(&opt(&padding[..3])), (false, false));
        // NSID and Client Subnet: hickory-proto's reader decides.
        assert_eq!(both(&opt(b"\x00\x03\x00\x02ab")), (true, true));
        assert_eq!(both(&opt(b"\x00\x08\x00\x02\x00\x01")), (false, false));
        assert_eq!(both(&opt(b"\x00\x08\x00\x07\x00\x01\x18\x00\xc0\x00\x02")), (true, true));
    }

    #[test]
    fn names_follow_hickorys_rules() {
        // A pointer into the name's own labels (here onto a zero octet inside one).
        let own = reply([1, 0, 0], &[&b"\x03a\x00b\xc0\x1b"[..], &[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]].concat());
        assert_eq!(both(&own), (false, false));
        // 256 octets uncompressed.
        let long = [&[63][..], &[b'x'; 63], &[63], &[b'x'; 63], &[63], &[b'x'; 63], &[62], &[b'x'; 62], &[0]].concat();
        assert_eq!(long.len(), 256);
        let p = reply([1, 0, 0], &[&long[..], &[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]].concat());
        assert_eq!(both(&p), (false, false));
        let mut shorter = long.clone();
        shorter[192] = 61;
        shorter.remove(193);
        let p = reply([1, 0, 0], &[&shorter[..], &[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]].concat());
        assert_eq!(both(&p), (true, true), "255 octets is a name");
    }

    #[test]
    fn hickory_keeps_these_types_opaque() {
        for rtype in OPAQUE {
            let bytes = [0xff, 0xc0, 0xff, 0x00, 0x01];
            let p = reply([1, 0, 0], &record(rtype, &bytes));
            assert_eq!(both(&p), (true, true), "type {rtype}");
        }
    }

    /// The seed corpus of the `upstream_reply` fuzz target (real Knot DNS
    /// replies of every type it serves, and the inputs fuzzing found) and
    /// random changes to each: the check and hickory-proto agree (see
    /// `differential.rs`), and every real reply passes.
    #[test]
    fn the_fuzz_seeds_and_their_mutations_read_as_hickory_reads_them() {
        let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/upstream_reply");
        let mut real = 0;
        for file in std::fs::read_dir(seeds).expect("the seed corpus") {
            let path = file.unwrap().path();
            let seed = std::fs::read(&path).unwrap();
            let verdict = compare(&seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if !path.file_name().unwrap().to_string_lossy().starts_with("found-") {
                assert_eq!(verdict, Verdict::BothAccept, "{}", path.display());
                real += 1;
            }
            for _ in 0..5_000 {
                let p = mutated(&seed, HEADER_LEN);
                compare(&p).unwrap_or_else(|e| panic!("{} mutated to {p:?}: {e}", path.display()));
            }
        }
        assert!(real >= 10, "{real} real replies");
    }

    /// Random changes to replies of every layout: the check never panics and
    /// never passes what hickory-proto refuses.
    #[test]
    fn mutated_replies_pass_only_what_hickory_passes() {
        let soa = [&b"\x02ns\xc0\x0c\x04mail\xc0\x0c"[..], &[0; 20]].concat();
        let mut opt = Vec::new();
        write_opt(&mut opt, 1232, true, 0, Some(crate::wire::EDE_STALE));
        let records = [
            record(TYPE_CNAME, b"\x03www\xc0\x0c"),
            record(TYPE_A, &[192, 0, 2, 1]),
            record(TYPE_MX, b"\x00\x0a\x02mx\xc0\x0c"),
            record(TYPE_SOA, &soa),
            record(TYPE_TXT, b"\x05hello"),
            opt,
        ]
        .concat();
        let valid = reply([3, 1, 2], &records);
        assert_eq!(both(&valid), (true, true));
        for _ in 0..100_000 {
            let p = mutated(&valid, HEADER_LEN);
            compare(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        }
    }
}
