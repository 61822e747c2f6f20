//! What to answer a query with: the cache, the upstream pools, and the
//! rules that join them (docs/reference.md "Answers").
//!
//! - fresh entry → answered from memory, TTLs counted down; asked for in
//!   the last tenth of its TTL (with `prefetch`), it is also refreshed in
//!   the background, so that a popular name never expires for its clients;
//! - stale entry whose last refresh failed less than [`FAILURE_RECHECK`] ago,
//!   and no upstream has answered again since → answered stale at once
//!   (RFC 8767 §5, so that during an outage no client waits for upstreams
//!   known to be failing);
//! - stale entry while every server of its pool is counted down (they time
//!   out or refuse; `fail_after`) → answered stale at once, and the refresh
//!   goes on in the background: a silent outage costs no client a timeout;
//! - otherwise the upstreams are asked (identical queries in flight share
//!   one fetch, which finishes even when the clients that started it were
//!   answered stale: [`pending`]): with a stale entry at
//!   hand the client waits at most `stale_answer_after`, then gets the stale
//!   answer; without one it waits for the fetch and gets SERVFAIL + EDE 22
//!   if every upstream fails — within tens of milliseconds when every
//!   server of the pool is counted down (the client waits only until an
//!   answer is due from a server that is back; the fetch goes on and
//!   caches a late answer for the client's retry);
//! - every upstream answer is scrubbed before it is cached or answered
//!   ([`crate::scrub`]: records unrelated to the question go, and with
//!   rebind protection private addresses of names it covers);
//! - the stale rules, TTL bounds and last-known-good of a name are its
//!   zone's ([`crate::config::CacheConfig::policy_for`]);
//! - last-known-good: an empty answer (NXDOMAIN or NODATA) for a key whose
//!   entry holds records is not cached and the old records are served stale
//!   until empty answers have held for `keep_positive`.
//!
//! An operator's flush ([`Resolver::flush`]) drops the entries,
//! their last-known-good bookkeeping (it lives in the entry) and their
//! `degraded` listing, and detaches the fetches in flight for them: a query
//! after the flush starts a new fetch, and a detached fetch that ends after
//! the flush stores nothing, so it cannot put back the answer just flushed.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use arc_swap::{ArcSwap, ArcSwapOption};
use hickory_proto::{op::Message, rr::Record};
use tokio::{sync::watch, time::Instant};
use tracing::{debug, warn};

use pending::{Pending, Waiter};

use crate::{
    cache::{Cache, Entry, KeyParts, Lookup, Selection, key_name},
    config::AnswerPolicy,
    degraded::{Degraded, Reason},
    fleet::Fleet,
    metrics::{Metrics, Source},
    query::{Query, QueryName, QueryType},
    rate_limit::OncePerName,
    reply::{self, Ttl},
    scrub::scrub,
    upstream::{Ask, Upstream, UpstreamError, Upstreams},
    wire::{EDE_NO_REACHABLE_AUTHORITY, EDE_STALE, OUR_UDP_PAYLOAD, SERVFAIL},
};

/// RFC 8767 §5 "failure recheck timer": after a failed refresh, stale
/// answers go out at once for this long before upstreams are tried again.
pub const FAILURE_RECHECK: Duration = Duration::from_secs(30);
/// Distinct upstream fetches at once, at most (dnsmasq's `dns-forward-max`,
/// Unbound's `num-queries-per-thread`): each holds a socket, and a flood of
/// random names must not exhaust file descriptors — which would make healthy
/// upstreams look dead. Past it, a miss is answered stale or SERVFAIL at once.
pub const MAX_FETCHES: usize = 1024;
/// Without a stale answer to fall back on, a client is not kept waiting
/// longer than this past the pool's worst case (every server timing out).
const MISS_SLACK: Duration = Duration::from_millis(500);

/// How a fetch ended, as every query waiting on it sees it.
#[derive(Clone)]
enum Fetched {
    /// A new answer (cached unless its TTL is zero), and the server that gave it.
    Answer(Arc<Entry>, Arc<Upstream>),
    /// The answer (of that server) was empty but the last-known-good entry wins for now.
    KeptPositive(Arc<Entry>, Arc<Upstream>),
    Failed,
}

