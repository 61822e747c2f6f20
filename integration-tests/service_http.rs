//! Scenario: the clouds are HTTP(S) servers (hyper, on 127.0.0.2-4) whose
//! status and certificate are switched while stubborn checks them with
//! `http://{addr}:PORT/health` and `https://{addr}:PORT/health`; the https
//! certificates come from a CA made in the test and given to stubborn with
//! the service's `ca_file`, or from another CA stubborn does not trust.
//!
//! Pins (docs/reference.md `check`): a 503 from the primary moves
//! answers to the secondary within `interval × fall` + 1 s and a 200 brings
//! them back within `interval × rise` + 1 s; the request is a GET of the
//! configured path with the target's name as Host header and, for https, as
//! SNI; a certificate from an unknown CA, or for another name, is down, one
//! from the `ca_file` CA for the target's name is up; an IP target is
//! verified against its IP.

use std::time::Duration;

use stubborn_test_support::cloud::{
    AWS, AWS_NAME, Answered, FIXED, GCP, GCP_NAME, SERVICE, ServiceSpec, assert_answers, failovers, service_port,
    target_zone, wait_switch,
};
use stubborn_test_support::http_server::HttpServer;
use stubborn_test_support::test_ca::TestCa;
use stubborn_test_support::{Config, Knot, Stubborn, wait};

fn stubborn_with(knot: &Knot, spec: &ServiceSpec) -> Stubborn {
    Stubborn::start(Config::new(&[knot.server()]).append(&spec.toml()))
}

/// The Host header names the target (a port may follow, as curl sends it).
fn assert_host(server: &HttpServer, name: &str) {
    let host = server.seen().host.unwrap_or_default();
    assert!(host == name || host.starts_with(&format!("{name}:")), "Host header {host:?}, expected {name}");
}

#[test]
fn http_503_is_down_and_200_is_up() {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let aws = HttpServer::http(AWS, port, 200);
    let gcp = HttpServer::http(GCP, port, 200);
    let spec = ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME]).check(&format!("http://{{addr}}:{port}/health"));
    let stubborn = stubborn_with(&knot, &spec);
    let onaws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);
    wait::until("two checks of each target", Duration::from_secs(5), || {
        (aws.requests() >= 2 && gcp.requests() >= 2).then_some(())
    });
    assert_answers(&stubborn, SERVICE, &onaws);
    assert_eq!(aws.seen().path.as_deref(), Some("/health"), "the configured path is requested");
    assert_host(&aws, AWS_NAME);
    assert_host(&gcp, GCP_NAME);
    assert_eq!(failovers(&stubborn, SERVICE), 0.0);

    aws.set_status(503);
    let took = wait_switch(&stubborn, SERVICE, &onaws, &on_gcp, spec.fall_deadline());
    eprintln!("503 -> secondary in {took:?}");

    aws.set_status(200);
    let took = wait_switch(&stubborn, SERVICE, &on_gcp, &onaws, spec.rise_deadline());
    eprintln!("200 -> primary in {took:?}");
    assert_eq!(failovers(&stubborn, SERVICE), 2.0);
}

#[test]
fn https_certificate_from_an_unknown_ca_is_down_and_from_ca_file_is_up() {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let ca = TestCa::new("service");
    let stranger = TestCa::new("stranger");
    let aws = HttpServer::https(AWS, port, 200, stranger.server_config(&[AWS_NAME]));
    let gcp = HttpServer::https(GCP, port, 200, ca.server_config(&[GCP_NAME]));
    let spec = ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME])
        .check(&format!("https://{{addr}}:{port}/health"))
        .ca_file(ca.pem_path());
    let stubborn = stubborn_with(&knot, &spec);
    let onaws = Answered::via(AWS_NAME, AWS);
    let on_gcp = Answered::via(GCP_NAME, GCP);

    // Targets start healthy; the primary's untrusted certificate takes it down.
    let took = wait_switch(&stubborn, SERVICE, &onaws, &on_gcp, spec.fall_deadline());
    eprintln!("untrusted certificate -> secondary in {took:?}");
    assert_eq!(aws.requests(), 0, "no request is sent over a connection whose certificate failed");
    assert!(gcp.requests() > 0, "the secondary is checked over TLS and answers");
    assert_eq!(gcp.seen().sni.as_deref(), Some(GCP_NAME), "SNI is the target's name");
    assert_host(&gcp, GCP_NAME);

    // The primary gets a certificate from the trusted CA: up again.
    aws.set_tls(ca.server_config(&[AWS_NAME]));
    let took = wait_switch(&stubborn, SERVICE, &on_gcp, &onaws, spec.rise_deadline());
    eprintln!("trusted certificate -> primary in {took:?}");
    assert_eq!(aws.seen().sni.as_deref(), Some(AWS_NAME));
    assert_eq!(aws.seen().path.as_deref(), Some("/health"));

    // A trusted certificate does not make a 503 healthy.
    aws.set_status(503);
    wait_switch(&stubborn, SERVICE, &onaws, &on_gcp, spec.fall_deadline());
    assert_eq!(failovers(&stubborn, SERVICE), 3.0);
}

#[test]
fn https_certificate_for_another_name_is_down_and_an_ip_target_is_verified_by_ip() {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let ca = TestCa::new("service");
    // Trusted CA, wrong name: the primary's certificate is for another host.
    let aws = HttpServer::https(AWS, port, 200, ca.server_config(&["www.elsewhere.test"]));
    let fixed = HttpServer::https(FIXED, port, 200, ca.server_config(&["127.0.0.4"]));
    let spec = ServiceSpec::new(SERVICE, AWS_NAME, &["127.0.0.4"])
        .check(&format!("https://{{addr}}:{port}/"))
        .ca_file(ca.pem_path());
    let stubborn = stubborn_with(&knot, &spec);
    let took =
        wait_switch(&stubborn, SERVICE, &Answered::via(AWS_NAME, AWS), &Answered::literal(FIXED), spec.fall_deadline());
    eprintln!("certificate for another name -> fixed address in {took:?}");
    assert_eq!(aws.requests(), 0);
    assert!(fixed.requests() > 0, "the IP target passed its check");
    assert_eq!(fixed.seen().path.as_deref(), Some("/"));
}
