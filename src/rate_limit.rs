//! Log lines that a misbehaving peer could repeat without end (a flapping
//! upstream, a client re-opening TCP connections): at most one per
//! [`RateLimit::EVERY`], and the lines held back are counted into the next
//! one written, so nothing is lost but the repetition; and lines said once
//! per name ([`OncePerName`]: an upstream's rebinding answers).

use std::{collections::HashSet, sync::Mutex, time::Duration};

use tokio::time::Instant;

/// One kind of log line's limit.
#[derive(Debug, Default)]
pub struct RateLimit(Mutex<(Option<Instant>, u32)>);

impl RateLimit {
    pub const EVERY: Duration = Duration::from_secs(10);

    /// `Some(lines held back since the last one)` when a line may be written now.
    pub fn admit(&self) -> Option<u32> {
        let mut state = self.0.lock().expect("no panics while held");
        let (last, held_back) = &mut *state;
        let now = Instant::now();
        if last.is_some_and(|at| now.saturating_duration_since(at) < Self::EVERY) {
            *held_back += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held_back))
    }
}

/// Names a line has been written for, so that it is written once per name:
/// at most [`OncePerName::NAMES`] remembered, then forgotten all at once (a
/// flood of names costs a line per name per that many, never unbounded memory).
#[derive(Debug, Default)]
pub struct OncePerName(Mutex<HashSet<Box<[u8]>>>);

impl OncePerName {
    pub const NAMES: usize = 4096;

    /// True the first time `name` is seen (since the set was last emptied).
    pub fn first(&self, name: &[u8]) -> bool {
        let mut names = self.0.lock().expect("no panics while held");
        if names.contains(name) {
            return false;
        }
        if names.len() >= Self::NAMES {
            names.clear();
        }
        names.insert(name.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lines_are_rate_limited_and_count_what_they_held_back() {
        let limit = RateLimit::default();
        assert_eq!(limit.admit(), Some(0));
        assert_eq!(limit.admit(), None);
        assert_eq!(limit.admit(), None);
        tokio::time::advance(RateLimit::EVERY).await;
        assert_eq!(limit.admit(), Some(2));
        assert_eq!(limit.admit(), None);
    }

    #[test]
    fn a_name_is_said_once_and_memory_stays_bounded() {
        let once = OncePerName::default();
        assert!(once.first(b"a"));
        assert!(!once.first(b"a"));
        for i in 0..OncePerName::NAMES {
            once.first(i.to_string().as_bytes());
        }
        assert!(once.0.lock().unwrap().len() <= OncePerName::NAMES);
    }
}
