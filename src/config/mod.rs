//! Configuration: the validated [`Config`] the program runs on, made from
//! the TOML file in two stages, as ripgrep parses its flags (`lowargs.rs`,
//! `hiargs.rs`): [`file`] holds the file as written (serde structs that mirror
//! it key for key, `deny_unknown_fields`), [`validate`] checks it and builds
//! the types below ([`serde_errors`] names the key of serde's own errors and
//! reads on past them). Every problem is reported as `PATH:LINE:COL: key: what is
//! wrong`, all of them at once, so `stubborn check` shows a whole broken file
//! in one go; warnings (a config that works, but not quite as written yet,
//! such as a snapshot directory that `run` will create) come in the same form
//! with `warning: ` before the key, apart from the problems. [`print`] writes
//! a `Config` back as TOML (`stubborn check --print`).

mod file;
mod fleet;
mod http_check;
mod print;
mod serde_errors;
#[cfg(test)]
mod tests;
mod validate;

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use ipnet::IpNet;

use crate::wire;

pub use self::{fleet::FleetConfig, http_check::HttpCheck, validate::nameservers_of};

/// Where the file is looked for when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/stubborn/stubborn.toml";
/// Where upstreams come from when `[upstream] servers` is absent (as dnsmasq does).
pub const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";

/// Everything the running program needs, checked and typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this came from, for messages and the status page.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub cache: CacheConfig,
    pub answers: AnswerPolicy,
    pub persist: PersistConfig,
    /// Health-checked failover services.
    pub services: Vec<ServiceConfig>,
    /// The admin HTTP endpoint.
    pub admin: AdminConfig,
    /// `[log]`: what is logged besides events.
    pub log: LogConfig,
    /// The fleet store, when `[fleet]` is there.
    pub fleet: Option<FleetConfig>,
    /// Things worth saying that do not make the config invalid, each as
    /// `PATH:LINE:COL: key: what`; `stubborn check` prints them.
    pub warnings: Vec<String>,
}

/// `[admin]`: the HTTP endpoint of metrics, health, status and cache control.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// Its address, when one is wanted.
    pub listen: Option<SocketAddr>,
    /// Who may read it (/metrics, /status, the status page /); others get
    /// 403, except on /healthz and /readyz (probes come from the node, and
    /// those disclose nothing). `/status` lists the names recently asked,
    /// and the endpoint is often bound to 0.0.0.0 in containers.
    pub allow: Vec<IpNet>,
    /// Who may use every other path (`/cache/*` and whatever control comes
    /// later), whatever `allow` says: a lookup shows which names were asked
    /// and a flush changes answers, so a Prometheus let in by `allow` must
    /// not get these too. Default: 127.0.0.1 and ::1, the host's own ctl.
    pub control_allow: Vec<IpNet>,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogConfig {
    /// One line per answered query; switchable at run time without a reload.
    pub queries: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// UDP and TCP are served on each of these.
    pub listen: Vec<SocketAddr>,
    /// Clients outside every one of these get REFUSED.
    pub allow: Vec<IpNet>,
    /// Open TCP connections at most (all listen addresses together); at the
    /// limit the connection idle longest is closed to admit a new one.
    pub tcp_connections: usize,
    /// An idle TCP connection is closed after this.
    pub tcp_idle_timeout: Duration,
    /// `listen` was not written: the default list, whose `[::1]` is skipped
    /// (with a warning) on a host without IPv6.
    pub default_listen: bool,
    /// Bind listen addresses that no interface has (yet): routers at boot.
    pub freebind: bool,
    /// UDP sockets (SO_REUSEPORT), each with its own receive loop, per listen address.
    pub threads: usize,
    /// Reload when the config file changes, as on SIGHUP.
    pub watch_config: bool,
    /// `client_rate`, `client_burst`, `client_rate_exempt`.
    pub client_rate: ClientRate,
}

/// How many queries a client may send (`[server] client_rate` and its companions).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRate {
    /// Queries per second a client may send on average; 0: no limit.
    pub rate: u32,
    /// How far past `rate` a client may go at once.
    pub burst: u32,
    /// Never limited (the host's own programs by default).
    pub exempt: Vec<IpNet>,
}

impl ServerConfig {
    /// Most UDP receive loops per address chosen by default: past a few,
    /// the kernel's socket work, not the loops, bounds a resolver's hits.
    pub const MAX_DEFAULT_THREADS: usize = 4;

