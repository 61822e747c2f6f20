//! Fake upstreams for misbehaviour a real server cannot do on demand (like
//! CoreDNS's `erratic`): never answer, SERVFAIL, REFUSED, garbage, a wrong ID,
//! a wrong question, answer late, or truncate over UDP.
//!
//! One fake listens on UDP and TCP of the same 127.0.0.1 port, counts every
//! query it receives (in total, per protocol and per lowercased name), notes
//! the source port of each UDP query, and can be switched to another mode or
//! other data while it runs.
//!
//! A script ([`FakeUpstream::set_script`]) may rewrite each good answer
//! before it goes out: act as a validator (SERVFAIL unless CD), add records
//! that do not belong, set AD.
//!
//! What it answers in the "good" modes, for a zone `example.test.`:
//! - a name whose first label starts with `nx`: NXDOMAIN with the SOA
//!   (TTL = negative TTL, default 60 s) in the authority section;
//! - type A: one A record, the current `ipv4` with the current `ttl`;
//! - `. NS` (a health probe): NOERROR, empty;
//! - anything else: NODATA (NOERROR, SOA in the authority section).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dns::{read_tcp_message, response_metadata};

/// How the fake behaves; switch with `FakeUpstream::set_mode`.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Answers correctly (see the module doc).
    Answer,
    /// Reads queries and never answers (UDP and TCP).
    Blackhole,
    /// Answers SERVFAIL.
    ServFail,
    /// Answers REFUSED.
    Refused,
    /// Answers bytes that are not a DNS message (right ID, QR set, then a
    /// self-referencing compression pointer and junk).
    Garbage,
    /// Answers correctly but with a different message ID.
    WrongId,
    /// Answers with the right ID but another question (RFC 5452 section 9.1).
    WrongQuestion,
    /// Answers correctly after this delay (the data is taken when the query
    /// arrives).
    Slow(Duration),
    /// Over UDP answers with TC=1 and no records; over TCP answers correctly.
    TruncateUdp,
}

struct State {
    mode: Mutex<Mode>,
    ipv4: Mutex<Ipv4Addr>,
    ttl: AtomicU32,
    negative_ttl: AtomicU32,
    total: AtomicU64,
    udp: AtomicU64,
    tcp: AtomicU64,
    per_name: Mutex<HashMap<String, u64>>,
    /// The source port of every UDP query, in arrival order.
    udp_ports: Mutex<Vec<u16>>,
    /// EDNS (payload, DO bit) of the last query per name; `None`: no OPT.
    last_edns: Mutex<HashMap<String, Option<(u16, bool)>>>,
    script: Mutex<Option<Script>>,
    stop: AtomicBool,
}

/// Rewrites a good answer (the second argument) to a query (the first).
pub type Script = Arc<dyn Fn(&Message, Message) -> Message + Send + Sync>;

