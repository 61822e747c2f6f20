//! Validation: the file as written ([`super::file`]) becomes the typed
//! [`Config`] (ripgrep's "high" form, `hiargs.rs`). Each check reports at
//! the key concerned; defaults come from the types in [`super`], so each is
//! written once.

use std::{
    net::{IpAddr, SocketAddr},
    ops::Range,
    path::{Path, PathBuf},
    time::Duration,
};

use ipnet::IpNet;
use toml::Spanned;

use crate::wire;

use super::{
    AdminConfig, AnswerPolicy, CacheConfig, CacheRule, Check, ClientRate, Config, ConfigError, Host, HttpCheck,
    LogConfig, PersistConfig, RebindExempt, ServerConfig, ServiceConfig, Target, TlsTarget, Transport, UpstreamAddr,
    UpstreamConfig, ZoneConfig, ZonePolicy,
    file::{CacheFile, File, ServerFile, ServiceFile, UpstreamFile, ZoneFile},
    serde_errors,
};

/// The largest `[cache] capacity` (docs/reference.md): past it, a typo rather than a plan.
const MAX_CAPACITY: u64 = 100_000_000;
/// `[cache] max_memory` bounds: below the smallest, a handful of entries;
/// above the largest, a typo rather than a plan.
const MIN_MEMORY: u64 = 16 << 10;
const MAX_MEMORY: u64 = 1 << 40;
/// UDP receive loops per listen address, at most.
const MAX_THREADS: u64 = 256;
/// `client_rate` and `client_burst`, at most: past it, a typo rather than a limit.
const MAX_CLIENT_RATE: u64 = 1_000_000;
/// Each open connection holds a file descriptor and a task.
const MAX_TCP_CONNECTIONS: u64 = 65_536;

/// Validates `text` (the contents of `path`): the config, or every problem
/// found, in the order of the file.
pub(super) fn parse(path: &Path, text: &str, resolv_conf: Option<&[u8]>) -> Result<Config, ConfigError> {
    let mut v = Validator { path, text, problems: Vec::new(), warnings: Vec::new() };
    let (file, serde_problems) = serde_errors::deserialize::<File>(text);
    for problem in serde_problems {
        v.problem(problem.span, &problem.key, &problem.what);
    }
    let Some(file) = file else {
        return Err(ConfigError { problems: in_file_order(v.problems) });
    };
    let mut config = v.validate(file, resolv_conf);
    if v.problems.is_empty() {
        config.warnings = in_file_order(v.warnings);
        Ok(config)
    } else {
        Err(ConfigError { problems: in_file_order(v.problems) })
    }
}

/// The lines of `found`, by their position in the file (found in the order
/// of the checks; serde reads tables alphabetically).
fn in_file_order(mut found: Vec<(usize, String)>) -> Vec<String> {
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, line)| line).collect()
}

/// Collects problems and warnings with their positions in the file.
pub(super) struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    /// Each with the byte offset it is at.
    problems: Vec<(usize, String)>,
    warnings: Vec<(usize, String)>,
}

