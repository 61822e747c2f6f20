//! What stubborn is serving degraded right now: the names recently answered
//! stale or kept-positive, with since when, how often and why — the first
//! thing an operator asks during an outage, shown by `/status`. Bounded: at
//! most [`CAPACITY`] names, each forgotten [`FORGET_AFTER`] after its last
//! degraded answer.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime},
};

/// Names tracked at most; when full, the one degraded longest ago makes room.
pub const CAPACITY: usize = 256;
/// A name not answered degraded for this long is no longer listed.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Why an answer was degraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Upstreams failed or were too slow (RFC 8767).
    Stale,
    /// The upstream answered empty; the last known good records won.
    KeptPositive,
}

impl Reason {
    /// As `/status` and the logs write it: `stale`, `kept_positive`.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Stale => "stale",
            Reason::KeptPositive => "kept_positive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DegradedName {
    pub name: String,
    pub qtype: u16,
    pub reason: Reason,
    pub since: SystemTime,
    pub last: SystemTime,
    pub count: u64,
}

#[derive(Default)]
pub struct Degraded {
    /// By lower-cased question (name, type, class).
    names: Mutex<HashMap<Box<[u8]>, DegradedName>>,
}

impl Degraded {
    /// Notes one degraded answer for `question`; `name` is only called for a new entry.
    pub fn record(&self, question: &[u8], name: impl FnOnce() -> String, qtype: u16, reason: Reason) {
        let now = SystemTime::now();
        let mut names = self.names.lock().expect("no panics while held");
        if let Some(known) = names.get_mut(question) {
            known.last = now;
            known.count += 1;
            known.reason = reason;
            return;
        }
        if names.len() >= CAPACITY {
            let oldest = names.iter().min_by_key(|(_, n)| n.last).map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                names.remove(&oldest);
            }
        }
        names.insert(question.into(), DegradedName { name: name(), qtype, reason, since: now, last: now, count: 1 });
    }

    /// Forgets the questions `flushed` picks (an operator flushed them).
    pub fn forget(&self, flushed: impl Fn(&[u8]) -> bool) {
        self.names.lock().expect("no panics while held").retain(|question, _| !flushed(question));
    }

    /// The names degraded within [`FORGET_AFTER`], most recent first.
    pub fn recent(&self) -> Vec<DegradedName> {
        let now = SystemTime::now();
        let mut names = self.names.lock().expect("no panics while held");
        names.retain(|_, n| now.duration_since(n.last).unwrap_or_default() < FORGET_AFTER);
        let mut recent: Vec<DegradedName> = names.values().cloned().collect();
        recent.sort_by_key(|n| std::cmp::Reverse(n.last));
        recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_name_and_stays_bounded() {
        let degraded = Degraded::default();
        degraded.record(b"a", || "a.".into(), 1, Reason::Stale);
        degraded.record(b"a", || unreachable!("known name"), 1, Reason::KeptPositive);
        let recent = degraded.recent();
        assert_eq!(recent.len(), 1);
        assert_eq!((recent[0].count, recent[0].reason), (2, Reason::KeptPositive));
        for reason in [Reason::Stale, Reason::KeptPositive] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.label(), "/status and the logs say the same");
        }
        for i in 0..CAPACITY + 10 {
            degraded.record(format!("n{i}").as_bytes(), || format!("n{i}."), 1, Reason::Stale);
        }
        assert_eq!(degraded.recent().len(), CAPACITY);
        degraded.forget(|question| question.starts_with(b"n1"));
        assert!(degraded.recent().iter().all(|n| !n.name.starts_with("n1")));
    }
}
