//! The one connection every query to a `tcp://`, `tls://` (RFC 7858) or
//! `https://` (RFC 8484) upstream shares: hickory-net's transports — for
//! TCP and DoT a `DnsMultiplexer` on one TCP or TLS stream (queries
//! pipelined, answers matched by ID in any order, RFC 7766 §6.2.1.1), for
//! DoH one HTTP/2 connection with a stream per query. What hickory leaves
//! to its caller is here: when to open, share, reopen and close.
//!
//! Algorithm of [`SharedConnection::exchange`]:
//! - an open connection is used as it is (one lock, one clone of a handle);
//! - with none, one opening is started in its own task and every query that
//!   arrives meanwhile waits on that same opening, each until its own
//!   deadline (a handshake counts against the attempt's `timeout`). The
//!   opening itself may take `max(timeout, 5 s)`, so a slow handshake still
//!   ends in a connection the next queries use, instead of being cut off
//!   with each query's deadline and never completing;
//! - the opening resolves a host name through the bootstrap servers when no
//!   address is known, tries the addresses in order, and on failure forgets
//!   them (the next opening asks again) and hands its error (why the
//!   handshake failed) to the waiting queries; a connection that fails in
//!   use makes them forgotten too;
//! - a connection is closed when the server closes it or it fails (hickory's
//!   background task ends), when it has been idle for [`IDLE_TIMEOUT`], and
//!   when a query timed out on it while it delivered no answer at all since
//!   that query was sent (a silently dead path: the server would never be
//!   heard from again on it);
//! - a query that fails with a connection error on a connection opened
//!   before it (the server closed it just then) is retried once on a new one.
//!
//! Built without the `encrypted` cargo feature only `tcp://` is here (config
//! validation rejects the other two).

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

#[cfg(feature = "encrypted")]
use hickory_net::h2::HttpsClientStream;
use hickory_net::{
    NetError,
    runtime::{TokioRuntimeProvider, iocompat::AsyncIoTokioAsStd},
    tcp::{TcpClientStream, TcpStream},
    xfer::{DnsExchange, DnsHandle, DnsMultiplexer, FirstAnswer},
};
use hickory_proto::op::{DnsRequest, Message};
#[cfg(feature = "encrypted")]
use hickory_proto::rr::rdata::opt::EdnsOption;
use rustls::ClientConfig;
#[cfg(feature = "encrypted")]
use rustls::pki_types::ServerName;
use tokio::{
    io::BufReader,
    sync::{Notify, Semaphore, watch},
    time::{Instant, sleep_until, timeout_at},
};
#[cfg(feature = "encrypted")]
use tokio_rustls::TlsConnector;
use tracing::debug;

use super::{Ask, UpstreamError, bootstrap, exchange};
use crate::AtomicU64;
use crate::config::{Host, Transport, UpstreamAddr};

/// An unused connection is closed after this. Servers close theirs sooner
/// or later anyway (Unbound after 30 s by default); closing first avoids
/// a query racing the server's close.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The least time an opening (bootstrap, TCP, TLS, HTTP/2) may take.
const MIN_OPENING: Duration = Duration::from_secs(5);
/// Room in hickory's queues of a pipelined (TCP or DoT) connection: more
/// than [`WINDOW`], so that they never refuse a query (hickory's own
/// default, 32, failed a burst).
const MAX_IN_FLIGHT: usize = 4096;
/// Queries sent on one TCP or DoT connection and not yet answered, at most;
/// more wait here for an answer to make room. Unbound stops reading a
/// TCP/TLS connection while 32 queries are open on it
/// (`TCP_MAX_REQ_SIMULTANEOUS`). Without this window, once in about twenty
/// runs of 200 concurrent misses over DoT on a loaded machine, 37 queries
/// sent together stayed unanswered until their 2 s timeout while the others
/// were answered (not reproduced in isolation: 200 queries pipelined in one
/// write were all answered). 32 is also hickory's own default. At a 20 ms
/// round trip it allows 1600 misses per second per upstream.
const WINDOW: usize = 32;

/// How the upstream is spoken to.
enum Kind {
    Tcp,
    #[cfg(feature = "encrypted")]
    Tls {
        /// The name the certificate must be valid for.
        name: Arc<str>,
        config: Arc<ClientConfig>,
    },
    #[cfg(feature = "encrypted")]
    Https {
        name: Arc<str>,
        config: Arc<ClientConfig>,
        path: Arc<str>,
    },
}