    /// One UDP receive loop per CPU, at most [`Self::MAX_DEFAULT_THREADS`]:
    /// a small box keeps a small footprint, a node-local cache uses its cores.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from).min(Self::MAX_DEFAULT_THREADS)
    }

    pub const DEFAULT_TCP_CONNECTIONS: usize = 512;
    /// RFC 7766 §6.2.3 suggests a timeout of seconds.
    pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// The default pool, in priority order.
    pub servers: Vec<UpstreamAddr>,
    /// Where `servers` came from and is re-read when it changes (`[upstream]
    /// resolv_file`); None when they are written in the config.
    pub resolv_file: Option<PathBuf>,
    pub timeout: Duration,
    pub fail_after: u32,
    pub probe_interval: Duration,
    /// Plain servers that resolve the host names of encrypted upstreams;
    /// empty: the plain servers of the upstream's own list, else of `servers`.
    pub bootstrap: Vec<SocketAddr>,
    /// Extra CA certificates (PEM) trusted for encrypted upstreams, beside the system roots.
    pub ca_file: Option<PathBuf>,
    /// Conditional forwarding; the longest matching suffix wins.
    pub zones: Vec<ZoneConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZoneConfig {
    /// Lower-case, without the trailing dot ("" is the root).
    pub name: String,
    pub servers: Vec<UpstreamAddr>,
}

/// How an upstream is spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// UDP, retried over TCP when the reply is truncated.
    Udp,
    /// TCP only.
    Tcp,
    /// DNS over TLS (RFC 7858): one pipelined connection.
    Tls(TlsTarget),
    /// DNS over HTTPS (RFC 8484): one HTTP/2 connection, POST to `path`.
    Https(TlsTarget, String),
}

/// What an encrypted upstream's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTarget {
    /// The name the certificate must be valid for: `#tls-name`, else the host.
    pub tls_name: String,
}

/// Where an upstream is: an address, or (encrypted upstreams only) a name
/// resolved through `[upstream] bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// Lower-case, without the trailing dot.
    Name(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAddr {
    /// The server as written in the config: the `upstream` label of metrics and logs.
    pub label: String,
    pub host: Host,
    pub port: u16,
    pub transport: Transport,
}

impl UpstreamAddr {
    /// A plain server at `addr`, labelled with the address.
    pub fn plain(addr: SocketAddr) -> UpstreamAddr {
        UpstreamAddr {
            label: addr.to_string(),
            host: Host::Ip(addr.ip()),
            port: addr.port(),
            transport: Transport::Udp,
        }
    }

    /// The address, when the host is one (always for plain servers).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }

    /// Spoken to over UDP or TCP without encryption.
    pub fn is_plain(&self) -> bool {
        matches!(self.transport, Transport::Udp | Transport::Tcp)
    }
}

/// What the cache itself needs (`[cache]` keys): its size, and the answer
/// policy of each zone (TTL clamps, stale answers, last-known-good).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub capacity: u64,
    /// Bytes the entries may take in all, each counted as `Entry::bytes`
    /// (a fixed overhead, key and records): so that a few huge answers
    /// cannot take more memory than `capacity` suggests.
    pub max_memory: u64,
    pub negative_max_ttl: Duration,
    /// `[cache]`'s policy: for every name no rule covers.
    pub policy: ZonePolicy,
    /// `[[cache.rule]]`s, the longest zone first, so the first that covers a name is the one.
    pub rules: Vec<CacheRule>,
}

impl CacheConfig {
    /// `max_memory` when not set: this many bytes per entry of `capacity`,
    /// about twice what a one-record answer costs (docs/design.md "Memory").
    pub const DEFAULT_MEMORY_PER_ENTRY: u64 = 1024;

    /// The policy of `name` (wire form, any letter case): the longest
    /// matching rule's, else `[cache]`'s. Without rules, no walk at all.
    pub fn policy_for(&self, name: &[u8]) -> &ZonePolicy {
        self.rules.iter().find(|rule| wire::is_at_or_below(name, &rule.zone)).map_or(&self.policy, |rule| &rule.policy)
    }

    /// The longest `max_stale` of any zone: how long an entry may matter.
    pub fn longest_max_stale(&self) -> Duration {
        self.rules.iter().map(|rule| rule.policy.max_stale).fold(self.policy.max_stale, Duration::max)
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            max_memory: 100_000 * CacheConfig::DEFAULT_MEMORY_PER_ENTRY,
            negative_max_ttl: Duration::from_secs(3_600),
            policy: ZonePolicy::default(),
            rules: Vec::new(),
        }
    }
}

/// How the answers of a zone are kept and served: `[cache]`'s keys, or a
/// `[[cache.rule]]`'s (whose unset keys inherit `[cache]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZonePolicy {
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    /// Expired entries may be answered (RFC 8767).
    pub serve_stale: bool,
    /// How long past expiry an entry may still be served or kept as last-known-good.
    pub max_stale: Duration,
    /// TTL given to clients on a stale answer.
    pub stale_ttl: Duration,
    /// How long an empty answer must hold before it replaces records; zero: off.
    pub keep_positive: Duration,
}

