//! What one client may take, so that no client's flood costs the others
//! their answers:
//!
//! - **rate** (`client_rate`, `client_burst`): a token bucket per client
//!   address (IPv6 per /64, as one host usually holds a whole /64); a query
//!   over it is dropped, as Unbound's `ip-ratelimit` and AdGuard Home's
//!   `ratelimit` do. Clients in `client_rate_exempt` (the host's own
//!   programs by default) are never limited;
//! - **share** of the queries waiting on upstream: every client, exempt or
//!   not, may have at most [`SHARE`] of them at once (a local app in a retry
//!   loop must not starve the rest either); past it, its misses are
//!   answered at once, stale or SERVFAIL, like those shed at the global
//!   bound.
//!
//! Clients are kept in [`SHARDS`] mutex-guarded maps, each bounded: a full
//! map forgets the clients with nothing in flight (a forgotten client's
//! bucket starts full again, which only ever errs towards answering).

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash},
    net::IpAddr,
    sync::Mutex,
};

use tokio::time::Instant;

use crate::{bucket::Bucket, config::ClientRate, resolver::MAX_FETCHES};

/// Queries waiting on upstream that one client may have at once: a quarter
/// of the fetches stubborn runs at once, so that three floods leave room.
pub const SHARE: u32 = (MAX_FETCHES / 4) as u32;
/// Independent maps, so that the UDP receive loops rarely wait on one lock.
const SHARDS: usize = 16;
/// Clients remembered per map (65 536 in all).
const CLIENTS_PER_SHARD: usize = 4096;

/// A client as it is counted: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6(u64),
}

impl ClientKey {
    fn of(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey::V4(v4.to_bits()),
            IpAddr::V6(v6) => ClientKey::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

#[derive(Debug)]
struct Client {
    /// One query takes one token.
    bucket: Bucket,
    /// Queries of this client waiting on upstream now.
    in_flight: u32,
}

/// Every client's bucket and share.
#[derive(Default)]
pub struct Clients {
    shards: [Mutex<HashMap<ClientKey, Client>>; SHARDS],
    hasher: foldhash::fast::RandomState,
}

impl Clients {
    /// False when a query from `ip` is over its rate and must be dropped.
    pub fn admit(&self, ip: IpAddr, limit: &ClientRate) -> bool {
        if limit.rate == 0 || limit.exempt.iter().any(|net| net.contains(&ip.to_canonical())) {
            return true;
        }
        let now = Instant::now();
        self.with(ip, now, limit.burst, |client| client.bucket.take(now, limit.rate, limit.burst))
    }

    /// True when `ip` has its whole [`SHARE`] of queries waiting on upstream.
    pub fn over_share(&self, ip: IpAddr) -> bool {
        let key = ClientKey::of(ip);
        let shard = self.shard(key).lock().expect("no panics while held");
        shard.get(&key).is_some_and(|client| client.in_flight >= SHARE)
    }

    /// One more query of `ip` waits on upstream.
    pub fn started(&self, ip: IpAddr) {
        self.with(ip, Instant::now(), u32::MAX, |client| client.in_flight += 1);
    }

    /// A query of `ip` that waited on upstream has its answer.
    pub fn finished(&self, ip: IpAddr) {
        let key = ClientKey::of(ip);
        let mut shard = self.shard(key).lock().expect("no panics while held");
        if let Some(client) = shard.get_mut(&key) {
            client.in_flight = client.in_flight.saturating_sub(1);
        }
    }

    /// Runs `f` on `ip`'s entry, made (with a full bucket of `burst`) if there is none.
    fn with<T>(&self, ip: IpAddr, now: Instant, burst: u32, f: impl FnOnce(&mut Client) -> T) -> T {
        let key = ClientKey::of(ip);
        let mut shard = self.shard(key).lock().expect("no panics while held");
        if shard.len() >= CLIENTS_PER_SHARD && !shard.contains_key(&key) {
            shard.retain(|_, client| client.in_flight > 0);
        }
        f(shard.entry(key).or_insert(Client { bucket: Bucket::full(burst, now), in_flight: 0 }))
    }

    fn shard(&self, key: ClientKey) -> &Mutex<HashMap<ClientKey, Client>> {
        let mut hasher = self.hasher.build_hasher();
        key.hash(&mut hasher);
        &self.shards[std::hash::Hasher::finish(&hasher) as usize % SHARDS]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limit(rate: u32, burst: u32) -> ClientRate {
        ClientRate { rate, burst, exempt: vec!["127.0.0.1/32".parse().unwrap()] }
    }

    fn admitted(clients: &Clients, ip: &str, limit: &ClientRate, queries: usize) -> usize {
        (0..queries).filter(|_| clients.admit(ip.parse().unwrap(), limit)).count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_gets_its_burst_then_its_rate() {
        let clients = Clients::default();
        let ten = limit(10, 20);
        assert_eq!(admitted(&clients, "192.0.2.1", &ten, 100), 20);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(admitted(&clients, "192.0.2.1", &ten, 100), 10);
        assert_eq!(admitted(&clients, "192.0.2.2", &ten, 100), 20, "another client has its own bucket");
        assert_eq!(admitted(&clients, "127.0.0.1", &ten, 1000), 1000, "exempt");
        assert_eq!(admitted(&clients, "192.0.2.1", &limit(0, 0), 1000), 1000, "rate 0: no limit");
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_slash_64_is_one_client() {
        let clients = Clients::default();
        let one = limit(1, 5);
        assert_eq!(admitted(&clients, "2001:db8::1", &one, 3), 3);
        assert_eq!(admitted(&clients, "2001:db8::ffff:2", &one, 10), 2, "the same /64");
        assert_eq!(admitted(&clients, "2001:db8:0:1::1", &one, 10), 5, "another /64");
    }

    #[test]
    fn a_client_has_a_share_of_the_queries_in_flight() {
        let clients = Clients::default();
        let ip: IpAddr = "::1".parse().unwrap();
        for _ in 0..SHARE {
            assert!(!clients.over_share(ip));
            clients.started(ip);
        }
        assert!(clients.over_share(ip));
        assert!(!clients.over_share("2001:db8::1".parse().unwrap()), "another /64");
        clients.finished(ip);
        assert!(!clients.over_share(ip));
    }

    #[test]
    fn memory_stays_bounded() {
        let clients = Clients::default();
        let one = limit(1, 1);
        for i in 0..200_000u32 {
            clients.admit(IpAddr::from(i.to_be_bytes()), &one);
        }
        let remembered: usize = clients.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(remembered <= SHARDS * CLIENTS_PER_SHARD, "{remembered}");
    }
}
