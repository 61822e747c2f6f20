//! A fetch in flight, as one query waiting on it sees it. The query that
//! started the fetch drives it in its own task while it waits: the usual
//! miss costs no task and no wake-up besides the client's. Once that query
//! stops waiting (answered stale, out of time, or gone), the fetch moves
//! to a task of its own and finishes there, so that its answer is cached
//! whatever the client got. Queries that joined the fetch wait on its
//! channel.

use std::{future::Future, pin::Pin};

use tokio::{runtime::Handle, sync::watch, time::Instant};

use super::Fetched;

/// Where the queries sharing a fetch wait for it; `None` until it ends.
pub(super) type Waiter = watch::Receiver<Option<Fetched>>;

/// A fetch's work: asks upstream, stores the answer and sends it on the channel.
pub(super) type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

pub(super) struct Pending {
    waiter: Waiter,
    /// The fetch's work, while the query that started it drives it.
    work: Option<Work>,
}

impl Pending {
    /// The query that started the fetch: it drives `work`.
    pub(super) fn started(waiter: Waiter, work: Work) -> Pending {
        Pending { waiter, work: Some(work) }
    }

    /// A query that joined a fetch in flight.
    pub(super) fn joined(waiter: Waiter) -> Pending {
        Pending { waiter, work: None }
    }

    /// How the fetch ended, if it did by `deadline`; None also when its
    /// task was cancelled (shutdown). A fetch still driven here goes on in
    /// a task of its own after the deadline.
    pub(super) async fn until(&mut self, deadline: Instant) -> Option<Fetched> {
        if let Some(work) = self.work.as_mut() {
            if tokio::time::timeout_at(deadline, work).await.is_err() {
                self.detach();
                return None;
            }
            self.work = None;
        }
        match tokio::time::timeout_at(deadline, self.waiter.wait_for(Option::is_some)).await {
            Ok(Ok(fetched)) => fetched.clone(),
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// Hands the work, if still driven here, to a task of its own (none
    /// once the runtime is shutting down).
    fn detach(&mut self) {
        if let Some(work) = self.work.take()
            && let Ok(runtime) = Handle::try_current()
        {
            runtime.spawn(work);
        }
    }
}

impl Drop for Pending {
    /// The query is done waiting: the fetch it drove finishes without it.
    fn drop(&mut self) {
        self.detach();
    }
}
