//! What the daemon is told from outside, as one stream of [`Event`]s: the
//! signals a user or a service manager sends by habit, with the meanings
//! systemd-resolved and Unbound give them (SIGTERM, SIGINT and SIGQUIT stop
//! cleanly; SIGHUP reloads; SIGUSR1 logs a state summary; SIGUSR2 flushes
//! the cache; SIGALRM, which would kill the process, is ignored). The
//! daemon reads [`Events`], so a test drives a whole daemon in-process
//! through a channel instead of signals.

use std::io;

use tokio::{
    signal::unix::{Signal, SignalKind, signal},
    sync::mpsc,
};

/// One thing asked of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Stop accepting, finish what is in flight, write the snapshot, exit.
    Stop,
    /// Read the config file again.
    Reload,
    /// Log a one-screen summary of the state.
    LogState,
    /// Drop every cache entry.
    Flush,
    /// Nothing to do but say so (SIGALRM).
    Ignored(&'static str),
}

/// Where the daemon's events come from.
pub trait Events {
    /// The next event; a source that can say no more says [`Event::Stop`].
    fn next(&mut self) -> impl Future<Output = Event> + Send;
}

/// The process's signals.
pub struct Signals {
    term: Signal,
    int: Signal,
    quit: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
    alarm: Signal,
}

impl Signals {
    /// Takes over the signals from their default action (most of which kill the process).
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            alarm: signal(SignalKind::alarm())?,
        })
    }
}

impl Events for Signals {
    async fn next(&mut self) -> Event {
        tokio::select! {
            _ = self.term.recv() => Event::Stop,
            _ = self.int.recv() => Event::Stop,
            _ = self.quit.recv() => Event::Stop,
            _ = self.hup.recv() => Event::Reload,
            _ = self.usr1.recv() => Event::LogState,
            _ = self.usr2.recv() => Event::Flush,
            _ = self.alarm.recv() => Event::Ignored("SIGALRM"),
        }
    }
}

/// Events sent by the program itself (tests, an embedding program); the
/// senders gone, the daemon stops.
impl Events for mpsc::Receiver<Event> {
    async fn next(&mut self) -> Event {
        self.recv().await.unwrap_or(Event::Stop)
    }
}

/// No events at all: the daemon serves until it is killed (signal handlers
/// that could not be installed).
pub struct Never;

impl Events for Never {
    async fn next(&mut self) -> Event {
        std::future::pending().await
    }
}
