//! `wire::check_records` held against hickory-proto's
//! full `Message` decoder, for the unit tests (`wire::check`), the
//! `upstream_reply` fuzz target and the integration test of real Knot and
//! Unbound replies: what hickory-proto refuses the check refuses, and what
//! both accept reads as the same records.
//!
//! Compiled only into those (with `#[path]`); each brings stubborn's wire
//! module into the scope it declares this module in, as `wire`.

use hickory_proto::{op::Message, rr::RData, serialize::binary::BinEncodable};

use super::wire::{HEADER_LEN, Records, TYPE_OPT, check_records, read_name, skip_name, u16_at};

/// What the two made of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both accept it, with the same RCODE and records.
    BothAccept,
    /// Both refuse it.
    BothRefuse,
    /// hickory-proto accepts what the check refuses (allowed: the check is stricter in places).
    OnlyHickoryAccepts,
}

/// Compares the two on `reply`, an upstream's reply to a question with no
/// compression pointer (as stubborn's are); Err says how they differ.
pub fn compare(reply: &[u8]) -> Result<Verdict, String> {
    let start = skip_name(reply, HEADER_LEN, false).map(|end| end + 4).filter(|&start| start <= reply.len());
    let Some(start) = start else { return Ok(Verdict::BothRefuse) };
    let parsed = Message::from_vec(reply);
    let checked = match check_records(reply, start) {
        Err(_) if parsed.is_ok() => return Ok(Verdict::OnlyHickoryAccepts),
        Err(_) => return Ok(Verdict::BothRefuse),
        Ok(checked) => checked,
    };
    let message = parsed.map_err(|e| format!("the check accepts what hickory-proto refuses: {e}"))?;
    if u16::from(message.metadata.response_code) != checked.rcode {
        return Err(format!("RCODE {} against hickory-proto's {}", checked.rcode, message.metadata.response_code));
    }
    let total = [6, 8, 10].map(|at| usize::from(u16_at(reply, at))).iter().sum();
    let ours: Vec<_> = Records::new(reply, start, total).collect::<Result<_, _>>().map_err(|_| "a record is cut")?;
    if ours.iter().any(|r| r.rtype == TYPE_OPT) != message.edns.is_some() {
        return Err("the OPT record is read differently".into());
    }
    let theirs = message.answers.iter().chain(&message.authorities).chain(&message.additionals);
    let ours = ours.iter().filter(|r| r.rtype != TYPE_OPT);
    if ours.clone().count() != theirs.clone().count() {
        return Err("a different number of records".into());
    }
    for (index, (our, their)) in ours.zip(theirs).enumerate() {
        let their_name = their.name.to_lowercase().to_bytes().map_err(|e| e.to_string())?;
        let same = read_name(reply, our.name.start).as_ref() == Some(&their_name)
            && our.rtype == u16::from(their.record_type())
            && our.class == u16::from(their.dns_class)
            && our.ttl == their.ttl
            && match &their.data {
                RData::A(a) => reply[our.rdata.clone()] == a.0.octets(),
                RData::AAAA(aaaa) => reply[our.rdata.clone()] == aaaa.0.octets(),
                RData::CNAME(name) => read_name(reply, our.rdata.start) == name.0.to_lowercase().to_bytes().ok(),
                RData::Unknown { rdata, .. } => rdata.anything[..] == reply[our.rdata.clone()],
                _ => true,
            };
        if !same {
            return Err(format!("record {index} reads differently: {their}"));
        }
    }
    Ok(Verdict::BothAccept)
}
