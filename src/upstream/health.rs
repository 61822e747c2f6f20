//! Health of one upstream: a small state machine, up → down after
//! `fail_after` consecutive failures, down → up on the first success (a
//! background probe's or a query's). Reading "is it up" on the query path is
//! one atomic load; transitions are returned so that the caller logs each
//! one once and starts or stops the probe (linkerd's failure-accrual breaker
//! has the same shape).

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

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
    /// Consecutive failures; reset by any success.
    failures: Mutex<u32>,
    fail_after: u32,
}

impl Health {
    pub fn new(fail_after: u32) -> Health {
        Health { up: AtomicBool::new(true), failures: Mutex::new(0), fail_after: fail_after.max(1) }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn success(&self) -> Transition {
        *self.failures.lock().expect("no panics while held") = 0;
        if self.up.swap(true, Ordering::Relaxed) { Transition::Unchanged } else { Transition::CameUp }
    }

    pub fn failure(&self) -> Transition {
        let mut failures = self.failures.lock().expect("no panics while held");
        *failures = failures.saturating_add(1);
        if *failures >= self.fail_after && self.up.swap(false, Ordering::Relaxed) {
            Transition::WentDown
        } else {
            Transition::Unchanged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_fail_after_consecutive_failures_only() {
        let h = Health::new(3);
        assert_eq!(h.failure(), Transition::Unchanged);
        assert_eq!(h.failure(), Transition::Unchanged);
        assert_eq!(h.success(), Transition::Unchanged, "a success resets the count");
        assert_eq!(h.failure(), Transition::Unchanged);
        assert_eq!(h.failure(), Transition::Unchanged);
        assert!(h.is_up());
        assert_eq!(h.failure(), Transition::WentDown);
        assert!(!h.is_up());
        assert_eq!(h.failure(), Transition::Unchanged, "went down once, not again");
    }

    #[test]
    fn one_success_brings_a_down_server_back() {
        let h = Health::new(1);
        assert_eq!(h.failure(), Transition::WentDown);
        assert_eq!(h.success(), Transition::CameUp);
        assert!(h.is_up());
        assert_eq!(h.success(), Transition::Unchanged);
    }
}
