//! Tests of config parsing and validation, beside it (as hickory-dns's
//! `bin/src/config/tests.rs`).

use std::{path::Path, time::Duration};

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("t.toml"), text, Some(b"nameserver 192.0.2.53\n"))
}

#[test]
fn empty_file_takes_defaults_and_resolv_conf() {
    let c = parse("").unwrap();
    assert_eq!(c.server.listen, vec!["127.0.0.1:53".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    assert_eq!(c.upstream.servers[0].socket_addr(), Some("192.0.2.53:53".parse().unwrap()));
    assert_eq!(c.upstream.timeout, Duration::from_millis(500));
    assert_eq!(c.cache, CacheConfig::default());
    assert_eq!(c.answers, crate::config::AnswerPolicy::default());
    assert_eq!(c.persist, crate::config::PersistConfig::default());
    assert_eq!(c.admin.listen, None);
    assert_eq!(c.admin.allow, c.server.allow, "loopback only by default");
    let hosts: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
    assert_eq!(c.admin.control_allow, hosts);
}

/// `control_allow` stays the host's own addresses when `allow` is widened
/// for a Prometheus; a network that isn't one is reported where it is.
#[test]
fn control_allow_is_its_own_list() {
    let c = parse("[admin]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
    assert_eq!(c.admin.control_allow, vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()]);
    let c = parse("[admin]\ncontrol_allow = [\"192.0.2.7\", \"2001:db8::/32\"]\n").unwrap();
    assert_eq!(c.admin.control_allow, vec!["192.0.2.7/32".parse().unwrap(), "2001:db8::/32".parse().unwrap()]);
    let err = parse("[admin]\ncontrol_allow = [\"127.0.0.1/32\", \"10.0.0.0/33\"]\n").unwrap_err();
    assert_eq!(
        err.problems,
        ["t.toml:2:34: admin.control_allow: \"10.0.0.0/33\" is not a network like \"127.0.0.0/8\" or an address"]
    );
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
    assert_eq!((s[0].socket_addr(), &s[0].transport), (Some("192.0.2.1:53".parse().unwrap()), &Transport::Udp));
    assert_eq!(s[1].port, 5353);
    assert_eq!((s[2].socket_addr(), &s[2].transport), (Some("[2001:db8::1]:53".parse().unwrap()), &Transport::Tcp));
    assert_eq!(s[3].label, "udp://127.0.0.1:1053");
    assert_eq!(c.upstream.timeout, Duration::from_millis(1500));
    assert_eq!(c.answers.stale_answer_after, Duration::from_millis(1800));
    assert_eq!(c.cache.policy.max_stale, Duration::from_secs(3 * 86400));
    assert_eq!(c.cache.policy.keep_positive, Duration::ZERO);
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let err = parse(
        "[server]\nlisten = [\"127.0.0.1:53\", \"nonsense\"]\n[upstream]\nservers = [\"tls://192.0.2.1:853\"]\ntimeout = \"soon\"\nfail_after = 0\n",
    )
    .unwrap_err();
    let p = &err.problems;
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p[0].starts_with("t.toml:2:27: server.listen: \"nonsense\""), "{}", p[0]);
    assert!(
        p[1].starts_with("t.toml:4:12: upstream.servers:")
            && (p[1].contains("needs #tls-name") || !cfg!(feature = "encrypted")),
        "{}",
        p[1]
    );
    assert!(p[2].starts_with("t.toml:5:11: upstream.timeout:"), "{}", p[2]);
    assert!(p[3].starts_with("t.toml:6:14: upstream.fail_after: must be at least 1"), "{}", p[3]);
}

/// docs/reference.md: every encrypted form, with its defaults.
#[cfg(feature = "encrypted")]
#[test]
fn encrypted_upstream_forms() {
    let c = parse(
        r#"
[upstream]
servers = [
  "tls://1.1.1.1#cloudflare-dns.com",
  "tls://dns.quad9.net",
  "tls://[2620:fe::fe]:8853#dns.quad9.net",
  "https://dns.google/dns-query",
  "https://1.1.1.1:8443/resolve#Cloudflare-DNS.com.",
  "https://doh.example",
  "10.0.0.2:53",
]
"#,
    )
    .unwrap();
    let s = &c.upstream.servers;
    let tls = |name: &str| TlsTarget { tls_name: name.to_string() };
    assert_eq!((&s[0].host, s[0].port), (&Host::Ip("1.1.1.1".parse().unwrap()), 853));
    assert_eq!(s[0].transport, Transport::Tls(tls("cloudflare-dns.com")));
    assert_eq!((&s[1].host, s[1].port), (&Host::Name("dns.quad9.net".into()), 853));
    assert_eq!(s[1].transport, Transport::Tls(tls("dns.quad9.net")));
    assert_eq!(s[2].socket_addr(), Some("[2620:fe::fe]:8853".parse().unwrap()));
    assert_eq!((&s[3].host, s[3].port), (&Host::Name("dns.google".into()), 443));
    assert_eq!(s[3].transport, Transport::Https(tls("dns.google"), "/dns-query".into()));
    assert_eq!(s[4].socket_addr(), Some("1.1.1.1:8443".parse().unwrap()));
    assert_eq!(s[4].transport, Transport::Https(tls("cloudflare-dns.com"), "/resolve".into()));
    assert_eq!(s[5].transport, Transport::Https(tls("doh.example"), "/dns-query".into()), "default path");
    assert!(s[6].is_plain() && !s[0].is_plain());
    assert_eq!(c.upstream.bootstrap, Vec::<std::net::SocketAddr>::new(), "names go to 10.0.0.2");
}

#[cfg(feature = "encrypted")]
#[test]
fn encrypted_upstream_mistakes_are_named() {
    let problem = |servers: &str| parse(&format!("[upstream]\nservers = [{servers}]\n")).unwrap_err().problems;
    assert!(problem(r#""tls://192.0.2.1""#)[0].contains("needs #tls-name"));
    assert!(problem(r#""https://192.0.2.1/dns-query""#)[0].contains("needs #tls-name"));
    assert!(problem(r#""tls://dns.example/x", "192.0.2.1""#)[0].contains("has no path"));
    assert!(problem(r#""tls://dns.example:0", "192.0.2.1""#)[0].contains("port"));
    assert!(problem(r#""tls://bad_host!", "192.0.2.1""#)[0].contains("neither an IP address nor a host name"));
    assert!(problem(r#""tls://192.0.2.1#not a name""#)[0].contains("tls-name"));
    assert!(problem(r#""quic://192.0.2.1""#)[0].contains("unknown scheme"));
    // A name with nothing to resolve it: no bootstrap, no plain server.
    let p = problem(r#""tls://1.1.1.1#one.one.one.one", "https://dns.google/dns-query""#);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("t.toml:2:45: upstream.servers:") && p[0].contains("nothing can resolve it"), "{}", p[0]);
    // bootstrap, or a plain server in the default list, resolves zone names too.
    let ok = "[upstream]\nservers = [\"https://dns.google\"]\nbootstrap = [\"9.9.9.9\", \"[2620:fe::fe]:53\"]\n";
    assert_eq!(parse(ok).unwrap().upstream.bootstrap.len(), 2);
    let zone =
        "[upstream]\nservers = [\"192.0.2.1\"]\n[[upstream.zone]]\nname = \"corp\"\nservers = [\"tls://dns.corp\"]\n";
    parse(zone).unwrap();
    // bootstrap must not be stubborn itself.
    let looped =
        "[server]\nlisten = [\"127.0.0.1:53\"]\n[upstream]\nservers = [\"192.0.2.1\"]\nbootstrap = [\"127.0.0.1\"]\n";
    let e = parse(looped).unwrap_err();
    assert!(e.problems[0].contains("upstream.bootstrap") && e.problems[0].contains("stubborn itself"), "{e}");
}

#[test]
fn upstream_ca_file_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem\n").unwrap();
    for path in [junk, dir.path().join("missing.pem")] {
        let text = format!("[upstream]\nservers = [\"192.0.2.1\"]\nca_file = \"{}\"\n", path.display());
        let e = parse(&text).unwrap_err();
        assert!(e.problems[0].starts_with("t.toml:3:11: upstream.ca_file: ca_file "), "{e}");
    }
}

#[cfg(not(feature = "encrypted"))]
#[test]
fn encrypted_upstreams_need_the_feature() {
    let e = parse("[upstream]\nservers = [\"tls://1.1.1.1#one.one.one.one\"]\n").unwrap_err();
    assert!(e.problems[0].contains("built without encrypted upstreams"), "{e}");
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
    assert_eq!(c.upstream.servers[0].socket_addr(), Some("192.0.2.9:53".parse().unwrap()));
    let err = Config::parse(Path::new("t.toml"), "", Some(b"nameserver 127.0.0.1\n")).unwrap_err();
    assert!(err.problems[0].contains("no [upstream] servers: not set"), "{err}");
}

#[test]
fn resolv_conf_lists_each_nameserver_once_in_order() {
    let conf = b"nameserver 192.0.2.9\nnameserver 192.0.2.8\nnameserver 192.0.2.9\n";
    let c = Config::parse(Path::new("t.toml"), "", Some(conf)).unwrap();
    let servers: Vec<_> = c.upstream.servers.iter().filter_map(|s| s.socket_addr()).collect();
    assert_eq!(servers, ["192.0.2.9:53".parse().unwrap(), "192.0.2.8:53".parse().unwrap()]);
}

#[test]
fn zones_are_lower_cased_without_trailing_dot() {
    let c = parse("[[upstream.zone]]\nname = \"Cluster.Local.\"\nservers = [\"10.96.0.10\"]\n").unwrap();
    assert_eq!(c.upstream.zones[0].name, "cluster.local");
    assert_eq!(c.upstream.zones[0].servers[0].socket_addr(), Some("10.96.0.10:53".parse().unwrap()));
}

/// A listen address given twice (or taken by the admin endpoint too) could
/// never be bound: a problem at the second one, naming it; two of port 0
/// are two ports.
#[test]
fn a_listen_address_twice_is_a_problem() {
    let err = parse("[server]\nlisten = [\"127.0.0.1:5300\", \"127.0.0.1\", \"127.0.0.1:53\"]\n").unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].starts_with("t.toml:2:42: server.listen: 127.0.0.1:53 is listed twice"), "{err}");
    let err = parse("[server]\nlisten = [\"127.0.0.1:5300\"]\n[admin]\nlisten = \"127.0.0.1:5300\"\n").unwrap_err();
    assert!(
        err.problems[0].starts_with("t.toml:4:10: admin.listen: 127.0.0.1:5300 is also a [server] listen"),
        "{err}"
    );
    let c =
        parse("[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    assert_eq!(c.server.listen.len(), 2);
}

#[test]
fn the_query_log_is_off_unless_asked_for() {
    assert!(!parse("").unwrap().log.queries);
    assert!(parse("[log]\nqueries = true\n").unwrap().log.queries);
    assert!(parse("[log]\nquery = true\n").is_err(), "unknown keys are an error");
}

#[test]
fn persist_in_an_existing_directory_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let ok = format!("[cache]\npersist = \"{}/s.snapshot\"\npersist_interval = \"1m\"\n", dir.path().display());
    let c = parse(&ok).unwrap();
    assert_eq!(c.persist.path, Some(dir.path().join("s.snapshot")));
    assert_eq!(c.persist.interval, Duration::from_secs(60));
    assert_eq!(c.warnings, Vec::<String>::new());
}

/// docs/reference.md: a missing directory is created at start; `check` only warns.
#[test]
fn a_missing_persist_directory_is_a_warning_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("a/b");
    let c = parse(&format!("[cache]\npersist = \"{}/s.snapshot\"\n", missing.display())).unwrap();
    assert_eq!(c.persist.path, Some(missing.join("s.snapshot")));
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let expected = format!("t.toml:2:11: warning: cache.persist: directory {} does not exist yet", missing.display());
    assert!(c.warnings[0].starts_with(&expected), "{:?}", c.warnings);
    assert!(!dir.path().join("a").exists(), "validation created a directory");
}

#[test]
fn a_persist_directory_under_a_file_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let err = parse(&format!("[cache]\npersist = \"{}/sub/s.snapshot\"\n", file.display())).unwrap_err();
    let expected = format!("t.toml:2:11: cache.persist: directory {}/sub cannot be created", file.display());
    assert!(err.problems[0].starts_with(&expected), "{err}");
    assert!(err.problems[0].ends_with(&format!("{} is not a directory", file.display())), "{err}");
    let err = parse("[cache]\npersist = \"\"\n").unwrap_err();
    assert!(err.problems[0].contains("cache.persist: must name a file"), "{err}");
}

#[test]
fn services_parse_with_defaults() {
    let c = parse(
        "[[service]]\nname = \"API.example.com.\"\nprimary = \"api.aws.example.net\"\nsecondary = [\"203.0.113.7\"]\ncheck = \"tcp:443\"\n",
    )
    .unwrap();
    let s = &c.services[0];
    assert_eq!(s.name, "api.example.com");
    assert_eq!(s.targets, vec![Target::Name("api.aws.example.net".into()), Target::Ip("203.0.113.7".parse().unwrap())]);
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
    let err =
        parse("[[service]]\nname = \"x.example\"\nprimary = \"y.example\"\ncheck = \"ftp://{addr}\"\n").unwrap_err();
    assert!(err.to_string().contains("service.check"), "{err}");
}

#[test]
fn min_ttl_above_max_ttl_is_reported_at_min_ttl() {
    let err = parse("[cache]\nmax_ttl = \"1d\"\nmin_ttl = \"2d\"\n").unwrap_err();
    assert_eq!(err.problems, vec!["t.toml:3:11: cache.min_ttl: is larger than cache.max_ttl"]);
}

#[test]
fn cache_rules_inherit_cache_and_the_longest_zone_wins() {
    let c = parse(
        r#"
[cache]
stale_ttl = "10s"
max_stale = "1d"
[[cache.rule]]
zone = "example.com"
max_stale = "1h"
[[cache.rule]]
zone = "Login.Example.com."
serve_stale = false
"#,
    )
    .unwrap();
    let policy = |name: &str| *c.cache.policy_for(&crate::wire::wire_name(name));
    let login = policy("a.login.example.com");
    // Unset keys come from [cache], not from a shorter rule above the zone.
    let expected = (false, Duration::from_secs(86_400), Duration::from_secs(10));
    assert_eq!((login.serve_stale, login.max_stale, login.stale_ttl), expected);
    let www = policy("WWW.example.COM");
    assert_eq!((www.serve_stale, www.max_stale), (true, Duration::from_secs(3600)));
    assert_eq!(policy("xexample.com"), c.cache.policy, "label boundaries");
    assert_eq!(c.cache.longest_max_stale(), Duration::from_secs(86_400));
}

#[test]
fn cache_rule_problems_name_their_key() {
    let err = parse(
        "[[cache.rule]]\nzone = \".\"\n[[cache.rule]]\nzone = \"a.test\"\n[[cache.rule]]\nzone = \"A.test.\"\nmax_ttl = \"0s\"\n[cache]\nmin_ttl = \"1m\"\n",
    )
    .unwrap_err();
    assert_eq!(
        err.problems,
        vec![
            "t.toml:2:8: cache.rule.zone: \".\" is not a zone name ([cache] itself is the policy of every name)",
            "t.toml:6:8: cache.rule.zone: \"a.test\" is configured twice",
            "t.toml:7:11: cache.rule.max_ttl: is smaller than cache.rule.min_ttl",
        ]
    );
}

#[test]
fn rebind_allow_zones_are_domain_names() {
    let c = parse(
        "[server]\nrebind_protection = true\nrebind_allow = [\"Home.Arpa.\", \"lan\"]\n\
         [[upstream.zone]]\nname = \"corp.example\"\nservers = [\"192.0.2.9\"]\n\
         [[service]]\nname = \"api.example.com\"\nprimary = \"api.aws.example.net\"\nsecondary = [\"192.0.2.7\"]\n",
    )
    .unwrap();
    let rebind = c.answers.rebind.expect("on");
    for exempt in ["x.home.arpa", "LAN", "a.corp.example", "api.example.com", "api.aws.example.net"] {
        assert!(rebind.covers(&crate::wire::wire_name(exempt)), "{exempt}");
    }
    assert!(!rebind.covers(&crate::wire::wire_name("example.com")));
    assert_eq!(parse("[server]\nrebind_allow = [\"lan\"]\n").unwrap().answers.rebind, None, "off by default");
    let err = parse("[server]\nrebind_allow = [\".\"]\n").unwrap_err();
    assert!(err.problems[0].starts_with("t.toml:2:17: server.rebind_allow: \".\" is not a domain name"), "{err}");
}

#[test]
fn client_rate_defaults_and_bounds() {
    let c = parse("").unwrap();
    assert_eq!((c.server.client_rate.rate, c.server.client_rate.burst), (0, 0), "off by default");
    assert_eq!(c.server.client_rate.exempt.len(), 2, "127.0.0.1 and ::1");
    let c = parse("[server]\nclient_rate = 50\nclient_rate_exempt = []\n").unwrap();
    assert_eq!((c.server.client_rate.rate, c.server.client_rate.burst), (50, 50), "burst defaults to the rate");
    assert!(c.server.client_rate.exempt.is_empty());
    let err = parse("[server]\nclient_rate = 2000000\nclient_burst = 0\n").unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(err.problems[1].contains("server.client_burst: must be from 1"), "{err}");
}

#[test]
fn missing_upstream_servers_are_reported_at_the_table_or_the_top() {
    let no_resolv = Some(&b"nameserver 127.0.0.1\n"[..]);
    let text = "[server]\nlisten = [\"127.0.0.1:53\"]\n\n[upstream]\ntimeout = \"1s\"\n";
    let err = Config::parse(Path::new("t.toml"), text, no_resolv).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].starts_with("t.toml:4:1: upstream.servers: not set"), "{err}");
    let err = Config::parse(Path::new("t.toml"), "[server]\nlisten = [\"127.0.0.1:53\"]\n", no_resolv).unwrap_err();
    assert!(err.problems[0].starts_with("t.toml:1:1: no [upstream] servers: not set"), "{err}");
}

#[test]
fn zone_names_are_validated_at_their_name() {
    let long = "a".repeat(70);
    let zone = |name: &str| format!("[[upstream.zone]]\nname = \"{name}\"\nservers = [\"10.96.0.10\"]\n");
    let err = parse(&zone(&format!("bad name!.{long}.example"))).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.problems[0].starts_with("t.toml:2:8: upstream.zone.name: \"bad name!."), "{err}");
    assert!(err.problems[0].ends_with("is not a domain name"), "{err}");
    let err = parse(&zone(&format!("{long}.example"))).unwrap_err();
    assert!(err.problems[0].contains("is not a domain name"), "a 70-octet label: {err}");
    let err = parse(&zone(&format!("{}.example", vec!["a".repeat(63); 4].join(".")))).unwrap_err();
    assert!(err.problems[0].contains("is not a domain name"), "264 octets: {err}");
    let err = parse(&zone("")).unwrap_err();
    assert!(err.problems[0].contains("is not a domain name"), "{err}");
    let err = parse(&zone(".")).unwrap_err();
    assert!(err.problems[0].contains("use [upstream] servers for the root"), "{err}");
    let err = parse(&format!("{}{}", zone("corp.example"), zone("Corp.Example."))).unwrap_err();
    assert!(
        err.problems[0].starts_with("t.toml:5:8: upstream.zone.name: \"corp.example\" is configured twice"),
        "{err}"
    );
    assert_eq!(parse(&zone("10.in-addr.arpa")).unwrap().upstream.zones[0].name, "10.in-addr.arpa");
}

#[test]
fn capacity_is_from_1_to_100_million() {
    for bad in ["0", "100000001", "18446744073709551615"] {
        let err = parse(&format!("[cache]\ncapacity = {bad}\n")).unwrap_err();
        assert_eq!(err.problems, vec!["t.toml:2:12: cache.capacity: must be from 1 to 100000000 entries"], "{bad}");
    }
    assert_eq!(parse("[cache]\ncapacity = 100000000\n").unwrap().cache.capacity, 100_000_000);
    assert_eq!(parse("[cache]\ncapacity = 1\n").unwrap().cache.capacity, 1);
    let err = parse("[cache]\ncapacity = -1\n").unwrap_err();
    assert!(err.problems[0].starts_with("t.toml:2:12: cache.capacity: "), "{err}");
}

/// serde's own errors (a wrong type, an unknown key) carry a position but
/// not the key: it is found from the position, as docs/reference.md's
/// `PATH:LINE:COL: key: what is wrong` asks.
#[test]
fn type_errors_and_unknown_keys_name_their_key() {
    for (text, start) in [
        ("[upstream]\ntimeout = 500\n", "t.toml:2:11: upstream.timeout: invalid type: integer `500`"),
        ("[server]\nlisten = [\"127.0.0.1:53\", 5]\n", "t.toml:2:27: server.listen: invalid type: integer `5`"),
        ("[server]\nfoo = 1\n", "t.toml:2:1: server.foo: unknown field `foo`"),
        ("[[upstream.zone]]\nname = \"a.test\"\nservers = []\nnmae = 3\n", "t.toml:4:1: upstream.zone.nmae: unknown"),
        ("[cache]\nserve_stale = \"yes\"\n", "t.toml:2:15: cache.serve_stale: invalid type: string \"yes\""),
        ("admin = 3\n", "t.toml:1:9: admin: invalid type: integer `3`"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with(start)), "{text:?}: {err}");
    }
    // A syntax error has no key to name, and nothing after it is read.
    let err = parse("[server\n").unwrap_err();
    assert!(err.problems[0].starts_with("t.toml:1:8: "), "{err}");
}

#[test]
fn max_memory_is_a_size_and_defaults_to_1kib_per_entry() {
    assert_eq!(parse("").unwrap().cache.max_memory, 100_000 * 1024);
    assert_eq!(parse("[cache]\ncapacity = 1000\n").unwrap().cache.max_memory, 1000 * 1024);
    for (text, bytes) in [("64MiB", 64 << 20), ("512 KiB", 512 << 10), ("1GiB", 1 << 30), ("20000B", 20_000)] {
        let config = parse(&format!("[cache]\nmax_memory = \"{text}\"\n")).unwrap();
        assert_eq!(config.cache.max_memory, bytes, "{text}");
    }
    for bad in ["64MB", "64", "MiB", "-1MiB", "1.5GiB", "99999999999999999999TiB"] {
        let err = parse(&format!("[cache]\nmax_memory = \"{bad}\"\n")).unwrap_err();
        let expected =
            format!("t.toml:2:14: cache.max_memory: {bad:?} is not a size like \"64MiB\", \"512KiB\" or \"1GiB\"");
        assert_eq!(err.problems, vec![expected], "{bad}");
    }
    for out_of_range in ["1KiB", "2TiB"] {
        let err = parse(&format!("[cache]\nmax_memory = \"{out_of_range}\"\n")).unwrap_err();
        assert_eq!(err.problems, vec!["t.toml:2:14: cache.max_memory: must be from 16KiB to 1TiB"], "{out_of_range}");
    }
}

/// The keys the parser accepts in one table, read from the parser itself:
/// serde's `deny_unknown_fields` error lists every field it expected.
fn accepted_keys(table_toml: &str) -> Vec<String> {
    let text = table_toml.replace("UNKNOWN", "zz_not_a_key = 1");
    let err = toml::from_str::<super::file::File>(&text).expect_err("an unknown key is an error").to_string();
    // serde says "expected `a`", "expected `a` or `b`" or "expected one of `a`, `b`, ...".
    let (_, expected) = err.split_once("`zz_not_a_key`, expected ").unwrap_or_else(|| panic!("no key list in: {err}"));
    let list = expected.lines().next().unwrap_or_default();
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|k| k.split(" or "))
        .map(|k| k.trim().trim_matches('`').to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// stubborn.toml(5) (`doc/stubborn.toml.5`, written by hand from
/// docs/reference.md) names every key the parser accepts, as a `.TP` item
/// (`\fBkey\fR ...`) under its table's `.SS` heading; and every key it
/// describes is one the parser accepts: one source of truth for the keys.
#[test]
fn man_page_lists_every_config_key() {
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/stubborn.toml.5")).expect("read man page");
    let tables = [
        ("[server]", "[server]\nUNKNOWN"),
        ("[upstream]", "[upstream]\nUNKNOWN"),
        ("[[upstream.zone]]", "[[upstream.zone]]\nname = \"a.test\"\nservers = []\nUNKNOWN"),
        ("[cache]", "[cache]\nUNKNOWN"),
        ("[[cache.rule]]", "[[cache.rule]]\nzone = \"a.test\"\nUNKNOWN"),
        ("[[service]]", "[[service]]\nname = \"a.test\"\nprimary = \"192.0.2.1\"\nUNKNOWN"),
        ("[admin]", "[admin]\nUNKNOWN"),
        ("[log]", "[log]\nUNKNOWN"),
        ("[fleet]", "[fleet]\nstore = []\nUNKNOWN"),
    ];
    let top = accepted_keys("UNKNOWN");
    let mut headings: Vec<&str> = tables.iter().map(|(h, _)| *h).collect();
    headings.sort_unstable();
    let mut top_tables: Vec<String> = top.iter().map(|k| format!("[{k}]")).collect();
    top_tables.iter_mut().filter(|k| *k == "[service]").for_each(|k| *k = "[[service]]".into());
    for table in &top_tables {
        assert!(headings.contains(&table.as_str()), "the parser accepts the table {table}; add it to this test");
    }
    for (heading, toml) in tables {
        let keys = accepted_keys(toml);
        assert!(!keys.is_empty(), "{heading}: parser keys {keys:?}");
        let section = man
            .split(".SS ")
            .find(|s| s.lines().next() == Some(heading))
            .unwrap_or_else(|| panic!("stubborn.toml.5 has no .SS {heading}"));
        let section = section.split(".SH ").next().unwrap_or_default();
        let described: Vec<&str> = section
            .split(".TP\n")
            .skip(1)
            .filter_map(|item| item.strip_prefix("\\fB")?.split_once("\\fR").map(|(k, _)| k))
            .collect();
        for key in &keys {
            assert!(described.contains(&key.as_str()), "stubborn.toml.5 {heading} does not describe `{key}`");
        }
        for key in &described {
            assert!(
                keys.iter().any(|k| k == key),
                "stubborn.toml.5 {heading} describes `{key}`, which the parser rejects"
            );
        }
    }
}

/// serde stops at its first error; `check` does not: unknown keys, values
/// of the wrong type, a `[[table]]` missing a key, and the checks of what is
/// left, all in one go (docs/reference.md: every problem is printed).
#[test]
fn every_problem_is_reported_in_one_go() {
    let text = "[server]\nfoo = 1\nlisten = [\"127.0.0.1:5399\", 5]\n[upstream]\nservers = [\"192.0.2.1\"]\n\
                timeout = 500\n[[upstream.zone]]\nnmae = \"a.test\"\nservers = [\"192.0.2.1\"]\n[cache]\ncapacity = 0\n\
                [[service]]\nname = \"x.test\"\nprimary = 5\n[[service]]\nname = \"y.test\"\nprimary = \"192.0.2.9\"\n";
    let err = parse(text).unwrap_err();
    // In the order of the file.
    let heads: Vec<&str> = err.problems.iter().map(|p| p.split(": ").take(2).last().unwrap_or("")).collect();
    assert_eq!(
        heads,
        [
            "server.foo",
            "server.listen",
            "upstream.timeout",
            "upstream.zone",
            "upstream.zone.nmae",
            "cache.capacity",
            "service.primary"
        ],
        "{err}"
    );
    assert!(err.problems.iter().any(|p| p.starts_with("t.toml:7:1: upstream.zone: missing field `name`")), "{err}");
    assert!(!err.problems.iter().any(|p| p.contains("missing field `primary`")), "taken out, not missing: {err}");
}

/// The shipped configs with a few characters changed to ones that matter
/// to TOML: a config or its problems, each as `PATH:LINE:COL: ...`, never a
/// panic or a hang (serde's errors are read past, so this walks that loop).
#[test]
fn mutated_configs_give_problems_never_a_panic() {
    const SIGNIFICANT: &[u8] = b"[]=\"'.,#\n 0123456789abcxyz-_{}";
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    for file in
        ["conf/stubborn.toml", "deploy/systemd/stubborn.toml", "deploy/kubernetes/overlays/cluster/stubborn.toml"]
    {
        let valid = std::fs::read_to_string(format!("{dir}{file}")).expect("a shipped config");
        for _ in 0..1500 {
            let mut bytes = valid.clone().into_bytes();
            for _ in 0..rand::random_range(1..4) {
                let at = rand::random_range(0..bytes.len());
                bytes[at] = SIGNIFICANT[rand::random_range(0..SIGNIFICANT.len())];
            }
            let Ok(text) = String::from_utf8(bytes) else { continue };
            if let Err(err) = Config::parse(Path::new("t.toml"), &text, Some(b"nameserver 192.0.2.53\n")) {
                assert!(!err.problems.is_empty(), "{text}");
                assert!(err.problems.iter().all(|p| p.starts_with("t.toml:")), "{err}\n{text}");
            }
        }
    }
}

/// Every default stubborn.toml(5) writes as a TOML value (`\fBkey\fR =
/// "1h"`) is the parser's: the key set to it gives the same config as the
/// key left out. Defaults written in words ("none", "as [cache]") are the
/// page's to explain.
#[test]
fn man_page_defaults_are_the_parsers() {
    let man =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/doc/stubborn.toml.5")).expect("read man page");
    let bases = [
        ("[server]", "[server]\n"),
        ("[upstream]", "[upstream]\n"),
        ("[cache]", "[cache]\n"),
        ("[[cache.rule]]", "[[cache.rule]]\nzone = \"a.test\"\n"),
        ("[[service]]", "[[service]]\nname = \"a.test\"\nprimary = \"192.0.2.1\"\n"),
        ("[admin]", "[admin]\n"),
        ("[fleet]", "[fleet]\nstore = [\"redis://127.0.0.1:6379/0\"]\n"),
    ];
    let mut checked = 0;
    for (heading, base) in bases {
        let section = man.split(".SS ").find(|s| s.lines().next() == Some(heading)).expect("a section");
        let section = section.split(".SH ").next().unwrap_or_default();
        for item in section.split(".TP\n").skip(1) {
            let Some((key, rest)) = item.strip_prefix("\\fB").and_then(|item| item.split_once("\\fR = ")) else {
                continue;
            };
            let default = rest.lines().next().unwrap_or_default();
            if toml::from_str::<toml::Table>(&format!("v = {default}")).is_err() {
                continue;
            }
            let left_out = parse(base).unwrap_or_else(|e| panic!("{heading}: {e}"));
            let mut written =
                parse(&format!("{base}{key} = {default}\n")).unwrap_or_else(|e| panic!("{heading} {key}: {e}"));
            // Whether `listen` was written is remembered (for the [::1] warning); the addresses are what count.
            written.server.default_listen = left_out.server.default_listen;
            assert_eq!(written, left_out, "stubborn.toml(5) says {heading} {key} = {default}, the parser does not");
            checked += 1;
        }
    }
    assert!(checked >= 35, "only {checked} defaults checked");
}
