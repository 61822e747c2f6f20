//! Scenario: a service has failed over to its secondary (the primary's
//! listener is closed) and the config is reloaded with SIGHUP, unchanged
//! for that service. Answers stay on the secondary — the primary's health
//! is kept, not reset to "healthy" — and no switch is counted; a service
//! added by the reload is answered.

use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::cloud::{
    AWS, AWS_NAME, Answered, FIXED, GCP, GCP_NAME, SERVICE, ServiceSpec, TcpTarget, ask_service, assert_answers,
    failovers, service_port, target_zone, wait_switch,
};
use stubborn_test_support::{Config, Knot, Stubborn, wait};

#[test]
fn reload_keeps_the_health_of_unchanged_targets() {
    let port = service_port();
    let knot = Knot::start(&target_zone(300));
    let (mut aws, _gcp, _fixed) =
        (TcpTarget::open(AWS, port), TcpTarget::open(GCP, port), TcpTarget::open(FIXED, port));
    let spec = ServiceSpec::three_clouds().check(&format!("tcp:{port}"));
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).append(&spec.toml()));
    let (on_aws, on_gcp) = (Answered::via(AWS_NAME, AWS), Answered::via(GCP_NAME, GCP));
    assert_answers(&stubborn, SERVICE, &on_aws);
    aws.close();
    wait_switch(&stubborn, SERVICE, &on_aws, &on_gcp, spec.fall_deadline());
    let switches = failovers(&stubborn, SERVICE);

    let added = ServiceSpec::new("other.example.test", "127.0.0.5", &[]).toml();
    std::fs::write(stubborn.config_path(), format!("{}\n{added}", stubborn.config_text)).expect("rewrite config");
    stubborn.signal("HUP");
    wait::until("the reload", Duration::from_secs(5), || stubborn.log().contains("config reloaded").then_some(()));

    for _ in 0..10 {
        let (reply, answered) = ask_service(&stubborn, SERVICE, RecordType::A);
        assert_eq!(answered, on_gcp, "still on the secondary after the reload: {}", reply.summary());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(failovers(&stubborn, SERVICE), switches, "a reload is no failover");
    let (reply, answered) = ask_service(&stubborn, "other.example.test", RecordType::A);
    assert_eq!(answered, Answered::literal("127.0.0.5".parse().expect("ip")), "{}", reply.summary());
}
