//! Free loopback ports for the processes that cannot bind port 0 and say
//! which port they got: knotd and redis-server (their ports are in their
//! configs; a Redis Cluster node also listens on its cluster bus, port +
//! 10000), the cloud stand-ins (one port on several 127.0.0.x addresses),
//! and addresses a test moves stubborn to. stubborn and the fake upstreams
//! bind port 0 instead.
//!
//! A port is picked at random *below* the kernel's ephemeral range, so that
//! the source ports stubborn, knotd and the clients pick for their own
//! queries never collide with a listener a parallel test is about to start;
//! it is checked free for both UDP and TCP, and never handed out twice by
//! this process.
//!
//! A listener that closes and opens again on its port (a cloud that goes
//! down and comes back) binds with [`bind_tcp_retrying`].

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port on 127.0.0.1 that is free for UDP and TCP right now.
pub fn free_port() -> u16 {
    let low = ephemeral_low().clamp(12_000, 32_768);
    pick(low, 0)
}

/// A port `p` such that `p` and `p + offset` are both free right now (a
/// Redis Cluster node: `p` for clients, `p + 10000` for its cluster bus).
/// Both are below the ephemeral range when it leaves room for that.
pub fn free_port_pair(offset: u16) -> u16 {
    assert!(offset > 0 && offset < 40_000, "offset {offset} out of range");
    let low = ephemeral_low().clamp(12_000, 32_768);
    let high = if low > 12_000 + offset { low - offset } else { u16::MAX - offset };
    pick(high, offset)
}

/// A random port in 10000..`high` that, with `port + offset` when `offset`
/// is not 0, is free and was not handed out before; both are handed out.
fn pick(high: u16, offset: u16) -> u16 {
    for _ in 0..2_000 {
        let port: u16 = rand::random_range(10_000..high);
        let ports: &[u16] = if offset == 0 { &[port] } else { &[port, port + offset] };
        let mut taken = HANDED_OUT.lock().expect("port set lock poisoned");
        if ports.iter().any(|p| taken.contains(p)) {
            continue;
        }
        if ports.iter().all(|&p| is_free(p)) {
            taken.extend(ports);
            return port;
        }
    }
    panic!("no free loopback port found in 2000 tries");
}

/// True when both a UDP socket and a TCP listener can bind 127.0.0.1:`port`.
pub fn is_free(port: u16) -> bool {
    let udp = UdpSocket::bind(("127.0.0.1", port));
    let tcp = TcpListener::bind(("127.0.0.1", port));
    udp.is_ok() && tcp.is_ok()
}

fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(32_768)
}

/// A TCP listener on `addr`, retrying for up to 2 s (a just-closed listener's port).
pub fn bind_tcp_retrying(addr: SocketAddr) -> TcpListener {
    let start = Instant::now();
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => return listener,
            Err(e) if start.elapsed() > Duration::from_secs(2) => panic!("cannot bind {addr}: {e}"),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}
