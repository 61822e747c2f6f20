//! The fleet store (`[fleet]`): last good answers shared by many stubborns
//! in Redis or Valkey, so that a node started during an outage (autoscaling,
//! a rescheduled pod) still answers what the fleet knew before it. The
//! resolver calls it at three points only, and nothing on the hit path
//! knows it exists:
//!
//! - **publish** ([`Fleet::publish`]): after an upstream's positive answer
//!   is cached, it is handed to a background publisher without waiting
//!   ([`publish`]: batched, deduplicated over `publish_interval`, at most
//!   `publish_rate` writes a second);
//! - **read on failure** ([`Fleet::read`]): only where the node would
//!   otherwise answer SERVFAIL, for at most `timeout`, and never while the
//!   store is down: a healthy fleet costs the store only writes;
//! - **the first empty answer** ([`Fleet::first_empty`]): the time the
//!   fleet first saw an empty answer over records, so that every node
//!   accepts it at the same moment, `keep_positive` later.
//!
//! Keys are `key_prefix`, `r:` (an answer) or `e:` (a first empty answer),
//! then the cache key as text: `stubborn:r:www.example.com.:1:1:0` (name,
//! type, class, DNSSEC bits). Values are versioned and, with `key_file`,
//! authenticated ([`value`]). A store that is down, slow or wrong changes
//! nothing else ([`store`]).

mod publish;
mod store;
mod value;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use redis::RedisResult;
use ring::hmac;
use serde_json::{Value, json};
use tokio::{sync::mpsc, time::Instant};
use tracing::debug;

use self::{publish::Publication, store::Store, value::Refusal};
use crate::{
    cache::{
        Entry, KeyParts,
        persist::{unix_ms, unix_time},
    },
    config::{CacheConfig, FleetConfig},
    metrics::Metrics,
    query::QueryName,
};

/// A running fleet store: its connection and publisher.
pub struct Fleet {
    store: Arc<Store>,
    secret: Option<hmac::Key>,
    queue: mpsc::Sender<Publication>,
    metrics: Arc<Metrics>,
}

impl Fleet {
    /// Connects to the store of `config` and starts publishing; both stop
    /// when the fleet is dropped.
    pub fn start(config: FleetConfig, metrics: Arc<Metrics>) -> Fleet {
        let secret = config.key.as_deref().map(|key| hmac::Key::new(hmac::HMAC_SHA256, key));
        let store = Store::start(config, Arc::clone(&metrics));
        let (queue, published) = mpsc::channel(publish::QUEUE);
        tokio::spawn(publish::run(published, Arc::clone(&store), secret.clone(), Arc::clone(&metrics)));
        Fleet { store, secret, queue, metrics }
    }

    pub fn config(&self) -> &FleetConfig {
        self.store.config()
    }

    /// Hands `entry` (a positive answer just cached under `key`) to the
    /// publisher, to be kept in the store for `keep_for`; never waits.
    pub fn publish(&self, key: &[u8], entry: &Arc<Entry>, keep_for: Duration) {
        let publication = Publication { key: key.into(), entry: Arc::clone(entry), keep_for };
        if self.queue.try_send(publication).is_err() {
            self.metrics.fleet_published.dropped.inc();
        }
    }

    /// The fleet's answer for `key`, if the store is up and holds one that
    /// checks out and is within its zone's `max_stale` of expiry; at most
    /// `timeout`. The entry is dated as it was fetched, and counted.
    pub async fn read(&self, key: &[u8], cache: &CacheConfig) -> Option<Entry> {
        let reads = &self.metrics.fleet_reads;
        let store_key = store_key(&self.config().key_prefix, key);
        let Some(found) = self.get(&store_key).await else {
            reads.error.inc();
            return None;
        };
        let Some(value) = found else {
            reads.miss.inc();
            return None;
        };
        let saved = match value::decode(&store_key, key, &value, self.secret.as_ref()) {
            Ok(saved) => saved,
            Err(refusal) => {
                debug!(key = %String::from_utf8_lossy(&store_key), ?refusal, "fleet store value ignored");
                match refusal {
                    Refusal::Rejected => reads.rejected.inc(),
                    Refusal::Invalid => reads.invalid.inc(),
                };
                return None;
            }
        };
        let Some(entry) = saved.restore(cache, SystemTime::now()) else {
            reads.invalid.inc();
            return None;
        };
        let max_stale = cache.policy_for(crate::cache::key_name(key)).max_stale;
        if !entry.has_records || !entry.within_max_stale(Instant::now(), max_stale) {
            reads.miss.inc();
            return None;
        }
        reads.hit.inc();
        Some(entry)
    }

