//! Living under systemd: readiness and reload notifications (`sd_notify`,
//! for `Type=notify` and `Type=notify-reload` units), the watchdog
//! (`WatchdogSec=`) and journald log priorities. All are no-ops elsewhere:
//! the notifications go nowhere without `NOTIFY_SOCKET`, the watchdog is
//! off without `WATCHDOG_USEC`, and the priority prefix is written only when
//! stderr is the journal stream named by `JOURNAL_STREAM`.

use std::{os::unix::fs::MetadataExt, time::Duration};

use sd_notify::NotifyState;
use tracing::{Event, Level, Subscriber, debug};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// Every listen address is bound and the config is loaded (also the end of a reload).
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// A reload begins; systemd 253+ requires the monotonic time with it.
pub fn reloading() {
    send(&[NotifyState::Reloading, NotifyState::monotonic_usec_now().unwrap_or(NotifyState::MonotonicUsec(0))]);
}

/// A graceful stop begins.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// How often to tell the watchdog all is well: half of `WATCHDOG_USEC`,
/// as sd_watchdog_enabled(3) advises; `None` when the service manager runs
/// no watchdog for this process (`WATCHDOG_PID`, when set, must be ours).
/// Read here rather than with `sd_notify::watchdog_enabled`, which also
/// says no when `WATCHDOG_PID` is unset; sd_watchdog_enabled(3) says yes.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok().filter(|&usec| usec > 0)?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse() != Ok(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

/// All is well (`WATCHDOG=1`); the service manager kills and restarts a
/// service that goes quiet for `WatchdogSec=`.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(false, states) {
        debug!(%error, "cannot notify the service manager");
    }
}

/// True when stderr is the journal's stream (systemd sets `JOURNAL_STREAM`
/// to its `device:inode`): log lines then carry `<N>` priority prefixes.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Ok(stderr) = std::fs::metadata("/proc/self/fd/2") else { return false };
    stream.to_str() == Some(&format!("{}:{}", stderr.dev(), stderr.ino()))
}

/// Wraps a log line format with the syslog priority prefix journald reads
/// (`sd-daemon(3)`: `<3>` error, `<4>` warning, `<6>` info, `<7>` debug).
pub struct JournalPriority<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for JournalPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
