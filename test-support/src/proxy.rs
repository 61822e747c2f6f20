//! A TCP proxy on loopback that counts the connections it accepts and those
//! its client closed: put in front of a TCP or encrypted upstream (the TLS
//! runs end to end through it), it shows how many connections stubborn
//! opened and closed, and it can cut them all, as a server closing its
//! connections would.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub struct CountingProxy {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// Connections whose client side ended (closed by the client, or cut).
    client_closed: Arc<AtomicUsize>,
    /// Both ends of every connection, to cut them.
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl CountingProxy {
    /// Listens on 127.0.0.1 (a port of the kernel's choice) and relays each
    /// connection to `target`.
    pub fn start(target: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking accept");
        let addr = listener.local_addr().expect("proxy address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let client_closed = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (accepted, client_closed, open, stop) =
                (Arc::clone(&accepted), Arc::clone(&client_closed), Arc::clone(&open), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            let _ = relay(client, target, &open, &client_closed);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        CountingProxy { addr, accepted, client_closed, open, stop, acceptor: Some(acceptor) }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections whose client closed them (or that were cut) so far.
    pub fn client_closed(&self) -> usize {
        self.client_closed.load(Ordering::Relaxed)
    }

    /// Closes every relayed connection at both ends.
    pub fn cut_all(&self) {
        for stream in self.open.lock().expect("proxy lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Copies both ways between `client` and a new connection to `target`, a
/// thread per direction; each ends when its source closes (counted in
/// `client_closed` for the client's).
fn relay(
    client: TcpStream,
    target: SocketAddr,
    open: &Mutex<Vec<TcpStream>>,
    client_closed: &Arc<AtomicUsize>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    open.lock().expect("proxy lock").extend([client.try_clone()?, server.try_clone()?]);
    let directions =
        [(client.try_clone()?, server.try_clone()?, Some(Arc::clone(client_closed))), (server, client, None)];
    for (mut from, mut to, closed) in directions {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
            if let Some(closed) = closed {
                closed.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    Ok(())
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.cut_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
