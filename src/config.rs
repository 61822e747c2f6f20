//! Configuration: the TOML file as written (serde structs that mirror it key
//! for key, `deny_unknown_fields`) and the validated [`Config`] the program
//! runs on. Every problem is reported as `PATH:LINE:COL: key: what is wrong`,
//! all of them at once, so `stubborn check` shows a whole broken file in one go.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    ops::Range,
    path::{Path, PathBuf},
    time::Duration,
};

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::service::http::HttpCheck;

/// Where the file is looked for when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/stubborn/stubborn.toml";
/// Where upstreams come from when `[upstream] servers` is absent (as dnsmasq does).
pub const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";

// === the file as written ===

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerFile,
    #[serde(default)]
    upstream: UpstreamFile,
    #[serde(default)]
    cache: CacheFile,
    #[serde(default)]
    service: Vec<ServiceFile>,
    #[serde(default)]
    admin: AdminFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    listen: Option<Vec<Spanned<String>>>,
    allow: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    servers: Option<Spanned<Vec<Spanned<String>>>>,
    timeout: Option<Spanned<String>>,
    fail_after: Option<Spanned<u32>>,
    probe_interval: Option<Spanned<String>>,
    #[serde(default)]
    zone: Vec<ZoneFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneFile {
    name: Spanned<String>,
    servers: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    capacity: Option<Spanned<u64>>,
    min_ttl: Option<Spanned<String>>,
    max_ttl: Option<Spanned<String>>,
    negative_max_ttl: Option<Spanned<String>>,
    serve_stale: Option<bool>,
    stale_ttl: Option<Spanned<String>>,
    max_stale: Option<Spanned<String>>,
    stale_answer_after: Option<Spanned<String>>,
    keep_positive: Option<Spanned<String>>,
    persist: Option<Spanned<String>>,
    persist_interval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: Spanned<String>,
    primary: Spanned<String>,
    #[serde(default)]
    secondary: Vec<Spanned<String>>,
    check: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    fall: Option<Spanned<u32>>,
    rise: Option<Spanned<u32>>,
    ttl: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    listen: Option<Spanned<String>>,
}

// === the validated form ===

/// Everything the running program needs, checked and typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this came from, for messages and the status page.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub cache: CacheConfig,
    /// Health-checked failover services.
    pub services: Vec<ServiceConfig>,
    /// The admin HTTP endpoint's address, when one is wanted.
    pub admin: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// UDP and TCP are served on each of these.
    pub listen: Vec<SocketAddr>,
    /// Clients outside every one of these get REFUSED.
    pub allow: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamConfig {
    /// The default pool, in priority order.
    pub servers: Vec<UpstreamAddr>,
    pub timeout: Duration,
    pub fail_after: u32,
    pub probe_interval: Duration,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP, retried over TCP when the reply is truncated.
    Udp,
    /// TCP only.
    Tcp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamAddr {
    /// The server as written in the config: the `upstream` label of metrics and logs.
    pub label: String,
    pub addr: SocketAddr,
    pub transport: Transport,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub capacity: u64,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    pub negative_max_ttl: Duration,
    pub serve_stale: bool,
    pub stale_ttl: Duration,
    pub max_stale: Duration,
    pub stale_answer_after: Duration,
    pub keep_positive: Duration,
    /// Where the cache snapshot is kept, if anywhere.
    pub persist: Option<PathBuf>,
    /// How often the snapshot is written (also at shutdown).
    pub persist_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            min_ttl: Duration::ZERO,
            max_ttl: Duration::from_secs(86_400),
            negative_max_ttl: Duration::from_secs(3_600),
            serve_stale: true,
            stale_ttl: Duration::from_secs(30),
            max_stale: Duration::from_secs(3 * 86_400),
            stale_answer_after: Duration::from_millis(1_800),
            keep_positive: Duration::from_secs(3_600),
            persist: None,
            persist_interval: Duration::from_secs(300),
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
        let mut v = Validator { path, text, problems: Vec::new() };
        let file: File = match toml::from_str(text) {
            Ok(file) => file,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                v.problem(span, "", e.message());
                return Err(ConfigError { problems: v.problems });
            }
        };
        let config = v.validate(file, resolv_conf);
        if v.problems.is_empty() { Ok(config) } else { Err(ConfigError { problems: v.problems }) }
    }
}

