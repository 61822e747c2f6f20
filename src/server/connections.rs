//! The open TCP connections of every listener, for the cap
//! (`[server] tcp_connections`): at the limit the connection idle longest
//! is told to close so that a new one can be admitted (RFC 7766 §6.2.3: a
//! server under pressure may close idle connections early). Idle clients,
//! however many, can never lock new ones out.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::{sync::Notify, time::Instant};
use tracing::warn;

use crate::rate_limit::RateLimit;

#[derive(Default)]
pub struct Connections {
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
    /// When a query last arrived on it.
    last_active: Instant,
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
    /// Admits a new connection; when `limit` are open already, the one idle
    /// longest is told to close first.
    pub fn admit(self: &Arc<Self>, limit: usize) -> Admitted {
        let mut open = self.open.lock().expect("no panics while held");
        while open.by_id.len() >= limit {
            let Some(idlest) = open.by_id.iter().min_by_key(|(_, c)| c.last_active).map(|(&id, _)| id) else { break };
            let closed = open.by_id.remove(&idlest).expect("the id was just found");
            closed.close.notify_one();
            if let Some(held_back) = self.at_limit.admit() {
                warn!(limit, held_back, "tcp connection limit reached; closing the connection idle longest");
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let close = Arc::new(Notify::new());
        open.by_id.insert(id, Connection { last_active: Instant::now(), close: Arc::clone(&close) });
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
        if let Some(connection) = self.connections.open.lock().expect("no panics while held").by_id.get_mut(&self.id) {
            connection.last_active = Instant::now();
        }
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

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_the_idlest_connection_is_told_to_close() {
        let connections = Arc::new(Connections::default());
        let first = connections.admit(2);
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = connections.admit(2);
        tokio::time::advance(Duration::from_secs(1)).await;
        first.active();
        let third = connections.admit(2);
        assert_eq!(connections.count(), 2);
        // `second` was idle longest: it is told to close, `first` is not.
        tokio::time::timeout(Duration::from_millis(1), second.close.notified()).await.expect("second told to close");
        assert!(tokio::time::timeout(Duration::from_millis(1), first.close.notified()).await.is_err());
        drop(second);
        assert_eq!(connections.count(), 2, "its place was already given to the third");
        drop((first, third));
        assert_eq!(connections.count(), 0);
    }
}
