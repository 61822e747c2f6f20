//! Scenario: the config file is edited and stubborn gets SIGHUP. A new
//! upstream list takes effect without a restart and the cache survives it;
//! a config replaced by rename (an editor's or a uci-style write) is read
//! like one rewritten in place;
//! a new listen address is bound and the old one closed; a broken file is
//! logged with PATH:LINE:COL and the running config keeps serving; series
//! of upstreams the reload removed leave /metrics (docs/reference.md "Signals").
//! Each reload is counted by its result in `stubborn_config_reloads_total`.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::metrics::metric_in;
use stubborn_test_support::ports::free_port;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn, wait};

const WEB: &str = "web.example.test.";
const CACHED: &str = "cached.example.test.";

#[test]
fn sighup_switches_to_the_new_upstream_list_and_keeps_the_cache() {
    let first = Knot::start("web 0 IN A 192.0.2.1\ncached 300 IN A 192.0.2.50");
    let second = Knot::start("web 0 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[first.server()]));
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(stubborn.ask(&Ask::new(CACHED, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 50)]);

    let edited =
        stubborn.config_text.replace(&format!("[\"{}\"]", first.server()), &format!("[\"{}\"]", second.server()));
    assert_ne!(edited, stubborn.config_text, "the test must change the upstream list");
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    stubborn.signal("HUP");

    wait::until("answers from the new upstream after SIGHUP", Duration::from_secs(5), || {
        (stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 2)]).then_some(())
    });
    // The second server does not have `cached`: it can only come from the kept cache.
    let cached = stubborn.ask(&Ask::new(CACHED, RecordType::A));
    assert_eq!(cached.ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 50)], "cache kept over reload: {}", cached.summary());
    assert!(stubborn.log().contains("config reloaded"), "{}", stubborn.log());
    // The removed upstream's series are gone from /metrics; the new one's are there.
    let metrics = stubborn.metrics();
    assert!(!metrics.contains(&first.server()), "series of the removed upstream remain:\n{metrics}");
    assert!(metrics.contains(&format!("stubborn_upstream_up{{upstream=\"{}\"}} 1", second.server())), "{metrics}");
    assert_eq!(metric_in(&metrics, r#"stubborn_config_reloads_total{result="ok"}"#), 1.0, "{metrics}");
    assert_eq!(metric_in(&metrics, r#"stubborn_config_reloads_total{result="error"}"#), 0.0, "{metrics}");
}

/// Editors and uci-style writes do not rewrite the file: they write a new
/// one beside it and rename it over the old path. A reload reads the path
/// again, so it gets the new file, not the one opened at start (the
/// OpenWrt jail mounts the config's directory for this reason).
#[test]
fn sighup_reads_a_config_renamed_over_the_old_one() {
    // Fakes, not Knot: TTL 0, so that every answer shows which one was asked.
    let first = FakeUpstream::start(Mode::Answer);
    let second = FakeUpstream::start(Mode::Answer);
    for (fake, last) in [(&first, 1), (&second, 2)] {
        fake.set_ttl(0);
        fake.set_ipv4(Ipv4Addr::new(192, 0, 2, last));
    }
    let stubborn = Stubborn::start(Config::new(&[first.server()]));
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);

    let path = stubborn.config_path();
    let edited =
        stubborn.config_text.replace(&format!("[\"{}\"]", first.server()), &format!("[\"{}\"]", second.server()));
    assert_ne!(edited, stubborn.config_text, "the test must change the upstream list");
    let written = path.with_file_name(".stubborn.toml.new");
    std::fs::write(&written, edited).expect("write the new config");
    let old_inode = std::fs::metadata(&path).expect("config metadata").ino();
    std::fs::rename(&written, &path).expect("rename the new config over the old one");
    assert_ne!(std::fs::metadata(&path).expect("config metadata").ino(), old_inode, "a new file at the old path");
    stubborn.signal("HUP");

    wait::until("answers from the new upstream after SIGHUP", Duration::from_secs(5), || {
        (stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s() == vec![Ipv4Addr::new(192, 0, 2, 2)]).then_some(())
    });
    assert!(stubborn.log().contains("config reloaded"), "{}", stubborn.log());
}

#[test]
fn sighup_rebinds_a_changed_listen_address() {
    let knot = Knot::start("web 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let moved: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
    let edited = stubborn.config_text.replace(&stubborn.dns.to_string(), &moved.to_string());
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    stubborn.signal("HUP");

    let ask = Ask::new(WEB, RecordType::A).timeout(Duration::from_millis(300));
    wait::until("answers on the new listen address", Duration::from_secs(5), || ask.try_send(moved).ok());
    wait::until("the old listen address closed", Duration::from_secs(5), || {
        ask.try_send(stubborn.dns).is_err().then_some(())
    });
}

#[test]
fn sighup_with_a_broken_file_logs_where_and_keeps_serving() {
    let knot = Knot::start("web 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let broken =
        format!("{}\n[cache]\nmax_ttl = \"forever\"\n", stubborn.config_text.replace("[cache]", "[cache_old]"));
    std::fs::write(stubborn.config_path(), &broken).expect("rewrite config");
    stubborn.signal("HUP");

    let path = stubborn.config_path().display().to_string();
    let logged = wait::until("the rejected reload in the log", Duration::from_secs(5), || {
        let log = stubborn.log();
        log.contains("reload rejected").then_some(log)
    });
    assert!(logged.contains(&format!("{path}:")), "problem with its PATH:LINE:COL: {logged}");
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert!(stubborn.exit_status().is_none(), "still running");
    let metrics = stubborn.metrics();
    assert_eq!(metric_in(&metrics, r#"stubborn_config_reloads_total{result="error"}"#), 1.0, "{metrics}");
    assert_eq!(metric_in(&metrics, r#"stubborn_config_reloads_total{result="ok"}"#), 0.0, "{metrics}");
}

/// `POST /reload` (what `stubborn ctl reload` sends) reloads as SIGHUP does
/// and answers once it is done: `{"reloaded": true}`, or 400 with the
/// file's problems while the running config keeps serving. Other methods: 405.
#[test]
fn post_reload_reloads_and_answers_how_it_went() {
    let first = Knot::start("web 0 IN A 192.0.2.1");
    let second = Knot::start("web 0 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[first.server()]));
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(stubborn.get("/reload").0, 405, "GET changes nothing");

    let edited =
        stubborn.config_text.replace(&format!("[\"{}\"]", first.server()), &format!("[\"{}\"]", second.server()));
    std::fs::write(stubborn.config_path(), edited).expect("rewrite config");
    let (status, body) = stubborn.post("/reload");
    assert_eq!((status, body.as_str()), (200, "{\n  \"reloaded\": true\n}\n"));
    // Answered once applied: the next query goes to the new upstream.
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)]);

    std::fs::write(stubborn.config_path(), "[upstream\nthis is not toml").expect("rewrite config");
    let (status, body) = stubborn.post("/reload");
    assert_eq!(status, 400, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(answer["reloaded"], false, "{answer}");
    let path = stubborn.config_path().display().to_string();
    assert!(answer["problems"][0].as_str().is_some_and(|p| p.starts_with(&format!("{path}:1:"))), "{answer}");
    assert_eq!(stubborn.ask(&Ask::new(WEB, RecordType::A)).ipv4s(), vec![Ipv4Addr::new(192, 0, 2, 2)], "still serving");
}
