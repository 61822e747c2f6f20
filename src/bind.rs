//! Opening the listening sockets (socket2), with the options a resolver
//! needs where it runs:
//! - `IPV6_V6ONLY` on IPv6 sockets, so that `[::]:53` and `0.0.0.0:53` can be
//!   listed together (otherwise the IPv6 socket takes IPv4 too and the
//!   second bind fails);
//! - `IP_FREEBIND`/`IPV6_FREEBIND` with `[server] freebind`, so that a router
//!   can bind its LAN address before the interface has it (at boot);
//! - `SO_REUSEADDR` on TCP, so that a restart can bind while old connections
//!   linger in TIME_WAIT;
//! - `SO_REUSEPORT` on UDP with `[server] threads` above 1: several sockets
//!   on one address, each with its own receive loop on its own core;
//! - a 4 MiB `SO_RCVBUF` on UDP (the kernel caps it at
//!   `net.core.rmem_max`), so that a burst of queries waits in the socket
//!   while the loop is busy instead of being dropped: the default (about
//!   200 KiB) holds only some 200 datagrams. Unbound recommends the same
//!   `so-rcvbuf` for busy servers.
//!
//! And accepting on a TCP listener ([`accept_or_pause`]) the same way for
//! DNS and the admin endpoint.

use std::{io, net::SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending TCP connections the kernel queues for `accept`.
const TCP_BACKLOG: i32 = 1024;

/// The receive buffer asked for on each listening UDP socket.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// A non-blocking UDP socket bound to `addr`; with `shared`, others may be
/// bound to the same address (`SO_REUSEPORT`: the kernel spreads the
/// datagrams over them, one receive loop each).
pub fn udp(addr: SocketAddr, freebind: bool, shared: bool) -> io::Result<std::net::UdpSocket> {
    let socket = socket(addr, Type::DGRAM, Protocol::UDP, freebind)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A non-blocking TCP listener on `addr`.
pub fn tcp(addr: SocketAddr, freebind: bool) -> io::Result<std::net::TcpListener> {
    let socket = socket(addr, Type::STREAM, Protocol::TCP, freebind)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(TCP_BACKLOG)?;
    Ok(socket.into())
}

fn socket(addr: SocketAddr, kind: Type, protocol: Protocol, freebind: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if freebind {
        if addr.is_ipv6() { socket.set_freebind_v6(true)? } else { socket.set_freebind_v4(true)? }
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// True for the errors of binding an IPv6 address on a host without IPv6
/// (the address does not exist, or the family is not supported at all).
pub fn is_no_ipv6(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(nix::libc::EADDRNOTAVAIL | nix::libc::EAFNOSUPPORT))
}

/// The next connection on `listener`; a failed accept (out of file
/// descriptors, most likely) is logged at debug and retried after 10 ms,
/// as retrying at once would spin a core.
pub async fn accept_or_pause(listener: &tokio::net::TcpListener, what: &str) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                tracing::debug!(%error, "{what} accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