/// A running fake upstream on 127.0.0.1.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    state: Arc<State>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeUpstream {
    /// Starts a fake in `mode`, answering A queries with 192.0.2.1, TTL 300.
    pub fn start(mode: Mode) -> Self {
        FakeUpstream::serve(bind_pair(), mode)
    }

    /// As [`FakeUpstream::start`], on `addr` (UDP and TCP); None when it can't be bound.
    pub fn start_at(addr: SocketAddr, mode: Mode) -> Option<Self> {
        Some(FakeUpstream::serve((UdpSocket::bind(addr).ok()?, TcpListener::bind(addr).ok()?), mode))
    }

    fn serve((udp, tcp): (UdpSocket, TcpListener), mode: Mode) -> Self {
        let addr = udp.local_addr().expect("bound socket has an address");
        udp.set_read_timeout(Some(Duration::from_millis(50))).expect("set UDP read timeout");
        tcp.set_nonblocking(true).expect("set TCP listener nonblocking");
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            ipv4: Mutex::new(Ipv4Addr::new(192, 0, 2, 1)),
            ttl: AtomicU32::new(300),
            negative_ttl: AtomicU32::new(60),
            total: AtomicU64::new(0),
            udp: AtomicU64::new(0),
            tcp: AtomicU64::new(0),
            per_name: Mutex::new(HashMap::new()),
            udp_ports: Mutex::new(Vec::new()),
            last_edns: Mutex::new(HashMap::new()),
            script: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let udp_state = Arc::clone(&state);
        let tcp_state = Arc::clone(&state);
        let threads =
            vec![thread::spawn(move || serve_udp(udp, udp_state)), thread::spawn(move || serve_tcp(tcp, tcp_state))];
        FakeUpstream { addr, state, threads }
    }

    /// The address as written in stubborn's config and metric labels.
    pub fn server(&self) -> String {
        self.addr.to_string()
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().expect("mode lock") = mode;
    }

    pub fn mode(&self) -> Mode {
        self.state.mode.lock().expect("mode lock").clone()
    }

    /// Passes every good answer from now on through `script`.
    pub fn set_script(&self, script: impl Fn(&Message, Message) -> Message + Send + Sync + 'static) {
        *self.state.script.lock().expect("script lock") = Some(Arc::new(script));
    }

    /// The address given in A answers from now on.
    pub fn set_ipv4(&self, ip: Ipv4Addr) {
        *self.state.ipv4.lock().expect("ipv4 lock") = ip;
    }

    /// TTL of A answers from now on.
    pub fn set_ttl(&self, ttl: u32) {
        self.state.ttl.store(ttl, Ordering::SeqCst);
    }

    /// TTL of the SOA in NXDOMAIN/NODATA answers (RFC 2308 negative TTL).
    pub fn set_negative_ttl(&self, ttl: u32) {
        self.state.negative_ttl.store(ttl, Ordering::SeqCst);
    }

    /// Queries received, over both protocols, health probes included.
    pub fn queries(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    pub fn udp_queries(&self) -> u64 {
        self.state.udp.load(Ordering::SeqCst)
    }

    pub fn tcp_queries(&self) -> u64 {
        self.state.tcp.load(Ordering::SeqCst)
    }

    /// The source port of every UDP query so far, in arrival order.
    pub fn udp_source_ports(&self) -> Vec<u16> {
        self.state.udp_ports.lock().expect("udp-ports lock").clone()
    }

    /// Queries received for `name` (any type, any letter case; trailing dot optional).
    pub fn queries_for(&self, name: &str) -> u64 {
        *self.state.per_name.lock().expect("per-name lock").get(&name_key(name)).unwrap_or(&0)
    }

    /// EDNS of the last query for `name`: `Some(None)` when it had no OPT
    /// record, `Some(Some((payload, dnssec_ok)))` otherwise; `None` if never asked.
    pub fn last_edns_for(&self, name: &str) -> Option<Option<(u16, bool)>> {
        self.state.last_edns.lock().expect("last-edns lock").get(&name_key(name)).copied()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn name_key(name: &str) -> String {
    let mut key = name.to_ascii_lowercase();
    if !key.ends_with('.') {
        key.push('.');
    }
    key
}

/// A UDP socket on a port the kernel picks, and a TCP listener on the same
/// port (tried again with another port in the rare case TCP's is taken).
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind(("127.0.0.1", 0)).expect("bind a UDP socket on loopback");
        let port = udp.local_addr().expect("bound socket has an address").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            return (udp, tcp);
        }
    }
    panic!("could not bind a fake upstream to a free port");
}

fn serve_udp(socket: UdpSocket, state: Arc<State>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65_535];
    while !state.stop.load(Ordering::SeqCst) {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => continue, // read timeout: look at the stop flag again
        };
        let Some(query) = note_query(&state, &buf[..n], false) else {
            continue;
        };
        state.udp_ports.lock().expect("udp-ports lock").push(peer.port());
        let mode = state.mode.lock().expect("mode lock").clone();
        match mode {
            Mode::Blackhole => {}
            Mode::Slow(delay) => {
                let reply = good_reply(&state, &query);
                let socket = Arc::clone(&socket);
                let state = Arc::clone(&state);
                thread::spawn(move || {
                    sleep_unless_stopped(&state, delay);
                    let _ = socket.send_to(&reply, peer);
                });
            }
            Mode::TruncateUdp => {
                let mut msg = Message::new(query.metadata.id, query.metadata.message_type, query.metadata.op_code);
                msg.metadata = response_metadata(&query, ResponseCode::NoError);
                msg.metadata.truncation = true;
                msg.queries = query.queries.clone();
                let _ = socket.send_to(&encode(msg), peer);
            }
            mode => {
                let _ = socket.send_to(&reply_for(&state, &mode, &query), peer);
            }
        }
    }
}

fn serve_tcp(listener: TcpListener, state: Arc<State>) {
    while !state.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let state = Arc::clone(&state);
                thread::spawn(move || serve_tcp_connection(stream, state));
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve_tcp_connection(mut stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    // Bounded: a connection lives at most 60 s (longer than stubborn keeps
    // an idle one open), and ends with the fake.
    let end = Instant::now() + Duration::from_secs(60);
    while !state.stop.load(Ordering::SeqCst) && Instant::now() < end {
        let wire = match read_tcp_message(&mut stream, Instant::now() + Duration::from_millis(100)) {
            Ok(w) => w,
            Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
                continue;
            }
            Err(_) => return,
        };
        let Some(query) = note_query(&state, &wire, true) else {
            continue;
        };
        let mode = state.mode.lock().expect("mode lock").clone();
        let reply = match mode {
            Mode::Blackhole => continue,
            Mode::Slow(delay) => {
                let reply = good_reply(&state, &query);
                sleep_unless_stopped(&state, delay);
                reply
            }
            Mode::TruncateUdp => good_reply(&state, &query),
            mode => reply_for(&state, &mode, &query),
        };
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
    let _ = drain(&mut stream);
}

fn drain(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 512];
    stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    let _ = stream.read(&mut buf)?;
    Ok(())
}

