//! One query to one UDP upstream (plain tokio sockets), and the checks
//! every upstream's reply passes (the records: [`wire::check_records`]). UDP goes
//! over the upstream's shared sockets ([`UdpSockets`]: random port and ID,
//! RFC 5452); a truncated reply is asked again over a TCP connection of its
//! own with a random ID (`tcp://` upstreams share one connection instead:
//! [`super::connection`]). A reply counts only with our ID, QR set and our
//! question; others are ignored until the deadline (RFC 5452 §9.1).

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    time::{Instant, timeout_at},
};

use super::{UpstreamError, udp_sockets::UdpSockets};
use crate::wire::{self, CD, HEADER_LEN, NOERROR, NXDOMAIN, QR, RD, REFUSED, SERVFAIL, TC};

/// Room made for a TCP reply before its bytes arrive; a larger one grows
/// the buffer as it comes.
const FIRST_READ: usize = 4096;

/// What is asked upstream: the question (lower-cased) and the client's EDNS wishes.
pub struct Ask<'a> {
    pub question: &'a [u8],
    /// UDP payload size offered upstream.
    pub payload: u16,
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

impl<'a> Ask<'a> {
    /// A question of stubborn's own (probes, verifications, loop checks,
    /// bootstrap): our UDP payload, no DO, no CD.
    pub fn plain(question: &'a [u8]) -> Ask<'a> {
        Ask { question, payload: wire::OUR_UDP_PAYLOAD, dnssec_ok: false, checking_disabled: false }
    }

    /// The name asked for, in wire form (the question less type and class).
    pub fn name(&self) -> &[u8] {
        &self.question[..self.question.len().saturating_sub(4)]
    }

    /// The query packet: RD set, one question, an OPT record.
    pub(super) fn packet(&self, id: u16) -> Vec<u8> {
        let mut p = Vec::with_capacity(HEADER_LEN + self.question.len() + wire::opt_len(None));
        let cd = if self.checking_disabled { CD } else { 0 };
        wire::write_header(&mut p, id, [RD, cd], [1, 0, 0, 1]);
        p.extend_from_slice(self.question);
        wire::write_opt(&mut p, self.payload, self.dnssec_ok, 0, None);
        p
    }

    /// The octets of Padding option data that make [`Ask::packet`] with the
    /// option added whole blocks long, for an encrypted transport (RFC 8467).
    #[cfg(feature = "encrypted")]
    pub(super) fn padding(&self) -> usize {
        // The header, the question, the OPT record (11 octets) and the option's code and length (4).
        wire::padding_len(HEADER_LEN + self.question.len() + 11 + 4, wire::QUERY_PADDING_BLOCK)
    }
}

/// Asks a server over UDP on its shared `sockets`, retrying over TCP when
/// the reply is truncated.
pub async fn udp(sockets: &UdpSockets, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
    let reply = sockets.exchange(ask, deadline).await?;
    if reply[2] & TC != 0 {
        return tcp(sockets.server(), ask, deadline).await;
    }
    valid(reply, ask.question.len())
}

/// Asks `server` over TCP (RFC 7766) on a connection opened for this
/// query alone (truncated UDP replies are rare).
async fn tcp(server: SocketAddr, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
    let id = rand::random::<u16>();
    let packet = ask.packet(id);
    let exchange = async {
        let mut stream = connect(server).await?;
        let mut framed = Vec::with_capacity(packet.len() + 2);
        framed.extend_from_slice(&(packet.len() as u16).to_be_bytes());
        framed.extend_from_slice(&packet);
        stream.write_all(&framed).await?;
        loop {
            let len = stream.read_u16().await?;
            // Grown as the bytes arrive, not to the length announced.
            let mut reply = Vec::with_capacity(usize::from(len).min(FIRST_READ));
            if (&mut stream).take(u64::from(len)).read_to_end(&mut reply).await? < usize::from(len) {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            if is_ours(&reply, id, ask.question) {
                return valid(reply, ask.question.len());
            }
        }
    };
    timeout_at(deadline, exchange).await.unwrap_or(Err(UpstreamError::Timeout))
}

/// A TCP connection to `server`, Nagle's algorithm off (a query is sent whole at once).
pub(super) async fn connect(server: SocketAddr) -> Result<TcpStream, UpstreamError> {
    let socket = if server.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
    let stream = socket.map_err(|e| UpstreamError::Local(e.kind()))?.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Is `reply` the answer to our query `id` for `question`?
fn is_ours(reply: &[u8], id: u16, question: &[u8]) -> bool {
    reply.len() >= 2 && wire::u16_at(reply, 0) == id && answers(reply, question)
}

/// Is `reply` a response to `question`? For transports that matched the
/// ID themselves (hickory's DoT multiplexer; DoH, where the ID is 0).
pub(super) fn answers(reply: &[u8], question: &[u8]) -> bool {
    reply.len() >= HEADER_LEN + question.len()
        && reply[2] & QR != 0
        && wire::u16_at(reply, 4) == 1
        && reply[HEADER_LEN..HEADER_LEN + question.len()].eq_ignore_ascii_case(question)
}

/// Our reply (its ID, QR and question already matched), its records
/// checked whole ([`wire::check_records`]); NOERROR and NXDOMAIN are answers.
pub(super) fn valid(reply: Vec<u8>, question_len: usize) -> Result<Vec<u8>, UpstreamError> {
    let checked = wire::check_records(&reply, HEADER_LEN + question_len).map_err(|_| UpstreamError::Malformed)?;
    answer_or_failure(checked.rcode, reply)
}

/// `reply`, its records checked, when it is a QUERY reply whose (extended)
/// `rcode` makes it an answer. The OPCODE must be our QUERY: other opcodes
/// are read by other rules (UPDATE allows empty RDATA), which clients would
/// not, once the entry is sent as a QUERY reply.
fn answer_or_failure(rcode: u16, reply: Vec<u8>) -> Result<Vec<u8>, UpstreamError> {
    if wire::opcode(reply[2]) != 0 {
        return Err(UpstreamError::Malformed);
    }
    match u8::try_from(rcode).unwrap_or(u8::MAX) {
        NOERROR | NXDOMAIN => Ok(reply),
        SERVFAIL => Err(UpstreamError::ServFail),
        REFUSED => Err(UpstreamError::Refused),
        other => Err(UpstreamError::Rcode(other)),
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::Message;

    use super::*;
    use crate::test_packets::Packet;

    const QUESTION: &[u8] = b"\x07example\x00\x00\x01\x00\x01";

    fn reply(id: u16, rcode: u8, question: &[u8]) -> Vec<u8> {
        Packet::reply_to(question).id(id).rcode(rcode).build()
    }

    #[test]
    fn only_our_id_and_question_count() {
        assert!(is_ours(&reply(7, 0, QUESTION), 7, QUESTION));
        assert!(is_ours(&reply(7, 0, b"\x07EXAMPLE\x00\x00\x01\x00\x01"), 7, QUESTION));
        assert!(!is_ours(&reply(8, 0, QUESTION), 7, QUESTION));
        assert!(!is_ours(&reply(7, 0, b"\x07example\x00\x00\x1c\x00\x01"), 7, QUESTION));
        assert!(!is_ours(&[0; 5], 7, QUESTION));
    }

    #[test]
    fn rcodes_other_than_noerror_and_nxdomain_are_failures() {
        let valid = |reply| valid(reply, QUESTION.len());
        assert!(valid(reply(1, 0, QUESTION)).is_ok());
        assert!(valid(reply(1, 3, QUESTION)).is_ok());
        assert_eq!(valid(reply(1, 2, QUESTION)), Err(UpstreamError::ServFail));
        assert_eq!(valid(reply(1, 5, QUESTION)), Err(UpstreamError::Refused));
        assert_eq!(valid(reply(1, 4, QUESTION)), Err(UpstreamError::Rcode(4)));
        let mut garbage = reply(1, 0, QUESTION);
        garbage[7] = 3;
        assert_eq!(valid(garbage), Err(UpstreamError::Malformed));
        let mut badvers = reply(1, 0, QUESTION);
        badvers[11] = 1;
        wire::write_opt(&mut badvers, 1232, false, 1, None);
        assert_eq!(valid(badvers), Err(UpstreamError::Rcode(16)), "the OPT record's upper RCODE bits count");
    }

    /// Found by fuzzing (fuzz/fuzz_targets/upstream_reply.rs): an UPDATE
    /// reply (OPCODE 5) passed hickory-proto with an empty-RDATA record, and
    /// was cached and sent to clients as a QUERY reply, which does not parse.
    #[test]
    fn a_reply_with_another_opcode_is_malformed() {
        let mut update = reply(1, 0, QUESTION);
        update[2] |= 5 << 3;
        update[7] = 1;
        update.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 0]);
        assert!(Message::from_vec(&update).is_ok(), "hickory-proto reads it as an UPDATE");
        assert_eq!(valid(update, QUESTION.len()), Err(UpstreamError::Malformed));
    }

    #[test]
    fn the_packet_carries_the_edns_wishes() {
        let ask = Ask { question: QUESTION, payload: 4096, dnssec_ok: true, checking_disabled: true };
        let m = Message::from_vec(&ask.packet(99)).unwrap();
        assert_eq!(m.metadata.id, 99);
        assert!(m.metadata.recursion_desired && m.metadata.checking_disabled);
        let edns = m.edns.unwrap();
        assert_eq!((edns.max_payload(), edns.flags().dnssec_ok), (4096, true));
    }
}