    /// When the fleet first saw an upstream answer `key` empty over its
    /// records: the time recorded in the store, or `seen` (now recorded,
    /// kept for `keep_for`) if no node had; None while the store is down.
    pub async fn first_empty(&self, key: &[u8], seen: SystemTime, keep_for: Duration) -> Option<SystemTime> {
        let mut connection = self.store.connection()?;
        let empty_key = keyed(&self.config().key_prefix, "e:", key);
        let set = redis::cmd("SET")
            .arg(&empty_key)
            .arg(unix_ms(seen))
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX).max(1))
            .to_owned();
        let earlier: RedisResult<Option<u64>> =
            match tokio::time::timeout(self.config().timeout, set.query_async(&mut connection)).await {
                Ok(result) => result,
                Err(_) => {
                    self.store.failed("a write timed out");
                    return None;
                }
            };
        match earlier {
            Ok(earlier) => Some(earlier.map_or(seen, unix_time)),
            Err(error) => {
                self.store.failed(&error.to_string());
                None
            }
        }
    }

    /// `GET store_key` within `timeout`: None when the store is down or
    /// failed (it is then marked down), Some(None) when the key is not there.
    async fn get(&self, store_key: &[u8]) -> Option<Option<Vec<u8>>> {
        let mut connection = self.store.connection()?;
        let get = redis::cmd("GET").arg(store_key).to_owned();
        match tokio::time::timeout(self.config().timeout, get.query_async(&mut connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.store.failed(&error.to_string());
                None
            }
            Err(_) => {
                self.store.failed("a read timed out");
                None
            }
        }
    }

    /// `/status`'s `fleet`.
    pub fn status(&self) -> Value {
        let state = self.store.state();
        let (published, reads) = (&self.metrics.fleet_published, &self.metrics.fleet_reads);
        json!({
            "store": self.config().store_shown(),
            "up": self.store.is_up(),
            "since": crate::admin::rfc3339(state.since),
            "last_error": state.last_error,
            "published": published.ok.get(),
            "dropped": published.dropped.get(),
            "reads": {
                "hit": reads.hit.get(),
                "miss": reads.miss.get(),
                "error": reads.error.get(),
                "rejected": reads.rejected.get(),
                "invalid": reads.invalid.get(),
            },
        })
    }
}

/// The store key of the answer under cache key `key`.
fn store_key(prefix: &str, key: &[u8]) -> Vec<u8> {
    keyed(prefix, "r:", key)
}

/// `prefix`, `kind`, then `key` as text: name, type, class, DNSSEC bits.
fn keyed(prefix: &str, kind: &str, key: &[u8]) -> Vec<u8> {
    let bits = key.last().copied().unwrap_or_default();
    match KeyParts::of(key) {
        Some(parts) => {
            format!("{prefix}{kind}{}:{}:{}:{bits}", QueryName(parts.name), parts.qtype, parts.qclass).into_bytes()
        }
        None => [prefix.as_bytes(), kind.as_bytes(), key].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_text() {
        let key = b"\x03www\x07example\x03com\x00\x00\x1c\x00\x01\x02";
        assert_eq!(store_key("stubborn:", key), b"stubborn:r:www.example.com.:28:1:2");
        assert_eq!(keyed("s:", "e:", key), b"s:e:www.example.com.:28:1:2");
    }
}
