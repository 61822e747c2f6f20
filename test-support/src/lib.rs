//! The harness of stubborn's integration tests (`integration-tests/`), of
//! the outage drill (`examples/drill.rs`) and of the unit tests in `src/`
//! that need a real server. A module a piece:
//!
//! - the processes: [`stubborn`] (the binary under test, run from a
//!   [`config`]), [`knot`] (Knot DNS, the authoritative), [`unbound`] (DNS
//!   over TLS and HTTPS), [`redis`] (the fleet store: standalone, with a
//!   password or TLS, and a Redis Cluster), and [`process`] (finding and
//!   starting their binaries);
//! - in-process stand-ins: [`fake_upstream`] (upstreams that misbehave on
//!   demand), [`proxy`] (a TCP proxy counting connections), [`cloud`] (the
//!   targets behind a `[[service]]`), [`http_server`] (an HTTP(S) server),
//!   [`test_ca`] (a CA and its certificates);
//! - talking to them: [`dns`] (a DNS client), [`http_client`] (the admin
//!   endpoint), [`metrics`] (the Prometheus text read back);
//! - the ground rules: [`ports`] (free loopback ports), [`wait`]
//!   (deadline-bounded polls), [`scratch`] (the temp dirs, and keeping them).
//!
//! Everything binds to loopback only (127.0.0.1; the clouds on 127.0.0.2-9),
//! every wait is a poll with a deadline, and every process or thread started
//! here is stopped in `Drop`, so tests can run in parallel without sharing
//! anything. Failures panic with what went wrong, as a test wants.

pub mod cloud;
pub mod config;
pub mod dns;
pub mod fake_upstream;
pub mod http_client;
pub mod http_server;
pub mod knot;
pub mod metrics;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod scratch;
pub mod stubborn;
pub mod test_ca;
pub mod unbound;
pub mod wait;

pub use config::Config;
pub use dns::{Ask, Reply};
pub use fake_upstream::{FakeUpstream, Mode};
pub use knot::Knot;
pub use redis::{Redis, RedisCluster};
pub use stubborn::Stubborn;
pub use unbound::{Unbound, UnboundSpec};
