//! The answer cache (moka): key = lower-cased question + DO and CD bits, value = an
//! [`Entry`]. An entry lives in moka for its TTL plus `max_stale`, so an
//! expired answer is still there to be served stale (RFC 8767) or to win
//! over an empty answer (last-known-good); whether it is fresh or stale is
//! decided at lookup from the entry's own deadlines. Deciding *what* to
//! serve is the resolver's job.
//!
//! Size: `capacity` bounds the number of entries and `max_memory` their
//! bytes ([`Entry::bytes`]: a fixed overhead plus key and records), so that
//! a few huge answers (a large TXT set) cannot take more memory than
//! planned. moka bounds one sum, so an entry weighs its bytes or
//! `max_memory / capacity`, whichever is more, against a capacity of
//! `max_memory`: the sum of weights stays within `max_memory`, so the bytes
//! do, and every entry weighs at least `max_memory / capacity`, so there
//! are at most `capacity` of them.
//! A reload may change the limits: the entries then move to new moka
//! tables built with them ([`Cache::reconfigure`]), so nothing is forgotten.
//!
//! Cache pressure: a flood of unique names — random subdomains answered
//! NXDOMAIN, or a wildcard answering them all, each asked once or several
//! times in a row — must not push out the positive entries the next outage
//! needs. One table under one admission policy cannot promise that: moka's
//! TinyLFU halves its frequency counts as it samples, so after a few times
//! `capacity` unique names the old entries count for no more than the new
//! ones, and go; and a name asked twice counts as often as one asked twice
//! over a week. So the capacity is split in two tables, and a name enters
//! the one that matters only by arriving while it has room, or by being
//! used again over time:
//!
//! - `main` (three quarters of `capacity`) holds positive entries: those
//!   stored while it had room, and those used again (a hit, fresh or stale,
//!   or a refresh) at least [`EARNS_PROTECTION_AFTER`] after their name was
//!   first cached. Nothing else enters it, so a flood's names, however often
//!   and however fast they are asked, never reach it;
//! - `probation` (the last quarter) holds negative entries (NXDOMAIN,
//!   NODATA) and positive entries that arrived while `main` was full and
//!   have not earned their place yet. A flood churns this table only.
//!
//! This is the probation/protected split of segmented LRU and S3-FIFO, with
//! two differences: a name goes straight to `main` while there is room, so
//! that names asked once before a flood (the usual shape of an outage's
//! victims: looked up, then expired) are kept; and what earns promotion is
//! use spread over time, never a count, so a burst cannot buy it. To evict
//! the stale set an attacker would have to keep more names than `main`
//! holds alive in `probation` (a quarter of `capacity`) and ask each again
//! after [`EARNS_PROTECTION_AFTER`]: a quarter of `capacity` at most per
//! ten minutes, each name asked at least twice ten minutes apart while a
//! flood churns the table it waits in, and even then moka's TinyLFU admits
//! it to `main` only over an entry used less often. A key is in one table
//! at a time. A positive hit costs one moka lookup, as before; a negative
//! hit or a miss, two. Entries leaving either table are counted by kind and
//! reason (`stubborn_cache_evictions_total`).

mod entry;
pub mod persist;

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use arc_swap::ArcSwap;
use moka::{Expiry, notification::RemovalCause, sync::Cache as Moka};
use tokio::time::Instant;

pub use entry::Entry;

use crate::AtomicU64;
use crate::{
    config::CacheConfig,
    metrics::Evictions,
    query::{KEY_CD, KEY_DO},
    wire,
};

/// How long after its name was first cached a positive entry in
/// `probation` must be used again to move to `main`: longer than any burst
/// (a flood asks its names again within seconds or a minute), short
/// enough that a name used through a working day is protected.
pub const EARNS_PROTECTION_AFTER: Duration = Duration::from_secs(600);

/// What the cache holds for a key right now.
pub enum Lookup {
    Fresh(Arc<Entry>),
    /// Expired, but within `max_stale`.
    Stale(Arc<Entry>),
    Miss,
}

pub struct Cache {
    inner: ArcSwap<Inner>,
    /// Kept to build the tables of a reload with the same counters.
    evictions: Evictions,
}

