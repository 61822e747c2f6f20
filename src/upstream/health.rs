//! Health of one upstream: a small state machine, up → down after
//! `fail_after` consecutive failures, down → up on the first success (a
//! background probe's or a query's). Reading "is it up" on the query path is
//! one atomic load; transitions are returned so that the caller logs each
//! one once and starts the probe (linkerd's failure-accrual breaker has the
//! same shape). It also keeps what `/status` shows: since when, the last
//! error, and a smoothed latency.
//!
//! No client can mark a healthy server down by what it asks: an answer
//! about the question (REFUSED, SERVFAIL, another RCODE, a reply to another
//! question) may be about those names only. When such failures help reach
//! `fail_after`, the caller is told to [`Transition::Verify`] first: it asks
//! the server again the last question it answered; an answer means the
//! failures were about the names (the count starts over), a failure means
//! the server is down. Timeouts and network errors are about the server and
//! count at once, so a silent or refuse-everything server is still counted
//! down within `fail_after` queries.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    /// The failure that reached `fail_after`: stop using the server, start probing it.
    WentDown,
    /// `fail_after` reached with failures that may be about the names asked:
    /// ask the server this question (one it answered before) and report the
    /// outcome with [`Health::verified`].
    Verify(Box<[u8]>),
    /// The first success of a down server: use it again.
    CameUp,
}

#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    /// It forwards our queries back to us: never asked, not even when
    /// every server is down, until a new loop check clears it.
    looped: AtomicBool,
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
    /// Some of those failures may be about the names asked (not the server).
    about_names: bool,
    /// A check of those failures is running: no second one.
    verifying: bool,
    /// A question the server answered (the first, renewed after failures): what a verification asks.
    answered: Option<Box<[u8]>>,
    since: SystemTime,
    last_error: Option<UpstreamError>,
    latency: Option<Duration>,
}

impl Health {
    pub fn new(fail_after: u32) -> Health {
        let state = State {
            failures: 0,
            about_names: false,
            verifying: false,
            answered: None,
            since: SystemTime::now(),
            last_error: None,
            latency: None,
        };
        Health {
            up: AtomicBool::new(true),
            looped: AtomicBool::new(false),
            state: Mutex::new(state),
            fail_after: fail_after.max(1),
        }
    }

    /// Consecutive failures that count a server down.
    pub fn fail_after(&self) -> u32 {
        self.fail_after
    }

    /// Marks the server as a forwarding loop: down, with that as its last error.
    pub fn looped(&self) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        self.looped.store(true, Ordering::Relaxed);
        state.last_error = Some(UpstreamError::Loop);
        self.went_down(&mut state)
    }

    /// True while the server is known to forward back to us.
    pub fn is_looped(&self) -> bool {
        self.looped.load(Ordering::Relaxed)
    }

    /// A new loop check starts: a server found looping before is up again
    /// until the check says otherwise.
    pub fn clear_loop(&self) -> Transition {
        if self.looped.swap(false, Ordering::Relaxed) { self.success(None, None) } else { Transition::Unchanged }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records an answer to `question` that took `latency` (None: a probe
    /// or a verification, which say nothing of query latency or names).
    pub fn success(&self, question: Option<&[u8]>, latency: Option<Duration>) -> Transition {
        if self.is_looped() {
            // Its answers come through stubborn itself: they prove nothing.
            return Transition::Unchanged;
        }
        let mut state = self.state.lock().expect("no panics while held");
        let had_failures = state.failures > 0;
        state.failures = 0;
        state.about_names = false;
        // One known-good question is enough; it is renewed only after
        // failures, so a success costs no allocation.
        if let Some(question) = question
            && (state.answered.is_none() || had_failures)
        {
            state.answered = Some(question.into());
        }
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
        if self.is_looped() {
            // As for its answers; and its last error stays the loop.
            return Transition::Unchanged;
        }
        let mut state = self.state.lock().expect("no panics while held");
        state.failures = state.failures.saturating_add(1);
        state.about_names |= error.may_be_about_the_question();
        state.last_error = Some(error.clone());
        if state.failures < self.fail_after || !self.is_up() || state.verifying {
            return Transition::Unchanged;
        }
        match state.answered.clone().filter(|_| state.about_names) {
            Some(question) => {
                state.verifying = true;
                Transition::Verify(question)
            }
            None => self.went_down(&mut state),
        }
    }

    /// The outcome of a [`Transition::Verify`]: `answered` false means the
    /// server fails a question it answered before, so it is down.
    pub fn verified(&self, answered: bool) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        state.verifying = false;
        if answered {
            state.failures = 0;
            state.about_names = false;
            Transition::Unchanged
        } else if self.is_up() {
            self.went_down(&mut state)
        } else {
            Transition::Unchanged
        }
    }

    fn went_down(&self, state: &mut State) -> Transition {
        if self.up.swap(false, Ordering::Relaxed) {
            state.since = SystemTime::now();
            Transition::WentDown
        } else {
            Transition::Unchanged
        }
    }

    /// The smoothed latency of answered queries, if any was answered.
    pub fn latency(&self) -> Option<Duration> {
        self.state.lock().expect("no panics while held").latency
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
        assert_eq!(h.success(None, None), Transition::Unchanged, "a success resets the count");
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
        assert_eq!(h.success(None, None), Transition::CameUp);
        assert!(h.is_up());
        assert!(h.report().since >= down_since);
        assert_eq!(h.success(None, None), Transition::Unchanged);
    }

    #[test]
    fn latency_is_a_moving_average() {
        let h = Health::new(1);
        h.success(None, Some(Duration::from_millis(10)));
        h.success(None, Some(Duration::from_millis(20)));
        assert_eq!(h.report().latency, Some(Duration::from_millis(12)));
    }

    #[test]
    fn refusals_about_names_are_verified_before_a_down_mark() {
        let h = Health::new(3);
        h.success(Some(b"good"), None);
        assert_eq!(h.failure(&UpstreamError::Refused), Transition::Unchanged);
        assert_eq!(h.failure(&UpstreamError::Refused), Transition::Unchanged);
        assert_eq!(h.failure(&UpstreamError::Refused), Transition::Verify(b"good".as_slice().into()));
        assert_eq!(h.failure(&UpstreamError::Refused), Transition::Unchanged, "one verification at a time");
        assert!(h.is_up());
        assert_eq!(h.verified(true), Transition::Unchanged);
        assert!(h.is_up(), "it answered the known-good question: the refusals were about the names");
        for _ in 0..2 {
            h.failure(&UpstreamError::ServFail);
        }
        assert!(matches!(h.failure(&UpstreamError::ServFail), Transition::Verify(_)));
        assert_eq!(h.verified(false), Transition::WentDown, "it refuses what it answered before: down");
        assert!(!h.is_up());
    }

    #[test]
    fn timeouts_alone_and_a_server_that_never_answered_go_down_at_once() {
        let h = Health::new(2);
        h.success(Some(b"good"), None);
        h.failure(&TIMEOUT);
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        let never = Health::new(2);
        never.failure(&UpstreamError::Refused);
        assert_eq!(never.failure(&UpstreamError::Refused), Transition::WentDown, "nothing to verify with");
    }
}
