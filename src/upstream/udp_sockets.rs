//! The UDP sockets of one plain upstream, shared by its queries. Opening,
//! connecting, registering and closing a socket for every query was a fifth
//! of a miss's CPU (perf, `docs/profiles.md`); here a few connected sockets
//! carry many queries each, and one receive loop per socket hands each
//! reply to the query waiting for it.
//!
//! What RFC 5452 asks of a resolver still holds per query:
//! - §9.2, the port: each socket is bound to a port the kernel picks at
//!   random from the ephemeral range and is `connect`ed to the server, so
//!   the kernel drops datagrams from any other address or port; a socket
//!   takes new queries for at most [`MAX_SOCKET_AGE`] and at most
//!   [`QUERIES_PER_SOCKET`] of them, then a new socket on a new random port
//!   takes its slot. A port found (seen on the path, or probed through the
//!   ICMP side channel of SAD DNS) is good only for the queries sent in that
//!   short time: at a low rate each query has a port of its own, as with a
//!   socket per query; under load up to [`QUERIES_PER_SOCKET`] share one;
//! - §9.1, the ID and question: each query gets a random ID not in use on
//!   its socket, and a reply counts only with that ID, QR set and our
//!   question; others are ignored until the deadline.
//!
//! Left to a spoofer off the path, per query: 16 bits of ID times the random
//! port, as with a socket per query. A closed port (ICMP) fails every query
//! waiting on that socket at once, as it did the one query of its own socket.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio::{
    net::UdpSocket,
    sync::{Notify, oneshot},
    time::{Instant, timeout_at},
};

use super::{Ask, UpstreamError, exchange::answers};
use crate::wire::{self, HEADER_LEN};

/// Sockets per upstream; each query takes one at random.
const SLOTS: usize = 4;
/// Queries one socket carries before a new one (new random port) replaces it.
const QUERIES_PER_SOCKET: u32 = 100;
/// How long a socket takes new queries before a new one (new random port)
/// replaces it, whatever it carried: about one round trip to a resolver on
/// the LAN or at the ISP, so a port found serves only the queries of that
/// moment. An upstream asked less than about `SLOTS` times per 25 ms (160
/// queries a second) gets a fresh port for most queries; a busy one still
/// shares each socket among many (the full [`QUERIES_PER_SOCKET`] from
/// 16 000 a second). Whatever the rate, at most `SLOTS` / 25 ms = 160
/// sockets a second are opened besides one per [`QUERIES_PER_SOCKET`]
/// queries. Without it a socket lived until its hundredth query, minutes to
/// hours on a quiet host: 13 ports for 1002 queries, where a socket per
/// query gave 984.
const MAX_SOCKET_AGE: Duration = Duration::from_millis(25);
/// The receive buffer asked for each socket.
const RECEIVE_BUFFER: usize = 1 << 20;

/// The shared sockets of one server.
pub struct UdpSockets {
    server: SocketAddr,
    slots: [Mutex<Option<Arc<Shared>>>; SLOTS],
}

/// One connected socket and the queries waiting on it.
struct Shared {
    socket: UdpSocket,
    waiting: Mutex<Vec<Waiting>>,
    /// When it was opened: it takes no new queries [`MAX_SOCKET_AGE`] later.
    opened: Instant,
    /// Queries registered on it so far.
    carried: AtomicU32,
    /// Replaced in its slot (or the upstream dropped): its receive loop ends
    /// once no query waits on it.
    retired: AtomicBool,
    /// Wakes the receive loop to check whether it may end.
    wake: Notify,
}

/// A query sent on a [`Shared`] socket, waiting for its reply.
struct Waiting {
    id: u16,
    question: Box<[u8]>,
    reply: Option<oneshot::Sender<Result<Vec<u8>, UpstreamError>>>,
    /// A datagram with our ID but not our question came (RFC 5452 §9.1).
    mismatched: bool,
}

impl UdpSockets {
    pub fn new(server: SocketAddr) -> UdpSockets {
        UdpSockets { server, slots: Default::default() }
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends `ask` and waits until `deadline` for the reply with our ID
    /// and question: its bytes, not checked further.
    pub async fn exchange(&self, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
        let shared = self.socket().map_err(|e| UpstreamError::Local(e.kind()))?;
        let (registration, reply) = Registration::new(&shared, ask.question);
        shared.socket.send(&ask.packet(registration.id)).await?;
        match timeout_at(deadline, reply).await {
            Ok(Ok(result)) => result,
            // The receive loop dropped our sender: it never does while we wait.
            Ok(Err(_)) => Err(UpstreamError::Timeout),
            Err(_) if registration.mismatched() => Err(UpstreamError::Mismatch),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// A socket from a random slot, opened anew when the slot is empty or
    /// its socket is [`MAX_SOCKET_AGE`] old or has carried
    /// [`QUERIES_PER_SOCKET`] queries.
    fn socket(&self) -> io::Result<Arc<Shared>> {
        let mut slot = self.slots[rand::random_range(0..SLOTS)].lock().expect("no panics while held");
        if let Some(shared) = slot.as_ref()
            && shared.opened.elapsed() < MAX_SOCKET_AGE
            && shared.carried.fetch_add(1, Ordering::Relaxed) < QUERIES_PER_SOCKET
        {
            return Ok(Arc::clone(shared));
        }
        if let Some(old) = slot.take() {
            old.retire();
        }
        let shared = Arc::new(Shared::open(self.server)?);
        tokio::spawn(receive(Arc::clone(&shared)));
        *slot = Some(Arc::clone(&shared));
        Ok(shared)
    }
}

impl Drop for UdpSockets {
    /// The upstream is gone (a reload dropped it): each receive loop ends
    /// once the queries still waiting on its socket are done.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Some(shared) = slot.lock().expect("no panics while held").take() {
                shared.retire();
            }
        }
    }
}

