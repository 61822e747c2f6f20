//! The Redis pieces of the harness work as the fleet-store tests rely on: a
//! standalone redis-server stopped and started again keeps its port and
//! answers (nothing persisted: the data is gone); a password is required
//! and kept out of the URL; a three-master Redis Cluster forms, spreads keys
//! written through one node over the others, and takes a killed node back
//! (its slots, not its keys); TLS-only servers, standalone and clustered,
//! answer redis-cli over TLS with the test CA.

use std::process::{Command, Output};
use std::time::Duration;

use stubborn_test_support::process::output_within;
use stubborn_test_support::{Redis, RedisCluster};

#[test]
fn standalone_restarts_on_the_same_port_empty() {
    let mut redis = Redis::start();
    let url = redis.url();
    assert_eq!(url, format!("redis://127.0.0.1:{}/0", redis.port()));
    assert_eq!(redis.cli(&["SET", "stubborn:k", "v"]), "OK");
    assert_eq!(redis.cli(&["GET", "stubborn:k"]), "v");
    assert_eq!(redis.cli(&["DBSIZE"]), "1");

    redis.stop();
    assert!(redis.try_cli(&["PING"]).is_err(), "a stopped server answered");
    redis.start_again();
    assert_eq!(redis.url(), url);
    assert_eq!(redis.cli(&["DBSIZE"]), "0", "nothing is persisted");
    assert!(redis.try_cli(&["NOSUCHCOMMAND"]).is_err(), "an error reply is a failure");
}

#[test]
fn password_is_required_and_not_in_the_url() {
    let redis = Redis::start_with_password("s3cret-pw");
    assert_eq!(redis.password(), Some("s3cret-pw"));
    assert!(!redis.url().contains("s3cret"), "{}", redis.url());
    assert_eq!(redis.cli(&["PING"]), "PONG");
    let unauthenticated = run(Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port().to_string(), "-e", "PING"])
        .env_remove("REDISCLI_AUTH"));
    assert!(!unauthenticated.status.success(), "PING without the password succeeded");
}

#[test]
fn cluster_serves_a_key_from_any_node() {
    let mut cluster = RedisCluster::start(3);
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    // Keys in different slots, so that most land on another node than the first.
    for i in 0..6 {
        assert_eq!(cluster.cli(&["SET", &format!("stubborn:{i}"), &i.to_string()]), "OK");
    }
    let held: Vec<usize> =
        cluster.nodes().iter().map(|n| n.cli(&["DBSIZE"]).parse().expect("DBSIZE is a number")).collect();
    assert_eq!(held.iter().sum::<usize>(), 6, "keys per node: {held:?}");
    assert!(held.iter().filter(|&&n| n > 0).count() >= 2, "one node holds every key: {held:?}");
    for i in 0..6 {
        assert_eq!(cluster.cli(&["GET", &format!("stubborn:{i}")]), i.to_string());
    }

    // A node killed and started again keeps its slots (nodes-PORT.conf) but
    // not its keys.
    let busiest = (0..3).max_by_key(|&i| held[i]).expect("three nodes");
    cluster.node_mut(busiest).stop();
    cluster.node_mut(busiest).start_again();
    cluster.wait_ok();
    assert_eq!(cluster.nodes()[busiest].cli(&["DBSIZE"]), "0");
    let left: usize = (0..6).filter(|i| !cluster.cli(&["GET", &format!("stubborn:{i}")]).is_empty()).count();
    assert_eq!(left, 6 - held[busiest]);
}

#[test]
fn tls_answers_with_the_test_ca() {
    let redis = Redis::start_tls();
    assert_eq!(redis.url(), format!("rediss://localhost:{}/0", redis.port()));
    assert_eq!(redis.cli(&["PING"]), "PONG");
    // Also by IP (the certificate names 127.0.0.1 too), and not in plain text.
    let by_ip = run(Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &redis.port().to_string(), "--tls", "--cacert"])
        .arg(redis.ca_file())
        .args(["-e", "PING"]));
    assert_eq!(String::from_utf8_lossy(&by_ip.stdout).trim(), "PONG", "{by_ip:?}");
    let plain = run(Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &redis.port().to_string(), "-e", "PING"]));
    assert!(!plain.status.success(), "a plain-text PING to the TLS port succeeded");
}

#[test]
fn tls_cluster_forms() {
    let cluster = RedisCluster::start_tls(3);
    assert!(cluster.urls().iter().all(|u| u.starts_with("rediss://localhost:")), "{:?}", cluster.urls());
    for i in 0..3 {
        assert_eq!(cluster.cli(&["SET", &format!("stubborn:{i}"), "x"]), "OK");
    }
    assert_eq!(cluster.cli(&["GET", "stubborn:2"]), "x");
}

/// Runs `cmd` to its end within 5 s (a run cut short fails the test).
fn run(cmd: &mut Command) -> Output {
    output_within(cmd, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"))
}