/// A reply to a client and where it came from.
pub struct Answer {
    pub reply: Vec<u8>,
    pub source: Source,
    /// The server that gave it, for an answer fetched for it (`upstream`, `kept_positive`).
    pub upstream: Option<Arc<Upstream>>,
}

impl Answer {
    #[inline]
    pub fn new(source: Source, reply: Vec<u8>) -> Answer {
        Answer { reply, source, upstream: None }
    }
}

/// What the cache held for a query that [`Resolver::answer_now`] could not answer.
pub enum Unanswered {
    /// Nothing (or nothing within `max_stale`).
    Missing,
    /// An expired entry, served if no fresh answer comes in time.
    Stale(Arc<Entry>),
}

pub struct Resolver {
    cache: Cache,
    /// Stale TTL, client timer, last-known-good, prefetch; swapped whole on reload.
    policy: ArcSwap<AnswerPolicy>,
    /// Swapped whole on reload; a fetch keeps the pools it started with.
    upstreams: ArcSwap<Upstreams>,
    metrics: Arc<Metrics>,
    degraded: Degraded,
    /// Fetches in flight by key; a query for a key here waits on it instead
    /// of asking again. Held while a fetch stores its answer, so that a flush
    /// is wholly before or after that. Hashed like the cache's keys.
    inflight: Mutex<HashMap<Box<[u8]>, Fetch, foldhash::fast::RandomState>>,
    /// Names whose private addresses rebind protection removed, logged once each.
    rebind_logged: OncePerName,
    /// The fleet store (`[fleet]`), when there is one; swapped on reload.
    fleet: ArcSwapOption<Fleet>,
}

/// A fetch in flight.
#[derive(Clone)]
struct Fetch {
    waiter: Waiter,
    /// Set by a flush of its key: what it fetched is not stored.
    flushed: Arc<AtomicBool>,
}

/// How an operator sees one cache entry (`/cache/lookup`, `/cache/dump`).
pub struct Cached {
    pub key: Box<[u8]>,
    pub entry: Arc<Entry>,
    pub state: State,
    /// Seconds of TTL left (0 once expired).
    pub ttl: u64,
    /// Seconds past expiry (0 while live).
    pub expired_for: u64,
    /// Seconds since the answer arrived.
    pub age: u64,
}

impl Cached {
    pub fn parts(&self) -> KeyParts<'_> {
        KeyParts::of(&self.key).expect("cache keys are built by Query::parse")
    }

    /// The cached question: the key without its DO byte.
    pub fn question(&self) -> &[u8] {
        &self.key[..self.key.len() - 1]
    }
}

/// The `state` of a cache entry (docs/reference.md `/cache/lookup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Live, with records of the asked type.
    Fresh,
    /// Live NXDOMAIN or NODATA.
    Negative,
    /// Past its TTL (positive or negative), kept for the stale window.
    Stale,
    /// Served over an empty upstream answer right now (last-known-good).
    KeptPositive,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Negative => "negative",
            State::Stale => "stale",
            State::KeptPositive => "kept_positive",
        }
    }
}