/// One upstream's shared connection and what opening one needs.
pub struct SharedConnection {
    kind: Kind,
    host: Host,
    port: u16,
    /// The upstream as configured, for logs.
    label: Arc<str>,
    /// Plain servers that resolve `host` when it is a name.
    bootstrap: Arc<[SocketAddr]>,
    /// One attempt's time (`[upstream] timeout`).
    timeout: Duration,
    /// TCP and DoT: the [`WINDOW`] of queries in flight.
    window: Semaphore,
    state: Mutex<State>,
}

struct State {
    slot: Slot,
    /// The addresses of a named host, once resolved; emptied when an opening fails.
    resolved: Vec<SocketAddr>,
}

enum Slot {
    Closed,
    /// An opening is under way; its outcome is sent once.
    Opening(watch::Receiver<Option<Result<Connection, UpstreamError>>>),
    Open(Connection),
}

/// A handle on an open connection; cheap to clone.
#[derive(Clone)]
struct Connection {
    exchange: DnsExchange<TokioRuntimeProvider>,
    life: Arc<Life>,
}

/// What the connection's driver task and its users share.
struct Life {
    open: AtomicBool,
    /// Wakes the driver to close the connection.
    close: Notify,
    in_flight: AtomicUsize,
    /// What the two instants below count from.
    born: Instant,
    /// Milliseconds after `born` a query was last sent or answered.
    last_used: AtomicU64,
    /// Milliseconds after `born` an answer last arrived, plus one (0: never).
    last_answer: AtomicU64,
}

impl Life {
    fn new() -> Life {
        Life {
            open: AtomicBool::new(true),
            close: Notify::new(),
            in_flight: AtomicUsize::new(0),
            born: Instant::now(),
            last_used: AtomicU64::new(0),
            last_answer: AtomicU64::new(0),
        }
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    fn close(&self) {
        self.open.store(false, Ordering::Relaxed);
        self.close.notify_one();
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.born).as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn idle_since(&self) -> Instant {
        self.born + Duration::from_millis(self.last_used.load(Ordering::Relaxed))
    }

    fn answered(&self) {
        let now = self.millis(Instant::now());
        self.last_answer.store(now + 1, Ordering::Relaxed);
        self.last_used.store(now, Ordering::Relaxed);
    }

    /// No answer came on this connection at or after `since`.
    fn silent_since(&self, since: Instant) -> bool {
        self.last_answer.load(Ordering::Relaxed) < self.millis(since) + 1
    }
}

/// Counts a query in flight on a connection while it lives.
struct InFlight<'a>(&'a Life);

