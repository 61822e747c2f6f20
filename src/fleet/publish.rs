//! Publishing answers to the store, off every client's path: the resolver
//! hands a positive answer to a bounded channel and never waits; this task
//! drains it in batches, skips an answer it published unchanged less than
//! `publish_interval` ago, spends at most `publish_rate` writes a second
//! (the rest are dropped and counted, so a flood of names cannot flood the
//! store), and writes each batch at once: one pipeline to a standalone
//! server, concurrent commands to a Cluster (whose pipelines must stay in
//! one slot). While the store is down or still connecting, the batch in
//! hand waits and the queue behind it fills, then drops (counted). A store
//! entry expires `max_stale` after its record does.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hasher},
    sync::Arc,
    time::{Duration, SystemTime},
};

use redis::{Pipeline, RedisResult};
use ring::hmac;
use tokio::{sync::mpsc, task::JoinSet, time::Instant};

use super::{
    store::{Connection, Store},
    store_key, value,
};
use crate::{
    bucket::Bucket,
    cache::{Entry, persist::SavedEntry},
    metrics::Metrics,
};

/// Answers waiting for the publisher at most; past it they are dropped.
pub const QUEUE: usize = 4096;
/// Answers written in one go at most.
const BATCH: usize = 256;
/// How often a batch waiting for the store looks again.
const WAIT_FOR_STORE: Duration = Duration::from_millis(100);
/// Published answers remembered for `publish_interval` at most, to skip
/// republishing them unchanged; past it the oldest half is forgotten.
const REMEMBERED: usize = 200_000;

/// One answer to publish.
pub struct Publication {
    pub key: Box<[u8]>,
    pub entry: Arc<Entry>,
    /// How long the store keeps it: what is left of its TTL, plus `max_stale`.
    pub keep_for: Duration,
}

/// One value to write, and what to remember of it once written.
struct Write {
    store_key: Vec<u8>,
    value: Vec<u8>,
    keep_for: Duration,
    /// The key's hash and the records' fingerprint, for [`Published`].
    hash: u64,
    fingerprint: u64,
}

/// What a publisher has written, per key hash: when, and a fingerprint of
/// the records (their TTLs left out, as an upstream counts them down).
type Published = HashMap<u64, (Instant, u64), foldhash::fast::RandomState>;

/// Runs until every sender is gone.
pub async fn run(
    mut queue: mpsc::Receiver<Publication>,
    store: Arc<Store>,
    secret: Option<hmac::Key>,
    metrics: Arc<Metrics>,
) {
    let config = store.config().clone();
    let mut published = Published::default();
    // publish_rate writes a second, a tenth of a second's worth at once at
    // most: over any second, at most 1.1 × publish_rate.
    let burst = (config.publish_rate / 10).max(1);
    let mut budget = Bucket::full(burst, Instant::now());
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let mut writes = Vec::with_capacity(batch.len());
        for publication in batch.drain(..) {
            let hash = published.hasher().hash_one(&publication.key);
            // Fingerprinted only once it has to be: a flood's names are
            // dropped by the budget before costing a copy of their records.
            let recent =
                published.get(&hash).filter(|(at, _)| now.saturating_duration_since(*at) < config.publish_interval);
            let fingerprint = match recent {
                Some(&(_, old)) => {
                    let fingerprint = fingerprint(&publication.entry, published.hasher());
                    if fingerprint == old {
                        continue;
                    }
                    Some(fingerprint)
                }
                None => None,
            };
            if !budget.take(now, config.publish_rate, burst) {
                metrics.fleet_published.dropped.inc();
                continue;
            }
            let fingerprint = fingerprint.unwrap_or_else(|| self::fingerprint(&publication.entry, published.hasher()));
            let store_key = store_key(&config.key_prefix, &publication.key);
            let saved = SavedEntry::of(publication.key.into_vec(), &publication.entry, now, wall_now);
            if let Some(value) = value::encode(&store_key, &saved, secret.as_ref()) {
                writes.push(Write { store_key, value, keep_for: publication.keep_for, hash, fingerprint });
            }
        }
        if writes.is_empty() {
            continue;
        }
        // A store still connecting, or down: the batch waits for it, and the
        // queue behind it fills and drops what no longer fits.
        let connection = loop {
            if let Some(connection) = store.connection() {
                break connection;
            }
            if queue.is_closed() {
                return;
            }
            tokio::time::sleep(WAIT_FOR_STORE).await;
        };
        let count = writes.len() as u64;
        let remembered: Vec<(u64, u64)> = writes.iter().map(|w| (w.hash, w.fingerprint)).collect();
        match write(connection, writes).await {
            Ok(()) => {
                metrics.fleet_published.ok.inc_by(count);
                if published.len() + remembered.len() > REMEMBERED {
                    forget_oldest_half(&mut published);
                }
                published.extend(remembered.into_iter().map(|(hash, fingerprint)| (hash, (now, fingerprint))));
            }
            Err(error) => {
                metrics.fleet_published.error.inc_by(count);
                store.failed(&error);
            }
        }
    }
}

/// Writes `writes` at once.
async fn write(connection: Connection, writes: Vec<Write>) -> Result<(), String> {
    let px = |keep_for: Duration| u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX).max(1);
    match connection {
        Connection::Standalone(mut connection) => {
            let mut pipeline = Pipeline::with_capacity(writes.len());
            for write in &writes {
                pipeline.cmd("SET").arg(&write.store_key).arg(&write.value).arg("PX").arg(px(write.keep_for)).ignore();
            }
            let written: RedisResult<()> = pipeline.query_async(&mut connection).await;
            written.map_err(|error| error.to_string())
        }
        cluster @ Connection::Cluster(_) => {
            let mut sets = JoinSet::new();
            for write in writes {
                let mut connection = cluster.clone();
                sets.spawn(async move {
                    let set = redis::cmd("SET")
                        .arg(write.store_key)
                        .arg(write.value)
                        .arg("PX")
                        .arg(px(write.keep_for))
                        .to_owned();
                    let written: RedisResult<()> = set.query_async(&mut connection).await;
                    written
                });
            }
            let mut outcome = Ok(());
            while let Some(joined) = sets.join_next().await {
                if let Ok(Err(error)) = joined {
                    outcome = Err(error.to_string());
                }
            }
            outcome
        }
    }
}

/// A hash of `entry`'s records with their TTL fields zeroed.
fn fingerprint(entry: &Entry, hasher: &impl BuildHasher) -> u64 {
    let mut records = entry.sections().to_vec();
    for (at, _) in entry.ttls() {
        records[at..at + 4].fill(0);
    }
    let mut hasher = hasher.build_hasher();
    hasher.write(&records);
    hasher.write_u8(entry.rcode);
    hasher.finish()
}

fn forget_oldest_half(published: &mut Published) {
    let mut times: Vec<Instant> = published.values().map(|&(at, _)| at).collect();
    let middle = times.len() / 2;
    let (_, &mut cut, _) = times.select_nth_unstable(middle);
    published.retain(|_, &mut (at, _)| at > cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgetting_keeps_the_newer_half() {
        let mut published = Published::default();
        let start = Instant::now();
        for i in 0..100u64 {
            published.insert(i, (start + Duration::from_secs(i), 0));
        }
        forget_oldest_half(&mut published);
        assert_eq!(published.len(), 49);
        assert!(published.contains_key(&99) && !published.contains_key(&10));
    }
}