impl Validator<'_> {
    pub(super) fn problem(&mut self, span: Range<usize>, key: &str, what: &str) {
        let line = (span.start, self.at(span, "", key, what));
        self.problems.push(line);
    }

    /// A warning reads `PATH:LINE:COL: warning: key: what`, as compilers
    /// write theirs, so that it cannot be taken for a problem.
    fn warning(&mut self, span: Range<usize>, key: &str, what: &str) {
        let line = (span.start, self.at(span, "warning: ", key, what));
        self.warnings.push(line);
    }

    /// `PATH:LINE:COL: {tag}key: what`.
    fn at(&self, span: Range<usize>, tag: &str, key: &str, what: &str) -> String {
        let (line, col) = line_col(self.text, span.start);
        let key = if key.is_empty() { String::new() } else { format!("{key}: ") };
        format!("{}:{line}:{col}: {tag}{key}{what}", self.path.display())
    }

    fn validate(&mut self, mut file: File, resolv_conf: Option<&[u8]>) -> Config {
        let (rebind_protection, rebind_allow) = (file.server.rebind_protection, file.server.rebind_allow.take());
        let server = self.server(file.server);
        let upstream = self.upstream(file.upstream, &server.listen, resolv_conf);
        let (cache, mut answers, persist) = self.cache(file.cache);
        let services = self.services(file.service);
        answers.rebind = self.rebind(rebind_protection, rebind_allow, &upstream, &services);
        let admin = AdminConfig {
            listen: file.admin.listen.and_then(|s| self.admin_listen(&s, &server.listen)),
            allow: match file.admin.allow {
                Some(list) => list.iter().filter_map(|s| self.net(s, "admin.allow")).collect(),
                None => loopback(),
            },
            control_allow: match file.admin.control_allow {
                Some(list) => list.iter().filter_map(|s| self.net(s, "admin.control_allow")).collect(),
                None => loopback_hosts(),
            },
        };
        let fleet = file.fleet.map(|fleet| {
            if cfg!(not(feature = "fleet")) {
                self.problem(
                    fleet.store.span(),
                    "fleet",
                    "this build has no fleet store (built without the `fleet` feature)",
                );
            }
            super::fleet::validate(self, fleet)
        });
        Config {
            path: self.path.to_path_buf(),
            server,
            upstream,
            cache,
            answers,
            persist,
            services,
            admin,
            log: LogConfig { queries: file.log.queries.unwrap_or(false) },
            fleet,
            warnings: Vec::new(),
        }
    }

    fn services(&mut self, files: Vec<ServiceFile>) -> Vec<ServiceConfig> {
        let services: Vec<ServiceConfig> = files.iter().map(|file| self.service(file)).collect();
        for (i, file) in files.iter().enumerate() {
            let name = dns_name(file.name.get_ref());
            if files[..i].iter().any(|earlier| dns_name(earlier.name.get_ref()) == name) {
                self.problem(file.name.span(), "service.name", &format!("{name:?} is configured twice"));
            }
            let is_target = |s: &Spanned<String>| dns_name(s.get_ref()) == name;
            if files.iter().any(|other| is_target(&other.primary) || other.secondary.iter().any(is_target)) {
                let what = format!("{name:?} is also a target of a service: its answers would point at themselves");
                self.problem(file.name.span(), "service.name", &what);
            }
        }
        services
    }

    fn service(&mut self, file: &ServiceFile) -> ServiceConfig {
        let name = dns_name(file.name.get_ref());
        if !is_dns_name(&name) {
            self.problem(file.name.span(), "service.name", &format!("{:?} is not a domain name", file.name.get_ref()));
        }
        let targets: Vec<Target> = std::iter::once(&file.primary)
            .chain(&file.secondary)
            .filter_map(|t| match parse_target(t.get_ref()) {
                Some(target) => Some(target),
                None => {
                    let what = format!("{:?} is neither an IP address nor a domain name", t.get_ref());
                    self.problem(t.span(), "service.primary/secondary", &what);
                    None
                }
            })
            .collect();
        let check = match &file.check {
            None => Check::Dns,
            Some(text) => match parse_check(text.get_ref()) {
                Ok(check) => check,
                Err(what) => {
                    self.problem(text.span(), "service.check", &what);
                    Check::Dns
                }
            },
        };
        let ca_file = file.ca_file.as_ref().and_then(|f| {
            let path = PathBuf::from(f.get_ref());
            if path.is_file() {
                Some(path)
            } else {
                self.problem(f.span(), "service.ca_file", &format!("{} is not a readable file", path.display()));
                None
            }
        });
        ServiceConfig {
            name,
            targets,
            check,
            interval: self.duration(file.interval.clone(), "service.interval", Duration::from_secs(5), true),
            timeout: self.duration(file.timeout.clone(), "service.timeout", Duration::from_secs(1), true),
            fall: self.positive(file.fall.clone(), "service.fall", 3),
            rise: self.positive(file.rise.clone(), "service.rise", 2),
            ttl: self.duration(file.ttl.clone(), "service.ttl", Duration::from_secs(10), false),
            ca_file,
        }
    }

    fn server(&mut self, file: ServerFile) -> ServerConfig {
        let default_listen = file.listen.is_none();
        let listen = match file.listen {
            Some(list) => self.listen(&list),
            None => vec![SocketAddr::from(([127, 0, 0, 1], 53)), "[::1]:53".parse().expect("a valid literal")],
        };
        let allow = match file.allow {
            Some(list) => list.iter().filter_map(|s| self.net(s, "server.allow")).collect(),
            None => loopback(),
        };
        let tcp_connections = match file.tcp_connections {
            Some(n) if !(1..=MAX_TCP_CONNECTIONS).contains(n.get_ref()) => {
                let what = format!("must be from 1 to {MAX_TCP_CONNECTIONS} connections");
                self.problem(n.span(), "server.tcp_connections", &what);
                ServerConfig::DEFAULT_TCP_CONNECTIONS
            }
            Some(n) => usize::try_from(n.into_inner()).expect("at most MAX_TCP_CONNECTIONS"),
            None => ServerConfig::DEFAULT_TCP_CONNECTIONS,
        };
        let tcp_idle_timeout = self.duration(
            file.tcp_idle_timeout,
            "server.tcp_idle_timeout",
            ServerConfig::DEFAULT_TCP_IDLE_TIMEOUT,
            true,
        );
        ServerConfig {
            listen,
            allow,
            tcp_connections,
            tcp_idle_timeout,
            default_listen,
            freebind: file.freebind.unwrap_or(false),
            threads: match file.threads {
                Some(n) if !(1..=MAX_THREADS).contains(n.get_ref()) => {
                    self.problem(n.span(), "server.threads", &format!("must be from 1 to {MAX_THREADS}"));
                    ServerConfig::default_threads()
                }
                Some(n) => usize::try_from(n.into_inner()).expect("at most MAX_THREADS"),
                None => ServerConfig::default_threads(),
            },
            watch_config: file.watch_config.unwrap_or(false),
            client_rate: self.client_rate(file.client_rate, file.client_burst, file.client_rate_exempt),
        }
    }

    /// `[server] listen`: each address once (two of port 0 are two ports).
    fn listen(&mut self, list: &[Spanned<String>]) -> Vec<SocketAddr> {
        let mut listen: Vec<SocketAddr> = Vec::with_capacity(list.len());
        for value in list {
            let Some(addr) = self.socket_addr(value, "server.listen", Some(53)) else { continue };
            if addr.port() != 0 && listen.contains(&addr) {
                let what = format!("{addr} is listed twice: an address can be bound only once");
                self.problem(value.span(), "server.listen", &what);
                continue;
            }
            listen.push(addr);
        }
        listen
    }

    /// `[admin] listen`, which must not take a DNS listen address's TCP port.
    fn admin_listen(&mut self, value: &Spanned<String>, listen: &[SocketAddr]) -> Option<SocketAddr> {
        let addr = self.socket_addr(value, "admin.listen", None)?;
        if addr.port() != 0 && listen.contains(&addr) {
            let what = format!("{addr} is also a [server] listen address: its TCP port can be bound only once");
            self.problem(value.span(), "admin.listen", &what);
            return None;
        }
        Some(addr)
    }

    /// `client_rate` (0 = off), `client_burst` (default: the rate) and
    /// `client_rate_exempt` (default: 127.0.0.1 and ::1).
    fn client_rate(
        &mut self,
        rate: Option<Spanned<u64>>,
        burst: Option<Spanned<u64>>,
        exempt: Option<Vec<Spanned<String>>>,
    ) -> ClientRate {
        let mut count = |value: Option<Spanned<u64>>, key: &str, least: u64| match value {
            Some(n) if !(least..=MAX_CLIENT_RATE).contains(n.get_ref()) => {
                self.problem(n.span(), key, &format!("must be from {least} to {MAX_CLIENT_RATE} queries"));
                None
            }
            Some(n) => u32::try_from(n.into_inner()).ok(),
            None => None,
        };
        let rate = count(rate, "server.client_rate", 0).unwrap_or(0);
        let burst = count(burst, "server.client_burst", 1).unwrap_or(rate);
        let exempt = match exempt {
            Some(list) => list.iter().filter_map(|s| self.net(s, "server.client_rate_exempt")).collect(),
            None => loopback_hosts(),
        };
        ClientRate { rate, burst, exempt }
    }

    /// `[server] rebind_protection` and `rebind_allow`, with the zones and
    /// services that are exempt besides; None when it is off.
    fn rebind(
        &mut self,
        on: Option<bool>,
        allow: Option<Vec<Spanned<String>>>,
        upstream: &UpstreamConfig,
        services: &[ServiceConfig],
    ) -> Option<RebindExempt> {
        let allow: Vec<Box<[u8]>> = allow.iter().flatten().filter_map(|zone| self.rebind_zone(zone)).collect();
        if !on.unwrap_or(false) {
            return None;
        }
        let zones = upstream.zones.iter().map(|zone| zone.name.as_str());
        let services = services.iter().flat_map(|service| {
            let targets = service.targets.iter().filter_map(|target| match target {
                Target::Name(name) => Some(name.as_str()),
                Target::Ip(_) => None,
            });
            std::iter::once(service.name.as_str()).chain(targets)
        });
        let named = zones.chain(services).map(|name| wire::wire_name(name).into_boxed_slice());
        Some(RebindExempt { allowed: allow.len(), zones: allow.into_iter().chain(named).collect() })
    }

    /// A `rebind_allow` zone, in lower-case wire form ("." would exempt every name).
    fn rebind_zone(&mut self, zone: &Spanned<String>) -> Option<Box<[u8]>> {
        let name = dns_name(zone.get_ref());
        if name.is_empty() || !is_dns_name(&name) {
            let what = format!("{:?} is not a domain name (the root would exempt every name)", zone.get_ref());
            self.problem(zone.span(), "server.rebind_allow", &what);
            return None;
        }
        Some(wire::wire_name(&name).into())
    }

    fn upstream(
        &mut self,
        file: Option<Spanned<UpstreamFile>>,
        listen: &[SocketAddr],
        resolv_conf: Option<&[u8]>,
    ) -> UpstreamConfig {
        // A missing `servers` is reported at the `[upstream]` header, or at
        // the top of the file when there is no such table.
        let (table, file) = match file {
            Some(file) => (Some(file.span()), file.into_inner()),
            None => (None, UpstreamFile::default()),
        };
        let bootstrap: Vec<SocketAddr> =
            file.bootstrap.iter().flatten().filter_map(|s| self.bootstrap_server(s, listen)).collect();
        // Who resolves the host names of encrypted upstreams: `bootstrap`,
        // else the plain servers of the upstream's own list, else those of
        // the default list. Never stubborn itself (no loop through resolv.conf).
        let resolv_file = file.resolv_file.as_ref().map(|f| PathBuf::from(f.get_ref()));
        let servers = match (file.servers, &file.resolv_file) {
            (Some(list), Some(path)) => {
                self.problem(path.span(), "upstream.resolv_file", "set either servers or resolv_file, not both");
                self.servers(&list, "upstream.servers", !bootstrap.is_empty())
            }
            (Some(list), None) => self.servers(&list, "upstream.servers", !bootstrap.is_empty()),
            (None, Some(path)) => {
                let servers =
                    std::fs::read(path.get_ref()).map(|text| nameservers_of(&text, listen)).unwrap_or_default();
                if servers.is_empty() {
                    let what = format!(
                        "{} names no nameserver (other than stubborn) yet; queries fail until it does",
                        path.get_ref()
                    );
                    self.warning(path.span(), "upstream.resolv_file", &what);
                }
                servers
            }
            (None, None) => {
                let servers = nameservers_of(resolv_conf.unwrap_or_default(), listen);
                if servers.is_empty() {
                    let what = "not set, and the system's resolv.conf names no nameserver other than stubborn itself";
                    match table {
                        Some(span) => self.problem(span, "upstream.servers", what),
                        None => self.problem(0..0, "", &format!("no [upstream] servers: {what}")),
                    }
                }
                servers
            }
        };
        let resolvable = !bootstrap.is_empty() || servers.iter().any(UpstreamAddr::is_plain);
        let zones = file.zone.iter().enumerate().map(|(i, z)| self.zone(z, &file.zone[..i], resolvable)).collect();
        let ca_file = file.ca_file.as_ref().and_then(|f| {
            let path = PathBuf::from(f.get_ref());
            match crate::tls::check_ca_file(&path) {
                Ok(()) => Some(path),
                Err(what) => {
                    self.problem(f.span(), "upstream.ca_file", &what);
                    None
                }
            }
        });
        UpstreamConfig {
            servers,
            resolv_file,
            timeout: self.duration(file.timeout, "upstream.timeout", Duration::from_millis(500), true),
            fail_after: self.positive(file.fail_after, "upstream.fail_after", 3),
            probe_interval: self.duration(file.probe_interval, "upstream.probe_interval", Duration::from_secs(5), true),
            bootstrap,
            ca_file,
            zones,
        }
    }

    /// One `[upstream] bootstrap` entry: `IP` or `IP:PORT`, not stubborn itself.
    fn bootstrap_server(&mut self, value: &Spanned<String>, listen: &[SocketAddr]) -> Option<SocketAddr> {
        let addr = self.socket_addr(value, "upstream.bootstrap", Some(53))?;
        if listen.iter().any(|l| l.port() == addr.port() && (l.ip() == addr.ip() || l.ip().is_unspecified())) {
            let what = format!(
                "{addr} is stubborn's own listen address: host names would be resolved through stubborn itself"
            );
            self.problem(value.span(), "upstream.bootstrap", &what);
            return None;
        }
        Some(addr)
    }

    /// Zone names follow the rules of service names; the root is not a zone
    /// (it would take every name from the default pool).
    fn zone(&mut self, zone: &ZoneFile, earlier: &[ZoneFile], resolvable: bool) -> ZoneConfig {
        let name = dns_name(zone.name.get_ref());
        if name.is_empty() && !zone.name.get_ref().is_empty() {
            let what = "the root (\".\") is not a zone: every name would go to it; use [upstream] servers for the root";
            self.problem(zone.name.span(), "upstream.zone.name", what);
        } else if !is_dns_name(&name) {
            let what = format!("{:?} is not a domain name", zone.name.get_ref());
            self.problem(zone.name.span(), "upstream.zone.name", &what);
        } else if earlier.iter().any(|e| dns_name(e.name.get_ref()) == name) {
            self.problem(zone.name.span(), "upstream.zone.name", &format!("{name:?} is configured twice"));
        }
        ZoneConfig { name, servers: self.servers(&zone.servers, "upstream.zone.servers", resolvable) }
    }

    /// A servers list; `resolvable`: host names have a resolver besides
    /// the plain servers of this list (`bootstrap` or the default list).
    fn servers(&mut self, list: &Spanned<Vec<Spanned<String>>>, key: &str, resolvable: bool) -> Vec<UpstreamAddr> {
        if list.get_ref().is_empty() {
            self.problem(list.span(), key, "needs at least one server");
        }
        let parsed: Vec<(Range<usize>, UpstreamAddr)> = list
            .get_ref()
            .iter()
            .filter_map(|s| match parse_upstream(s.get_ref()) {
                Ok(addr) => Some((s.span(), addr)),
                Err(what) => {
                    self.problem(s.span(), key, &what);
                    None
                }
            })
            .collect();
        let resolvable = resolvable || parsed.iter().any(|(_, addr)| addr.is_plain());
        for (span, addr) in &parsed {
            if let (Host::Name(name), false) = (&addr.host, resolvable) {
                let what = format!(
                    "{:?}: {name} is a host name and nothing can resolve it: set [upstream] bootstrap \
                     (plain servers, e.g. [\"9.9.9.9\"]), list a plain server beside it, or write an IP with #tls-name",
                    addr.label
                );
                self.problem(span.clone(), key, &what);
            }
        }
        parsed.into_iter().map(|(_, addr)| addr).collect()
    }

    /// The `[cache]` table: the cache's own limits, the resolver's answer
    /// policy, and the snapshot schedule.
    fn cache(&mut self, file: CacheFile) -> (CacheConfig, AnswerPolicy, PersistConfig) {
        let d = CacheConfig::default();
        let capacity = match file.capacity {
            Some(c) if !(1..=MAX_CAPACITY).contains(c.get_ref()) => {
                self.problem(c.span(), "cache.capacity", &format!("must be from 1 to {MAX_CAPACITY} entries"));
                d.capacity
            }
            Some(c) => c.into_inner(),
            None => d.capacity,
        };
        let max_memory = match file.max_memory {
            Some(size) => match parse_size(size.get_ref()) {
                Some(bytes) if (MIN_MEMORY..=MAX_MEMORY).contains(&bytes) => bytes,
                Some(_) => {
                    self.problem(size.span(), "cache.max_memory", "must be from 16KiB to 1TiB");
                    d.max_memory
                }
                None => {
                    let what = format!("{:?} is not a size like \"64MiB\", \"512KiB\" or \"1GiB\"", size.get_ref());
                    self.problem(size.span(), "cache.max_memory", &what);
                    d.max_memory
                }
            },
            None => capacity.saturating_mul(CacheConfig::DEFAULT_MEMORY_PER_ENTRY),
        };
        let d_policy = ZonePolicy::default();
        let policy = self.zone_policy(
            "cache",
            &d_policy,
            file.serve_stale,
            [file.min_ttl, file.max_ttl, file.max_stale, file.stale_ttl, file.keep_positive],
        );
        let a = AnswerPolicy::default();
        let answers = AnswerPolicy {
            stale_answer_after: self.duration(
                file.stale_answer_after,
                "cache.stale_answer_after",
                a.stale_answer_after,
                true,
            ),
            prefetch: file.prefetch.unwrap_or(a.prefetch),
            rebind: None,
        };
        let mut rules: Vec<CacheRule> = Vec::new();
        for rule in file.rule {
            let name = dns_name(rule.zone.get_ref());
            let zone: Box<[u8]> = wire::wire_name(&name).into();
            if name.is_empty() || !is_dns_name(&name) {
                let what = format!(
                    "{:?} is not a zone name ([cache] itself is the policy of every name)",
                    rule.zone.get_ref()
                );
                self.problem(rule.zone.span(), "cache.rule.zone", &what);
            } else if rules.iter().any(|earlier| earlier.zone == zone) {
                self.problem(rule.zone.span(), "cache.rule.zone", &format!("{name:?} is configured twice"));
            }
            let durations = [rule.min_ttl, rule.max_ttl, rule.max_stale, rule.stale_ttl, rule.keep_positive];
            let policy = self.zone_policy("cache.rule", &policy, rule.serve_stale, durations);
            rules.push(CacheRule { zone, policy });
        }
        // Longest zone first: the first rule that covers a name is its longest match.
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.zone.len()));
        let cache = CacheConfig {
            capacity,
            max_memory,
            negative_max_ttl: self.duration(file.negative_max_ttl, "cache.negative_max_ttl", d.negative_max_ttl, false),
            policy,
            rules,
        };
        let p = PersistConfig::default();
        let persist = PersistConfig {
            path: file.persist.and_then(|path| self.persist_path(&path)),
            interval: self.duration(file.persist_interval, "cache.persist_interval", p.interval, true),
        };
        (cache, answers, persist)
    }

    /// The policy keys of `[cache]` or of a `[[cache.rule]]` (`table`), each
    /// unset one taken from `inherited`; the durations in the order
    /// `min_ttl`, `max_ttl`, `max_stale`, `stale_ttl`, `keep_positive`.
    fn zone_policy(
        &mut self,
        table: &str,
        inherited: &ZonePolicy,
        serve_stale: Option<bool>,
        durations: [Option<Spanned<String>>; 5],
    ) -> ZonePolicy {
        let [min_ttl, max_ttl, max_stale, stale_ttl, keep_positive] = durations;
        // A clash is reported at min_ttl when it is written, else at max_ttl (both may be inherited).
        let clash_span = min_ttl.as_ref().or(max_ttl.as_ref()).map_or(0..0, |s| s.span());
        let clash_key = if min_ttl.is_some() || max_ttl.is_none() { "min_ttl" } else { "max_ttl" };
        let policy = ZonePolicy {
            min_ttl: self.duration(min_ttl, &format!("{table}.min_ttl"), inherited.min_ttl, false),
            max_ttl: self.duration(max_ttl, &format!("{table}.max_ttl"), inherited.max_ttl, false),
            serve_stale: serve_stale.unwrap_or(inherited.serve_stale),
            max_stale: self.duration(max_stale, &format!("{table}.max_stale"), inherited.max_stale, false),
            stale_ttl: self.duration(stale_ttl, &format!("{table}.stale_ttl"), inherited.stale_ttl, false),
            keep_positive: self.duration(
                keep_positive,
                &format!("{table}.keep_positive"),
                inherited.keep_positive,
                false,
            ),
        };
        if policy.min_ttl > policy.max_ttl {
            let what = if clash_key == "min_ttl" { "is larger than" } else { "is smaller than" };
            let other = if clash_key == "min_ttl" { "max_ttl" } else { "min_ttl" };
            self.problem(clash_span, &format!("{table}.{clash_key}"), &format!("{what} {table}.{other}"));
        }
        policy
    }

    pub(super) fn duration(
        &mut self,
        value: Option<Spanned<String>>,
        key: &str,
        default: Duration,
        nonzero: bool,
    ) -> Duration {
        let Some(value) = value else { return default };
        match humantime::parse_duration(value.get_ref()) {
            Ok(d) if nonzero && d.is_zero() => {
                self.problem(value.span(), key, "must be longer than 0s");
                default
            }
            Ok(d) if d.as_secs() > u64::from(u32::MAX) => {
                self.problem(value.span(), key, "is too long");
                default
            }
            Ok(d) => d,
            Err(e) => {
                let what = format!(
                    "{:?} is not a duration like \"500ms\", \"1.8s\", \"15m\" or \"3d\" ({e})",
                    value.get_ref()
                );
                self.problem(value.span(), key, &what);
                default
            }
        }
    }

    /// A snapshot path, absolute or relative to the working directory. A
    /// missing directory is only a warning: `run` creates it (docs/reference.md),
    /// and `check` creates nothing. A directory that can never be created —
    /// one of its parents is a file — is a problem.
    fn persist_path(&mut self, value: &Spanned<String>) -> Option<PathBuf> {
        let path = PathBuf::from(value.get_ref());
        if value.get_ref().is_empty() || path.file_name().is_none() {
            self.problem(value.span(), "cache.persist", "must name a file");
            return None;
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if dir.is_dir() {
            return Some(path);
        }
        // The nearest ancestor that exists decides whether the directory can be made.
        match dir.ancestors().skip(1).find(|a| a.as_os_str().is_empty() || a.symlink_metadata().is_ok()) {
            Some(existing) if !existing.as_os_str().is_empty() && !existing.is_dir() => {
                let what =
                    format!("directory {} cannot be created: {} is not a directory", dir.display(), existing.display());
                self.problem(value.span(), "cache.persist", &what);
                None
            }
            _ => {
                let what = format!("directory {} does not exist yet; stubborn creates it at start", dir.display());
                self.warning(value.span(), "cache.persist", &what);
                Some(path)
            }
        }
    }

    fn positive(&mut self, value: Option<Spanned<u32>>, key: &str, default: u32) -> u32 {
        match value {
            Some(v) if *v.get_ref() == 0 => {
                self.problem(v.span(), key, "must be at least 1");
                default
            }
            Some(v) => *v.get_ref(),
            None => default,
        }
    }

    fn socket_addr(&mut self, value: &Spanned<String>, key: &str, default_port: Option<u16>) -> Option<SocketAddr> {
        match parse_socket_addr(value.get_ref(), default_port) {
            Some(addr) => Some(addr),
            None => {
                let what = format!("{:?} is not an address like \"127.0.0.1:53\" or \"[::1]:53\"", value.get_ref());
                self.problem(value.span(), key, &what);
                None
            }
        }
    }

    fn net(&mut self, value: &Spanned<String>, key: &str) -> Option<IpNet> {
        let text = value.get_ref();
        let net = text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from));
        if net.is_none() {
            let what = format!("{text:?} is not a network like \"127.0.0.0/8\" or an address");
            self.problem(value.span(), key, &what);
        }
        net
    }
}