/// Keys are hashed with foldhash, seeded at random per process: it hashes
/// a name several times faster than std's SipHash (which was 5 % of a miss's
/// CPU, `docs/profiles.md`), and without the seed, a client cannot choose
/// names that collide.
type Table = Moka<Box<[u8]>, Arc<Entry>, foldhash::fast::RandomState>;

/// The two moka tables and the limits they were built with.
struct Inner {
    /// Positive entries stored while there was room, or asked for again.
    main: Table,
    /// Negative entries, and positive ones not (yet) asked for again that
    /// came while `main` was full: what a flood of unique names churns.
    probation: Table,
    /// The weight `main` holds, never less: increased before each insert,
    /// decreased by the eviction listener after each removal. It decides
    /// "room in main" exactly where moka's `weighted_size` lags.
    main_weight: Arc<AtomicU64>,
    main_capacity: u64,
    /// The least an entry weighs: `max_memory / capacity`.
    min_weight: u32,
    /// [`Entry::bytes`] of every entry in both tables (`stubborn_cache_bytes`).
    bytes: Arc<AtomicU64>,
    config: Arc<CacheConfig>,
}

impl Inner {
    fn new(config: &CacheConfig, evictions: &Evictions) -> Inner {
        let capacity = config.capacity.max(1);
        // Rounded down, so that `capacity` entries of the least weight fit within max_memory.
        let min_weight = u32::try_from(config.max_memory / capacity).unwrap_or(u32::MAX).max(1);
        let probation_entries = (capacity / 4).max(1);
        let main_entries = capacity.saturating_sub(probation_entries).max(1);
        let probation_capacity = probation_entries * u64::from(min_weight);
        let main_capacity = main_entries * u64::from(min_weight);
        let main_weight = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let main = {
            let (evictions, main_weight, bytes) = (evictions.clone(), Arc::clone(&main_weight), Arc::clone(&bytes));
            table(config, main_capacity, min_weight, move |key, entry, cause| {
                main_weight.fetch_sub(u64::from(weight(key, entry, min_weight)), Ordering::Relaxed);
                bytes.fetch_sub(entry.bytes(key.len()), Ordering::Relaxed);
                count_eviction(&evictions, entry, cause);
            })
        };
        let probation = {
            let (evictions, bytes) = (evictions.clone(), Arc::clone(&bytes));
            table(config, probation_capacity, min_weight, move |key, entry, cause| {
                bytes.fetch_sub(entry.bytes(key.len()), Ordering::Relaxed);
                count_eviction(&evictions, entry, cause);
            })
        };
        Inner { main, probation, main_weight, main_capacity, min_weight, bytes, config: Arc::new(config.clone()) }
    }

    /// The entry for `key` in either table; a positive entry found in
    /// `probation` that has earned protection moves to `main`.
    fn get(&self, key: &[u8]) -> Option<Arc<Entry>> {
        if let Some(entry) = self.main.get(key) {
            return Some(entry);
        }
        let entry = self.probation.get(key)?;
        if entry.has_records && earned_protection(&entry) {
            self.promote(Box::from(key), Arc::clone(&entry));
        }
        Some(entry)
    }

    fn promote(&self, key: Box<[u8]>, entry: Arc<Entry>) {
        self.probation.invalidate(&key);
        self.main_weight.fetch_add(u64::from(weight(&key, &entry, self.min_weight)), Ordering::Relaxed);
        self.put(&self.main, key, entry);
    }

    /// Inserts into `table`, counting the entry's bytes (the listener counts them out).
    fn put(&self, table: &Table, key: Box<[u8]>, entry: Arc<Entry>) {
        self.bytes.fetch_add(entry.bytes(key.len()), Ordering::Relaxed);
        table.insert(key, entry);
    }

    /// Stores `entry` in the table its kind and history call for (see the
    /// module doc), taking `key` out of the other one.
    fn insert(&self, key: Box<[u8]>, entry: Arc<Entry>) {
        if !entry.has_records {
            // A negative answer replacing records (keep_positive ran out, or is off).
            self.main.invalidate(&key);
            self.put(&self.probation, key, entry);
        } else if let Some(older) = self.probation.get(&key) {
            // Refreshed, so used again: in `main` once that is spread over time.
            entry.succeed(&older);
            if earned_protection(&entry) {
                self.promote(key, entry);
            } else {
                self.put(&self.probation, key, entry);
            }
        } else {
            let weight = u64::from(weight(&key, &entry, self.min_weight));
            let replacing = self.main.contains_key(&key);
            if replacing {
                // The listener will count the replaced entry out.
                self.main_weight.fetch_add(weight, Ordering::Relaxed);
            }
            if replacing || self.reserve_room_in_main(weight) {
                self.put(&self.main, key, entry);
            } else {
                self.put(&self.probation, key, entry);
            }
        }
    }

