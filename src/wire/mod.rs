//! The DNS wire format, in one place: the numbers (each with its RFC), the
//! one record walker ([`Records`]) and the writers of a header and an OPT
//! record. The query path reads and writes packets by hand instead of
//! through hickory's `Message` for speed (`server/mod.rs` says why); this
//! module is what that costs: every hand-written byte of DNS is read or
//! written here. What a packet *means* (a client's query, a cached answer, a
//! reply) stays with [`crate::query`], [`crate::cache`] and [`crate::reply`].
//! An upstream reply is checked record by record here too ([`check`]);
//! hickory-proto encodes the records stubborn synthesises.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    ops::Range,
};

pub mod check;

pub use check::{Checked, check_records};

/// Length of the fixed header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

// Header byte 2 (RFC 1035 §4.1.1): QR, OPCODE (4 bits), AA, TC, RD.
/// QR: the packet is a response.
pub const QR: u8 = 0x80;
/// OPCODE, 4 bits; 0 is QUERY.
pub const OPCODE_MASK: u8 = 0x78;
const OPCODE_SHIFT: u8 = 3;
/// TC: truncated, ask again over TCP.
pub const TC: u8 = 0x02;
/// RD: recursion desired.
pub const RD: u8 = 0x01;

// Header byte 3 (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2.2-3.2.3).
/// RA: recursion available.
pub const RA: u8 = 0x80;
/// AD: authentic data (DNSSEC-validated upstream).
pub const AD: u8 = 0x20;
/// CD: checking disabled.
pub const CD: u8 = 0x10;
/// RCODE, low 4 bits (the upper 8 bits of an extended RCODE live in OPT).
pub const RCODE_MASK: u8 = 0x0f;

// RCODEs (RFC 1035 §4.1.1; BADVERS RFC 6891 §9).
pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;
/// Extended RCODE 16: the upper 8 bits, 1, go in the OPT record, the lower 4, 0, in the header.
pub const BADVERS: u16 = 16;

/// The mnemonic of an RCODE (IANA "DNS RCODEs"), as operators and
/// dashboards write it; None for codes stubborn has no name for.
pub fn rcode_name(rcode: u16) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return None,
    })
}

/// The label of an RCODE in metrics, logs and JSON: its mnemonic, else
/// `RCODE<n>`.
pub fn rcode_label(rcode: u16) -> std::borrow::Cow<'static, str> {
    rcode_name(rcode).map_or_else(|| std::borrow::Cow::Owned(format!("RCODE{rcode}")), std::borrow::Cow::Borrowed)
}

// RR types (RFC 1035 §3.2.2-3.2.3, RFC 3596, RFC 6891, RFC 1995).
pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_AAAA: u16 = 28;
/// RFC 6672.
pub const TYPE_DNAME: u16 = 39;
/// RFC 4034 §3: RDATA begins with the type covered.
pub const TYPE_RRSIG: u16 = 46;
/// The EDNS pseudo-record (RFC 6891 §6.1.1).
pub const TYPE_OPT: u16 = 41;
/// Zone transfers (RFC 1995, RFC 5936): no sense through a stub resolver.
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
/// QTYPE `*`: any type.
pub const TYPE_ANY: u16 = 255;
/// Class IN; the only class whose answers are cached.
pub const CLASS_IN: u16 = 1;

/// The largest UDP reply to a client without EDNS (RFC 1035 §4.2.1), and
/// the least an EDNS client is taken to accept (RFC 6891 §6.2.5).
pub const PLAIN_UDP_LIMIT: u16 = 512;
/// The UDP payload size stubborn advertises (DNS flag day 2020).
pub const OUR_UDP_PAYLOAD: u16 = 1232;
/// Largest UDP reply stubborn sends, whatever a client offers (RFC 6891 §6.2.5 lets us cap it).
pub const MAX_UDP_PAYLOAD: u16 = 4096;

