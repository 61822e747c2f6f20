//! Scenario: where stubborn binds on routers and IPv6-less hosts, each in a
//! network namespace the test creates (`unshare --net`, as root; skipped
//! with a message elsewhere), so nothing reaches the host's network:
//! - `[server] freebind = true`: stubborn starts listening on an address no
//!   interface has yet (a router's LAN address at boot) and serves once the
//!   address is added; without it, the same start exits 2;
//! - with IPv6 disabled, the default listen list starts, serves on
//!   127.0.0.1 and warns about [::1] (docs/reference.md `[server] freebind`).

use std::process::{Command, Output};

use stubborn_test_support::stubborn::binary;

/// Runs `script` with bash in a new network namespace; None (and a note)
/// where namespaces can't be made here.
fn in_netns(script: &str) -> Option<Output> {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root || Command::new("unshare").arg("--version").output().is_err() {
        eprintln!("SKIPPED: needs root and unshare(1) to make a network namespace");
        return None;
    }
    let output = Command::new("unshare")
        .args(["--net", "bash", "-c", script])
        .env("STUBBORN", binary())
        .env("PATH", format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()))
        .output()
        .expect("run unshare");
    Some(output)
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Starts stubborn with `config` in the namespace, lets it run a second,
/// then (if still running) runs `then` and stops it; prints its log last.
const START: &str = r#"
set -u
ip link set lo up
dir=$(mktemp -d)
printf '%s' "$CONFIG" > "$dir/stubborn.toml"
"$STUBBORN" --config "$dir/stubborn.toml" 2> "$dir/log" &
pid=$!
sleep 1
if kill -0 $pid 2>/dev/null; then
  echo "RUNNING"
  eval "$THEN"
  kill $pid; wait $pid
else
  wait $pid; echo "EXITED $?"
fi
echo "----- log"; cat "$dir/log"
"#;

fn start_in_netns(config: &str, then: &str) -> Option<String> {
    let script = format!("CONFIG='{config}'\nTHEN='{then}'\n{START}");
    in_netns(&script).map(|output| text(&output))
}

const DIG: &str = "dig +tries=1 +time=2 -p 5300 @ADDR ping.example.test | grep -o \"status: [A-Z]*\"";

#[test]
fn freebind_listens_on_an_address_no_interface_has_yet() {
    let config = "[server]\nlisten = [\"192.0.2.53:5300\"]\nallow = [\"192.0.2.0/24\"]\nfreebind = true\n\
                  [upstream]\nservers = [\"127.0.0.1:9\"]\ntimeout = \"200ms\"\n";
    let then = format!("ip addr add 192.0.2.53/32 dev lo; {}", DIG.replace("ADDR", "192.0.2.53"));
    let Some(out) = start_in_netns(config, &then) else { return };
    assert!(out.contains("RUNNING"), "started before the address existed:\n{out}");
    assert!(out.contains("status: SERVFAIL") || out.contains("status: NOERROR"), "answered once it did:\n{out}");

    let without = config.replace("freebind = true\n", "");
    let Some(out) = start_in_netns(&without, "") else { return };
    assert!(out.contains("EXITED 2"), "without freebind the bind fails (exit 2):\n{out}");
}

#[test]
fn without_ipv6_the_default_listen_list_serves_on_127_0_0_1() {
    let config = "[upstream]\nservers = [\"127.0.0.1:9\"]\ntimeout = \"200ms\"\n";
    let then = format!("{}; {}", "true", DIG.replace("-p 5300 @ADDR", "-p 53 @127.0.0.1"));
    let script_prefix = "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1\n";
    let script = format!("{script_prefix}CONFIG='{config}'\nTHEN='{then}'\n{START}");
    let Some(output) = in_netns(&script) else { return };
    let out = text(&output);
    assert!(out.contains("RUNNING"), "the default config starts without IPv6:\n{out}");
    assert!(out.contains("status: SERVFAIL") || out.contains("status: NOERROR"), "serves on 127.0.0.1:\n{out}");
    assert!(out.contains("no IPv6 here"), "warns about [::1]:\n{out}");
}

/// `IPV6_V6ONLY`: `0.0.0.0` and `[::]` on the same port can be listed together.
#[test]
fn the_ipv4_and_ipv6_wildcards_listen_side_by_side() {
    let config = "[server]\nlisten = [\"0.0.0.0:5300\", \"[::]:5300\"]\n\
                  [upstream]\nservers = [\"127.0.0.1:9\"]\ntimeout = \"200ms\"\n";
    let then = format!("{}; {}", DIG.replace("ADDR", "127.0.0.1"), DIG.replace("ADDR", "::1"));
    let Some(out) = start_in_netns(config, &then) else { return };
    assert!(out.contains("RUNNING"), "both wildcards bound:\n{out}");
    assert_eq!(out.matches("status: SERVFAIL").count(), 2, "answered over IPv4 and IPv6:\n{out}");
}