/// The default of `server.allow` and `admin.allow`.
fn loopback() -> Vec<IpNet> {
    vec!["127.0.0.0/8".parse().expect("a valid literal"), "::1/128".parse().expect("a valid literal")]
}

/// The default of `admin.control_allow`: the host's own addresses, not all
/// of 127.0.0.0/8 (containers and sandboxes use other loopback addresses).
fn loopback_hosts() -> Vec<IpNet> {
    vec!["127.0.0.1/32".parse().expect("a valid literal"), "::1/128".parse().expect("a valid literal")]
}

/// Lower-case without the trailing dot: the form names are compared in.
fn dns_name(text: &str) -> String {
    text.trim_end_matches('.').to_ascii_lowercase()
}

/// Letters, digits, '-' and '_' in labels of 1-63 octets, 253 in all.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn parse_target(text: &str) -> Option<Target> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Target::Ip(ip));
    }
    let name = dns_name(text);
    is_dns_name(&name).then_some(Target::Name(name))
}

/// `dns`, `tcp:PORT`, `http://{addr}:PORT/path`, `https://{addr}:PORT/path`.
fn parse_check(text: &str) -> Result<Check, String> {
    if text == "dns" {
        return Ok(Check::Dns);
    }
    if let Some(port) = text.strip_prefix("tcp:") {
        return match port.parse::<u16>() {
            Ok(port) if port > 0 => Ok(Check::Tcp(port)),
            _ => Err(format!("{text:?}: expected tcp:PORT with a port from 1 to 65535")),
        };
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        return HttpCheck::parse(text).map(Check::Http).map_err(|e| format!("{text:?}: {e}"));
    }
    Err(format!(
        "{text:?}: expected \"dns\", \"tcp:PORT\", \"http://{{addr}}:PORT/path\" or \"https://{{addr}}:PORT/path\""
    ))
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; `default_port` allows the bare IP form.
/// A size in bytes: a whole number with an IEC unit (`B`, `KiB`, `MiB`,
/// `GiB`, `TiB`; a space between is allowed). None for anything else, or
/// for a size past `u64`.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let shift = match text[digits..].trim_start() {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

fn parse_socket_addr(text: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| Some(SocketAddr::new(text.parse::<IpAddr>().ok()?, default_port?)))
}