impl Resolver {
    pub fn new(cache: Cache, policy: AnswerPolicy, upstreams: Upstreams, metrics: Arc<Metrics>) -> Resolver {
        Resolver {
            cache,
            policy: ArcSwap::from_pointee(policy),
            upstreams: ArcSwap::from_pointee(upstreams),
            metrics,
            degraded: Degraded::default(),
            inflight: Mutex::default(),
            rebind_logged: OncePerName::default(),
            fleet: ArcSwapOption::empty(),
        }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn upstreams(&self) -> Arc<Upstreams> {
        self.upstreams.load_full()
    }

    /// Puts a new answer policy in place (reload).
    pub fn set_policy(&self, policy: AnswerPolicy) {
        self.policy.store(Arc::new(policy));
    }

    /// Puts new upstream pools in place (reload); fetches in flight finish on the old ones.
    pub fn set_upstreams(&self, upstreams: Upstreams) {
        self.upstreams.store(Arc::new(upstreams));
    }

    /// Puts a fleet store in place (start, reload), or takes it away.
    pub fn set_fleet(&self, fleet: Option<Fleet>) {
        self.fleet.store(fleet.map(Arc::new));
    }

    /// The fleet store, if any.
    pub fn fleet(&self) -> Option<Arc<Fleet>> {
        self.fleet.load_full()
    }

    /// The fleet store, where `query`'s zone may be answered from it (it
    /// serves stale answers).
    fn fleet_for(&self, query: &Query) -> Option<Arc<Fleet>> {
        let fleet = self.fleet.load_full()?;
        self.cache.config().policy_for(query.name_wire()).serve_stale.then_some(fleet)
    }

    pub fn degraded(&self) -> &Degraded {
        &self.degraded
    }

    /// Drops what `selection` picks from the cache, from the fetches in
    /// flight (they finish, but store nothing) and from the degraded list;
    /// returns how many cache entries went.
    pub fn flush(&self, selection: &Selection<'_>) -> usize {
        self.inflight.lock().expect("no panics while held").retain(|key, fetch| {
            let flushed = selection.matches_key(key);
            if flushed {
                fetch.flushed.store(true, Ordering::Relaxed);
            }
            !flushed
        });
        let removed = self.cache.remove_matching(selection);
        self.degraded.forget(|question| selection.matches_question(question));
        removed
    }

    /// The entries `selection` picks that may still be served, by name and type.
    pub fn cached(&self, selection: &Selection<'_>) -> Vec<Cached> {
        let now = Instant::now();
        let config = self.cache.config();
        let mut cached: Vec<Cached> = self
            .cache
            .matching(selection)
            .into_iter()
            .filter(|(key, entry)| {
                let policy = config.policy_for(key_name(key));
                entry.is_fresh(now) || policy.keep_expired() && entry.within_max_stale(now, policy.max_stale)
            })
            .map(|(key, entry)| {
                let expires = entry.stored_at + entry.ttl;
                let keep_positive = config.policy_for(key_name(&key)).keep_positive;
                let kept = entry.has_records
                    && entry.empty_since().is_some_and(|since| now.saturating_duration_since(since) < keep_positive);
                let state = match (kept, entry.is_fresh(now), entry.has_records) {
                    (true, _, _) => State::KeptPositive,
                    (false, true, true) => State::Fresh,
                    (false, true, false) => State::Negative,
                    (false, false, _) => State::Stale,
                };
                Cached {
                    state,
                    ttl: expires.saturating_duration_since(now).as_secs(),
                    expired_for: now.saturating_duration_since(expires).as_secs(),
                    age: u64::from(entry.age_secs(now)),
                    key,
                    entry,
                }
            })
            .collect();
        cached
            .sort_by(|a, b| (a.parts().name, a.parts().qtype, &a.key).cmp(&(b.parts().name, b.parts().qtype, &b.key)));
        cached
    }

    /// The reply when memory alone can give it (a fresh hit, or stale during
    /// a known outage); otherwise what the cache holds, for
    /// [`Resolver::answer_after`] to go on with.
    /// This is the hot path: no await, no lock but moka's.
    pub fn answer_now(self: &Arc<Self>, query: &Query, limit: usize) -> Result<Answer, Unanswered> {
        let now = Instant::now();
        match self.cache.lookup(&query.key, now) {
            Lookup::Fresh(entry) => Ok(self.fresh(query, &entry, now, limit)),
            Lookup::Stale(entry) if self.stale_at_once(query, &entry, now) => Ok(self.stale(query, &entry, limit)),
            Lookup::Stale(entry) => Err(Unanswered::Stale(entry)),
            Lookup::Miss => Err(Unanswered::Missing),
        }
    }

    /// The reply to `query`, asking upstream as needed.
    pub async fn answer(self: &Arc<Self>, query: &Query, limit: usize) -> Answer {
        match self.answer_now(query, limit) {
            Ok(answer) => answer,
            Err(unanswered) => self.answer_after(query, unanswered, limit).await,
        }
    }

    /// The reply to `query` after [`Resolver::answer_now`] found `unanswered`
    /// in the cache: the upstream's answer, else the stale entry, else
    /// SERVFAIL. The cache is not looked up again: a fetch that finished in
    /// between costs at most one more upstream query.
    pub async fn answer_after(self: &Arc<Self>, query: &Query, unanswered: Unanswered, limit: usize) -> Answer {
        let stale = match unanswered {
            Unanswered::Stale(entry) => entry,
            Unanswered::Missing => return self.answer_missing(query, limit).await,
        };
        let wait = self.policy.load().stale_answer_after;
        let fetched = match self.fetch(query) {
            Some(mut fetch) => fetch.until(Instant::now() + wait).await,
            None => {
                self.note_shed(query);
                None
            }
        };
        match fetched {
            Some(answered @ (Fetched::Answer(..) | Fetched::KeptPositive(..))) => self.fetched(query, answered, limit),
            Some(Fetched::Failed) | None => self.stale(query, &stale, limit),
        }
    }

    /// The reply to `query` when the cache holds nothing for it: the
    /// upstream's answer, else the fleet store's (read where the answer
    /// would otherwise be SERVFAIL: at once when the pool is counted down,
    /// else once `stale_answer_after` has passed or the fetch failed),
    /// else SERVFAIL.
    async fn answer_missing(self: &Arc<Self>, query: &Query, limit: usize) -> Answer {
        let started = Instant::now();
        let (pool_down, wait) = {
            let upstreams = self.upstreams.load();
            let pool = upstreams.pool_for(query.name_wire());
            // Every server counted down: the client waits only until an
            // answer is due from one that is back, then gets SERVFAIL; the
            // fetch goes on and caches a late answer for its retry.
            if pool.any_up() { (false, pool.worst_case() + MISS_SLACK) } else { (true, pool.down_wait()) }
        };
        let deadline = started + wait;
        let fleet = self.fleet_for(query);
        let Some(mut fetch) = self.fetch(query) else {
            self.note_shed(query);
            return self.fleet_answer(query, fleet, limit).await.unwrap_or_else(|| self.servfail(query));
        };
        let Some(fleet) = fleet else {
            return match fetch.until(deadline).await {
                Some(answered @ (Fetched::Answer(..) | Fetched::KeptPositive(..))) => {
                    self.fetched(query, answered, limit)
                }
                Some(Fetched::Failed) | None => self.servfail(query),
            };
        };
        if pool_down {
            // The read starts at once, beside the fetch: no wait is added to the SERVFAIL.
            let read = self.fleet_answer(query, Some(fleet), limit);
            tokio::pin!(read);
            let (fetched, read_missed) = tokio::select! {
                fetched = fetch.until(deadline) => (fetched, false),
                read = &mut read => match read {
                    Some(reply) => return reply,
                    None => (fetch.until(deadline).await, true),
                },
            };
            return match fetched {
                Some(answered @ (Fetched::Answer(..) | Fetched::KeptPositive(..))) => {
                    self.fetched(query, answered, limit)
                }
                // A read that ended is not polled again.
                Some(Fetched::Failed) | None if read_missed => self.servfail(query),
                Some(Fetched::Failed) | None => read.await.unwrap_or_else(|| self.servfail(query)),
            };
        }
        let first = deadline.min(started + self.policy.load().stale_answer_after);
        match fetch.until(first).await {
            Some(answered @ (Fetched::Answer(..) | Fetched::KeptPositive(..))) => self.fetched(query, answered, limit),
            failed => match self.fleet_answer(query, Some(fleet), limit).await {
                Some(reply) => reply,
                None if failed.is_none() => match fetch.until(deadline).await {
                    Some(answered @ (Fetched::Answer(..) | Fetched::KeptPositive(..))) => {
                        self.fetched(query, answered, limit)
                    }
                    Some(Fetched::Failed) | None => self.servfail(query),
                },
                None => self.servfail(query),
            },
        }
    }

    /// The reply from what a fetch brought: a new answer, or last-known-good over an empty one.
    fn fetched(&self, query: &Query, fetched: Fetched, limit: usize) -> Answer {
        let (source, reply, by) = match fetched {
            Fetched::Answer(entry, by) => {
                let ttl = Ttl::CountDown { age: entry.age_secs(Instant::now()) };
                (Source::Upstream, reply::answer(query, &entry, ttl, None, limit), by)
            }
            Fetched::KeptPositive(entry, by) => {
                self.note_degraded(query, Reason::KeptPositive);
                (Source::KeptPositive, reply::answer(query, &entry, self.stale_ttl(query), Some(EDE_STALE), limit), by)
            }
            Fetched::Failed => return self.servfail(query),
        };
        Answer { upstream: Some(by), ..self.answered(source, reply) }
    }

    /// Counts an answer from `source` (`stubborn_answers_total`) and makes it.
    #[inline]
    pub fn answered(&self, source: Source, reply: Vec<u8>) -> Answer {
        self.metrics.answers.count(source);
        Answer::new(source, reply)
    }

    /// The fleet store's answer for `query` as a stale reply, cached
    /// locally as stale (so later queries in the outage are answered from
    /// memory); None without a fleet or an answer there.
    async fn fleet_answer(&self, query: &Query, fleet: Option<Arc<Fleet>>, limit: usize) -> Option<Answer> {
        let mut entry = fleet?.read(&query.key, &self.cache.config()).await?;
        // Answered as stale whatever is left of its TTL: no upstream vouches for it now.
        let now = Instant::now();
        if entry.is_fresh(now) {
            entry.stored_at = now.checked_sub(entry.ttl + Duration::from_millis(1))?;
        }
        let entry = Arc::new(entry);
        self.cache.insert(query.key.clone(), Arc::clone(&entry));
        self.note_degraded(query, Reason::Stale);
        let reply = reply::answer(query, &entry, self.stale_ttl(query), Some(EDE_STALE), limit);
        Some(self.answered(Source::Fleet, reply))
    }

    fn note_shed(&self, query: &Query) {
        debug!(qname = %query.name(), limit = MAX_FETCHES, "too many upstream fetches in flight");
        self.metrics.fetches_shed.inc();
    }

    /// The reply to a miss that may not wait on upstream (its client has
    /// its share in flight already): the stale entry, else SERVFAIL.
    pub fn shed(&self, query: &Query, unanswered: Unanswered, limit: usize) -> Answer {
        debug!(qname = %query.name(), "client has its share of upstream fetches in flight");
        self.metrics.fetches_shed.inc();
        match unanswered {
            Unanswered::Stale(entry) => self.stale(query, &entry, limit),
            Unanswered::Missing => self.servfail(query),
        }
    }

    fn servfail(&self, query: &Query) -> Answer {
        self.answered(Source::Servfail, reply::error(query, SERVFAIL, Some(EDE_NO_REACHABLE_AUTHORITY)))
    }

    /// The answer records for `name_wire` (lower-case wire form) of `qtype`,
    /// through the same cache, upstreams and stale rules as a client's query;
    /// empty when there is no answer. For stubborn's own use (service targets).
    pub async fn records(self: &Arc<Self>, name_wire: &[u8], qtype: u16) -> Vec<Record> {
        let answer = self.answer(&Query::internal(name_wire, qtype), usize::from(u16::MAX)).await;
        Message::from_vec(&answer.reply).map(|message| message.answers).unwrap_or_default()
    }

    fn fresh(self: &Arc<Self>, query: &Query, entry: &Entry, now: Instant, limit: usize) -> Answer {
        self.prefetch(query, entry, now);
        self.answered(
            Source::Cache,
            reply::answer(query, entry, Ttl::CountDown { age: entry.age_secs(now) }, None, limit),
        )
    }

    /// Starts (or joins) a background refresh of a fresh `entry` in the
    /// last tenth of its TTL, when `prefetch` is on.
    fn prefetch(self: &Arc<Self>, query: &Query, entry: &Entry, now: Instant) {
        if now + entry.ttl / 10 >= entry.stored_at + entry.ttl && self.policy.load().prefetch {
            // Nobody waits on it: the fetch refreshes the cache.
            let _ = self.fetch(query);
        }
    }

    /// Whether a stale `entry` is answered without waiting on upstream:
    /// - RFC 8767 §5: its refresh failed within [`FAILURE_RECHECK`] and no
    ///   upstream has answered again since — no new fetch either;
    /// - every server of the pool is counted down — the refresh is started
    ///   (or joined) in the background, and the client is not kept waiting.
    fn stale_at_once(self: &Arc<Self>, query: &Query, entry: &Entry, now: Instant) -> bool {
        let upstreams = self.upstreams.load();
        if entry.refresh_failed_within(now, FAILURE_RECHECK, upstreams.recovered()) {
            return true;
        }
        if upstreams.pool_for(query.name_wire()).any_up() {
            return false;
        }
        // Nobody waits on it: the fetch refreshes the cache or notes the failure.
        let _ = self.fetch(query);
        true
    }

    fn stale(&self, query: &Query, entry: &Entry, limit: usize) -> Answer {
        self.note_degraded(query, Reason::Stale);
        self.answered(
            Source::Stale,
            reply::answer(query, entry, self.stale_ttl(query), Some(reply::stale_ede(entry)), limit),
        )
    }

    fn note_degraded(&self, query: &Query, reason: Reason) {
        let name = || QueryName(query.name_wire()).to_string();
        self.degraded.record(query.lower_question(), name, query.qtype, reason);
    }

    /// The TTL of a stale answer to `query`: its zone's `stale_ttl`.
    fn stale_ttl(&self, query: &Query) -> Ttl {
        let stale_ttl = self.cache.config().policy_for(query.name_wire()).stale_ttl;
        Ttl::Stale(u32::try_from(stale_ttl.as_secs()).unwrap_or(u32::MAX))
    }

    /// Joins the fetch in flight for `query`'s key, or starts one; None
    /// when [`MAX_FETCHES`] are in flight already.
    fn fetch(self: &Arc<Self>, query: &Query) -> Option<Pending> {
        let mut inflight = self.inflight.lock().expect("no panics while held");
        if let Some(fetch) = inflight.get(&query.key) {
            return Some(Pending::joined(fetch.waiter.clone()));
        }
        if inflight.len() >= MAX_FETCHES {
            return None;
        }
        let (done, waiter) = watch::channel(None);
        let flushed = Arc::new(AtomicBool::new(false));
        inflight.insert(query.key.clone(), Fetch { waiter: waiter.clone(), flushed: Arc::clone(&flushed) });
        drop(inflight);
        let resolver = Arc::clone(self);
        let query = query.clone();
        let work = Box::pin(async move {
            let fetched = resolver.fetch_and_store(&query, &flushed).await;
            let mut inflight = resolver.inflight.lock().expect("no panics while held");
            // A flush may have detached this fetch and a newer one taken its place.
            if inflight.get(&query.key).is_some_and(|fetch| Arc::ptr_eq(&fetch.flushed, &flushed)) {
                inflight.remove(&query.key);
            }
            fetched
        });
        Some(Pending::started(waiter, work, done))
    }

    /// The entry an upstream `reply` to `query` makes, once scrubbed (and
    /// rid of private addresses where rebind protection applies).
    fn entry_of(&self, reply: &[u8], query: &Query, now: Instant) -> Result<Entry, UpstreamError> {
        let drop_private = self.policy.load().rebind.as_ref().is_some_and(|exempt| !exempt.covers(query.name_wire()));
        let scrubbed = scrub(reply, query.question.len(), drop_private).map_err(|_| UpstreamError::Malformed)?;
        if scrubbed.unrelated > 0 {
            debug!(qname = %query.name(), dropped = scrubbed.unrelated, "unrelated answer records scrubbed");
            self.metrics.scrubbed_records.inc_by(scrubbed.unrelated);
        }
        if scrubbed.private > 0 {
            self.metrics.rebind_blocked.inc_by(scrubbed.private);
            if self.rebind_logged.first(query.name_wire()) {
                warn!(qname = %QueryName(query.name_wire()), qtype = %QueryType(query.qtype), dropped = scrubbed.private,
                      "private addresses removed from a public name's answer (rebind_protection)");
            }
        }
        Entry::from_reply(&scrubbed.reply, query.question.len(), query.qtype, &self.cache.config(), now)
            .map_err(|_| UpstreamError::Malformed)
    }

    async fn fetch_and_store(&self, query: &Query, flushed: &AtomicBool) -> Fetched {
        let ask = Ask {
            question: query.lower_question(),
            payload: query.edns.map_or(OUR_UDP_PAYLOAD, |e| e.udp_payload()),
            dnssec_ok: query.dnssec_ok(),
            checking_disabled: query.checking_disabled,
        };
        let upstreams = self.upstreams.load_full();
        let result = upstreams.pool_for(query.name_wire()).resolve(&ask).await;
        let now = Instant::now();
        // The zone's policy, looked up once for this answer.
        let policy = *self.cache.config().policy_for(query.name_wire());
        let keep_positive = policy.keep_positive;
        let entry = result.and_then(|answered| Ok((self.entry_of(&answered.reply, query, now)?, answered.by)));
        let (entry, by) = match entry {
            Ok(entry_and_server) => entry_and_server,
            Err(error) => {
                debug!(qname = %query.name(), %error, "upstreams failed");
                if let Lookup::Stale(entry) = self.cache.lookup(&query.key, now) {
                    entry.refresh_failed(now);
                }
                return Fetched::Failed;
            }
        };
        if !entry.has_records
            && !keep_positive.is_zero()
            && let Some(known) = self.last_known_good(query, now).await
        {
            let (local_since, first) = known.empty_seen(now);
            let since = match self.fleet_for(query) {
                Some(fleet) => self.fleet_first_empty(&fleet, query, &known, local_since, keep_positive).await,
                None => local_since,
            };
            if now.saturating_duration_since(since) < keep_positive {
                if first {
                    warn!(qname = %QueryName(query.name_wire()), qtype = %QueryType(query.qtype), rcode = entry.rcode,
                          keep_positive = ?keep_positive, "upstream answer is empty; serving last known good records");
                }
                self.metrics.kept_positive.inc();
                return Fetched::KeptPositive(known, by);
            }
            warn!(qname = %QueryName(query.name_wire()), qtype = %QueryType(query.qtype), "empty answer held for keep_positive; accepting it");
            // An empty answer with TTL 0 is not cached over the old records:
            // drop them, or every later fetch would find and accept them again.
            self.cache.remove(&query.key);
        }
        let entry = Arc::new(entry);
        let stored = {
            let _stores = self.inflight.lock().expect("no panics while held");
            let stored = !flushed.load(Ordering::Relaxed);
            if stored {
                self.cache.insert(query.key.clone(), Arc::clone(&entry));
            }
            stored
        };
        if stored
            && entry.has_records
            && let Some(fleet) = self.fleet_for(query)
        {
            fleet.publish(&query.key, &entry, entry.ttl + policy.max_stale);
        }
        Fetched::Answer(entry, by)
    }

    /// The records an empty answer for `query` must not replace: the
    /// cache's (fresh, or stale within `max_stale`), else the fleet
    /// store's, which are then cached here too.
    async fn last_known_good(&self, query: &Query, now: Instant) -> Option<Arc<Entry>> {
        if let Some(known) = self.cache.last_known_good(&query.key, now) {
            return Some(known);
        }
        let known = Arc::new(self.fleet_for(query)?.read(&query.key, &self.cache.config()).await?);
        self.cache.insert(query.key.clone(), Arc::clone(&known));
        Some(known)
    }

    /// When the fleet first saw empty answers for `query` over `known`'s
    /// records: the store's time, recorded now (this node's `local_since`)
    /// if it held none; this node's time alone while the store is down.
    async fn fleet_first_empty(
        &self,
        fleet: &Fleet,
        query: &Query,
        known: &Entry,
        local_since: Instant,
        keep_positive: Duration,
    ) -> Instant {
        let (now, wall_now) = (Instant::now(), SystemTime::now());
        let seen = wall_now - now.saturating_duration_since(local_since);
        let Some(first) = fleet.first_empty(&query.key, seen, keep_positive * 2).await else { return local_since };
        let ago = wall_now.duration_since(first).unwrap_or_default();
        now.checked_sub(ago).map_or(local_since, |at| known.empty_seen_since(at))
    }
}

mod pending;
#[cfg(test)]
mod tests;