    /// Counts `weight` more in `main` if it has room for it.
    fn reserve_room_in_main(&self, weight: u64) -> bool {
        if self.main_weight.fetch_add(weight, Ordering::Relaxed) + weight <= self.main_capacity {
            return true;
        }
        self.main_weight.fetch_sub(weight, Ordering::Relaxed);
        false
    }
}

/// True when `entry`'s name was first cached at least
/// [`EARNS_PROTECTION_AFTER`] ago: its use now is spread over time.
fn earned_protection(entry: &Entry) -> bool {
    Instant::now().saturating_duration_since(entry.first_cached()) >= EARNS_PROTECTION_AFTER
}

/// A moka table of entries weighing at most `capacity` in all (see the
/// module doc), each kept for its lifetime; `removed` hears of every entry
/// that leaves it, and why.
fn table(
    config: &CacheConfig,
    capacity: u64,
    min_weight: u32,
    removed: impl Fn(&[u8], &Entry, RemovalCause) + Send + Sync + 'static,
) -> Table {
    Moka::<Box<[u8]>, Arc<Entry>>::builder()
        .max_capacity(capacity)
        .weigher(move |key, entry| weight(key, entry, min_weight))
        .expire_after(EntryLifetime { config: config.clone() })
        .eviction_listener(move |key: Arc<Box<[u8]>>, entry: Arc<Entry>, cause| removed(&key, &entry, cause))
        .build_with_hasher(foldhash::fast::RandomState::default())
}

/// What an entry weighs against its table's capacity: its bytes, or `min_weight` if more.
fn weight(key: &[u8], entry: &Entry, min_weight: u32) -> u32 {
    u32::try_from(entry.bytes(key.len())).unwrap_or(u32::MAX).max(min_weight)
}

fn count_eviction(evictions: &Evictions, entry: &Entry, cause: RemovalCause) {
    let counter = match (entry.has_records, cause) {
        (true, RemovalCause::Size) => &evictions.positive_size,
        (true, RemovalCause::Expired) => &evictions.positive_expired,
        (false, RemovalCause::Size) => &evictions.negative_size,
        (false, RemovalCause::Expired) => &evictions.negative_expired,
        // Replaced by a newer answer, or moved to the other table: not an eviction.
        (_, RemovalCause::Replaced | RemovalCause::Explicit) => return,
    };
    counter.inc();
}

/// Tells moka to keep each entry for what is left of its own lifetime
/// (counted from when the answer arrived, so that an entry moved between
/// tables, on reload or loaded from a snapshot does not live longer).
struct EntryLifetime {
    config: CacheConfig,
}

impl EntryLifetime {
    fn remaining(&self, key: &[u8], entry: &Entry) -> Duration {
        let policy = self.config.policy_for(key_name(key));
        (entry.stored_at + entry.lifetime(policy)).saturating_duration_since(Instant::now())
    }
}

/// The name of a cache key (lower-case wire form): the key without type, class and DNSSEC byte.
pub(crate) fn key_name(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(5)]
}

impl Expiry<Box<[u8]>, Arc<Entry>> for EntryLifetime {
    fn expire_after_create(
        &self,
        key: &Box<[u8]>,
        entry: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.remaining(key, entry))
    }

    fn expire_after_update(
        &self,
        key: &Box<[u8]>,
        entry: &Arc<Entry>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.remaining(key, entry))
    }
}

impl Cache {
    /// A cache whose evictions are counted nowhere (tests, tools).
    pub fn new(config: &CacheConfig) -> Cache {
        Cache::counting(config, Evictions::default())
    }

    /// A cache that counts its evictions in `evictions`.
    pub fn counting(config: &CacheConfig, evictions: Evictions) -> Cache {
        Cache { inner: ArcSwap::from_pointee(Inner::new(config, &evictions)), evictions }
    }

    pub fn config(&self) -> Arc<CacheConfig> {
        Arc::clone(&self.inner.load().config)
    }

