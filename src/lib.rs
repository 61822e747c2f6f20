//! stubborn: a local DNS stub resolver that keeps names resolving when
//! upstream DNS fails.
//!
//! - [`config`]: the TOML file and its validated form
//! - [`query`]: reading a client's query off the wire
//! - [`query_log`]: one log line per answered query (`[log] queries`), switched at run time
//! - [`reply`]: building the bytes sent back
//! - [`wire`]: the DNS wire format: numbers with their RFC, the record walker, header and OPT writers
//! - [`scrub`]: what of an upstream's answer section is kept (scrubbing, rebind protection)
//! - [`cache`]: answers kept for their TTL and a stale window (moka), and their snapshot
//! - [`upstream`]: upstream pools in priority order, health, probes
//! - [`resolver`]: what to answer with: cache, upstream, stale, last-known-good
//! - [`degraded`]: the names recently answered stale or kept-positive
//! - `fleet`: the last-known-good store shared by a fleet of stubborns (Redis/Valkey; feature `fleet`)
//! - [`server`]: UDP and TCP listeners, ACL
//! - [`bind`]: opening listening sockets (v6only, freebind, reuse)
//! - [`bucket`]: a token bucket (client rates, fleet store writes)
//! - [`service`]: health-checked multi-cloud failover names
//! - [`admin`], [`metrics`]: the HTTP endpoint (metrics, health, status, cache control) and every metric
//! - [`status_page`]: `/status` as an HTML page with a chart of answers by source
//! - [`cli`]: the command line (clap), shared by `main` and the man page and completion generator
//! - [`ctl`]: `stubborn ctl`, the operator's client of the admin endpoint
//! - [`output`]: what `check` and `ctl` print, quietly cut short by a closed pipe
//! - [`run`]: start, reload, snapshot, graceful stop
//! - [`signals`]: signals (or a test's channel) as one stream of events
//! - [`watch`]: noticing that a file changed (config, resolv file)
//! - [`systemd`]: readiness and reload notifications, journald priorities
//! - [`tls`]: what TLS clients trust (system roots + ca_file) and why a handshake failed
//! - [`moment`]: an optional instant in one atomic word
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
pub mod bucket;
pub mod cache;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod degraded;
#[cfg(feature = "fleet")]
pub mod fleet;
#[cfg(not(feature = "fleet"))]
#[path = "fleet/off.rs"]
pub mod fleet;
pub mod metrics;
pub mod moment;
pub mod output;
pub mod query;
pub mod query_log;
pub mod rate_limit;
pub mod reply;
pub mod resolver;
pub mod run;
pub mod scrub;
pub mod server;
pub mod service;
pub mod signals;
pub mod status_page;
pub mod systemd;
pub mod tls;
pub mod upstream;
pub mod watch;
pub mod wire;

/// Well-formed replies for unit tests, built over `wire::write_*`.
#[cfg(test)]
pub(crate) mod test_packets;

#[cfg(test)]
mod tests {
    /// 32-bit MIPS (the mipsel router build) has no std `AtomicU64`: code
    /// takes `crate::AtomicU64`. The x86_64 build cannot see a slip, so
    /// this reads the sources for one.
    #[test]
    fn only_lib_rs_names_std_atomic_u64() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read src") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/lib.rs") {
                    let text = std::fs::read_to_string(&path).expect("read source");
                    // `atomic::AtomicU64` or `atomic::{..., AtomicU64, ...}`, on one line or several.
                    let names_it = text.match_indices("atomic::").any(|(at, _)| {
                        let rest = &text[at + "atomic::".len()..];
                        let item = match rest.strip_prefix('{') {
                            Some(list) => &list[..list.find('}').unwrap_or(list.len())],
                            None => rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or(""),
                        };
                        item.contains("AtomicU64")
                    });
                    if names_it {
                        found.push(path.display().to_string());
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        assert!(found.is_empty(), "use crate::AtomicU64, not std's, in: {found:?}");
    }
}