impl<'a> InFlight<'a> {
    fn new(life: &'a Life) -> InFlight<'a> {
        life.in_flight.fetch_add(1, Ordering::Relaxed);
        life.last_used.store(life.millis(Instant::now()), Ordering::Relaxed);
        InFlight(life)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SharedConnection {
    /// The connection state of `addr` (a `tcp://`, `tls://` or `https://`
    /// upstream), or None for a UDP one, and for an encrypted one when
    /// there is no TLS client config (`tls`).
    pub fn new(
        addr: &UpstreamAddr,
        #[cfg_attr(not(feature = "encrypted"), expect(unused_variables))] tls: Option<&Arc<ClientConfig>>,
        bootstrap: &Arc<[SocketAddr]>,
        timeout: Duration,
    ) -> Option<SharedConnection> {
        let kind = match &addr.transport {
            Transport::Udp => return None,
            Transport::Tcp => Kind::Tcp,
            #[cfg(feature = "encrypted")]
            Transport::Tls(target) => Kind::Tls { name: Arc::from(target.tls_name.as_str()), config: Arc::clone(tls?) },
            #[cfg(feature = "encrypted")]
            Transport::Https(target, path) => Kind::Https {
                name: Arc::from(target.tls_name.as_str()),
                config: Arc::clone(tls?),
                path: Arc::from(path.as_str()),
            },
            #[cfg(not(feature = "encrypted"))]
            Transport::Tls(_) | Transport::Https(..) => return None,
        };
        Some(SharedConnection {
            kind,
            host: addr.host.clone(),
            port: addr.port,
            label: Arc::from(addr.label.as_str()),
            bootstrap: Arc::clone(bootstrap),
            timeout,
            window: Semaphore::new(WINDOW),
            state: Mutex::new(State { slot: Slot::Closed, resolved: Vec::new() }),
        })
    }

    /// One attempt's time, as given to [`SharedConnection::new`].
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Asks the question over the shared connection, opening it if needed.
    pub async fn exchange(self: &Arc<Self>, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
        // The ID is hickory's to choose (a random free one over TCP and TLS, 0 for DoH, RFC 8484 §4.1).
        let message = self.message(ask)?;
        // DoH needs no window: HTTP/2 has its own (the server's SETTINGS_MAX_CONCURRENT_STREAMS).
        let _in_window = match self.kind {
            #[cfg(feature = "encrypted")]
            Kind::Https { .. } => None,
            _ => Some(
                timeout_at(deadline, self.window.acquire())
                    .await
                    .map_err(|_| UpstreamError::Timeout)?
                    .expect("the window is never closed"),
            ),
        };
        let mut retried = false;
        loop {
            let (connection, opened_now) = self.connection(deadline).await?;
            match send(&connection, message.clone(), ask.question, deadline).await {
                Err(error @ (UpstreamError::Network(_) | UpstreamError::Connection(_))) if !opened_now && !retried => {
                    if matches!(error, UpstreamError::Network(_)) {
                        connection.life.close();
                    }
                    if connection.life.is_open() {
                        return Err(error);
                    }
                    // The server closed the connection as we used it: once more on a new one.
                    retried = true;
                }
                result => {
                    if result.is_err() && !connection.life.is_open() {
                        // Failed, not idle (it was in use): look the name up again next time.
                        self.state.lock().expect("no panics while held").resolved.clear();
                    }
                    return result;
                }
            }
        }
    }

    /// The query to send, as hickory's multiplexer takes it; over TLS and
    /// HTTPS padded (RFC 8467), so that the length of a query does not tell
    /// its name. The padding is added to the parsed message rather than
    /// parsed: hickory-proto reads a Padding option's octets one at a time,
    /// a tenth of a DoT miss's CPU when it read ours (perf, docs/profiles.md).
    fn message(&self, ask: &Ask<'_>) -> Result<Message, UpstreamError> {
        #[cfg_attr(not(feature = "encrypted"), allow(unused_mut))]
        let mut message = Message::from_vec(&ask.packet(0)).map_err(|_| UpstreamError::Malformed)?;
        #[cfg(feature = "encrypted")]
        if let (Kind::Tls { .. } | Kind::Https { .. }, Some(edns)) = (&self.kind, message.edns.as_mut()) {
            let padding = EdnsOption::Unknown(crate::wire::OPTION_PADDING, vec![0; ask.padding()]);
            edns.options_mut().insert(padding);
        }
        Ok(message)
    }

    /// The open connection, or the one being opened once it is; true when
    /// it was opened for this query (no point retrying on a new one then).
    async fn connection(self: &Arc<Self>, deadline: Instant) -> Result<(Connection, bool), UpstreamError> {
        let mut opening = {
            let mut state = self.state.lock().expect("no panics while held");
            match &state.slot {
                Slot::Open(connection) if connection.life.is_open() => return Ok((connection.clone(), false)),
                Slot::Opening(opening) => opening.clone(),
                Slot::Closed | Slot::Open(_) => {
                    let (done, opening) = watch::channel(None);
                    state.slot = Slot::Opening(opening.clone());
                    tokio::spawn(Arc::clone(self).open(done));
                    opening
                }
            }
        };
        match timeout_at(deadline, opening.wait_for(Option::is_some)).await {
            Ok(Ok(outcome)) => outcome.clone().expect("waited for Some").map(|connection| (connection, true)),
            // The opening task ended without saying (a panic, or the runtime stopping).
            Ok(Err(_)) => Err(UpstreamError::Timeout),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// Opens a connection and hands it (or why not) to every waiting query.
    async fn open(self: Arc<Self>, done: watch::Sender<Option<Result<Connection, UpstreamError>>>) {
        let deadline = Instant::now() + self.timeout.max(MIN_OPENING);
        let outcome = timeout_at(deadline, self.open_first(deadline)).await.unwrap_or(Err(UpstreamError::Timeout));
        {
            let mut state = self.state.lock().expect("no panics while held");
            match &outcome {
                Ok(connection) => state.slot = Slot::Open(connection.clone()),
                Err(_) => {
                    state.slot = Slot::Closed;
                    state.resolved.clear();
                }
            }
        }
        if let Err(error) = &outcome {
            debug!(server = %self.label, %error, "cannot open an upstream connection");
        }
        done.send_replace(Some(outcome));
    }

    /// Resolves the host if need be and connects to the first address that takes.
    async fn open_first(&self, deadline: Instant) -> Result<Connection, UpstreamError> {
        let addrs = match &self.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, self.port)],
            Host::Name(name) => {
                let known = self.state.lock().expect("no panics while held").resolved.clone();
                if known.is_empty() {
                    let addrs = bootstrap::resolve(name, self.port, &self.bootstrap, deadline).await?;
                    debug!(host = %name, ?addrs, "resolved through bootstrap");
                    self.state.lock().expect("no panics while held").resolved.clone_from(&addrs);
                    addrs
                } else {
                    known
                }
            }
        };
        let mut last_error = UpstreamError::Timeout;
        for addr in addrs {
            match self.open_to(addr).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    async fn open_to(&self, addr: SocketAddr) -> Result<Connection, UpstreamError> {
        let life = Arc::new(Life::new());
        let exchange = match &self.kind {
            // hickory reads a message's two length octets, then its body:
            // buffered, one read takes every reply that has come.
            Kind::Tcp => self.pipelined(BufReader::new(exchange::connect(addr).await?), addr, &life),
            #[cfg(feature = "encrypted")]
            Kind::Tls { name, config } => {
                let server_name = ServerName::try_from(name.to_string())
                    .map_err(|e| UpstreamError::Tls(format!("tls-name {name}: {e}").into()))?;
                let tcp = exchange::connect(addr).await?;
                let tls =
                    TlsConnector::from(Arc::clone(config)).connect(server_name, tcp).await.map_err(|e| io_error(&e))?;
                self.pipelined(tls, addr, &life)
            }
            #[cfg(feature = "encrypted")]
            Kind::Https { name, config, path } => {
                let mut builder = HttpsClientStream::builder(Arc::clone(config), TokioRuntimeProvider::default());
                builder.request_timeout(self.timeout);
                let stream = builder.build(addr, Arc::clone(name), Arc::clone(path)).await.map_err(net_error)?;
                let (exchange, driver) = DnsExchange::from_stream(stream);
                tokio::spawn(drive(driver, Arc::clone(&life)));
                exchange
            }
        };
        debug!(server = %self.label, %addr, "upstream connection open");
        Ok(Connection { exchange, life })
    }

    /// A `DnsMultiplexer` on `stream` (TCP, or TLS over it), its driver
    /// spawned. hickory's own constructors (`TcpClientStream::new`,
    /// `tls_client_connect`) queue at most 32 messages for the socket and
    /// fail the rest of a burst; this is the same stream with room for
    /// every query allowed in flight.
    fn pipelined<S>(&self, stream: S, addr: SocketAddr, life: &Arc<Life>) -> DnsExchange<TokioRuntimeProvider>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static,
    {
        let (stream, sender) = TcpStream::from_stream_with_buffer_size(AsyncIoTokioAsStd(stream), addr, MAX_IN_FLIGHT);
        let multiplexer = DnsMultiplexer::new(TcpClientStream::from_stream(stream), sender)
            .with_timeout(self.timeout)
            .with_max_active_requests(MAX_IN_FLIGHT);
        let (exchange, driver) = DnsExchange::from_stream(multiplexer);
        tokio::spawn(drive(driver, Arc::clone(life)));
        exchange
    }
}

/// Runs hickory's background task of one connection until it ends (the
/// server closed it, or it failed), the connection has been idle for
/// [`IDLE_TIMEOUT`], or a user closes it. Dropping the task closes the
/// socket (DoT) or the last handle on the HTTP/2 connection (DoH).
async fn drive(driver: impl Future<Output = ()>, life: Arc<Life>) {
    tokio::pin!(driver);
    loop {
        tokio::select! {
            () = &mut driver => break,
            () = life.close.notified() => break,
            () = sleep_until(life.idle_since() + IDLE_TIMEOUT) => {
                let idle = life.in_flight.load(Ordering::Relaxed) == 0
                    && life.idle_since() + IDLE_TIMEOUT <= Instant::now();
                if idle {
                    debug!("closing an idle upstream connection");
                    break;
                }
            }
        }
    }
    life.open.store(false, Ordering::Relaxed);
}

/// One query on `connection`; the reply must answer `question`.
async fn send(
    connection: &Connection,
    message: Message,
    question: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, UpstreamError> {
    let life = &connection.life;
    let _in_flight = InFlight::new(life);
    let sent = Instant::now();
    let reply = match timeout_at(deadline, connection.exchange.send(DnsRequest::from(message)).first_answer()).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(NetError::Timeout)) | Err(_) => {
            if life.silent_since(sent) {
                // Nothing at all came back while we waited: the path may be dead.
                life.close();
            }
            return Err(UpstreamError::Timeout);
        }
        Ok(Err(error)) => return Err(net_error(error)),
    };
    life.answered();
    // hickory's multiplexer parsed it to match the ID; the records get
    // the same check as a UDP reply's, so every transport caches alike.
    let (_, reply) = reply.into_parts();
    if !exchange::answers(&reply, question) {
        return Err(UpstreamError::Mismatch);
    }
    exchange::valid(reply, question.len())
}

/// hickory's error as an upstream failure, with the reason a handshake
/// failed spelled out (the `last_error` of /status).
fn net_error(error: NetError) -> UpstreamError {
    match error {
        NetError::Timeout => UpstreamError::Timeout,
        NetError::Busy => UpstreamError::Local(std::io::ErrorKind::WouldBlock),
        NetError::Io(io) => io_error(&io),
        #[cfg(feature = "encrypted")]
        NetError::H2(h2) => match h2.get_io() {
            Some(io) => io_error(io),
            None => UpstreamError::Connection(h2.to_string().into()),
        },
        NetError::Proto(_) => UpstreamError::Malformed,
        other => UpstreamError::Connection(other.to_string().into()),
    }
}

fn io_error(io: &std::io::Error) -> UpstreamError {
    match crate::tls::rustls_error(io) {
        Some(tls) => UpstreamError::Tls(crate::tls::reason(tls).into()),
        None if io.kind() == std::io::ErrorKind::TimedOut => UpstreamError::Timeout,
        None => UpstreamError::Network(io.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "encrypted")]
    #[test]
    fn handshake_failures_say_which_certificate_check_failed() {
        use rustls::CertificateError;
        fn tls_failure(error: CertificateError) -> NetError {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(error));
            NetError::Io(Arc::new(io))
        }
        let reason = |e| match net_error(tls_failure(e)) {
            UpstreamError::Tls(reason) => reason.to_string(),
            other => panic!("not a TLS failure: {other:?}"),
        };
        assert_eq!(reason(CertificateError::Expired), "certificate expired");
        assert!(reason(CertificateError::UnknownIssuer).contains("unknown issuer"));
        let wrong = CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("wrong.test").unwrap(),
            presented: vec!["DnsName(\"dns.test\")".into()],
        };
        assert_eq!(reason(wrong), "certificate not valid for name wrong.test (it is for dns.test)");
    }

    #[test]
    fn socket_errors_and_timeouts_keep_their_kind() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            net_error(NetError::Io(Arc::new(refused))),
            UpstreamError::Network(std::io::ErrorKind::ConnectionRefused)
        );
        assert_eq!(net_error(NetError::Timeout), UpstreamError::Timeout);
        assert_eq!(
            net_error(NetError::Busy),
            UpstreamError::Local(std::io::ErrorKind::WouldBlock),
            "ours, not the server's"
        );
    }

    #[cfg(feature = "encrypted")]
    #[test]
    fn encrypted_queries_are_sent_padded_to_whole_blocks() {
        let text = "[upstream]\nservers = [\"tls://127.0.0.1:853#dns.test\", \"tcp://127.0.0.1:53\"]\n";
        let config = crate::config::Config::parse(std::path::Path::new("t.toml"), text, None).unwrap();
        let tls = Arc::new(crate::tls::client_config(None).unwrap());
        let bootstrap: Arc<[SocketAddr]> = Arc::from(Vec::new());
        let [dot, tcp] = [0, 1].map(|i| {
            SharedConnection::new(&config.upstream.servers[i], Some(&tls), &bootstrap, Duration::from_secs(1)).unwrap()
        });
        for name in ["a.test", "a-much-longer-name.example.com", &"x".repeat(63)] {
            let question = crate::wire::question(name, crate::wire::TYPE_AAAA);
            let ask = Ask::plain(&question);
            let sent = dot.message(&ask).unwrap().to_vec().unwrap();
            assert_eq!(sent.len() % 128, 0, "{name}: {} octets", sent.len());
            assert_eq!(sent[sent.len() - ask.padding() - 4..][..2], crate::wire::OPTION_PADDING.to_be_bytes());
            assert_eq!(tcp.message(&ask).unwrap().to_vec().unwrap(), ask.packet(0), "tcp:// is not padded");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unused_connection_is_closed_after_the_idle_timeout() {
        let life = Arc::new(Life::new());
        let opened = Instant::now();
        drive(std::future::pending(), Arc::clone(&life)).await;
        assert_eq!(opened.elapsed(), IDLE_TIMEOUT);
        assert!(!life.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_silent_until_an_answer_comes() {
        let life = Life::new();
        let sent = Instant::now();
        assert!(life.silent_since(sent));
        tokio::time::advance(Duration::from_millis(5)).await;
        life.answered();
        assert!(!life.silent_since(sent), "answered after the query was sent");
        tokio::time::advance(Duration::from_millis(5)).await;
        assert!(life.silent_since(Instant::now()), "nothing since");
        assert_eq!(life.idle_since(), sent + Duration::from_millis(5));
    }
}
