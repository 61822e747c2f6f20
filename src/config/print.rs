//! `stubborn check --print`: the config in effect, as TOML in the file's
//! own tables and keys — every default filled in, the servers a
//! `resolv_file` (or the system's resolv.conf) names now, durations and
//! sizes as the file writes them. Secrets never leave: a fleet password or
//! key that is set is printed as `"<set>"`, a password in a store URL as
//! `***`. `rebind_allow` is printed while `rebind_protection` is on (off,
//! it has no effect).

use std::{path::Path, time::Duration};

use serde::Serialize;

use crate::query::QueryName;

use super::{
    AdminConfig, CacheConfig, CacheRule, Check, Config, FleetConfig, PersistConfig, ServerConfig, ServiceConfig,
    UpstreamConfig, ZonePolicy,
};

/// What stands for a secret that is set.
const SET: &str = "<set>";

impl Config {
    /// The config in effect as TOML (see the module doc).
    pub fn to_toml(&self) -> String {
        let printed = Printed {
            server: Server::of(&self.server, self),
            upstream: Upstream::of(&self.upstream),
            cache: Cache::of(&self.cache, self),
            service: self.services.iter().map(Service::of).collect(),
            admin: Admin::of(&self.admin),
            log: Log { queries: self.log.queries },
            fleet: self.fleet.as_ref().map(Fleet::of),
        };
        toml::to_string(&printed).expect("the printed config is plain tables of strings, numbers and booleans")
    }
}

#[derive(Serialize)]
struct Printed {
    server: Server,
    upstream: Upstream,
    cache: Cache,
    admin: Admin,
    log: Log,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service: Vec<Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: Option<Fleet>,
}

#[derive(Serialize)]
struct Server {
    listen: Vec<String>,
    allow: Vec<String>,
    tcp_connections: usize,
    tcp_idle_timeout: String,
    threads: usize,
    freebind: bool,
    watch_config: bool,
    rebind_protection: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rebind_allow: Vec<String>,
    client_rate: u32,
    /// Only with a rate (without one it is 0, which cannot be written).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_burst: Option<u32>,
    client_rate_exempt: Vec<String>,
}

impl Server {
    fn of(server: &ServerConfig, config: &Config) -> Server {
        let rebind = config.answers.rebind.as_ref();
        Server {
            listen: strings(&server.listen),
            allow: strings(&server.allow),
            tcp_connections: server.tcp_connections,
            tcp_idle_timeout: duration(server.tcp_idle_timeout),
            threads: server.threads,
            freebind: server.freebind,
            watch_config: server.watch_config,
            rebind_protection: rebind.is_some(),
            rebind_allow: rebind
                .map_or_else(Vec::new, |exempt| exempt.zones[..exempt.allowed].iter().map(|z| zone(z)).collect()),
            client_rate: server.client_rate.rate,
            client_burst: (server.client_rate.rate > 0).then_some(server.client_rate.burst),
            client_rate_exempt: strings(&server.client_rate.exempt),
        }
    }
}

#[derive(Serialize)]
struct Upstream {
    servers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolv_file: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bootstrap: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    timeout: String,
    fail_after: u32,
    probe_interval: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    zone: Vec<Zone>,
}

#[derive(Serialize)]
struct Zone {
    name: String,
    servers: Vec<String>,
}

impl Upstream {
    fn of(upstream: &UpstreamConfig) -> Upstream {
        let labels = |servers: &[super::UpstreamAddr]| servers.iter().map(|s| s.label.clone()).collect();
        Upstream {
            servers: labels(&upstream.servers),
            resolv_file: upstream.resolv_file.as_deref().map(path),
            bootstrap: strings(&upstream.bootstrap),
            ca_file: upstream.ca_file.as_deref().map(path),
            timeout: duration(upstream.timeout),
            fail_after: upstream.fail_after,
            probe_interval: duration(upstream.probe_interval),
            zone: upstream.zones.iter().map(|z| Zone { name: z.name.clone(), servers: labels(&z.servers) }).collect(),
        }
    }
}

