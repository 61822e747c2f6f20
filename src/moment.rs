//! An instant in one atomic word, for times written rarely and read on hot
//! paths (a failed refresh, the first empty answer, the last recovery):
//! nanoseconds after a base instant the owner keeps, plus one; zero for
//! none. A cached entry's base is its own `stored_at`, so an entry pays
//! eight octets per moment, not a mutex and an `Instant`.

use std::{sync::atomic::Ordering, time::Duration};

use tokio::time::Instant;

use crate::AtomicU64;

#[derive(Debug, Default)]
pub struct AtomicMoment(AtomicU64);

const NONE: u64 = 0;

impl AtomicMoment {
    /// `at` as stored against `base` (an instant before `base` counts as `base`).
    fn encode(base: Instant, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn decode(base: Instant, value: u64) -> Option<Instant> {
        value.checked_sub(1).map(|nanos| base + Duration::from_nanos(nanos))
    }

    /// The instant held, if any.
    pub fn load(&self, base: Instant) -> Option<Instant> {
        AtomicMoment::decode(base, self.0.load(Ordering::Relaxed))
    }

    pub fn store(&self, base: Instant, at: Instant) {
        self.0.store(AtomicMoment::encode(base, at), Ordering::Relaxed);
    }

    /// Holds `at` unless an instant is held already; returns the one held
    /// now and whether it is `at`.
    pub fn store_first(&self, base: Instant, at: Instant) -> (Instant, bool) {
        let encoded = AtomicMoment::encode(base, at);
        match self.0.compare_exchange(NONE, encoded, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => (AtomicMoment::decode(base, encoded).unwrap_or(at), true),
            Err(earlier) => (AtomicMoment::decode(base, earlier).unwrap_or(at), false),
        }
    }

    /// Holds `at` if it is earlier than the instant held (or none is); returns the one held now.
    pub fn store_earliest(&self, base: Instant, at: Instant) -> Instant {
        let encoded = AtomicMoment::encode(base, at);
        let earliest = |old: u64| if old == NONE { encoded } else { old.min(encoded) };
        let previous = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| Some(earliest(old)));
        AtomicMoment::decode(base, earliest(previous.unwrap_or(NONE))).unwrap_or(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn first_earliest_and_none() {
        let base = Instant::now();
        let moment = AtomicMoment::default();
        assert_eq!(moment.load(base), None);
        let [one, two, three] = [1, 2, 3].map(|s| base + Duration::from_secs(s));
        assert_eq!(moment.store_first(base, two), (two, true));
        assert_eq!(moment.store_first(base, three), (two, false));
        assert_eq!(moment.store_earliest(base, three), two);
        assert_eq!(moment.store_earliest(base, one), one);
        moment.store(base, three);
        assert_eq!(moment.load(base), Some(three));
        assert_eq!(
            AtomicMoment::default().store_earliest(base, base - Duration::from_secs(1)),
            base,
            "clamped to base"
        );
    }
}
