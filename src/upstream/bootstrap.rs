//! Resolving the host name of an encrypted upstream (`tls://dns.example`)
//! through plain servers: `[upstream] bootstrap`, else the plain servers of
//! its list (config validation guarantees one of them exists). Never
//! through stubborn itself, so a resolv.conf that points at stubborn makes
//! no loop. Asked when a connection is opened and no address is known: at
//! the first query, after a reload (new upstreams), and after a connection
//! failed (the addresses are forgotten then).

use std::net::SocketAddr;

use tokio::time::Instant;

use super::{Ask, UpstreamError, exchange, udp_sockets::UdpSockets};
use crate::wire::{self, TYPE_A, TYPE_AAAA};

/// The addresses of `name` (A first, then AAAA) with `port`, from the
/// first of `servers` that gives any; Err says why none did.
pub async fn resolve(
    name: &str,
    port: u16,
    servers: &[SocketAddr],
    deadline: Instant,
) -> Result<Vec<SocketAddr>, UpstreamError> {
    let (a, aaaa) = (wire::question(name, TYPE_A), wire::question(name, TYPE_AAAA));
    let (ask_a, ask_aaaa) = (Ask::plain(&a), Ask::plain(&aaaa));
    let mut why = String::from("no bootstrap server");
    for &server in servers {
        let sockets = UdpSockets::new(server);
        let (v4, v6) =
            tokio::join!(exchange::udp(&sockets, &ask_a, deadline), exchange::udp(&sockets, &ask_aaaa, deadline));
        let mut addrs = Vec::new();
        for reply in [&v4, &v6].into_iter().flatten() {
            addrs.extend(wire::answer_addresses(reply).into_iter().map(|ip| SocketAddr::new(ip, port)));
        }
        if !addrs.is_empty() {
            return Ok(addrs);
        }
        why = match (v4, v6) {
            (Err(e), _) | (Ok(_), Err(e)) => format!("{name} via {server}: {e}"),
            (Ok(_), Ok(_)) => format!("{name} via {server}: no A or AAAA record"),
        };
    }
    Err(UpstreamError::Bootstrap(why.into()))
}