#[derive(Serialize)]
struct Cache {
    capacity: u64,
    max_memory: String,
    negative_max_ttl: String,
    #[serde(flatten)]
    policy: Policy,
    stale_answer_after: String,
    prefetch: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    persist: Option<String>,
    persist_interval: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule: Vec<Rule>,
}

/// The keys `[cache]` and a `[[cache.rule]]` share.
#[derive(Serialize)]
struct Policy {
    min_ttl: String,
    max_ttl: String,
    serve_stale: bool,
    max_stale: String,
    stale_ttl: String,
    keep_positive: String,
}

#[derive(Serialize)]
struct Rule {
    zone: String,
    #[serde(flatten)]
    policy: Policy,
}

impl Cache {
    fn of(cache: &CacheConfig, config: &Config) -> Cache {
        let PersistConfig { path: persist, interval } = &config.persist;
        Cache {
            capacity: cache.capacity,
            max_memory: size(cache.max_memory),
            negative_max_ttl: duration(cache.negative_max_ttl),
            policy: Policy::of(&cache.policy),
            stale_answer_after: duration(config.answers.stale_answer_after),
            prefetch: config.answers.prefetch,
            persist: persist.as_deref().map(path),
            persist_interval: duration(*interval),
            rule: cache.rules.iter().map(Rule::of).collect(),
        }
    }
}

impl Policy {
    fn of(policy: &ZonePolicy) -> Policy {
        Policy {
            min_ttl: duration(policy.min_ttl),
            max_ttl: duration(policy.max_ttl),
            serve_stale: policy.serve_stale,
            max_stale: duration(policy.max_stale),
            stale_ttl: duration(policy.stale_ttl),
            keep_positive: duration(policy.keep_positive),
        }
    }
}

impl Rule {
    fn of(rule: &CacheRule) -> Rule {
        Rule { zone: zone(&rule.zone), policy: Policy::of(&rule.policy) }
    }
}

#[derive(Serialize)]
struct Service {
    name: String,
    primary: String,
    secondary: Vec<String>,
    check: String,
    interval: String,
    timeout: String,
    fall: u32,
    rise: u32,
    ttl: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
}

impl Service {
    fn of(service: &ServiceConfig) -> Service {
        let mut targets = service.targets.iter().map(ToString::to_string);
        Service {
            name: service.name.clone(),
            primary: targets.next().unwrap_or_default(),
            secondary: targets.collect(),
            check: match &service.check {
                Check::Dns => "dns".into(),
                Check::Tcp(port) => format!("tcp:{port}"),
                Check::Http(http) => {
                    format!("{}://{{addr}}:{}{}", if http.tls { "https" } else { "http" }, http.port, http.path)
                }
            },
            interval: duration(service.interval),
            timeout: duration(service.timeout),
            fall: service.fall,
            rise: service.rise,
            ttl: duration(service.ttl),
            ca_file: service.ca_file.as_deref().map(path),
        }
    }
}

#[derive(Serialize)]
struct Admin {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    allow: Vec<String>,
    control_allow: Vec<String>,
}

impl Admin {
    fn of(admin: &AdminConfig) -> Admin {
        Admin {
            listen: admin.listen.map(|addr| addr.to_string()),
            allow: strings(&admin.allow),
            control_allow: strings(&admin.control_allow),
        }
    }
}

#[derive(Serialize)]
struct Log {
    queries: bool,
}

#[derive(Serialize)]
struct Fleet {
    store: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<&'static str>,
    key_prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    publish_interval: String,
    publish_rate: u32,
    timeout: String,
}

impl Fleet {
    fn of(fleet: &FleetConfig) -> Fleet {
        Fleet {
            store: fleet.store_shown(),
            password_file: fleet.password.as_ref().map(|_| SET),
            key_prefix: fleet.key_prefix.clone(),
            key_file: fleet.key.as_ref().map(|_| SET),
            ca_file: fleet.ca_file.as_deref().map(path),
            publish_interval: duration(fleet.publish_interval),
            publish_rate: fleet.publish_rate,
            timeout: duration(fleet.timeout),
        }
    }
}

fn strings<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(ToString::to_string).collect()
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

/// As the file writes it: `"500ms"`, `"1s 800ms"`, `"3days"`, `"0s"`.
fn duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// A zone in lower-case wire form as text, without the trailing dot.
fn zone(wire: &[u8]) -> String {
    QueryName(wire).to_string().trim_end_matches('.').to_string()
}

