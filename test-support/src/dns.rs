//! A small DNS client: build one query with hickory-proto, send it over UDP
//! or TCP with a timeout, and read the reply.
//!
//! `Ask::new(name, type)` sends with EDNS (payload 1232) by default, because
//! most tests look for Extended DNS Errors; `.no_edns()` sends a plain
//! RFC 1035 query.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};

/// EDNS option code of Extended DNS Errors (RFC 8914 section 2).
pub const EDE_OPTION: u16 = 15;
/// RFC 8914 INFO-CODE 3, "Stale Answer".
pub const EDE_STALE_ANSWER: u16 = 3;
/// RFC 8914 INFO-CODE 19, "Stale NXDOMAIN Answer".
pub const EDE_STALE_NXDOMAIN: u16 = 19;
/// RFC 8914 INFO-CODE 22, "No Reachable Authority".
pub const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;

/// One query to send.
#[derive(Clone, Debug)]
pub struct Ask {
    name: String,
    qtype: RecordType,
    edns_payload: Option<u16>,
    dnssec_ok: bool,
    checking_disabled: bool,
    id: Option<u16>,
    tcp: bool,
    timeout: Duration,
}

impl Ask {
    /// A query for `name` (kept exactly as written, letter case included).
    pub fn new(name: &str, qtype: RecordType) -> Self {
        Ask {
            name: name.to_string(),
            qtype,
            edns_payload: Some(1232),
            dnssec_ok: false,
            checking_disabled: false,
            id: None,
            tcp: false,
            timeout: Duration::from_secs(5),
        }
    }

    /// Sends without an OPT record: a plain RFC 1035 query (512-byte UDP limit).
    pub fn no_edns(mut self) -> Self {
        self.edns_payload = None;
        self
    }

    /// Sends with EDNS and this UDP payload size.
    pub fn edns(mut self, payload: u16) -> Self {
        self.edns_payload = Some(payload);
        self
    }

    /// Sets the DO bit (implies EDNS).
    pub fn dnssec_ok(mut self) -> Self {
        self.dnssec_ok = true;
        if self.edns_payload.is_none() {
            self.edns_payload = Some(1232);
        }
        self
    }

    /// Sets the CD bit: the client validates itself (RFC 4035 §3.2.2).
    pub fn checking_disabled(mut self) -> Self {
        self.checking_disabled = true;
        self
    }

    /// Uses this message ID instead of a random one.
    pub fn id(mut self, id: u16) -> Self {
        self.id = Some(id);
        self
    }

    /// Sends over TCP instead of UDP.
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// How long to wait for the reply (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The query as a hickory message.
    pub fn message(&self) -> Message {
        let id = self.id.unwrap_or_else(rand::random);
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        msg.metadata.checking_disabled = self.checking_disabled;
        let name = Name::from_ascii(&self.name).expect("test query name must be valid");
        msg.add_query(Query::query(name, self.qtype));
        if let Some(payload) = self.edns_payload {
            let mut edns = Edns::new();
            edns.set_max_payload(payload);
            edns.set_dnssec_ok(self.dnssec_ok);
            msg.set_edns(edns);
        }
        msg
    }

    /// Sends the query and parses the reply; panics (naming the query) on
    /// timeout or a reply that does not parse.
    pub fn send(&self, server: SocketAddr) -> Reply {
        match self.try_send(server) {
            Ok(reply) => reply,
            Err(e) => {
                panic!("{} {} over {} to {server}: {e}", self.name, self.qtype, if self.tcp { "TCP" } else { "UDP" })
            }
        }
    }

    /// Sends the query and parses the reply.
    pub fn try_send(&self, server: SocketAddr) -> io::Result<Reply> {
        let query = self.message();
        let wire = query.to_vec().map_err(io::Error::other)?;
        let start = Instant::now();
        let raw = if self.tcp {
            exchange_tcp(server, &wire, self.timeout)?
        } else {
            exchange_udp(server, &wire, self.timeout)?
        };
        let elapsed = start.elapsed();
        let msg = Message::from_vec(&raw).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("reply does not parse ({e}): {raw:02x?}"))
        })?;
        Ok(Reply { query_id: query.metadata.id, msg, raw, elapsed, over_tcp: self.tcp })
    }
}

/// A parsed reply and how long it took.
#[derive(Clone, Debug)]
pub struct Reply {
    /// ID of the query this answers.
    pub query_id: u16,
    pub msg: Message,
    pub raw: Vec<u8>,
    pub elapsed: Duration,
    pub over_tcp: bool,
}

impl Reply {
    pub fn rcode(&self) -> ResponseCode {
        self.msg.metadata.response_code
    }

    pub fn truncated(&self) -> bool {
        self.msg.metadata.truncation
    }