    /// Applies new limits, keeping every entry (the capacity permitting):
    /// those of `main` first, so that they keep their place.
    pub fn reconfigure(&self, config: &CacheConfig) {
        let old = self.inner.load_full();
        if *old.config == *config {
            return;
        }
        let new = Inner::new(config, &self.evictions);
        for (key, entry) in old.main.iter().chain(old.probation.iter()) {
            new.insert(Box::clone(&key), entry);
        }
        self.inner.store(Arc::new(new));
    }

    /// Looks `key` up; an entry past its zone's `max_stale` (or any expired
    /// one where serve_stale is off) is a miss.
    pub fn lookup(&self, key: &[u8], now: Instant) -> Lookup {
        let inner = self.inner.load();
        match inner.get(key) {
            Some(entry) if entry.is_fresh(now) => Lookup::Fresh(entry),
            Some(entry) => {
                let policy = inner.config.policy_for(key_name(key));
                if policy.serve_stale && entry.within_max_stale(now, policy.max_stale) {
                    Lookup::Stale(entry)
                } else {
                    Lookup::Miss
                }
            }
            None => Lookup::Miss,
        }
    }

    /// The entry for `key` if it holds records and is fresh or within
    /// `max_stale`, whether or not serve_stale is on: the last-known-good
    /// answer that an empty one must not replace.
    pub fn last_known_good(&self, key: &[u8], now: Instant) -> Option<Arc<Entry>> {
        let inner = self.inner.load();
        let max_stale = inner.config.policy_for(key_name(key)).max_stale;
        inner.get(key).filter(|entry| entry.has_records && entry.within_max_stale(now, max_stale))
    }

    /// Stores `entry` unless its TTL is zero (such answers are served once, not kept).
    pub fn insert(&self, key: Box<[u8]>, entry: Arc<Entry>) {
        if !entry.ttl.is_zero() {
            self.inner.load().insert(key, entry);
        }
    }

    /// Drops `key` from the cache (either table).
    pub fn remove(&self, key: &[u8]) {
        let inner = self.inner.load();
        inner.main.invalidate(key);
        inner.probation.invalidate(key);
    }

    /// Drops every entry `selection` picks, from both tables; returns how many went.
    pub fn remove_matching(&self, selection: &Selection<'_>) -> usize {
        let inner = self.inner.load();
        let mut removed = 0;
        for table in [&inner.main, &inner.probation] {
            let keys: Vec<_> = table.iter().filter(|(key, _)| selection.matches_key(key)).map(|(key, _)| key).collect();
            removed += keys.iter().filter(|key| table.remove(key.as_ref()).is_some()).count();
        }
        removed
    }

    /// Every entry `selection` picks that moka still holds (fresh, or
    /// expired and kept for the stale window), those of `main` first.
    pub fn matching(&self, selection: &Selection<'_>) -> Vec<(Box<[u8]>, Arc<Entry>)> {
        let inner = self.inner.load();
        inner
            .main
            .iter()
            .chain(inner.probation.iter())
            .filter(|(key, _)| selection.matches_key(key))
            .map(|(key, entry)| (Box::clone(&key), entry))
            .collect()
    }

    /// Every entry that may still be served, fresh or stale, at most
    /// `capacity` of them, those of `main` first.
    pub fn entries(&self, now: Instant) -> Vec<(Box<[u8]>, Arc<Entry>)> {
        let inner = self.inner.load();
        let mut kept: Vec<_> = inner
            .main
            .iter()
            .chain(inner.probation.iter())
            .filter(|(key, entry)| entry.within_max_stale(now, inner.config.policy_for(key_name(key)).max_stale))
            .map(|(key, entry)| (Box::clone(&key), entry))
            .collect();
        kept.truncate(usize::try_from(inner.config.capacity).unwrap_or(usize::MAX));
        kept
    }

    /// [`Entry::bytes`] of the entries in both tables (approximate while
    /// inserts are in flight): at most `max_memory`.
    pub fn bytes(&self) -> u64 {
        let inner = self.inner.load();
        inner.main.run_pending_tasks();
        inner.probation.run_pending_tasks();
        inner.bytes.load(Ordering::Relaxed)
    }

