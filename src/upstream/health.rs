//! Health of one upstream: a small state machine, up → down after
//! `fail_after` consecutive failures, down → up on the first success (a
//! background probe's or a query's). Reading "is it up" on the query path is
//! one atomic load; transitions are returned so that the caller logs each
//! one once and starts the probe (linkerd's failure-accrual breaker has the
//! same shape). It also keeps what `/status` shows: since when, the last
//! error, and a smoothed latency.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use super::UpstreamError;

/// Weight of a new latency sample in the moving average.
const LATENCY_WEIGHT: f64 = 0.2;

/// What a recorded result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    /// The failure that reached `fail_after`: stop using the server, start probing it.
    WentDown,
    /// The first success of a down server: use it again.
    CameUp,
}

#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    state: Mutex<State>,
    fail_after: u32,
}

/// A copy of the health for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub up: bool,
    /// When the server last went up or down (start time if never).
    pub since: SystemTime,
    pub last_error: Option<UpstreamError>,
    /// Exponentially weighted moving average of answered attempts.
    pub latency: Option<Duration>,
}

#[derive(Debug)]
struct State {
    /// Consecutive failures; reset by any success.
    failures: u32,
    since: SystemTime,
    last_error: Option<UpstreamError>,
    latency: Option<Duration>,
}

impl Health {
    pub fn new(fail_after: u32) -> Health {
        let state = State { failures: 0, since: SystemTime::now(), last_error: None, latency: None };
        Health { up: AtomicBool::new(true), state: Mutex::new(state), fail_after: fail_after.max(1) }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records an answer that took `latency` (None: a probe, which says nothing of query latency).
    pub fn success(&self, latency: Option<Duration>) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        state.failures = 0;
        if let Some(sample) = latency {
            state.latency = Some(match state.latency {
                None => sample,
                Some(average) => average.mul_f64(1.0 - LATENCY_WEIGHT) + sample.mul_f64(LATENCY_WEIGHT),
            });
        }
        if self.up.swap(true, Ordering::Relaxed) {
            Transition::Unchanged
        } else {
            state.since = SystemTime::now();
            Transition::CameUp
        }
    }

    pub fn failure(&self, error: &UpstreamError) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        state.failures = state.failures.saturating_add(1);
        state.last_error = Some(error.clone());
        if state.failures >= self.fail_after && self.up.swap(false, Ordering::Relaxed) {
            state.since = SystemTime::now();
            Transition::WentDown
        } else {
            Transition::Unchanged
        }
    }

    pub fn report(&self) -> HealthReport {
        let state = self.state.lock().expect("no panics while held");
        HealthReport {
            up: self.is_up(),
            since: state.since,
            last_error: state.last_error.clone(),
            latency: state.latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: UpstreamError = UpstreamError::Timeout;

    #[test]
    fn down_after_fail_after_consecutive_failures_only() {
        let h = Health::new(3);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.success(None), Transition::Unchanged, "a success resets the count");
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert!(h.is_up());
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        assert!(!h.is_up());
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged, "went down once, not again");
        assert_eq!(h.report().last_error, Some(TIMEOUT));
    }

    #[test]
    fn one_success_brings_a_down_server_back() {
        let h = Health::new(1);
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        let down_since = h.report().since;
        assert_eq!(h.success(None), Transition::CameUp);
        assert!(h.is_up());
        assert!(h.report().since >= down_since);
        assert_eq!(h.success(None), Transition::Unchanged);
    }

    #[test]
    fn latency_is_a_moving_average() {
        let h = Health::new(1);
        h.success(Some(Duration::from_millis(10)));
        h.success(Some(Duration::from_millis(20)));
        assert_eq!(h.report().latency, Some(Duration::from_millis(12)));
    }
}