fn sleep_unless_stopped(state: &State, delay: Duration) {
    let end = Instant::now() + delay;
    while Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())));
    }
}

/// Parses and counts a query; `None` for anything that is not one.
fn note_query(state: &State, wire: &[u8], tcp: bool) -> Option<Message> {
    let query = Message::from_vec(wire).ok()?;
    state.total.fetch_add(1, Ordering::SeqCst);
    if tcp {
        state.tcp.fetch_add(1, Ordering::SeqCst);
    } else {
        state.udp.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(q) = query.queries.first() {
        let key = name_key(&q.name.to_lowercase().to_ascii());
        *state.per_name.lock().expect("per-name lock").entry(key.clone()).or_insert(0) += 1;
        let edns = query.edns.as_ref().map(|e| (e.max_payload(), e.flags().dnssec_ok));
        state.last_edns.lock().expect("last-edns lock").insert(key, edns);
    }
    Some(query)
}

fn reply_for(state: &State, mode: &Mode, query: &Message) -> Vec<u8> {
    match mode {
        Mode::ServFail => encode(error_reply(query, ResponseCode::ServFail)),
        Mode::Refused => encode(error_reply(query, ResponseCode::Refused)),
        Mode::Garbage => {
            let id = query.metadata.id.to_be_bytes();
            // Header claims 1 question and 5 answers; the question name is a
            // compression pointer to itself, then junk.
            let mut wire = vec![id[0], id[1], 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0];
            wire.extend_from_slice(&[0xC0, 0x0C, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x2A]);
            wire
        }
        Mode::WrongId => {
            let mut reply = good_message(state, query);
            reply.metadata.id = query.metadata.id ^ 0x5A5A;
            encode(reply)
        }
        Mode::WrongQuestion => {
            let mut reply = good_message(state, query);
            let evil = Name::from_ascii("evil.invalid.").expect("valid name");
            for q in &mut reply.queries {
                q.name = evil.clone();
            }
            for r in &mut reply.answers {
                r.name = evil.clone();
            }
            encode(reply)
        }
        _ => good_reply(state, query),
    }
}

fn error_reply(query: &Message, rcode: ResponseCode) -> Message {
    let mut msg = Message::new(query.metadata.id, query.metadata.message_type, query.metadata.op_code);
    msg.metadata = response_metadata(query, rcode);
    msg.queries = query.queries.clone();
    if query.edns.is_some() {
        msg.set_edns(reply_edns());
    }
    msg
}

fn good_reply(state: &State, query: &Message) -> Vec<u8> {
    let message = good_message(state, query);
    let script = state.script.lock().expect("script lock").clone();
    encode(match script {
        Some(script) => script(query, message),
        None => message,
    })
}

fn good_message(state: &State, query: &Message) -> Message {
    let mut msg = error_reply(query, ResponseCode::NoError);
    let Some(q) = query.queries.first() else {
        msg.metadata.response_code = ResponseCode::FormErr;
        return msg;
    };
    msg.metadata.authoritative = true;
    let first_label = q.name.iter().next().map(|l| String::from_utf8_lossy(l).to_ascii_lowercase()).unwrap_or_default();
    if q.name.is_root() {
        return msg; // a health probe (". NS"): NOERROR, empty
    }
    if first_label.starts_with("nx") {
        msg.metadata.response_code = ResponseCode::NXDomain;
        msg.add_authority(soa(state));
    } else if q.query_type == RecordType::A {
        let ip = *state.ipv4.lock().expect("ipv4 lock");
        let ttl = state.ttl.load(Ordering::SeqCst);
        msg.add_answer(Record::from_rdata(q.name.clone(), ttl, RData::A(A(ip))));
    } else {
        msg.add_authority(soa(state));
    }
    msg
}

fn soa(state: &State) -> Record {
    let neg = state.negative_ttl.load(Ordering::SeqCst);
    let zone = Name::from_ascii("example.test.").expect("valid name");
    let rdata = SOA::new(
        Name::from_ascii("ns.example.test.").expect("valid name"),
        Name::from_ascii("hostmaster.example.test.").expect("valid name"),
        1,
        3600,
        900,
        604_800,
        neg,
    );
    Record::from_rdata(zone, neg, RData::SOA(rdata))
}

fn reply_edns() -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns
}

fn encode(msg: Message) -> Vec<u8> {
    msg.to_vec().expect("fake upstream reply encodes")
}