/// Bytes in the largest IEC unit that holds them whole: `"100000KiB"`, `"64MiB"`.
fn size(bytes: u64) -> String {
    let units = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    match units.iter().find(|(_, shift)| bytes != 0 && bytes.trailing_zeros() >= *shift) {
        Some((unit, shift)) => format!("{}{unit}", bytes >> shift),
        None => format!("{bytes}B"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// What is printed reads back as the same config: `check --print` shows
    /// what runs, not an approximation of it.
    #[test]
    fn the_printed_config_reads_back_the_same() {
        let text = "[server]\nlisten = [\"127.0.0.1:5300\"]\nrebind_protection = true\nrebind_allow = [\"lan\"]\n\
                    [upstream]\nservers = [\"192.0.2.1\", \"tcp://192.0.2.2:5353\"]\nfail_after = 2\n\
                    [[upstream.zone]]\nname = \"corp.example\"\nservers = [\"10.0.0.53\"]\n\
                    [cache]\nmax_memory = \"64MiB\"\nstale_answer_after = \"1.8s\"\n\
                    [[cache.rule]]\nzone = \"login.example\"\nserve_stale = false\n\
                    [[service]]\nname = \"api.example\"\nprimary = \"a.example\"\nsecondary = [\"192.0.2.7\"]\n\
                    check = \"https://{addr}:8443/health?x=1\"\n\
                    [admin]\nlisten = \"127.0.0.1:9153\"\n[log]\nqueries = true\n";
        let config = Config::parse(Path::new("t.toml"), text, None).unwrap();
        let printed = config.to_toml();
        let again = Config::parse(Path::new("t.toml"), &printed, None).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(Config { warnings: Vec::new(), ..again }, config, "{printed}");
        for line in ["max_memory = \"64MiB\"", "stale_answer_after = \"1s 800ms\"", "queries = true", "threads = "] {
            assert!(printed.contains(line), "{line} missing from:\n{printed}");
        }
    }

    /// The servers a resolv_file names now are printed; so is the file.
    #[test]
    fn servers_of_a_resolv_file_are_printed() {
        let dir = tempfile::tempdir().unwrap();
        let resolv = dir.path().join("resolv.conf");
        std::fs::write(&resolv, "nameserver 192.0.2.53\n").unwrap();
        let text = format!("[upstream]\nresolv_file = \"{}\"\n", resolv.display());
        let printed = Config::parse(Path::new("t.toml"), &text, None).unwrap().to_toml();
        let value: toml::Table = toml::from_str(&printed).unwrap();
        assert_eq!(value["upstream"]["servers"].as_array().unwrap()[0].as_str(), Some("192.0.2.53:53"), "{printed}");
        assert_eq!(value["upstream"]["resolv_file"].as_str(), Some(resolv.to_str().unwrap()), "{printed}");
    }

    #[cfg(feature = "fleet")]
    #[test]
    fn fleet_secrets_are_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let (password, key) = (dir.path().join("password"), dir.path().join("key"));
        std::fs::write(&password, "hunter2-password\n").unwrap();
        std::fs::write(&key, "k".repeat(40)).unwrap();
        let text = format!(
            "[upstream]\nservers = [\"192.0.2.1\"]\n[fleet]\nstore = [\"redis://user:urlsecret@192.0.2.5:6379/0\"]\n\
             password_file = \"{}\"\nkey_file = \"{}\"\n",
            password.display(),
            key.display()
        );
        let printed = Config::parse(Path::new("t.toml"), &text, None).unwrap().to_toml();
        for secret in ["hunter2", "kkkk", "urlsecret"] {
            assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
        }
        assert!(printed.contains("password_file = \"<set>\"") && printed.contains("key_file = \"<set>\""), "{printed}");
    }

    #[test]
    fn sizes_take_the_largest_whole_unit() {
        assert_eq!(size(100_000 * 1024), "100000KiB");
        assert_eq!(size(64 << 20), "64MiB");
        assert_eq!(size(1 << 40), "1TiB");
        assert_eq!(size(1000), "1000B");
    }
}
