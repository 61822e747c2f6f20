//! The UDP listener: one receive loop per socket. Answers that need no
//! upstream are sent from the loop itself; the others get a task each.

use std::{net::SocketAddr, sync::Arc};

use tokio::net::UdpSocket;
use tracing::debug;

use super::{Server, Step, Via};

/// Largest query datagram read; anything longer is cut and so malformed.
const RECEIVE_BUFFER: usize = 4096;

pub async fn serve(socket: Arc<UdpSocket>, server: Arc<Server>) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // ICMP errors from earlier sends surface here on some systems: not fatal.
            Err(error) => {
                debug!(%error, "udp receive failed");
                continue;
            }
        };
        server.metrics.queries_udp.inc();
        match server.reply_now(&buf[..len], client, Via::Udp) {
            Step::Done(Some(reply)) => send(&socket, &reply, client).await,
            Step::Done(None) => {}
            Step::Resolve(query) => {
                let socket = Arc::clone(&socket);
                let server = Arc::clone(&server);
                tokio::spawn(async move {
                    let reply = server.reply(&query, Via::Udp).await;
                    send(&socket, &reply, client).await;
                });
            }
        }
    }
}

async fn send(socket: &UdpSocket, reply: &[u8], client: SocketAddr) {
    if let Err(error) = socket.send_to(reply, client).await {
        debug!(%error, %client, "udp send failed");
    }
}
