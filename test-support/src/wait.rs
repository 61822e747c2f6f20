//! Deadline-bounded polling: tests wait for a condition, never for a guess.

use std::thread::sleep;
use std::time::{Duration, Instant};

/// Calls `probe` every 25 ms until it returns `Some`, and returns that value.
/// Panics, naming `what`, when `deadline` passes first.
pub fn until<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        sleep(Duration::from_millis(25));
    }
}

/// Sleeps until `start + offset` (returns at once when that is past). Used
/// only where the passing of time *is* the condition (TTL expiry, max_stale).
pub fn sleep_until(start: Instant, offset: Duration) {
    let target = start + offset;
    let now = Instant::now();
    if target > now {
        sleep(target - now);
    }
}
