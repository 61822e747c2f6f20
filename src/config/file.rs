//! The config file as written: serde structs that mirror the TOML key for
//! key (ripgrep's "low" form, `lowargs.rs`). Every struct denies unknown keys,
//! so a typo is an error rather than a silently ignored setting; every value
//! a check can fail on is `Spanned`, so that its problem is reported at its
//! line and column. Nothing here is checked beyond its TOML type: that is
//! [`super::validate`]'s job.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    #[serde(default)]
    pub server: ServerFile,
    /// Spanned so that a missing `servers` is reported at the `[upstream]` header.
    pub upstream: Option<Spanned<UpstreamFile>>,
    #[serde(default)]
    pub cache: CacheFile,
    #[serde(default)]
    pub service: Vec<ServiceFile>,
    #[serde(default)]
    pub admin: AdminFile,
    #[serde(default)]
    pub log: LogFile,
    pub fleet: Option<FleetFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerFile {
    pub listen: Option<Vec<Spanned<String>>>,
    pub allow: Option<Vec<Spanned<String>>>,
    pub tcp_connections: Option<Spanned<u64>>,
    pub tcp_idle_timeout: Option<Spanned<String>>,
    pub freebind: Option<bool>,
    pub threads: Option<Spanned<u64>>,
    pub watch_config: Option<bool>,
    pub rebind_protection: Option<bool>,
    pub rebind_allow: Option<Vec<Spanned<String>>>,
    pub client_rate: Option<Spanned<u64>>,
    pub client_burst: Option<Spanned<u64>>,
    pub client_rate_exempt: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpstreamFile {
    pub servers: Option<Spanned<Vec<Spanned<String>>>>,
    pub resolv_file: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub fail_after: Option<Spanned<u32>>,
    pub probe_interval: Option<Spanned<String>>,
    pub bootstrap: Option<Vec<Spanned<String>>>,
    pub ca_file: Option<Spanned<String>>,
    #[serde(default)]
    pub zone: Vec<ZoneFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ZoneFile {
    pub name: Spanned<String>,
    pub servers: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CacheFile {
    pub capacity: Option<Spanned<u64>>,
    pub max_memory: Option<Spanned<String>>,
    pub min_ttl: Option<Spanned<String>>,
    pub max_ttl: Option<Spanned<String>>,
    pub negative_max_ttl: Option<Spanned<String>>,
    pub serve_stale: Option<bool>,
    pub prefetch: Option<bool>,
    pub stale_ttl: Option<Spanned<String>>,
    pub max_stale: Option<Spanned<String>>,
    pub stale_answer_after: Option<Spanned<String>>,
    pub keep_positive: Option<Spanned<String>>,
    pub persist: Option<Spanned<String>>,
    pub persist_interval: Option<Spanned<String>>,
    #[serde(default)]
    pub rule: Vec<CacheRuleFile>,
}

/// A `[[cache.rule]]`: one zone's answer policy; unset keys inherit `[cache]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CacheRuleFile {
    pub zone: Spanned<String>,
    pub serve_stale: Option<bool>,
    pub max_stale: Option<Spanned<String>>,
    pub stale_ttl: Option<Spanned<String>>,
    pub keep_positive: Option<Spanned<String>>,
    pub min_ttl: Option<Spanned<String>>,
    pub max_ttl: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceFile {
    pub name: Spanned<String>,
    pub primary: Spanned<String>,
    #[serde(default)]
    pub secondary: Vec<Spanned<String>>,
    pub check: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub fall: Option<Spanned<u32>>,
    pub rise: Option<Spanned<u32>>,
    pub ttl: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminFile {
    pub listen: Option<Spanned<String>>,
    pub allow: Option<Vec<Spanned<String>>>,
    pub control_allow: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogFile {
    pub queries: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FleetFile {
    pub store: Spanned<Vec<Spanned<String>>>,
    pub password_file: Option<Spanned<String>>,
    pub key_prefix: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub publish_interval: Option<Spanned<String>>,
    pub publish_rate: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<String>>,
}