/// One `[upstream] servers` entry: `IP`, `IP:PORT`, `udp://IP:PORT`,
/// `tcp://IP:PORT`, `tls://HOST[:PORT][#tls-name]` (RFC 7858, port 853) or
/// `https://HOST[:PORT]/PATH[#tls-name]` (RFC 8484, port 443; PATH
/// `/dns-query` when left out). HOST of an encrypted upstream is a name or an
/// IP; an IP needs `#tls-name`, the name its certificate is for.
fn parse_upstream(text: &str) -> Result<UpstreamAddr, String> {
    let (scheme, rest) = match text.split_once("://") {
        None => ("udp", text),
        Some((scheme @ ("udp" | "tcp" | "tls" | "https"), rest)) => (scheme, rest),
        Some((scheme, _)) => {
            return Err(format!("{text:?}: unknown scheme {scheme:?} (use udp://, tcp://, tls:// or https://)"));
        }
    };
    if scheme == "udp" || scheme == "tcp" {
        let addr = parse_socket_addr(rest, Some(53)).ok_or_else(|| {
            format!("{text:?} is not a server like \"192.0.2.1\", \"192.0.2.1:53\" or \"tcp://[2001:db8::1]:53\"")
        })?;
        let transport = if scheme == "udp" { Transport::Udp } else { Transport::Tcp };
        return Ok(UpstreamAddr { label: text.to_string(), host: Host::Ip(addr.ip()), port: addr.port(), transport });
    }
    if !cfg!(feature = "encrypted") {
        return Err(format!(
            "{text:?}: this stubborn was built without encrypted upstreams (cargo feature \"encrypted\")"
        ));
    }
    let (rest, tls_name) = match rest.split_once('#') {
        Some((rest, name)) => (rest, Some(name)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let (host, port) = parse_host_port(authority).map_err(|what| format!("{text:?}: {what}"))?;
    let tls_name = match (tls_name, &host) {
        (Some(name), _) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name.parse::<IpAddr>().is_err() && !is_dns_name(&name) {
                return Err(format!("{text:?}: the tls-name {name:?} is not a domain name"));
            }
            name
        }
        (None, Host::Name(name)) => name.clone(),
        (None, Host::Ip(ip)) => {
            return Err(format!(
                "{text:?}: an IP address needs #tls-name, the name its certificate is for \
                 (e.g. \"{scheme}://{ip}#dns.example\")"
            ));
        }
    };
    let tls = TlsTarget { tls_name };
    let transport = if scheme == "tls" {
        if path.is_some() {
            return Err(format!("{text:?}: a tls:// upstream has no path (DNS over HTTPS is https://)"));
        }
        Transport::Tls(tls)
    } else {
        let path = path.unwrap_or("/dns-query");
        if !path.bytes().all(|b| b.is_ascii_graphic()) || path.contains('{') {
            return Err(format!("{text:?}: the path {path:?} is not a plain URL path like \"/dns-query\""));
        }
        Transport::Https(tls, path.to_string())
    };
    let default_port = if scheme == "tls" { 853 } else { 443 };
    Ok(UpstreamAddr { label: text.to_string(), host, port: port.unwrap_or(default_port), transport })
}

/// `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT` (or a bare IPv6), HOST an IP or a domain name.
fn parse_host_port(text: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (ip, after) = inner.split_once(']').ok_or("unclosed [ in the address")?;
        match after {
            "" => (ip, None),
            _ => (ip, Some(after.strip_prefix(':').ok_or("expected :PORT after ]")?)),
        }
    } else if text.parse::<IpAddr>().is_ok() {
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(format!("{p:?} is not a port from 1 to 65535")),
        },
        None => None,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), port));
    }
    let name = dns_name(host);
    if !is_dns_name(&name) {
        return Err(format!("{host:?} is neither an IP address nor a host name"));
    }
    Ok((Host::Name(name), port))
}

/// The nameservers of a resolv.conf, in order and each once, less the
/// addresses stubborn itself listens on (pointing at ourselves would be a
/// forwarding loop).
pub fn nameservers_of(resolv_conf: &[u8], listen: &[SocketAddr]) -> Vec<UpstreamAddr> {
    let Ok(parsed) = resolv_conf::Config::parse(resolv_conf) else {
        return Vec::new();
    };
    let mut servers: Vec<SocketAddr> = Vec::with_capacity(parsed.nameservers.len());
    for ns in &parsed.nameservers {
        let addr = SocketAddr::new(IpAddr::from(ns.clone()), 53);
        let ours = listen.iter().any(|l| l.port() == 53 && (l.ip() == addr.ip() || l.ip().is_unspecified()));
        if !ours && !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    servers.into_iter().map(UpstreamAddr::plain).collect()
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}