// === validation ===

/// Collects problems with their positions in the file.
struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<String>,
}

impl Validator<'_> {
    fn problem(&mut self, span: Range<usize>, key: &str, what: &str) {
        let (line, col) = line_col(self.text, span.start);
        let key = if key.is_empty() { String::new() } else { format!("{key}: ") };
        self.problems.push(format!("{}:{line}:{col}: {key}{what}", self.path.display()));
    }

    fn validate(&mut self, file: File, resolv_conf: Option<&[u8]>) -> Config {
        let server = self.server(file.server);
        let upstream = self.upstream(file.upstream, &server.listen, resolv_conf);
        let cache = self.cache(file.cache);
        let services = self.services(file.service);
        let admin = file.admin.listen.and_then(|s| self.socket_addr(&s, "admin.listen", None));
        Config { path: self.path.to_path_buf(), server, upstream, cache, services, admin }
    }

    fn services(&mut self, files: Vec<ServiceFile>) -> Vec<ServiceConfig> {
        let services: Vec<ServiceConfig> = files.iter().filter_map(|file| self.service(file)).collect();
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

    fn service(&mut self, file: &ServiceFile) -> Option<ServiceConfig> {
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
        Some(ServiceConfig {
            name,
            targets,
            check,
            interval: self.duration(file.interval.clone(), "service.interval", Duration::from_secs(5), true),
            timeout: self.duration(file.timeout.clone(), "service.timeout", Duration::from_secs(1), true),
            fall: self.positive(file.fall.clone(), "service.fall", 3),
            rise: self.positive(file.rise.clone(), "service.rise", 2),
            ttl: self.duration(file.ttl.clone(), "service.ttl", Duration::from_secs(10), false),
            ca_file,
        })
    }

    fn server(&mut self, file: ServerFile) -> ServerConfig {
        let listen = match file.listen {
            Some(list) => list.iter().filter_map(|s| self.socket_addr(s, "server.listen", Some(53))).collect(),
            None => vec![SocketAddr::from(([127, 0, 0, 1], 53)), "[::1]:53".parse().expect("a valid literal")],
        };
        let allow = match file.allow {
            Some(list) => list.iter().filter_map(|s| self.net(s)).collect(),
            None => vec!["127.0.0.0/8".parse().expect("a valid literal"), "::1/128".parse().expect("a valid literal")],
        };
        ServerConfig { listen, allow }
    }

    fn upstream(&mut self, file: UpstreamFile, listen: &[SocketAddr], resolv_conf: Option<&[u8]>) -> UpstreamConfig {
        let servers = match file.servers {
            Some(list) => self.servers(&list, "upstream.servers"),
            None => {
                let servers = system_nameservers(resolv_conf.unwrap_or_default(), listen);
                if servers.is_empty() {
                    self.problem(
                        0..0,
                        "upstream.servers",
                        "not set, and the system's resolv.conf names no nameserver other than stubborn itself",
                    );
                }
                servers
            }
        };
        let zones = file
            .zone
            .iter()
            .map(|z| ZoneConfig {
                name: dns_name(z.name.get_ref()),
                servers: self.servers(&z.servers, "upstream.zone.servers"),
            })
            .collect();
        UpstreamConfig {
            servers,
            timeout: self.duration(file.timeout, "upstream.timeout", Duration::from_millis(500), true),
            fail_after: self.positive(file.fail_after, "upstream.fail_after", 3),
            probe_interval: self.duration(file.probe_interval, "upstream.probe_interval", Duration::from_secs(5), true),
            zones,
        }
    }

    fn servers(&mut self, list: &Spanned<Vec<Spanned<String>>>, key: &str) -> Vec<UpstreamAddr> {
        if list.get_ref().is_empty() {
            self.problem(list.span(), key, "needs at least one server");
        }
        list.get_ref()
            .iter()
            .filter_map(|s| match parse_upstream(s.get_ref()) {
                Ok(addr) => Some(addr),
                Err(what) => {
                    self.problem(s.span(), key, &what);
                    None
                }
            })
            .collect()
    }

    fn cache(&mut self, file: CacheFile) -> CacheConfig {
        let d = CacheConfig::default();
        let capacity = u64::from(self.positive(
            file.capacity.map(|c| {
                let span = c.span();
                Spanned::new(span, u32::try_from(*c.get_ref()).unwrap_or(u32::MAX))
            }),
            "cache.capacity",
            100_000,
        ));
        let cache = CacheConfig {
            capacity,
            min_ttl: self.duration(file.min_ttl, "cache.min_ttl", d.min_ttl, false),
            max_ttl: self.duration(file.max_ttl, "cache.max_ttl", d.max_ttl, false),
            negative_max_ttl: self.duration(file.negative_max_ttl, "cache.negative_max_ttl", d.negative_max_ttl, false),
            serve_stale: file.serve_stale.unwrap_or(d.serve_stale),
            stale_ttl: self.duration(file.stale_ttl, "cache.stale_ttl", d.stale_ttl, false),
            max_stale: self.duration(file.max_stale, "cache.max_stale", d.max_stale, false),
            stale_answer_after: self.duration(
                file.stale_answer_after,
                "cache.stale_answer_after",
                d.stale_answer_after,
                true,
            ),
            keep_positive: self.duration(file.keep_positive, "cache.keep_positive", d.keep_positive, false),
            persist: file.persist.and_then(|p| self.persist_path(&p)),
            persist_interval: self.duration(file.persist_interval, "cache.persist_interval", d.persist_interval, true),
        };
        if cache.min_ttl > cache.max_ttl {
            self.problem(0..0, "cache.min_ttl", "is larger than cache.max_ttl");
        }
        cache
    }

    fn duration(&mut self, value: Option<Spanned<String>>, key: &str, default: Duration, nonzero: bool) -> Duration {
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

    /// A snapshot path: absolute or relative to the working directory, in a directory that exists.
    fn persist_path(&mut self, value: &Spanned<String>) -> Option<PathBuf> {
        let path = PathBuf::from(value.get_ref());
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if value.get_ref().is_empty() || path.file_name().is_none() {
            self.problem(value.span(), "cache.persist", "must name a file");
            return None;
        }
        if !dir.is_dir() {
            let what = format!("directory {} does not exist", dir.display());
            self.problem(value.span(), "cache.persist", &what);
            return None;
        }
        Some(path)
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

    fn net(&mut self, value: &Spanned<String>) -> Option<IpNet> {
        let text = value.get_ref();
        let net = text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from));
        if net.is_none() {
            let what = format!("{text:?} is not a network like \"127.0.0.0/8\" or an address");
            self.problem(value.span(), "server.allow", &what);
        }
        net
    }
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
fn parse_socket_addr(text: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| Some(SocketAddr::new(text.parse::<IpAddr>().ok()?, default_port?)))
}