/// The DO bit in the OPT record's flags (RFC 3225 §3).
const EDNS_DO: u32 = 0x8000;
/// Extended DNS Error option code (RFC 8914 §2).
pub const OPTION_EDE: u16 = 15;
/// EDNS option code of Padding (RFC 7830 §4).
pub const OPTION_PADDING: u16 = 12;
/// Encrypted queries are padded to a multiple of this (RFC 8467 §4.1,
/// "Block-Length Padding", the recommended strategy for clients).
pub const QUERY_PADDING_BLOCK: usize = 128;

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

/// Bytes that do not parse as DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The big-endian u16 at `at`; the caller has checked the bounds.
pub fn u16_at(packet: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([packet[at], packet[at + 1]])
}

/// The OPCODE of a header's byte 2.
pub fn opcode(flags: u8) -> u8 {
    (flags & OPCODE_MASK) >> OPCODE_SHIFT
}

/// "cluster.local" → `\x07cluster\x05local\x00` ("" is the root); labels
/// longer than 63 octets are cut (config validation rejects them first).
pub fn wire_name(dotted: &str) -> Vec<u8> {
    let mut wire = Vec::with_capacity(dotted.len() + 2);
    for label in dotted.split('.').filter(|l| !l.is_empty()) {
        let label = &label.as_bytes()[..label.len().min(63)];
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    wire
}

/// A name as an operator types it (`www.example.com`, trailing dot or not,
/// any letter case) in lower-case wire form, as cache keys hold it.
pub fn name_from_text(text: &str) -> Result<Vec<u8>, String> {
    let not_a_name = |why: &dyn std::fmt::Display| {
        // hickory ends some reasons with the part at fault, which may be empty.
        format!("{text:?} is not a DNS name: {}", why.to_string().trim_end_matches([':', ' ']))
    };
    let bare = text.strip_suffix('.').unwrap_or(text);
    if !bare.is_empty() && bare.split('.').any(str::is_empty) {
        return Err(not_a_name(&"it has an empty label (two dots in a row, or a dot first)"));
    }
    let mut name = hickory_proto::rr::Name::from_ascii(text).map_err(|e| not_a_name(&e))?.to_lowercase();
    name.set_fqdn(true);
    hickory_proto::serialize::binary::BinEncodable::to_bytes(&name).map_err(|e| not_a_name(&e))
}

/// Returns the offset just past the name starting at `at`. Compression
/// pointers end a name (RFC 1035 §4.1.4); a question name must not use one.
pub fn skip_name(packet: &[u8], mut at: usize, allow_pointer: bool) -> Option<usize> {
    let start = at;
    loop {
        let len = *packet.get(at)?;
        match len {
            0 => {
                let end = at + 1;
                return (end - start <= 255).then_some(end);
            }
            1..=63 => at += 1 + usize::from(len),
            0xc0..=0xff if allow_pointer => {
                packet.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
        if at - start > 255 {
            return None;
        }
    }
}

/// `name` equals `apex` or is below it, on label boundaries (`b.test` is
/// not below `xb.test`); both uncompressed wire form, compared ignoring
/// ASCII case (RFC 4343).
pub fn is_at_or_below(name: &[u8], apex: &[u8]) -> bool {
    let mut at = 0;
    while at < name.len() {
        if name[at..].eq_ignore_ascii_case(apex) {
            return true;
        }
        at += 1 + usize::from(name[at]);
    }
    false
}

/// The name at `at` of `packet`, uncompressed and lower-cased: its labels
/// and the root octet, read through compression pointers that point
/// backwards (as [`name_points_back`] requires). None for anything else, or
/// past 255 octets.
pub fn read_name(packet: &[u8], mut at: usize) -> Option<Vec<u8>> {
    let mut name = Vec::with_capacity(32);
    loop {
        let len = *packet.get(at)?;
        match len {
            0 => {
                name.push(0);
                return (name.len() <= 255).then_some(name);
            }
            1..=63 => {
                let label = packet.get(at..at + 1 + usize::from(len))?;
                name.extend(label.iter().map(u8::to_ascii_lowercase));
                if name.len() > 255 {
                    return None;
                }
                at += label.len();
            }
            0xc0..=0xff => {
                let target = usize::from(u16::from_be_bytes([len & 0x3f, *packet.get(at + 1)?]));
                if target >= at || target < HEADER_LEN {
                    return None;
                }
                at = target;
            }
            _ => return None,
        }
    }
}

/// True if the name at `at` and every name its compression pointers lead to
/// use only pointers that point backwards, to before the pointer itself
/// (RFC 1035 §4.1.4 "a prior occurrence"), and past the header, which holds
/// no name. Such a name read from bytes before `end` needs nothing at or
/// past `end`, so a packet cut at `end` still holds it whole; and nothing of
/// the header, so a packet with another header (a cached answer sent to a
/// client) still reads the same.
pub fn name_points_back(packet: &[u8], at: usize) -> bool {
    name_points_back_to(packet, at, &|_| true)
}

/// [`name_points_back`], with every stretch of the packet the name is read
/// from (each label, pointer and the final root octet, here or where the
/// pointers lead) also passing `read_ok`.
pub fn name_points_back_to(packet: &[u8], mut at: usize, read_ok: &dyn Fn(Range<usize>) -> bool) -> bool {
    // Each hop goes strictly backwards, so the walk ends; the bound is for labels.
    let mut octets = 0;
    loop {
        let Some(&len) = packet.get(at) else { return false };
        match len {
            0 => return read_ok(at..at + 1),
            1..=63 => {
                if !read_ok(at..at + 1 + usize::from(len)) {
                    return false;
                }
                at += 1 + usize::from(len);
                octets += 1 + usize::from(len);
                if octets > 255 {
                    return false;
                }
            }
            0xc0..=0xff => {
                let Some(&low) = packet.get(at + 1) else { return false };
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= at || target < HEADER_LEN || !read_ok(at..at + 2) {
                    return false;
                }
                at = target;
            }
            _ => return false,
        }
    }
}

/// Where one resource record sits in a packet (RFC 1035 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offsets of the owner name; `name.start` is where the record starts.
    pub name: Range<usize>,
    pub rtype: u16,
    /// CLASS; for OPT, the sender's UDP payload size.
    pub class: u16,
    /// Offset of the 4-byte TTL field.
    pub ttl_at: usize,
    /// TTL as sent; for OPT, extended RCODE, version and flags (RFC 6891 §6.1.3).
    pub ttl: u32,
    /// Offsets of the RDATA; `rdata.end` is where the record ends.
    pub rdata: Range<usize>,
}

impl Record {
    /// The whole record.
    pub fn span(&self) -> Range<usize> {
        self.name.start..self.rdata.end
    }

    /// The address of an A or AAAA record of `packet`; None for other records.
    pub fn address(&self, packet: &[u8]) -> Option<IpAddr> {
        match (self.rtype, &packet[self.rdata.clone()]) {
            (TYPE_A, &[a, b, c, d]) => Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
            (TYPE_AAAA, rdata) => <[u8; 16]>::try_from(rdata).ok().map(|octets| IpAddr::V6(Ipv6Addr::from(octets))),
            _ => None,
        }
    }

    /// The EDNS version of an OPT record.
    pub fn edns_version(&self) -> u8 {
        (self.ttl >> 16) as u8
    }

    /// The DO bit of an OPT record.
    pub fn edns_dnssec_ok(&self) -> bool {
        self.ttl & EDNS_DO != 0
    }

    /// True if nothing this record's names point to lies at or past its
    /// end: its owner name and the names in its RDATA use only backward
    /// pointers ([`name_points_back`]). RDATA names are looked for in the
    /// types whose RDATA may be compressed (RFC 3597 §4: those of RFC 1035)
    /// and in those whose names readers decompress although the RFCs forbid
    /// compression (hickory-proto does: SRV, NAPTR, SVCB, HTTPS, DNAME, TSIG,
    /// hickory's ANAME); other types hold no pointer. A packet cut right after
    /// such a record keeps it whole.
    pub fn points_back(&self, packet: &[u8]) -> bool {
        self.points_back_to(packet, &|_| true)
    }

    /// [`Record::points_back`], with every stretch its names are read from
    /// also passing `read_ok` ([`name_points_back_to`]).
    pub fn points_back_to(&self, packet: &[u8], read_ok: &dyn Fn(Range<usize>) -> bool) -> bool {
        const MD: u16 = 3;
        const MF: u16 = 4;
        const MB: u16 = 7;
        const MG: u16 = 8;
        const MR: u16 = 9;
        const PTR: u16 = 12;
        const MINFO: u16 = 14;
        const MX: u16 = 15;
        const SRV: u16 = 33;
        const NAPTR: u16 = 35;
        const SVCB: u16 = 64;
        const HTTPS: u16 = 65;
        const TSIG: u16 = 250;
        const ANAME: u16 = 65305;
        let Some(packet) = packet.get(..self.rdata.end) else { return false };
        let at = self.rdata.start;
        let back = |at| name_points_back_to(packet, at, read_ok);
        back(self.name.start)
            && match self.rtype {
                TYPE_NS | MD | MF | TYPE_CNAME | MB | MG | MR | PTR | TYPE_DNAME | TSIG | ANAME => back(at),
                MX | SVCB | HTTPS => back(at + 2),
                SRV => back(at + 6),
                // ORDER, PREFERENCE, then FLAGS, SERVICES and REGEXP (character-strings), then REPLACEMENT.
                NAPTR => (0..3)
                    .try_fold(at + 4, |string, _| packet.get(string).map(|&len| string + 1 + usize::from(len)))
                    .is_some_and(back),
                TYPE_SOA | MINFO => back(at) && skip_name(packet, at, true).is_some_and(back),
                _ => true,
            }
    }
}

/// The resource records from `offset` on, `count` of them, read one by one
/// with every bound checked: a [`Record`] each, or one [`Malformed`] (then
/// nothing more) if the bytes run out or a name is not a name. Never panics,
/// whatever the bytes; counts from the wire are summed wide by the caller.
pub struct Records<'a> {
    packet: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Records<'a> {
    pub fn new(packet: &'a [u8], offset: usize, count: usize) -> Records<'a> {
        Records { packet, at: offset, left: count }
    }

    fn read(&mut self) -> Result<Record, Malformed> {
        let start = self.at;
        let name_end = skip_name(self.packet, start, true).ok_or(Malformed)?;
        let fixed = self.packet.get(name_end..name_end + 10).ok_or(Malformed)?;
        let rdata_start = name_end + 10;
        let rdata_end = rdata_start + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        if rdata_end > self.packet.len() {
            return Err(Malformed);
        }
        self.at = rdata_end;
        Ok(Record {
            name: start..name_end,
            rtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            class: u16::from_be_bytes([fixed[2], fixed[3]]),
            ttl_at: name_end + 4,
            ttl: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            rdata: rdata_start..rdata_end,
        })
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let record = self.read();
        self.left = if record.is_ok() { self.left - 1 } else { 0 };
        Some(record)
    }
}

/// A question section in wire form: `name` (dotted), `qtype`, class IN.
pub fn question(name: &str, qtype: u16) -> Vec<u8> {
    question_of(&wire_name(name), qtype)
}

/// A question section in wire form: `name_wire` (wire form), `qtype`, class IN.
pub fn question_of(name_wire: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(name_wire.len() + 4);
    q.extend_from_slice(name_wire);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

/// The addresses of the A and AAAA records (class IN) in the answer
/// section of `reply`, in order; what a CNAME chain ends in is there too.
/// Nothing for bytes that do not frame as a reply with one question.
pub fn answer_addresses(reply: &[u8]) -> Vec<IpAddr> {
    if reply.len() < HEADER_LEN || u16_at(reply, 4) != 1 {
        return Vec::new();
    }
    let Some(answers_at) = skip_name(reply, HEADER_LEN, false).map(|end| end + 4) else { return Vec::new() };
    Records::new(reply, answers_at, usize::from(u16_at(reply, 6)))
        .map_while(Result::ok)
        .filter(|r| r.class == CLASS_IN)
        .filter_map(|r| r.address(reply))
        .collect()
}

/// Appends a header (RFC 1035 §4.1.1): `id`, flag bytes 2 and 3, and the
/// question, answer, authority and additional counts.
pub fn write_header(out: &mut Vec<u8>, id: u16, flags: [u8; 2], counts: [u16; 4]) {
    let ([i0, i1], [q0, q1], [a0, a1], [n0, n1], [r0, r1]) = (
        id.to_be_bytes(),
        counts[0].to_be_bytes(),
        counts[1].to_be_bytes(),
        counts[2].to_be_bytes(),
        counts[3].to_be_bytes(),
    );
    // One 12-byte copy: this runs for every reply, cache hits included.
    out.extend_from_slice(&[i0, i1, flags[0], flags[1], q0, q1, a0, a1, n0, n1, r0, r1]);
}

/// The length of the OPT record [`write_opt`] appends with `ede`.
pub fn opt_len(ede: Option<Ede>) -> usize {
    11 + ede.map_or(0, |ede| 6 + ede.text.len())
}

/// Appends an OPT record (RFC 6891 §6.1.2) offering `payload`, with the DO
/// bit, the upper 8 bits of an extended RCODE, and an EDE option (RFC 8914
/// §2) when given.
pub fn write_opt(out: &mut Vec<u8>, payload: u16, dnssec_ok: bool, extended_rcode: u8, ede: Option<Ede>) {
    let [t0, t1] = TYPE_OPT.to_be_bytes();
    let [p0, p1] = payload.to_be_bytes();
    let flags = if dnssec_ok { (EDNS_DO >> 8) as u8 } else { 0 };
    // RDLENGTH: the EDE option's code and length (4 octets), then its data.
    let rdlength = ede.map_or(0, |ede| 6 + ede.text.len());
    let [l0, l1] = (rdlength as u16).to_be_bytes();
    // Root owner, type, class = payload, TTL = extended RCODE, version 0, flags; RDLENGTH.
    out.extend_from_slice(&[0, t0, t1, p0, p1, extended_rcode, 0, flags, 0, l0, l1]);
    if let Some(ede) = ede {
        out.extend_from_slice(&OPTION_EDE.to_be_bytes());
        out.extend_from_slice(&((rdlength - 4) as u16).to_be_bytes());
        out.extend_from_slice(&ede.code.to_be_bytes());
        out.extend_from_slice(ede.text.as_bytes());
    }
}

/// The octets of Padding option data (RFC 7830) that make a packet of
/// `unpadded` octets, the option's code and length included, a multiple of
/// `block` octets long: query sizes over an encrypted transport then no
/// longer tell the name's length (RFC 8467 §4.1).
pub fn padding_len(unpadded: usize, block: usize) -> usize {
    (block - unpadded % block) % block
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_bad_name_is_said_plainly() {
        let error = name_from_text("a..b").unwrap_err();
        assert_eq!(error, "\"a..b\" is not a DNS name: it has an empty label (two dots in a row, or a dot first)");
        assert!(name_from_text(".a").is_err());
        let long = name_from_text(&"x".repeat(64)).unwrap_err();
        assert!(long.contains("is not a DNS name: ") && !long.ends_with(':') && !long.ends_with(' '), "{long}");
        assert_eq!(name_from_text("A.b.").unwrap(), b"\x01a\x01b\x00");
        assert_eq!(name_from_text(".").unwrap(), b"\x00");
    }

    #[test]
    fn padding_makes_whole_blocks() {
        assert_eq!(padding_len(128, 128), 0);
        assert_eq!(padding_len(129, 128), 127);
        assert_eq!(padding_len(60, 128), 68);
        for unpadded in 1..1000 {
            assert_eq!((unpadded + padding_len(unpadded, 128)) % 128, 0);
            assert!(padding_len(unpadded, 128) < 128);
        }
    }

    #[test]
    fn answer_addresses_reads_a_and_aaaa_after_a_cname() {
        let q = question("dns.example", TYPE_A);
        let mut p = Vec::new();
        write_header(&mut p, 7, [QR | RD, RA], [1, 3, 0, 0]);
        p.extend_from_slice(&q);
        // dns.example CNAME x.example (pointer to the question name), x A, x AAAA
        p.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'x', 0xc0, 16]);
        let x = p.len() - 4;
        p.extend_from_slice(&[0xc0, x as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        p.extend_from_slice(&[0xc0, x as u8, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let want: Vec<IpAddr> = vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        assert_eq!(answer_addresses(&p), want);
        assert_eq!(answer_addresses(&p[..p.len() - 3]), want[..1], "a cut record is left out");
        assert!(answer_addresses(&p[..11]).is_empty());
    }

    /// `valid` with one to three random bytes changed and cut to a random
    /// length of at least `min_len`: the mutation every fuzz-style test of
    /// the wire code uses.
    pub(crate) fn mutated(valid: &[u8], min_len: usize) -> Vec<u8> {
        let mut packet = valid.to_vec();
        for _ in 0..rand::random_range(1..4) {
            let at = rand::random_range(0..packet.len());
            packet[at] = rand::random();
        }
        packet.truncate(rand::random_range(min_len.min(packet.len())..=packet.len()));
        packet
    }

    /// Two A records under a compressed owner name, then an OPT record with EDE.
    fn packet() -> Vec<u8> {
        let mut p = Vec::new();
        write_header(&mut p, 7, [QR | RD, RA], [1, 2, 0, 1]);
        p.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
        for last in [1, 2] {
            p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, last]);
        }
        write_opt(&mut p, OUR_UDP_PAYLOAD, true, 0, Some(EDE_STALE));
        p
    }

    #[test]
    fn records_yield_each_record_then_stop() {
        let p = packet();
        let records: Vec<Record> = Records::new(&p, 25, 3).collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!((records[0].name.clone(), records[0].rtype, records[0].ttl), (25..27, TYPE_A, 300));
        assert_eq!(records[0].ttl_at, 31);
        assert_eq!(&p[records[1].rdata.clone()], &[192, 0, 2, 2]);
        let opt = &records[2];
        assert_eq!((opt.rtype, opt.class, opt.edns_version(), opt.edns_dnssec_ok()), (TYPE_OPT, 1232, 0, true));
        assert_eq!(opt.span().end, p.len());
        assert_eq!(opt.span().len(), opt_len(Some(EDE_STALE)));
        assert_eq!(&p[opt.rdata.start + 6..], b"stale answer");
    }

    #[test]
    fn a_short_packet_is_one_error_then_nothing() {
        let p = packet();
        let mut records = Records::new(&p[..50], 25, 3);
        assert!(records.next().unwrap().is_ok());
        assert_eq!(records.next(), Some(Err(Malformed)));
        assert_eq!(records.next(), None);
        assert_eq!(Records::new(&p, 25, 4).last(), Some(Err(Malformed)));
    }

    #[test]
    fn names_must_point_backwards() {
        let p = packet();
        assert!(name_points_back(&p, 12));
        assert!(name_points_back(&p, 25));
        let mut forward = p.clone();
        forward[26] = 41; // the first answer's owner points at the second answer's owner
        assert!(!name_points_back(&forward, 25));
        let mut itself = p.clone();
        itself[26] = 25;
        assert!(!name_points_back(&itself, 25));
        // The header holds no name: a pointer into it reads another name once the header changes.
        let mut header = p.clone();
        header[26] = 0;
        assert!(!name_points_back(&header, 25));
    }

    /// Random and mutated packets: records or one Malformed, never a panic,
    /// every yielded range inside the packet.
    #[test]
    fn mutated_packets_never_panic() {
        let valid = packet();
        for _ in 0..100_000 {
            let p = mutated(&valid, 0);
            for record in Records::new(&p, 25, usize::from(u16::MAX) * 3).map_while(Result::ok) {
                assert!(record.span().end <= p.len() && record.ttl_at + 4 <= record.rdata.start);
                let _ = record.points_back(&p);
            }
        }
    }
}
