//! The open connections of a TCP listener, for its cap (`[server]
//! tcp_connections` for DNS, a fixed one for the admin endpoint): at the
//! limit the connection idle longest is told to close so that a new one can
//! be admitted (RFC 7766 §6.2.3: a server under pressure may close idle
//! connections early). Idle clients, however many, can never lock new ones
//! out; a connection busy with a request is closed only when every one is.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::{sync::Notify, time::Instant};
use tracing::warn;

use crate::rate_limit::RateLimit;

pub struct Connections {
    /// Whose connections these are (`tcp`, `admin`), for the log.
    listener: &'static str,
    open: Mutex<Open>,
    /// The warning that the limit was reached, rate-limited.
    at_limit: RateLimit,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Connection>,
}

struct Connection {
    /// When a query last arrived on it, or its last request was answered.
    last_active: Instant,
    /// A request is being answered: closed only when no connection is idle.
    busy: bool,
    /// Notified to make it close (it finishes writing pending replies first).
    close: Arc<Notify>,
}

/// One admitted connection's place in the registry; dropping it frees the place.
pub struct Admitted {
    id: u64,
    connections: Arc<Connections>,
    /// Notified when the connection must close to make room.
    pub close: Arc<Notify>,
}

impl Connections {
    pub fn new(listener: &'static str) -> Connections {
        Connections { listener, open: Mutex::default(), at_limit: RateLimit::default() }
    }

    /// Admits a new connection; when `limit` are open already, the one idle
    /// longest (busy ones last) is told to close first.
    pub fn admit(self: &Arc<Self>, limit: usize) -> Admitted {
        let mut open = self.open.lock().expect("no panics while held");
        while open.by_id.len() >= limit {
            let idlest = open.by_id.iter().min_by_key(|(_, c)| (c.busy, c.last_active)).map(|(&id, _)| id);
            let Some(idlest) = idlest else { break };
            let closed = open.by_id.remove(&idlest).expect("the id was just found");
            closed.close.notify_one();
            if let Some(held_back) = self.at_limit.admit() {
                let listener = self.listener;
                warn!(%listener, limit, held_back, "connection limit reached; closing the connection idle longest");
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let close = Arc::new(Notify::new());
        open.by_id.insert(id, Connection { last_active: Instant::now(), busy: false, close: Arc::clone(&close) });
        Admitted { id, connections: Arc::clone(self), close }
    }

    /// Connections open now.
    pub fn count(&self) -> usize {
        self.open.lock().expect("no panics while held").by_id.len()
    }
}

impl Admitted {
    /// Notes that a query arrived: the connection is not idle.
    pub fn active(&self) {
        self.update(|connection| connection.last_active = Instant::now());
    }

    /// Marks the connection busy until the guard is dropped (then it is
    /// active as of that moment), so that a request being answered is not
    /// cut off for a newcomer while idle connections are open.
    pub fn busy(&self) -> Busy<'_> {
        self.update(|connection| connection.busy = true);
        Busy(self)
    }

    fn update(&self, change: impl FnOnce(&mut Connection)) {
        if let Some(connection) = self.connections.open.lock().expect("no panics while held").by_id.get_mut(&self.id) {
            change(connection);
        }
    }
}

/// A request in progress on an [`Admitted`] connection.
pub struct Busy<'a>(&'a Admitted);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.update(|connection| {
            connection.busy = false;
            connection.last_active = Instant::now();
        });
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.open.lock().expect("no panics while held").by_id.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `connection` has been told to close (without waiting).
    async fn told_to_close(connection: &Admitted) -> bool {
        tokio::time::timeout(Duration::from_millis(1), connection.close.notified()).await.is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_the_idlest_connection_is_told_to_close() {
        let connections = Arc::new(Connections::new("tcp"));
        let first = connections.admit(2);
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = connections.admit(2);
        tokio::time::advance(Duration::from_secs(1)).await;
        first.active();
        let third = connections.admit(2);
        assert_eq!(connections.count(), 2);
        // `second` was idle longest: it is told to close, `first` is not.
        assert!(told_to_close(&second).await);
        assert!(!told_to_close(&first).await);
        drop(second);
        assert_eq!(connections.count(), 2, "its place was already given to the third");
        drop((first, third));
        assert_eq!(connections.count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_closed_only_when_every_one_is_busy() {
        let connections = Arc::new(Connections::new("admin"));
        let answering = connections.admit(2);
        tokio::time::advance(Duration::from_secs(1)).await;
        let idle = connections.admit(2);
        let _answering_busy = answering.busy();
        let third = connections.admit(2);
        // `answering` is idle longer, but busy: `idle` makes room.
        assert!(told_to_close(&idle).await);
        assert!(!told_to_close(&answering).await);
        let _third_busy = third.busy();
        let _fourth = connections.admit(2);
        // Both busy: the one idle longest goes all the same, so the limit holds.
        assert!(told_to_close(&answering).await);
        assert_eq!(connections.count(), 2);
    }
}
