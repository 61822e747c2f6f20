//! The answer cache (moka): key = lower-cased question + DO bit, value = an
//! [`Entry`]. An entry lives in moka for its TTL plus `max_stale`, so an
//! expired answer is still there to be served stale (RFC 8767) or to win
//! over an empty answer (last-known-good); whether it is fresh or stale is
//! decided at lookup from the entry's own deadlines. `capacity` bounds the
//! number of entries. Deciding *what* to serve is the resolver's job.
//! A reload may change the limits: the entries then move to a new moka
//! table built with them ([`Cache::reconfigure`]), so nothing is forgotten.

mod entry;
pub mod persist;

use std::{sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use moka::{Expiry, sync::Cache as Moka};
use tokio::time::Instant;

pub use entry::Entry;
#[cfg(test)]
pub(crate) use entry::tests as tests_support;

use crate::config::CacheConfig;

/// What the cache holds for a key right now.
pub enum Lookup {
    Fresh(Arc<Entry>),
    /// Expired, but within `max_stale`.
    Stale(Arc<Entry>),
    Miss,
}

pub struct Cache {
    inner: ArcSwap<Inner>,
}

/// One moka table and the limits it was built with.
struct Inner {
    entries: Moka<Box<[u8]>, Arc<Entry>>,
    config: Arc<CacheConfig>,
}

impl Inner {
    fn new(config: &CacheConfig) -> Inner {
        let entries = Moka::builder()
            .max_capacity(config.capacity)
            .expire_after(EntryLifetime { config: config.clone() })
            .build();
        Inner { entries, config: Arc::new(config.clone()) }
    }
}

/// Tells moka to keep each entry for its own lifetime.
struct EntryLifetime {
    config: CacheConfig,
}

impl Expiry<Box<[u8]>, Arc<Entry>> for EntryLifetime {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        entry: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.lifetime(&self.config))
    }

    fn expire_after_update(
        &self,
        _key: &Box<[u8]>,
        entry: &Arc<Entry>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.lifetime(&self.config))
    }
}

impl Cache {
    pub fn new(config: &CacheConfig) -> Cache {
        Cache { inner: ArcSwap::from_pointee(Inner::new(config)) }
    }

    pub fn config(&self) -> Arc<CacheConfig> {
        Arc::clone(&self.inner.load().config)
    }

    /// Applies new limits, keeping every entry (the capacity permitting).
    pub fn reconfigure(&self, config: &CacheConfig) {
        let old = self.inner.load_full();
        if *old.config == *config {
            return;
        }
        let new = Inner::new(config);
        for (key, entry) in old.entries.iter() {
            new.entries.insert(Box::clone(&key), entry);
        }
        self.inner.store(Arc::new(new));
    }

    /// Looks `key` up; an entry past `max_stale` (or any expired one when
    /// serve_stale is off) is a miss.
    pub fn lookup(&self, key: &[u8], now: Instant) -> Lookup {
        let inner = self.inner.load();
        match inner.entries.get(key) {
            Some(entry) if entry.is_fresh(now) => Lookup::Fresh(entry),
            Some(entry) if inner.config.serve_stale && entry.within_max_stale(now, inner.config.max_stale) => {
                Lookup::Stale(entry)
            }
            _ => Lookup::Miss,
        }
    }

    /// The entry for `key` if it holds records and is fresh or within
    /// `max_stale`, whether or not serve_stale is on: the last-known-good
    /// answer that an empty one must not replace.
    pub fn last_known_good(&self, key: &[u8], now: Instant) -> Option<Arc<Entry>> {
        let inner = self.inner.load();
        inner.entries.get(key).filter(|entry| entry.has_records && entry.within_max_stale(now, inner.config.max_stale))
    }

    /// Stores `entry` unless its TTL is zero (such answers are served once, not kept).
    pub fn insert(&self, key: Box<[u8]>, entry: Arc<Entry>) {
        if !entry.ttl.is_zero() {
            self.inner.load().entries.insert(key, entry);
        }
    }

    /// Every entry that may still be served, fresh or stale, at most `capacity` of them.
    pub fn entries(&self, now: Instant) -> Vec<(Box<[u8]>, Arc<Entry>)> {
        let inner = self.inner.load();
        let max_stale = inner.config.max_stale;
        let mut kept: Vec<_> = inner
            .entries
            .iter()
            .filter(|(_, entry)| entry.within_max_stale(now, max_stale))
            .map(|(key, entry)| (Box::clone(&key), entry))
            .collect();
        kept.truncate(usize::try_from(inner.config.capacity).unwrap_or(usize::MAX));
        kept
    }

    /// Number of entries (approximate while inserts are in flight).
    pub fn len(&self) -> u64 {
        let inner = self.inner.load();
        inner.entries.run_pending_tasks();
        inner.entries.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{entry::tests::positive_reply, *};

    #[tokio::test(start_paused = true)]
    async fn lookup_moves_from_fresh_to_stale_to_miss() {
        let config = CacheConfig { max_stale: Duration::from_secs(100), ..CacheConfig::default() };
        let cache = Cache::new(&config);
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &config, Instant::now()).unwrap();
        cache.insert(b"key".to_vec().into(), Arc::new(entry));
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Fresh(_)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Stale(_)));
        assert!(cache.last_known_good(b"key", Instant::now()).is_some());
        tokio::time::advance(Duration::from_secs(100)).await;
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Miss));
        assert!(cache.last_known_good(b"key", Instant::now()).is_none());
        assert!(matches!(cache.lookup(b"other", Instant::now()), Lookup::Miss));
    }

    #[tokio::test(start_paused = true)]
    async fn without_serve_stale_an_expired_entry_is_a_miss() {
        let config = CacheConfig { serve_stale: false, ..CacheConfig::default() };
        let cache = Cache::new(&config);
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &config, Instant::now()).unwrap();
        cache.insert(b"key".to_vec().into(), Arc::new(entry));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Miss));
    }

    #[test]
    fn reconfigure_keeps_the_entries() {
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &config, Instant::now()).unwrap();
        cache.insert(b"key".to_vec().into(), Arc::new(entry));
        let smaller = CacheConfig { capacity: 10, stale_ttl: Duration::from_secs(5), ..config };
        cache.reconfigure(&smaller);
        assert_eq!(*cache.config(), smaller);
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Fresh(_)));
    }

    #[test]
    fn zero_ttl_answers_are_not_kept() {
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        let mut reply = positive_reply();
        for ttl_at in [39, 55] {
            reply[ttl_at..ttl_at + 4].copy_from_slice(&0u32.to_be_bytes());
        }
        let entry = Entry::from_reply(&reply, 21, 1, &config, Instant::now()).unwrap();
        assert_eq!(entry.ttl, Duration::ZERO);
        cache.insert(b"key".to_vec().into(), Arc::new(entry));
        assert_eq!(cache.len(), 0);
    }
}
