//! The harness of stubborn's integration tests (`integration-tests/`), of
//! the outage drill (`examples/drill.rs`) and of the unit tests in `src/`
//! that need a real server: the `stubborn` process, a Knot DNS
//! authoritative, Unbound serving DNS over TLS and HTTPS, a counting TCP
//! proxy, fake misbehaving upstreams, a DNS client, free ports,
//! deadline-bounded waits, and stand-ins for the clouds behind a service
//! (`cloud`: TCP and HTTP(S) listeners on 127.0.0.x, a test CA), and
//! Redis for the fleet store (`redis`: standalone, with a password or TLS,
//! and a Redis Cluster).
//!
//! Everything binds to loopback only (127.0.0.1; the clouds on 127.0.0.2-9),
//! every wait is a poll with a deadline, and every process or thread started
//! here is stopped in `Drop`, so tests can run in parallel without sharing
//! anything.

pub mod cloud;
pub mod dns;
pub mod fake;
pub mod knot;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod stubborn;
pub mod unbound;
pub mod wait;

pub use dns::{Ask, Reply};
pub use fake::{FakeUpstream, Mode};
pub use knot::Knot;
pub use redis::{Redis, RedisCluster};
pub use stubborn::{Config, Stubborn};
pub use unbound::{Unbound, UnboundSpec};
