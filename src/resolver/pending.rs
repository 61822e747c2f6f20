//! A fetch in flight, as one query waiting on it sees it. The query that
//! started the fetch drives it in its own task while it waits: the usual
//! miss costs no task and no wake-up besides the client's. Once that query
//! stops waiting (answered stale, out of time, or gone), the fetch moves
//! to a task of its own and finishes there, so that its answer is cached
//! whatever the client got. Queries that joined the fetch wait on its
//! channel, which is sent to only when there are such queries.

use std::{future::Future, pin::Pin};

use tokio::{runtime::Handle, sync::watch, time::Instant};

use super::Fetched;

/// Where the queries sharing a fetch wait for it; `None` until it ends.
pub(super) type Waiter = watch::Receiver<Option<Fetched>>;

/// Where a fetch tells the queries waiting on it how it ended.
type Done = watch::Sender<Option<Fetched>>;

/// A fetch's work: asks upstream, stores the answer, leaves the in-flight
/// table, and ends with what it fetched.
pub(super) type Work = Pin<Box<dyn Future<Output = Fetched> + Send>>;

pub(super) struct Pending {
    waiter: Waiter,
    /// The fetch's work and its channel, while the query that started it drives it.
    driven: Option<(Work, Done)>,
    /// How the fetch ended, once this query has seen it.
    ended: Option<Fetched>,
}

impl Pending {
    /// The query that started the fetch: it drives `work`, then tells the
    /// queries that joined through `done`.
    pub(super) fn started(waiter: Waiter, work: Work, done: Done) -> Pending {
        Pending { waiter, driven: Some((work, done)), ended: None }
    }

    /// A query that joined a fetch in flight.
    pub(super) fn joined(waiter: Waiter) -> Pending {
        Pending { waiter, driven: None, ended: None }
    }

    /// How the fetch ended, if it did by `deadline`; None also when its
    /// task was cancelled (shutdown). A fetch still driven here goes on in
    /// a task of its own after the deadline.
    pub(super) async fn until(&mut self, deadline: Instant) -> Option<Fetched> {
        if let Some(ended) = &self.ended {
            return Some(ended.clone());
        }
        let fetched = match self.driven.as_mut() {
            Some((work, _)) => match tokio::time::timeout_at(deadline, work).await {
                Ok(fetched) => {
                    let (_, done) = self.driven.take().expect("driven here");
                    // The work has left the in-flight table: nobody joins now. The
                    // channel has a receiver of ours; with no other, nobody to wake.
                    if done.receiver_count() > 1 {
                        let _ = done.send(Some(fetched.clone()));
                    }
                    fetched
                }
                Err(_) => {
                    self.detach();
                    return None;
                }
            },
            None => match tokio::time::timeout_at(deadline, self.waiter.wait_for(Option::is_some)).await {
                Ok(Ok(fetched)) => fetched.clone()?,
                Ok(Err(_)) | Err(_) => return None,
            },
        };
        self.ended = Some(fetched.clone());
        Some(fetched)
    }

    /// Hands the work, if still driven here, to a task of its own that
    /// tells the others when it ends (none once the runtime is shutting down).
    fn detach(&mut self) {
        if let Some((work, done)) = self.driven.take()
            && let Ok(runtime) = Handle::try_current()
        {
            runtime.spawn(async move {
                // No receiver left is fine: the cache has been updated either way.
                let _ = done.send(Some(work.await));
            });
        }
    }
}

impl Drop for Pending {
    /// The query is done waiting: the fetch it drove finishes without it.
    fn drop(&mut self) {
        self.detach();
    }
}