impl ZonePolicy {
    /// Expired entries are kept for `max_stale` at all: for `serve_stale`, or
    /// for last-known-good (`keep_positive` on) even when stale answers are off.
    pub fn keep_expired(&self) -> bool {
        self.serve_stale || !self.keep_positive.is_zero()
    }
}

impl Default for ZonePolicy {
    fn default() -> Self {
        Self {
            min_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(86_400),
            serve_stale: true,
            max_stale: Duration::from_secs(3 * 86_400),
            stale_ttl: Duration::from_secs(30),
            keep_positive: Duration::from_secs(3_600),
        }
    }
}

/// A `[[cache.rule]]`: a zone and the policy of every name at or below it.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRule {
    /// Lower-case wire form.
    pub zone: Box<[u8]>,
    pub policy: ZonePolicy,
}

/// How the resolver answers around the cache (keys the cache itself never
/// reads): the client timer, prefetch and rebind protection.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerPolicy {
    /// RFC 8767 client response timer.
    pub stale_answer_after: Duration,
    /// Refresh an entry in the background when it is asked for in the last tenth of its TTL.
    pub prefetch: bool,
    /// `[server] rebind_protection`: on, with the names it spares; None when off.
    pub rebind: Option<RebindExempt>,
}

impl Default for AnswerPolicy {
    fn default() -> Self {
        Self { stale_answer_after: Duration::from_millis(1_800), prefetch: true, rebind: None }
    }
}

/// The zones whose answers keep private addresses under rebind protection:
/// `rebind_allow`, the `[[upstream.zone]]` zones (a forwarded zone is
/// internal by design) and the services' names and name targets (the
/// operator chose them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RebindExempt {
    /// Lower-case wire form: `rebind_allow` first, then the zones and services.
    pub zones: Vec<Box<[u8]>>,
    /// How many of `zones` are `rebind_allow` as written.
    pub allowed: usize,
}

impl RebindExempt {
    /// True when `name` (wire form, any letter case) is at or below an exempt zone.
    pub fn covers(&self, name: &[u8]) -> bool {
        self.zones.iter().any(|zone| wire::is_at_or_below(name, zone))
    }
}

/// The cache snapshot (`[cache] persist`, `persist_interval`): the daemon's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistConfig {
    /// Where the snapshot is kept, if anywhere.
    pub path: Option<PathBuf>,
    /// How often it is written (also at a clean stop).
    pub interval: Duration,
}

impl Default for PersistConfig {
    fn default() -> Self {
        Self {
            path: None,
            // A crash loses what was cached since the last snapshot: at 5m, a
            // crash early in an outage restarted without the names looked up
            // just before it. A full snapshot (100 000 entries, about 10 MB)
            // costs about 0.15 s of CPU to write, 0.25% of a core at 1m.
            interval: Duration::from_secs(60),
        }
    }
}

/// A `[[service]]`: a name answered with the first healthy of its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Lower-case, without the trailing dot.
    pub name: String,
    /// The primary first, then the secondaries in order.
    pub targets: Vec<Target>,
    pub check: Check,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failed checks before a target is down.
    pub fall: u32,
    /// Consecutive good checks before it is up again.
    pub rise: u32,
    /// TTL of the synthesized answer.
    pub ttl: Duration,
    /// Extra CA certificates (PEM) for https checks.
    pub ca_file: Option<PathBuf>,
}

/// Where a service can point.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A name, resolved through stubborn's own cache and upstreams (lower-case, no trailing dot).
    Name(String),
    /// A fixed address.
    Ip(IpAddr),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Name(name) => f.write_str(name),
            Target::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// How a target's health is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Healthy while it resolves to at least one address.
    Dns,
    /// A TCP connect to this port on one of its addresses.
    Tcp(u16),
    /// An HTTP(S) GET answered 2xx.
    Http(HttpCheck),
}

/// A config that can't be used: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates the file at `path`; upstreams default to the
    /// system's resolv.conf.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { problems: vec![format!("{}: cannot read: {e}", path.display())] })?;
        let resolv_conf = std::fs::read(SYSTEM_RESOLV_CONF).ok();
        Config::parse(path, &text, resolv_conf.as_deref())
    }

    /// Validates `text` (the contents of `path`); `resolv_conf` is the
    /// system's resolv.conf, used when the file names no upstream servers.
    pub fn parse(path: &Path, text: &str, resolv_conf: Option<&[u8]>) -> Result<Config, ConfigError> {
        validate::parse(path, text, resolv_conf)
    }
}
