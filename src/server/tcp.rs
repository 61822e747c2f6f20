//! The TCP listener (RFC 7766): length-prefixed messages, several queries
//! per connection answered in order, idle connections closed, and a cap on
//! open connections so that a flood of them can't exhaust memory or fds.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    time::timeout,
};
use tracing::debug;

use super::{InFlight, Server, Step, Via};

/// A connection with no complete query for this long is closed (RFC 7766 §6.2.3 suggests seconds).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once per listener; more are closed on accept.
const MAX_CONNECTIONS: usize = 512;

pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(%error, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            debug!(%client, "too many tcp connections; closing");
            continue;
        };
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            if let Err(error) = connection(stream, client, server).await {
                debug!(%error, %client, "tcp connection ended");
            }
            drop(slot);
        });
    }
}

async fn connection(mut stream: TcpStream, client: SocketAddr, server: Arc<Server>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let Ok(len) = timeout(IDLE_TIMEOUT, stream.read_u16()).await else {
            return Ok(());
        };
        let len = usize::from(len?);
        let mut packet = vec![0u8; len];
        timeout(IDLE_TIMEOUT, stream.read_exact(&mut packet)).await.map_err(|_| std::io::ErrorKind::TimedOut)??;
        server.metrics.queries_tcp.inc();
        // Held until the reply is written, so that a graceful stop waits for it.
        let mut _in_flight = None;
        let reply = match server.reply_now(&packet, client, Via::Tcp) {
            Step::Done(Some(reply)) => reply,
            Step::Done(None) => continue,
            Step::Resolve(query) => {
                _in_flight = Some(InFlight::new(&server));
                server.reply(&query, Via::Tcp).await
            }
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&u16::try_from(reply.len()).unwrap_or(u16::MAX).to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}
