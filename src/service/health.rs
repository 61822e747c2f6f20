//! A target's health with `fall`/`rise` hysteresis: down after `fall`
//! consecutive failed checks, up again after `rise` consecutive good ones
//! (HAProxy's and linkerd's shape). Read lock-free on the query path;
//! written by the target's check task. Targets start healthy, so a fresh
//! start answers with the primary until checks say otherwise.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, Ordering},
};

#[derive(Debug)]
pub struct Health {
    healthy: AtomicBool,
    /// Consecutive results that disagree with the current state.
    streak: Mutex<u32>,
}

impl Default for Health {
    fn default() -> Self {
        Health { healthy: AtomicBool::new(true), streak: Mutex::new(0) }
    }
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records one check; returns the new state when this check changed it.
    /// `fall` and `rise` come with each check rather than living here (as
    /// `fail_after` lives in the upstream health) because this state is
    /// carried over a reload that may change them.
    pub fn record(&self, passed: bool, fall: u32, rise: u32) -> Option<bool> {
        let mut streak = self.streak.lock().expect("no panics while held");
        if passed == self.is_healthy() {
            *streak = 0;
            return None;
        }
        *streak += 1;
        let needed = if passed { rise } else { fall };
        if *streak < needed {
            return None;
        }
        *streak = 0;
        self.healthy.store(passed, Ordering::Relaxed);
        Some(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_passes() {
        let h = Health::default();
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), None, "a pass breaks the streak");
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), Some(false));
        assert!(!h.is_healthy());
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(false, 3, 2), None, "a failure breaks the rise streak");
        assert_eq!(h.record(true, 3, 2), None);
        assert_eq!(h.record(true, 3, 2), Some(true));
        assert!(h.is_healthy());
    }

    #[test]
    fn fall_and_rise_of_one_switch_at_once() {
        let h = Health::default();
        assert_eq!(h.record(false, 1, 1), Some(false));
        assert_eq!(h.record(true, 1, 1), Some(true));
    }
}