    /// The IPv4 addresses in the answer section, sorted.
    pub fn ipv4s(&self) -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = self
            .msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// The IPv6 addresses in the answer section, sorted.
    pub fn ipv6s(&self) -> Vec<Ipv6Addr> {
        let mut v: Vec<Ipv6Addr> = self
            .msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// TTLs of the answer records.
    pub fn answer_ttls(&self) -> Vec<u32> {
        self.msg.answers.iter().map(|r| r.ttl).collect()
    }

    /// The answer section as "owner type rdata" lines, owner lowercased and
    /// TTL left out, so that two servers' answers can be compared.
    pub fn answer_set(&self) -> BTreeSet<String> {
        self.msg
            .answers
            .iter()
            .map(|r| format!("{} {} {}", r.name.to_lowercase().to_ascii(), r.record_type(), r.data))
            .collect()
    }

    /// Extended DNS Errors (RFC 8914) in the OPT record: (INFO-CODE, EXTRA-TEXT).
    pub fn ede(&self) -> Vec<(u16, String)> {
        ede(&self.msg)
    }

    /// Just the INFO-CODEs of `ede()`.
    pub fn ede_codes(&self) -> Vec<u16> {
        self.ede().into_iter().map(|(code, _)| code).collect()
    }

    /// The EDNS option codes present (for "no EDE without EDNS" checks).
    pub fn edns_option_codes(&self) -> Vec<u16> {
        self.msg
            .edns
            .as_ref()
            .map(|e| e.options().options.iter().map(|(c, _)| u16::from(*c)).collect())
            .unwrap_or_default()
    }

    /// Whether EDNS option `code` is present.
    pub fn has_edns_option(&self, code: EdnsCode) -> bool {
        self.msg.edns.as_ref().is_some_and(|e| e.options().get(code).is_some())
    }

    /// One line for assertion messages.
    pub fn summary(&self) -> String {
        format!(
            "id={} rcode={:?} tc={} answers={:?} ttls={:?} ede={:?} authorities={} in {:?}",
            self.msg.metadata.id,
            self.rcode(),
            self.truncated(),
            self.answer_set(),
            self.answer_ttls(),
            self.ede(),
            self.msg.authorities.len(),
            self.elapsed
        )
    }
}

/// The Extended DNS Errors (RFC 8914) in `msg`'s OPT record: (INFO-CODE,
/// EXTRA-TEXT); a short option as INFO-CODE 65535.
pub fn ede(msg: &Message) -> Vec<(u16, String)> {
    let Some(edns) = &msg.edns else {
        return Vec::new();
    };
    edns.options()
        .options
        .iter()
        .filter_map(|(code, option)| {
            if u16::from(*code) != EDE_OPTION {
                return None;
            }
            let data: Vec<u8> = match option {
                EdnsOption::Unknown(_, data) => data.clone(),
                other => Vec::<u8>::try_from(other).unwrap_or_default(),
            };
            if data.len() < 2 {
                return Some((u16::MAX, format!("short EDE option {data:02x?}")));
            }
            let info = u16::from_be_bytes([data[0], data[1]]);
            Some((info, String::from_utf8_lossy(&data[2..]).into_owned()))
        })
        .collect()
}

/// Sends `wire` as one datagram and returns the first datagram that comes back.
pub fn exchange_udp(server: SocketAddr, wire: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.send(wire)?;
    let mut buf = vec![0u8; 65_535];
    let n = socket.recv(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Sends `wire` over a fresh TCP connection (RFC 1035 4.2.2 length prefix)
/// and returns the reply.
pub fn exchange_tcp(server: SocketAddr, wire: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&(wire.len() as u16).to_be_bytes());
    framed.extend_from_slice(wire);
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&framed)?;
    read_tcp_message(&mut stream, deadline)
}

/// Reads one length-prefixed DNS message, giving up at `deadline`.
pub fn read_tcp_message(stream: &mut TcpStream, deadline: Instant) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    read_exact_by(stream, &mut len, deadline)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    read_exact_by(stream, &mut buf, deadline)?;
    Ok(buf)
}

fn read_exact_by(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "TCP read timed out"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {filled} of {} bytes", buf.len()),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A raw query header + question, for hand-made malformed packets.
pub fn raw_query(id: u16, flags: u16, qdcount: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&flags.to_be_bytes());
    wire.extend_from_slice(&qdcount.to_be_bytes());
    wire.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    for _ in 0..qdcount {
        for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
        wire.push(0);
        wire.extend_from_slice(&qtype.to_be_bytes());
        wire.extend_from_slice(&1u16.to_be_bytes());
    }
    wire
}

/// Header fields of a raw reply, read without a full parse.
pub fn header_of(raw: &[u8]) -> Option<(u16, u16)> {
    if raw.len() < 12 {
        return None;
    }
    Some((u16::from_be_bytes([raw[0], raw[1]]), u16::from_be_bytes([raw[2], raw[3]])))
}

/// Metadata of a response to `query` with `rcode`, echoing its ID and flags.
pub fn response_metadata(query: &Message, rcode: ResponseCode) -> Metadata {
    let mut metadata = Metadata::response_from_request(&query.metadata);
    metadata.response_code = rcode;
    metadata.recursion_available = true;
    metadata
}
