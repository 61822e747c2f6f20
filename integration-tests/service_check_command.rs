//! Scenario: `stubborn check` on configs with `[[service]]` tables, valid
//! and broken one way at a time.
//!
//! Pins (docs/reference.md "Command line", `[[service]]` keys):
//! every check form of the contract is accepted (`dns`, `tcp:PORT`,
//! `http://{addr}:PORT/path`, `https://{addr}:PORT/path`, with `ca_file`);
//! bad check syntax, a duplicate service name, a service name that is also a
//! target, `fall = 0`, `rise = 0`, an unreadable `ca_file` and an unknown
//! key each make it exit 1 with a `PATH:LINE:COL:` line at the offending
//! line, never a panic.

use stubborn_test_support::stubborn::{Finished, check, reported_line};

/// Line numbers are pinned by the tests below: edit with care.
const VALID: &str = r#"[server]
listen = ["127.0.0.1:5300"]

[upstream]
servers = ["127.0.0.1:5353"]

[[service]]
name = "api.example.test"
primary = "api.aws.example.test"
secondary = ["api.gcp.example.test", "127.0.0.4"]
check = "tcp:8443"
interval = "5s"
timeout = "1s"
fall = 3
rise = 2
ttl = "10s"

[[service]]
name = "web.example.test"
primary = "web.aws.example.test"
secondary = ["2001:db8::7"]
check = "https://{addr}:443/health"

[[service]]
name = "plain.example.test"
primary = "192.0.2.10"
check = "http://{addr}:8080/"

[[service]]
name = "dns.example.test"
primary = "dns.aws.example.test"
"#;

fn assert_no_panic(out: &Finished) {
    for bad in ["panicked at", "RUST_BACKTRACE", "Error {", "Custom {"] {
        assert!(!out.stderr.contains(bad), "stderr contains {bad:?}:\n{}", out.stderr);
    }
}

/// Exit 1 with a report at one of `lines` mentioning one of `mentions`.
fn assert_invalid_at(toml: &str, lines: &[usize], mentions: &[&str]) {
    let out = check(toml);
    assert_eq!(out.code, Some(1), "exit 1 for an invalid config:\n{toml}\nstderr:\n{}", out.stderr);
    let reported = lines.iter().find_map(|&l| reported_line(&out, l)).unwrap_or_else(|| {
        panic!("no `{}:LINE:COL:` line for lines {lines:?} on stderr:\n{}", out.config_path.display(), out.stderr)
    });
    assert!(mentions.iter().any(|m| reported.contains(m)), "the report should mention one of {mentions:?}: {reported}");
    assert_no_panic(&out);
}

#[test]
fn service_check_accepts_every_check_form() {
    let out = check(VALID);
    assert_eq!(out.code, Some(0), "a valid config; stderr:\n{}", out.stderr);
    assert_no_panic(&out);
}

#[test]
fn service_check_accepts_a_readable_ca_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = stubborn_test_support::test_ca::TestCa::new("check");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.pem()).expect("write ca.pem");
    let toml = VALID.replace(
        "check = \"https://{addr}:443/health\"\n",
        &format!("check = \"https://{{addr}}:443/health\"\nca_file = \"{}\"\n", path.display()),
    );
    let out = check(&toml);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
}

#[test]
fn service_check_rejects_bad_check_syntax() {
    for bad in [
        "tcp:",
        "tcp:http",
        "tcp:99999",
        "tcp:0",
        "icmp",
        "DNS please",
        "http://example.com:80/health",
        "https://{addr}/health",
        "https://{addr}:443health",
        "ftp://{addr}:21/",
    ] {
        let toml = VALID.replace(r#"check = "tcp:8443""#, &format!("check = {bad:?}"));
        assert_invalid_at(&toml, &[11], &["check", bad]);
    }
}

#[test]
fn service_check_rejects_duplicate_service_names() {
    let toml = VALID.replace(r#"name = "web.example.test""#, r#"name = "api.example.test""#);
    assert_invalid_at(&toml, &[19], &["name", "api.example.test"]);
    // DNS names compare without regard to letter case or a trailing dot.
    let toml = VALID.replace(r#"name = "web.example.test""#, r#"name = "API.example.test.""#);
    assert_invalid_at(&toml, &[19], &["name", "api.example.test", "API.example.test"]);
}

#[test]
fn service_check_rejects_a_service_name_that_is_also_a_target() {
    // Another service's name as a target: answers would chain services.
    let toml = VALID.replace(r#"primary = "web.aws.example.test""#, r#"primary = "api.example.test""#);
    assert_invalid_at(&toml, &[8, 20], &["api.example.test"]);
    // Its own name as a target: the CNAME would point at itself.
    let toml = VALID.replace(r#"secondary = ["2001:db8::7"]"#, r#"secondary = ["web.example.test"]"#);
    assert_invalid_at(&toml, &[19, 21], &["web.example.test"]);
}

#[test]
fn service_check_rejects_fall_and_rise_of_zero() {
    assert_invalid_at(&VALID.replace("fall = 3", "fall = 0"), &[14], &["fall"]);
    assert_invalid_at(&VALID.replace("rise = 2", "rise = 0"), &[15], &["rise"]);
    // Both at once: both reported.
    let out = check(&VALID.replace("fall = 3", "fall = 0").replace("rise = 2", "rise = 0"));
    assert_eq!(out.code, Some(1), "stderr:\n{}", out.stderr);
    assert!(reported_line(&out, 14).is_some() && reported_line(&out, 15).is_some(), "stderr:\n{}", out.stderr);
}

#[test]
fn service_check_rejects_an_unreadable_ca_file() {
    let toml = VALID.replace(
        "check = \"https://{addr}:443/health\"\n",
        "check = \"https://{addr}:443/health\"\nca_file = \"/nonexistent/stubborn-test-ca.pem\"\n",
    );
    assert_invalid_at(&toml, &[23], &["ca_file", "stubborn-test-ca.pem"]);
}

#[test]
fn service_check_rejects_unknown_service_keys() {
    let toml = VALID.replace("ttl = \"10s\"", "tll = \"10s\"");
    assert_invalid_at(&toml, &[16], &["tll"]);
}
