//! The TCP listener (RFC 7766): length-prefixed messages; several queries
//! per connection processed at once, each reply sent as soon as it is ready
//! (§6.2.1.1: out of order is allowed, so a cache hit never waits behind a
//! miss); idle connections closed after `tcp_idle_timeout`; and at most
//! `tcp_connections` open, the one idle longest closed to admit a new one
//! ([`super::connections`]), so a flood of idle connections can't exhaust
//! memory or fds nor lock new clients out. A message's buffer grows with the
//! bytes that arrive, not with the length its prefix announces, so a
//! connection that announces 64 KiB and sends a few bytes holds a few bytes.
//!
//! A connection is a reader (this task: frames in, cache hits answered
//! inline, misses spawned) and a writer task that frames and sends every
//! reply from a channel; the writer ends when the reader and every pending
//! miss have dropped their senders, so no reply is lost on close.

use std::{io, net::SocketAddr, sync::Arc, time::Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedWriteHalf},
    sync::{Semaphore, mpsc},
    time::timeout,
};
use tracing::debug;

use super::{InFlight, Server, Step, Via, connections::Admitted};

/// Queries of one connection waiting on upstream at once; past it, the
/// connection is not read until one is answered (back-pressure on the client).
const MAX_PENDING: usize = 64;
/// Room made for a message before its bytes arrive: a query fits, and a
/// larger message grows the buffer as it comes.
const FIRST_READ: usize = 512;

pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    loop {
        let (stream, client) = crate::bind::accept_or_pause(&listener, "tcp").await;
        let admitted = server.tcp_connections.admit(server.tcp_limits().connections);
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            if let Err(error) = connection(stream, client, &server, &admitted).await {
                debug!(%error, %client, "tcp connection ended");
            }
        });
    }
}

async fn connection(
    stream: TcpStream,
    client: SocketAddr,
    server: &Arc<Server>,
    admitted: &Admitted,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut reader, writer) = stream.into_split();
    let (replies, outbox) = mpsc::channel(MAX_PENDING);
    let writing = tokio::spawn(write_replies(writer, outbox));
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    loop {
        let idle_timeout = server.tcp_limits().idle_timeout;
        let len = tokio::select! {
            len = timeout(idle_timeout, reader.read_u16()) => len,
            () = admitted.close.notified() => break, // closed to make room for a new connection
        };
        let Ok(Ok(len)) = len else { break }; // idle, or closed by the client
        // Grown as the bytes arrive, not to the length announced (module doc).
        let mut packet = Vec::with_capacity(usize::from(len).min(FIRST_READ));
        let mut message = (&mut reader).take(u64::from(len));
        let read = timeout(idle_timeout, message.read_to_end(&mut packet)).await;
        if read.map_err(|_| io::ErrorKind::TimedOut)?? < usize::from(len) {
            return Err(io::ErrorKind::UnexpectedEof.into()); // closed by the client mid-message
        }
        admitted.active();
        let received_at = Instant::now();
        match server.reply_now(&packet, client, Via::Tcp, received_at) {
            Step::Done(Some(reply)) => {
                if replies.send(reply).await.is_err() {
                    break; // the writer failed: the client is gone
                }
                server.answered(Via::Tcp, received_at.elapsed(), 1);
            }
            Step::Done(None) => {}
            Step::Resolve(query, cached) => {
                let slot = Arc::clone(&pending).acquire_owned().await.expect("the semaphore is never closed");
                // Held until the reply is handed to the writer, so that a graceful stop waits for it.
                let in_flight = InFlight::new(server, client.ip());
                let (server, replies) = (Arc::clone(server), replies.clone());
                tokio::spawn(async move {
                    let reply = server.reply(&query, cached, client, Via::Tcp, received_at).await;
                    if replies.send(reply).await.is_ok() {
                        server.answered(Via::Tcp, received_at.elapsed(), 1);
                    }
                    drop((in_flight, slot));
                });
            }
        }
    }
    // Replies still pending are written before the connection closes.
    drop(replies);
    writing.await.unwrap_or(Ok(()))
}

/// Frames (RFC 1035 §4.2.2) and sends each reply in the order they become ready.
async fn write_replies(mut writer: OwnedWriteHalf, mut outbox: mpsc::Receiver<Vec<u8>>) -> io::Result<()> {
    while let Some(reply) = outbox.recv().await {
        let len = u16::try_from(reply.len()).expect("TCP replies are built within the 16-bit length limit");
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        writer.write_all(&framed).await?;
    }
    writer.shutdown().await
}