    /// Number of entries in both tables (approximate while inserts are in flight).
    pub fn len(&self) -> u64 {
        let inner = self.inner.load();
        inner.main.run_pending_tasks();
        inner.probation.run_pending_tasks();
        inner.main.entry_count() + inner.probation.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cache key taken apart: the lower-cased question (name in wire form,
/// type, class) and the DO and CD bits, as [`crate::query::Query::parse`] builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParts<'a> {
    pub name: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

impl<'a> KeyParts<'a> {
    /// None for bytes too short to be a key.
    pub fn of(key: &'a [u8]) -> Option<KeyParts<'a>> {
        let question = key.get(..key.len().checked_sub(1)?)?;
        let mut parts = KeyParts::of_question(question)?;
        let bits = key[key.len() - 1];
        parts.dnssec_ok = bits & KEY_DO != 0;
        parts.checking_disabled = bits & KEY_CD != 0;
        Some(parts)
    }

    /// The parts of a lower-cased question (no DNSSEC byte; both bits false).
    pub fn of_question(question: &'a [u8]) -> Option<KeyParts<'a>> {
        let name_end = question.len().checked_sub(4)?;
        let [t0, t1, c0, c1] = question[name_end..] else { return None };
        Some(KeyParts {
            name: &question[..name_end],
            qtype: u16::from_be_bytes([t0, t1]),
            qclass: u16::from_be_bytes([c0, c1]),
            dnssec_ok: false,
            checking_disabled: false,
        })
    }
}

/// Which entries an operator means (`/cache/lookup`, `/cache/flush`).
/// Names are lower-case wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// One name: every type, or one.
    Name {
        name: &'a [u8],
        qtype: Option<u16>,
    },
    /// A name and every name below it, on label boundaries (`b.test` is not below `xb.test`).
    Zone(&'a [u8]),
    All,
}

impl Selection<'_> {
    /// Whether the entry of `key` (question + DO byte) is selected.
    pub fn matches_key(&self, key: &[u8]) -> bool {
        KeyParts::of(key).is_some_and(|parts| self.matches(&parts))
    }

    /// Whether a lower-cased question (name, type, class) is selected.
    pub fn matches_question(&self, question: &[u8]) -> bool {
        KeyParts::of_question(question).is_some_and(|parts| self.matches(&parts))
    }

    fn matches(&self, parts: &KeyParts<'_>) -> bool {
        match *self {
            Selection::All => true,
            Selection::Name { name, qtype } => parts.name == name && qtype.is_none_or(|t| t == parts.qtype),
            Selection::Zone(zone) => wire::is_at_or_below(parts.name, zone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ZonePolicy;
    use crate::test_packets::{Packet, negative_reply, positive_reply};

    fn positive(config: &CacheConfig) -> Arc<Entry> {
        Arc::new(Entry::from_reply(&positive_reply(), 21, 1, config, Instant::now()).unwrap())
    }

    fn negative(config: &CacheConfig) -> Arc<Entry> {
        Arc::new(Entry::from_reply(&negative_reply(), 21, 1, config, Instant::now()).unwrap())
    }

    fn key(name: &str) -> Box<[u8]> {
        name.as_bytes().into()
    }

    /// What the resolver does for a name asked once: look it up (a miss), store the answer.
    fn ask_once(cache: &Cache, name: &str, entry: Arc<Entry>) {
        assert!(matches!(cache.lookup(name.as_bytes(), Instant::now()), Lookup::Miss));
        cache.insert(key(name), entry);
    }

    fn answered(cache: &Cache, names: impl Iterator<Item = String>) -> usize {
        names.filter(|name| !matches!(cache.lookup(name.as_bytes(), Instant::now()), Lookup::Miss)).count()
    }

    /// 40 names asked once, then 100 times `capacity` (100) unique names
    /// whose answers are `flood`; returns the cache and its eviction counts
    /// after checking that the 40 are all still there and that the cache
    /// is no larger than `capacity`.
    fn flooded(flood: impl Fn(&CacheConfig) -> Arc<Entry>) -> (Cache, Evictions) {
        let config = CacheConfig { capacity: 100, ..CacheConfig::default() };
        let evictions = Evictions::default();
        let cache = Cache::counting(&config, evictions.clone());
        for i in 0..40 {
            ask_once(&cache, &format!("good{i}"), positive(&config));
        }
        for i in 0..10_000 {
            ask_once(&cache, &format!("flood{i}"), flood(&config));
        }
        assert_eq!(answered(&cache, (0..40).map(|i| format!("good{i}"))), 40);
        assert!(cache.len() <= 100, "{} entries", cache.len());
        (cache, evictions)
    }

    #[test]
    fn a_flood_of_negative_names_leaves_the_positive_entries() {
        let (_, evictions) = flooded(negative);
        assert!(evictions.negative_size.get() >= 10_000 - 25, "{}", evictions.negative_size.get());
        assert_eq!(evictions.positive_size.get(), 0);
    }

    /// Unique *answered* names (a wildcard): those that came while `main`
    /// had room stay, the rest churn in probation.
    #[test]
    fn a_flood_of_answered_names_leaves_the_earlier_entries() {
        let (_, evictions) = flooded(positive);
        assert!(evictions.positive_size.get() >= 10_000 - 100, "{}", evictions.positive_size.get());
    }

    /// A name that came during a flood and is used again ten minutes later
    /// moves to `main`, and outlives the rest of the flood; asked again
    /// within seconds, it stays on probation.
    #[tokio::test(start_paused = true)]
    async fn a_name_used_again_over_time_is_kept() {
        let config = CacheConfig { capacity: 100, ..CacheConfig::default() };
        let cache = Cache::new(&config);
        for i in 0..1_000 {
            ask_once(&cache, &format!("flood{i}"), positive(&config));
        }
        // Probation is full of the flood too: its TinyLFU admits the
        // newcomer once it has been asked for more often than they were
        // (its count-min sketch can collide, so allow some asks: 4 failed
        // about once in 15 runs).
        let inner = cache.inner.load();
        let mut asked = 0;
        while !inner.probation.contains_key(b"late".as_slice()) {
            asked += 1;
            assert!(asked <= 16, "not admitted to probation after {asked} asks");
            ask_once(&cache, "late", positive(&config));
            inner.probation.run_pending_tasks();
        }
        assert!(!inner.main.contains_key(b"late".as_slice()), "main is full: the newcomer is on probation");
        assert!(matches!(cache.lookup(b"late", Instant::now()), Lookup::Fresh(_)));
        assert!(!inner.main.contains_key(b"late".as_slice()), "asked again at once: still on probation");
        tokio::time::advance(EARNS_PROTECTION_AFTER).await;
        assert!(!matches!(cache.lookup(b"late", Instant::now()), Lookup::Miss));
        assert!(inner.main.contains_key(b"late".as_slice()) && !inner.probation.contains_key(b"late".as_slice()));
        for i in 1_000..10_000 {
            ask_once(&cache, &format!("flood{i}"), positive(&config));
        }
        assert!(!matches!(cache.lookup(b"late", Instant::now()), Lookup::Miss));
    }

    /// The flood shapes of the outage drill, each several times `capacity`:
    /// answered names asked twice in a row, and asked ten times over a
    /// minute (each ask a hit or, for a name that fell out, a new answer);
    /// the 40 names cached before them all stay servable.
    #[tokio::test(start_paused = true)]
    async fn floods_of_names_asked_again_leave_the_earlier_entries() {
        for (asks, spread) in [(2, Duration::ZERO), (10, Duration::from_secs(60))] {
            let config = CacheConfig { capacity: 100, ..CacheConfig::default() };
            let cache = Cache::new(&config);
            for i in 0..40 {
                ask_once(&cache, &format!("good{i}"), positive(&config));
            }
            for round in 0..asks {
                for i in 0..500 {
                    let name = format!("flood{i}");
                    if matches!(cache.lookup(name.as_bytes(), Instant::now()), Lookup::Miss) {
                        cache.insert(key(&name), positive(&config));
                    }
                }
                tokio::time::advance(spread / asks).await;
                assert_eq!(answered(&cache, (0..40).map(|i| format!("good{i}"))), 40, "{asks} asks, round {round}");
            }
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
    }

    /// A key lives in one table: a negative answer accepted over records
    /// (keep_positive ran out) replaces them, and records replace it again.
    #[test]
    fn a_negative_answer_replaces_records_and_back() {
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        cache.insert(key("name"), positive(&config));
        cache.insert(key("name"), negative(&config));
        assert!(matches!(cache.lookup(b"name", Instant::now()), Lookup::Fresh(e) if !e.has_records));
        assert!(cache.last_known_good(b"name", Instant::now()).is_none());
        cache.insert(key("name"), positive(&config));
        assert!(matches!(cache.lookup(b"name", Instant::now()), Lookup::Fresh(e) if e.has_records));
        assert_eq!(cache.len(), 1);
    }

    /// Entries past their lifetime are counted as expired, by kind.
    #[test]
    fn expired_entries_are_counted_by_kind() {
        let policy = ZonePolicy { serve_stale: false, keep_positive: Duration::ZERO, ..ZonePolicy::default() };
        let config = CacheConfig { policy, ..CacheConfig::default() };
        let evictions = Evictions::default();
        let cache = Cache::counting(&config, evictions.clone());
        // Stored 59.9 s ago with a TTL of 60 s (and no stale window): 100 ms to live.
        let almost = Instant::now() - Duration::from_millis(59_900);
        let entry = Entry::from_reply(&positive_reply(), 21, 1, &config, almost).unwrap();
        cache.insert(key("positive"), Arc::new(entry));
        let entry =
            Entry::from_reply(&negative_reply(), 21, 1, &config, Instant::now() - Duration::from_millis(119_900));
        cache.insert(key("negative"), Arc::new(entry.unwrap()));
        // moka's timer wheel has a resolution of about a second.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !cache.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(cache.len(), 0);
        assert_eq!((evictions.positive_expired.get(), evictions.negative_expired.get()), (1, 1));
        assert_eq!((evictions.positive_size.get(), evictions.negative_size.get()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn lookup_moves_from_fresh_to_stale_to_miss() {
        let policy = ZonePolicy { max_stale: Duration::from_secs(100), ..ZonePolicy::default() };
        let config = CacheConfig { policy, ..CacheConfig::default() };
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
        let config = CacheConfig {
            policy: ZonePolicy { serve_stale: false, ..ZonePolicy::default() },
            ..CacheConfig::default()
        };
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
        for i in 0..20 {
            cache.insert(key(&format!("negative{i}")), negative(&config));
        }
        let policy = ZonePolicy { max_stale: Duration::from_secs(5), ..config.policy };
        let smaller = CacheConfig { capacity: 10, policy, ..config };
        cache.reconfigure(&smaller);
        assert_eq!(*cache.config(), smaller);
        assert!(matches!(cache.lookup(b"key", Instant::now()), Lookup::Fresh(_)), "main's entries go first");
        assert!(cache.len() <= 10);
    }

    #[test]
    fn selections_match_names_types_and_zones_on_label_boundaries() {
        let key = |name: &str, qtype: u16, dnssec_ok: u8| {
            let mut key = crate::wire::wire_name(name);
            key.extend_from_slice(&qtype.to_be_bytes());
            key.extend_from_slice(&1u16.to_be_bytes());
            key.push(dnssec_ok);
            key
        };
        let name = crate::wire::wire_name("a.b.test");
        let zone = crate::wire::wire_name("b.test");
        let root = crate::wire::wire_name("");
        let one = Selection::Name { name: &name, qtype: None };
        let typed = Selection::Name { name: &name, qtype: Some(28) };
        assert!(one.matches_key(&key("a.b.test", 1, 0)) && one.matches_key(&key("a.b.test", 28, 1)));
        assert!(!one.matches_key(&key("x.a.b.test", 1, 0)));
        assert!(typed.matches_key(&key("a.b.test", 28, 0)) && !typed.matches_key(&key("a.b.test", 1, 0)));
        for selected in ["b.test", "a.b.test", "c.a.b.test"] {
            assert!(Selection::Zone(&zone).matches_key(&key(selected, 1, 0)), "{selected}");
        }
        for kept in ["xb.test", "test", "b.test.other", "a.xb.test"] {
            assert!(!Selection::Zone(&zone).matches_key(&key(kept, 1, 0)), "{kept}");
        }
        assert!(Selection::Zone(&root).matches_key(&key("anything.example", 1, 0)));
        assert!(Selection::All.matches_question(&key("a.b.test", 1, 0)[..14]));
        assert!(!one.matches_key(b"xy"), "not a key");
    }

    #[test]
    fn remove_matching_counts_what_went() {
        let config = CacheConfig::default();
        let cache = Cache::new(&config);
        let mut names = Vec::new();
        for name in ["a.b.test", "c.b.test", "xb.test"] {
            let mut key = crate::wire::wire_name(name);
            key.extend_from_slice(&[0, 1, 0, 1, 0]);
            names.push(key.clone());
            cache.insert(key.into(), positive(&config));
        }
        cache.insert(names[2].clone().into(), negative(&config)); // into probation
        let zone = crate::wire::wire_name("b.test");
        assert_eq!(cache.matching(&Selection::Zone(&zone)).len(), 2);
        assert_eq!(cache.remove_matching(&Selection::Zone(&zone)), 2);
        assert_eq!(cache.remove_matching(&Selection::Zone(&zone)), 0);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.remove_matching(&Selection::All), 1);
        assert!(cache.is_empty());
    }

    /// An answer to `www.example.com. TXT` with one TXT record of
    /// `strings` strings of 255 octets (about 256 × `strings` octets).
    fn big_txt(config: &CacheConfig, strings: usize) -> Arc<Entry> {
        let rdata: Vec<u8> =
            (0..strings).flat_map(|_| std::iter::once(255).chain(std::iter::repeat_n(b'x', 255))).collect();
        const TXT: u16 = 16;
        let reply = Packet::reply("www.example.com", TXT).id(1).answer("www.example.com", TXT, 3600, &rdata).build();
        Arc::new(Entry::from_reply(&reply, 21, TXT, config, Instant::now()).unwrap())
    }

    /// The cache is bounded in bytes as well as entries. 200
    /// answers of about 4 KiB (a large TXT set) under `max_memory` 64 KiB
    /// and `capacity` 1000 stay within 64 KiB; small ones still fill `capacity`.
    #[test]
    fn big_answers_stay_within_max_memory() {
        let config = CacheConfig { capacity: 1000, max_memory: 64 << 10, ..CacheConfig::default() };
        let cache = Cache::new(&config);
        for i in 0..200 {
            ask_once(&cache, &format!("big{i}"), big_txt(&config, 16));
            assert!(cache.bytes() <= 64 << 10, "{} bytes after {i}", cache.bytes());
        }
        let kept = cache.len();
        assert!((10..=16).contains(&kept), "{kept} entries of about 4 KiB in 64 KiB");
        assert!(cache.bytes() > 48 << 10, "{} bytes: the bound is not far below max_memory", cache.bytes());

        let small = CacheConfig { capacity: 100, max_memory: 1 << 20, ..CacheConfig::default() };
        let cache = Cache::new(&small);
        for i in 0..1000 {
            ask_once(&cache, &format!("small{i}"), positive(&small));
        }
        assert_eq!(cache.len(), 100, "capacity still bounds small entries");
        assert_eq!(cache.remove_matching(&Selection::All), 100);
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    /// A reply to `NAME A` with one A record (TTL 3600), as the benchmark's
    /// authoritative sends it; returns it with the cache key (DO bit clear).
    fn a_reply(name: &str, address: [u8; 4]) -> (Vec<u8>, Box<[u8]>) {
        let packet = Packet::reply(name, wire::TYPE_A).id(1).a(name, 3600, address);
        let reply = packet.build();
        let mut key = reply[wire::HEADER_LEN..wire::HEADER_LEN + packet.question_len()].to_vec();
        key.push(0);
        (reply, key.into_boxed_slice())
    }

    /// What an entry costs (docs/design.md "Memory"): the growth of this
    /// process's resident memory per entry while 100 000 entries like the
    /// benchmark's (`nK.bench.example A`, one A record) are stored, one
    /// thread, nothing freed in between (so no fragmentation). Run in
    /// release: `cargo test --release --lib -- --ignored --nocapture memory_per_entry`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn memory_per_entry() {
        fn rss_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
        const N: u64 = 100_000;
        let config = CacheConfig { capacity: 2 * N, ..CacheConfig::default() };
        let replies: Vec<_> = (0..N)
            .map(|i| a_reply(&format!("n{i}.bench.example"), [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]))
            .collect();
        let cache = Cache::new(&config);
        let before = rss_kib();
        let now = Instant::now();
        for (reply, key) in replies {
            let entry = Entry::from_reply(&reply, key.len() - 1, 1, &config, now).unwrap();
            cache.insert(key, Arc::new(entry));
        }
        assert_eq!(cache.len(), N);
        let grown = (rss_kib() - before) * 1024;
        println!("{N} entries: RSS grew {:.1} MiB, {} bytes per entry", grown as f64 / 1048576.0, grown / N);
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