impl Shared {
    /// A socket on a random port (the kernel's choice), connected to `server`.
    fn open(server: SocketAddr) -> io::Result<Shared> {
        let any: SocketAddr =
            if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
        let socket = socket2::Socket::new(socket2::Domain::for_address(server), socket2::Type::DGRAM, None)?;
        // Room for the replies of every query it carries (the kernel caps
        // this at twice net.core.rmem_max): a busy receive loop drops none.
        socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
        socket.bind(&any.into())?;
        socket.connect(&server.into())?;
        socket.set_nonblocking(true)?;
        let socket: std::net::UdpSocket = socket.into();
        Ok(Shared {
            socket: UdpSocket::from_std(socket)?,
            waiting: Mutex::default(),
            opened: Instant::now(),
            carried: AtomicU32::new(1),
            retired: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Retired with nobody waiting: the receive loop may end.
    fn done(&self) -> bool {
        self.retired.load(Ordering::Relaxed) && self.waiting.lock().expect("no panics while held").is_empty()
    }

    /// Hands `datagram` to the query it answers. Datagrams for no waiting
    /// ID (late replies to queries given up on, spoofs) are dropped.
    fn deliver(&self, datagram: &[u8]) {
        if datagram.len() < HEADER_LEN {
            return;
        }
        let id = wire::u16_at(datagram, 0);
        let mut waiting = self.waiting.lock().expect("no panics while held");
        let Some(query) = waiting.iter_mut().find(|w| w.id == id) else { return };
        if !answers(datagram, &query.question) {
            query.mismatched = true;
            return;
        }
        if let Some(reply) = query.reply.take() {
            // The query may have given up in between: nobody to tell.
            let _ = reply.send(Ok(datagram.to_vec()));
        }
    }

    /// The socket reported an error (ICMP port or host unreachable for one
    /// of its datagrams): the server cannot be reached on it, so every query
    /// waiting fails now rather than at its deadline.
    fn fail_all(&self, error: &io::Error) {
        for query in self.waiting.lock().expect("no panics while held").iter_mut() {
            if let Some(reply) = query.reply.take() {
                let _ = reply.send(Err(UpstreamError::from(io::Error::from(error.kind()))));
            }
        }
    }
}

/// Reads the socket's datagrams and hands each to its query, until the
/// socket is retired and nobody waits on it.
async fn receive(shared: Arc<Shared>) {
    // Room for any datagram, not zeroed: `recv_buf` fills spare capacity.
    let mut buffer = Vec::with_capacity(usize::from(u16::MAX));
    while !shared.done() {
        buffer.clear();
        tokio::select! {
            received = shared.socket.recv_buf(&mut buffer) => match received {
                Ok(_) => shared.deliver(&buffer),
                Err(error) => shared.fail_all(&error),
            },
            () = shared.wake.notified() => {}
        }
    }
}

/// A query's place among a socket's waiting queries, given up when dropped
/// (answered, timed out or cancelled).
struct Registration<'s> {
    shared: &'s Shared,
    id: u16,
}

impl<'s> Registration<'s> {
    /// Registers a query for `question` under a random ID not in use on the socket.
    fn new(shared: &'s Shared, question: &[u8]) -> (Self, oneshot::Receiver<Result<Vec<u8>, UpstreamError>>) {
        let (sender, receiver) = oneshot::channel();
        let mut waiting = shared.waiting.lock().expect("no panics while held");
        // At most QUERIES_PER_SOCKET IDs are taken: a free one comes quickly.
        let id = std::iter::repeat_with(rand::random::<u16>)
            .find(|id| waiting.iter().all(|w| w.id != *id))
            .expect("an endless iterator");
        waiting.push(Waiting { id, question: question.into(), reply: Some(sender), mismatched: false });
        (Registration { shared, id }, receiver)
    }

    fn mismatched(&self) -> bool {
        let waiting = self.shared.waiting.lock().expect("no panics while held");
        waiting.iter().any(|w| w.id == self.id && w.mismatched)
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut waiting = self.shared.waiting.lock().expect("no panics while held");
        waiting.retain(|w| w.id != self.id);
        if waiting.is_empty() && self.shared.retired.load(Ordering::Relaxed) {
            self.shared.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: &[u8] = b"\x07example\x00\x00\x01\x00\x01";
    const OTHER: &[u8] = b"\x05other\x00\x00\x01\x00\x01";

    /// A server on loopback that answers each query with `reply(query)`.
    async fn server(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                if let Some(answer) = reply(&buf[..len]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        addr
    }

    /// The query echoed back as a response (QR set): ID and question intact.
    fn echo(query: &[u8]) -> Option<Vec<u8>> {
        let mut reply = query.to_vec();
        reply[2] |= wire::QR;
        Some(reply)
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(500)
    }

    #[tokio::test]
    async fn concurrent_queries_each_get_their_own_reply() {
        let sockets = Arc::new(UdpSockets::new(server(echo).await));
        let mut queries = tokio::task::JoinSet::new();
        // More at once than one socket carries, fewer than the test server's buffer holds.
        for i in 0..150 {
            let sockets = Arc::clone(&sockets);
            queries.spawn(async move {
                let question = wire::question(&format!("n{i}.example"), 1);
                let reply = sockets.exchange(&Ask::plain(&question), soon()).await.unwrap();
                assert_eq!(&reply[HEADER_LEN..HEADER_LEN + question.len()], &question[..]);
            });
        }
        while let Some(query) = queries.join_next().await {
            query.unwrap();
        }
    }

    #[tokio::test]
    async fn a_reply_to_another_question_is_a_mismatch_and_a_wrong_id_a_timeout() {
        let wrong_question = server(|query| {
            let mut reply = query[..HEADER_LEN].to_vec();
            reply[2] |= wire::QR;
            reply.extend_from_slice(OTHER);
            Some(reply)
        })
        .await;
        let sockets = UdpSockets::new(wrong_question);
        assert_eq!(sockets.exchange(&Ask::plain(QUESTION), soon()).await, Err(UpstreamError::Mismatch));
        let wrong_id = server(|query| {
            let mut reply = echo(query)?;
            reply[0] ^= 0xff;
            Some(reply)
        })
        .await;
        let sockets = UdpSockets::new(wrong_id);
        assert_eq!(sockets.exchange(&Ask::plain(QUESTION), soon()).await, Err(UpstreamError::Timeout));
    }

    #[tokio::test]
    async fn a_closed_port_fails_at_once() {
        let closed = {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.local_addr().unwrap()
        };
        let sockets = UdpSockets::new(closed);
        let started = Instant::now();
        let result = sockets.exchange(&Ask::plain(QUESTION), started + Duration::from_secs(2)).await;
        assert_eq!(result, Err(UpstreamError::Network(io::ErrorKind::ConnectionRefused)));
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    /// Queries further apart than [`MAX_SOCKET_AGE`] each go out on a new port.
    #[tokio::test]
    async fn a_socket_takes_no_new_query_once_it_is_old() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let ports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&ports);
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                seen.lock().unwrap().push(from.port());
                let _ = socket.send_to(&echo(&buf[..len]).unwrap(), from).await;
            }
        });
        let sockets = UdpSockets::new(addr);
        for _ in 0..20 {
            sockets.exchange(&Ask::plain(QUESTION), soon()).await.unwrap();
            tokio::time::sleep(MAX_SOCKET_AGE + Duration::from_millis(5)).await;
        }
        let ports = ports.lock().unwrap();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        // The kernel may hand out a port again (1 in 28 000 per socket).
        assert!(distinct.len() >= 18, "a new port per query: {ports:?}");
    }

    #[tokio::test]
    async fn a_socket_is_replaced_after_its_share_of_queries_and_its_loop_ends() {
        let sockets = UdpSockets::new(server(echo).await);
        let mut ports = std::collections::HashSet::new();
        let mut first: Option<Arc<Shared>> = None;
        for _ in 0..(SLOTS as u32 * QUERIES_PER_SOCKET * 3) {
            sockets.exchange(&Ask::plain(QUESTION), soon()).await.unwrap();
            for slot in &sockets.slots {
                if let Some(shared) = slot.lock().unwrap().as_ref() {
                    ports.insert(shared.socket.local_addr().unwrap().port());
                    first.get_or_insert_with(|| Arc::clone(shared));
                }
            }
        }
        assert!(ports.len() > SLOTS, "new sockets on new ports: {ports:?}");
        let first = first.unwrap();
        assert!(first.retired.load(Ordering::Relaxed));
        // Its receive loop has ended and let go of it.
        tokio::time::timeout(Duration::from_secs(1), async {
            while Arc::strong_count(&first) > 1 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the retired socket's loop ended");
    }
}