/// One `[upstream] servers` entry: `IP`, `IP:PORT`, `udp://IP:PORT`, `tcp://IP:PORT`.
fn parse_upstream(text: &str) -> Result<UpstreamAddr, String> {
    let (transport, rest) = match text.split_once("://") {
        None => (Transport::Udp, text),
        Some(("udp", rest)) => (Transport::Udp, rest),
        Some(("tcp", rest)) => (Transport::Tcp, rest),
        Some(("tls" | "https", _)) => {
            return Err(format!("{text:?}: encrypted upstreams (tls://, https://) are not supported yet"));
        }
        Some((scheme, _)) => {
            return Err(format!("{text:?}: unknown scheme {scheme:?} (use udp:// or tcp://)"));
        }
    };
    let addr = parse_socket_addr(rest, Some(53)).ok_or_else(|| {
        format!("{text:?} is not a server like \"192.0.2.1\", \"192.0.2.1:53\" or \"tcp://[2001:db8::1]:53\"")
    })?;
    Ok(UpstreamAddr { label: text.to_string(), addr, transport })
}

/// The nameservers of a resolv.conf, less the addresses stubborn itself
/// listens on (pointing at ourselves would be a forwarding loop).
fn system_nameservers(resolv_conf: &[u8], listen: &[SocketAddr]) -> Vec<UpstreamAddr> {
    let Ok(parsed) = resolv_conf::Config::parse(resolv_conf) else {
        return Vec::new();
    };
    parsed
        .nameservers
        .iter()
        .map(|ns| SocketAddr::new(IpAddr::from(ns.clone()), 53))
        .filter(|addr| !listen.iter().any(|l| l.port() == 53 && (l.ip() == addr.ip() || l.ip().is_unspecified())))
        .map(|addr| UpstreamAddr { label: addr.to_string(), addr, transport: Transport::Udp })
        .collect()
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("t.toml"), text, Some(b"nameserver 192.0.2.53\n"))
    }

    #[test]
    fn empty_file_takes_defaults_and_resolv_conf() {
        let c = parse("").unwrap();
        assert_eq!(c.server.listen, vec!["127.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
        assert_eq!(c.upstream.servers[0].addr, "192.0.2.53:53".parse().unwrap());
        assert_eq!(c.upstream.timeout, Duration::from_millis(500));
        assert_eq!(c.cache, CacheConfig::default());
        assert_eq!(c.admin, None);
    }

    #[test]
    fn durations_and_upstream_forms() {
        let c = parse(
            r#"
[upstream]
servers = ["192.0.2.1", "192.0.2.2:5353", "tcp://[2001:db8::1]:53", "udp://127.0.0.1:1053"]
timeout = "1.5s"
[cache]
stale_answer_after = "1.8s"
max_stale = "3d"
keep_positive = "0s"
"#,
        )
        .unwrap();
        let s = &c.upstream.servers;
        assert_eq!((s[0].addr, s[0].transport), ("192.0.2.1:53".parse().unwrap(), Transport::Udp));
        assert_eq!(s[1].addr.port(), 5353);
        assert_eq!((s[2].addr, s[2].transport), ("[2001:db8::1]:53".parse().unwrap(), Transport::Tcp));
        assert_eq!(s[3].label, "udp://127.0.0.1:1053");
        assert_eq!(c.upstream.timeout, Duration::from_millis(1500));
        assert_eq!(c.cache.stale_answer_after, Duration::from_millis(1800));
        assert_eq!(c.cache.max_stale, Duration::from_secs(3 * 86400));
        assert_eq!(c.cache.keep_positive, Duration::ZERO);
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let err = parse(
            "[server]\nlisten = [\"127.0.0.1:53\", \"nonsense\"]\n[upstream]\nservers = [\"tls://192.0.2.1:853#dns\"]\ntimeout = \"soon\"\nfail_after = 0\n",
        )
        .unwrap_err();
        let p = &err.problems;
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("t.toml:2:27: server.listen: \"nonsense\""), "{}", p[0]);
        assert!(p[1].starts_with("t.toml:4:12: upstream.servers:") && p[1].contains("not supported yet"), "{}", p[1]);
        assert!(p[2].starts_with("t.toml:5:11: upstream.timeout:"), "{}", p[2]);
        assert!(p[3].starts_with("t.toml:6:14: upstream.fail_after: must be at least 1"), "{}", p[3]);
    }

    #[test]
    fn unknown_keys_and_syntax_errors_have_positions() {
        let err = parse("[cache]\nmax_tll = \"1d\"\n").unwrap_err();
        assert!(err.problems[0].starts_with("t.toml:2:1: "), "{err}");
        assert!(err.problems[0].contains("max_tll"), "{err}");
        let err = parse("[server]\nlisten = [\n").unwrap_err();
        assert!(err.problems[0].starts_with("t.toml:"), "{err}");
    }

    #[test]
    fn resolv_conf_fallback_skips_our_own_address() {
        let conf = b"nameserver 127.0.0.1\nnameserver 192.0.2.9\n";
        let c = Config::parse(Path::new("t.toml"), "[server]\nlisten = [\"127.0.0.1:53\"]\n", Some(conf)).unwrap();
        assert_eq!(c.upstream.servers.len(), 1);
        assert_eq!(c.upstream.servers[0].addr, "192.0.2.9:53".parse().unwrap());
        let err = Config::parse(Path::new("t.toml"), "", Some(b"nameserver 127.0.0.1\n")).unwrap_err();
        assert!(err.problems[0].contains("upstream.servers: not set"), "{err}");
    }

    #[test]
    fn zones_are_lower_cased_without_trailing_dot() {
        let c = parse("[[upstream.zone]]\nname = \"Cluster.Local.\"\nservers = [\"10.96.0.10\"]\n").unwrap();
        assert_eq!(c.upstream.zones[0].name, "cluster.local");
        assert_eq!(c.upstream.zones[0].servers[0].addr, "10.96.0.10:53".parse().unwrap());
    }

    #[test]
    fn persist_needs_an_existing_directory() {
        let dir = std::env::temp_dir();
        let ok = format!("[cache]\npersist = \"{}/s.snapshot\"\npersist_interval = \"1m\"\n", dir.display());
        let c = parse(&ok).unwrap();
        assert_eq!(c.cache.persist, Some(dir.join("s.snapshot")));
        assert_eq!(c.cache.persist_interval, Duration::from_secs(60));
        let err = parse("[cache]\npersist = \"/nonexistent/dir/s.snapshot\"\n").unwrap_err();
        assert!(err.problems[0].starts_with("t.toml:2:11: cache.persist: directory /nonexistent/dir"), "{err}");
    }

    #[test]
    fn services_parse_with_defaults() {
        let c = parse(
            "[[service]]\nname = \"API.example.com.\"\nprimary = \"api.aws.example.net\"\nsecondary = [\"203.0.113.7\"]\ncheck = \"tcp:443\"\n",
        )
        .unwrap();
        let s = &c.services[0];
        assert_eq!(s.name, "api.example.com");
        assert_eq!(
            s.targets,
            vec![Target::Name("api.aws.example.net".into()), Target::Ip("203.0.113.7".parse().unwrap())]
        );
        assert_eq!(s.check, Check::Tcp(443));
        assert_eq!(
            (s.interval, s.timeout, s.fall, s.rise, s.ttl),
            (Duration::from_secs(5), Duration::from_secs(1), 3, 2, Duration::from_secs(10))
        );
    }

    #[test]
    fn service_mistakes_are_reported() {
        let err = parse(
            "[[service]]\nname = \"a.example\"\nprimary = \"b.example\"\ncheck = \"tcp:http\"\nfall = 0\n\
             [[service]]\nname = \"a.example\"\nprimary = \"a.example\"\n",
        )
        .unwrap_err();
        let all = err.to_string();
        assert!(all.contains("t.toml:4:9: service.check: \"tcp:http\""), "{all}");
        assert!(all.contains("t.toml:5:8: service.fall: must be at least 1"), "{all}");
        assert!(all.contains("t.toml:7:8: service.name: \"a.example\" is configured twice"), "{all}");
        assert!(all.contains("service.name: \"a.example\" is also a target"), "{all}");
        let err = parse("[[service]]\nname = \"x.example\"\nprimary = \"y.example\"\ncheck = \"ftp://{addr}\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("service.check"), "{err}");
    }

    #[test]
    fn min_ttl_above_max_ttl_is_rejected() {
        let err = parse("[cache]\nmin_ttl = \"2d\"\nmax_ttl = \"1d\"\n").unwrap_err();
        assert!(err.problems[0].contains("cache.min_ttl"), "{err}");
    }
}
