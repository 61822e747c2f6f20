//! stubborn: a local DNS stub resolver that keeps names resolving when
//! upstream DNS fails.
//!
//! - [`config`]: the TOML file and its validated form
//! - [`query`]: reading a client's query off the wire
//! - [`reply`]: building the bytes sent back
//! - [`wire`]: the DNS wire format: numbers with their RFC, the record walker, header and OPT writers
//! - [`cache`]: answers kept for their TTL and a stale window (moka), and their snapshot
//! - [`upstream`]: upstream pools in priority order, health, probes
//! - [`resolver`]: what to answer with: cache, upstream, stale, last-known-good
//! - [`degraded`]: the names recently answered stale or kept-positive
//! - [`server`]: UDP and TCP listeners, ACL
//! - [`bind`]: opening listening sockets (v6only, freebind, reuse)
//! - [`service`]: health-checked multi-cloud failover names
//! - [`admin`], [`metrics`]: the HTTP endpoint (metrics, health, status, cache control) and every metric
//! - [`cli`]: the command line (clap), shared by `main` and the man page and completion generator
//! - [`ctl`]: `stubborn ctl`, the operator's client of the admin endpoint
//! - [`run`]: start, reload, snapshot, graceful stop
//! - [`watch`]: noticing that a file changed (config, resolv file)
//! - [`systemd`]: readiness and reload notifications, journald priorities
//! - [`tls`]: what TLS clients trust (system roots + ca_file) and why a handshake failed
//! - [`rate_limit`]: log lines a misbehaving peer could repeat, limited

#![forbid(unsafe_code)]

/// 64-bit atomics (counters, timestamps): std's where the target has them;
/// portable-atomic's lock-based fallback on 32-bit MIPS and PowerPC routers,
/// which have none (`mipsel-unknown-linux-musl`, scripts/release).
#[cfg(not(target_has_atomic = "64"))]
pub(crate) use portable_atomic::AtomicU64;
#[cfg(target_has_atomic = "64")]
pub(crate) use std::sync::atomic::AtomicU64;

pub mod admin;
pub mod bind;
pub mod cache;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod degraded;
pub mod metrics;
pub mod query;
pub mod rate_limit;
pub mod reply;
pub mod resolver;
pub mod run;
pub mod server;
pub mod service;
pub mod systemd;
pub mod tls;
pub mod upstream;
pub mod watch;
pub mod wire;
