//! Scenario: after a little traffic (a miss, a cache hit, a TCP query, a
//! dead upstream) every metric docs/reference.md lists for the core resolver shows
//! up in `GET /metrics` with the right labels and plausible values; /healthz
//! and /readyz answer 200 (docs/reference.md "Admin endpoint";
//! in the spirit of CoreDNS's test/metric_naming_test.go).

use std::time::Duration;

use hickory_proto::rr::RecordType;

use stubborn_test_support::metrics::{metric_in, metric_present, parse_metrics};
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

/// A predicate on a metric's value.
type Check = Box<dyn Fn(f64) -> bool>;

#[test]
fn core_metrics_exposed_with_labels() {
    let dead = FakeUpstream::start(Mode::Blackhole);
    let knot = Knot::start("www 300 IN A 192.0.2.1\napi 300 IN A 192.0.2.2");
    let stubborn = Stubborn::start(Config::new(&[dead.server(), knot.server()]));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A)); // miss (dead times out, knot answers)
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A)); // hit
    stubborn.ask(&Ask::new("api.example.test.", RecordType::A).tcp()); // miss over TCP
    // The dead upstream's attempt (hedged past) counts when its timeout ends.
    let down_up = format!(r#"stubborn_upstream_up{{upstream="{}"}}"#, dead.server());
    stubborn.wait_metric(&down_up, std::time::Duration::from_secs(2), |v| v == 0.0);

    let text = stubborn.metrics();
    let live = knot.server();
    let down = dead.server();
    let checks: Vec<(String, Check)> = vec![
        (r#"stubborn_queries_total{protocol="udp"}"#.into(), Box::new(|v| v >= 2.0)),
        (r#"stubborn_queries_total{protocol="tcp"}"#.into(), Box::new(|v| v >= 1.0)),
        (r#"stubborn_answers_total{source="upstream"}"#.into(), Box::new(|v| v >= 2.0)),
        (r#"stubborn_answers_total{source="cache"}"#.into(), Box::new(|v| v >= 1.0)),
        ("stubborn_cache_entries".into(), Box::new(|v| v >= 2.0)),
        (format!(r#"stubborn_upstream_up{{upstream="{live}"}}"#), Box::new(|v| v == 1.0)),
        (format!(r#"stubborn_upstream_up{{upstream="{down}"}}"#), Box::new(|v| v == 0.0)),
        (format!(r#"stubborn_upstream_queries_total{{upstream="{live}",result="ok"}}"#), Box::new(|v| v >= 2.0)),
        (format!(r#"stubborn_upstream_queries_total{{upstream="{down}",result="timeout"}}"#), Box::new(|v| v >= 1.0)),
        (format!(r#"stubborn_upstream_latency_seconds_count{{upstream="{live}"}}"#), Box::new(|v| v >= 2.0)),
    ];
    for (query, ok) in &checks {
        let v = metric_in(&text, query);
        assert!(ok(v), "{query} = {v}; /metrics:\n{text}");
    }
    for name in [
        "stubborn_queries_total",
        "stubborn_answers_total",
        "stubborn_cache_entries",
        "stubborn_upstream_up",
        "stubborn_upstream_queries_total",
        "stubborn_upstream_latency_seconds_bucket",
        "stubborn_upstream_latency_seconds_sum",
        "stubborn_upstream_latency_seconds_count",
    ] {
        assert!(metric_present(&text, name), "{name} missing from /metrics:\n{text}");
    }
    // The down upstream is listed even though it never answered.
    assert!(text.contains(&format!("upstream=\"{down}\"")), "{text}");
}

#[test]
fn healthz_and_readyz_answer_200() {
    let fake = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[fake.server()]));
    assert_eq!(stubborn.get("/healthz").0, 200);
    assert_eq!(stubborn.get("/readyz").0, 200);
    let (status, _) = stubborn.get("/metrics");
    assert_eq!(status, 200);
    // Stays healthy while it serves.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stubborn.get("/healthz").0, 200);
}

/// The operator metrics move as traffic flows: responses by
/// RCODE, the request duration histogram per protocol, the build info,
/// the shed fetches counter (present, 0 without a flood), and the
/// standard `process_*` series.
#[test]
fn operator_metrics_move() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    let stubborn = Stubborn::start(Config::new(&[knot.server()]));
    let before = stubborn.metrics();
    for _ in 0..3 {
        stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    }
    stubborn.ask(&Ask::new("missing.example.test.", RecordType::A));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A).tcp());
    let text = stubborn.metrics();
    let grew = |query: &str, by: f64| {
        let (was, now) = (metric_in(&before, query), metric_in(&text, query));
        assert!(now - was >= by, "{query}: {was} -> {now}; /metrics:\n{text}");
    };
    grew(r#"stubborn_responses_total{rcode="NOERROR"}"#, 4.0);
    grew(r#"stubborn_responses_total{rcode="NXDOMAIN"}"#, 1.0);
    grew(r#"stubborn_request_duration_seconds_count{protocol="udp"}"#, 4.0);
    grew(r#"stubborn_request_duration_seconds_count{protocol="tcp"}"#, 1.0);
    grew(r#"stubborn_request_duration_seconds_bucket{protocol="udp",le="+Inf"}"#, 4.0);
    assert!(metric_in(&text, r#"stubborn_request_duration_seconds_sum{protocol="udp"}"#) > 0.0, "{text}");
    let version = text.lines().find(|l| l.starts_with("stubborn_build_info{")).unwrap_or_else(|| panic!("{text}"));
    assert!(version.contains("version=\"") && version.ends_with(" 1"), "{version}");
    assert!(metric_present(&text, "stubborn_upstream_fetches_shed_total"), "{text}");
    assert!(metric_in(&text, "process_cpu_seconds_total") > 0.0, "{text}");
    assert!(metric_in(&text, "process_resident_memory_bytes") > 1e6, "{text}");
    assert!(metric_in(&text, "process_open_fds") >= 3.0, "{text}");
    assert!(metric_in(&text, "process_max_fds") >= metric_in(&text, "process_open_fds"), "{text}");
}

/// Every metric of docs/reference.md's table is exported, and the exposition
/// passes the checks `promtool check metrics` makes (promtool itself runs
/// too when it is installed: Debian's `prometheus` package): each family
/// has one HELP and one TYPE line, names are valid and unique, counters'
/// samples end in `_total`, histograms have `_bucket` (with `le`), `_sum`
/// and `_count`, and no metric name ends in a unit other than seconds and bytes
/// (CoreDNS test/metric_naming_test.go does the same with promlint).
/// Prometheus, which asks for OpenMetrics, gets it; a client that does not
/// (curl, promtool) gets the text format 0.0.4, where a counter's HELP and
/// TYPE carry the `_total` name.
#[test]
fn exposition_lints_clean() {
    let knot = Knot::start("www 300 IN A 192.0.2.1");
    // A service, so that the service series exist.
    let service = "[[service]]\nname = \"api.example.test\"\nprimary = \"192.0.2.7\"\n";
    let stubborn = Stubborn::start(Config::new(&[knot.server()]).append(service));
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                      text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (content_type, text) = stubborn.metrics_accepting(prometheus);
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF:\n{text}");
    let problems = lint(&text);
    assert!(problems.is_empty(), "{}\n/metrics:\n{text}", problems.join("\n"));
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md")).expect("docs/reference.md");
    for line in reference.lines().filter(|l| l.starts_with("| `stubborn_")) {
        let name = line.split('`').nth(1).expect("a metric name");
        let family = name.trim_end_matches("_total");
        assert!(
            text.contains(&format!("# TYPE {family} ")) || text.contains(&format!("# TYPE {name} ")),
            "{name} (from the metric table) missing from /metrics:\n{text}"
        );
    }

    let (content_type, plain) = stubborn.metrics_accepting("text/plain");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    assert!(plain.contains("# TYPE stubborn_queries_total counter\n") && !plain.contains("# EOF"), "{plain}");
    let series = |text: &str| parse_metrics(text).into_iter().map(|s| (s.name, s.labels)).collect::<Vec<_>>();
    assert_eq!(series(&plain), series(&text), "the same series in both formats");
    if let Ok(promtool) = which("promtool") {
        use std::io::Write;
        let mut child = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run promtool");
        child.stdin.take().expect("stdin").write_all(plain.as_bytes()).expect("write to promtool");
        let out = child.wait_with_output().expect("promtool output");
        assert!(
            out.status.success(),
            "promtool check metrics:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file()).ok_or(())
}

/// What `promtool check metrics` would complain about, one line each.
fn lint(text: &str) -> Vec<String> {
    use std::collections::BTreeMap;
    let valid = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut problems = Vec::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#"), Some("TYPE"), Some(name)) => {
                let kind = words.next().unwrap_or("").to_string();
                if types.insert(name.to_string(), kind).is_some() {
                    problems.push(format!("{name}: TYPE given twice"));
                }
            }
            (Some("#"), Some("HELP"), Some(name)) => {
                *helps.entry(name.to_string()).or_default() += 1;
                if words.next().is_none() {
                    problems.push(format!("{name}: empty HELP"));
                }
            }
            _ => {}
        }
    }
    for (family, kind) in &types {
        if !valid(family) {
            problems.push(format!("{family}: not a valid metric name"));
        }
        if helps.get(family) != Some(&1) {
            problems.push(format!("{family}: needs exactly one HELP line"));
        }
        if kind == "counter" && family.ends_with("_total") {
            problems.push(format!("{family}: the counter family carries _total on its samples, not its name"));
        }
        if kind != "counter" && family.ends_with("_total") {
            problems.push(format!("{family}: only counters end in _total"));
        }
        for unit in ["_milliseconds", "_ms", "_kilobytes", "_percent", "_minutes"] {
            if family.ends_with(unit) || family.contains(&format!("{unit}_")) {
                problems.push(format!("{family}: use base units (seconds, bytes)"));
            }
        }
    }
    for series in parse_metrics(text) {
        let name = series.name.as_str();
        let family = types.keys().find(|family| {
            let suffix = &name[family.len().min(name.len())..];
            name.starts_with(family.as_str())
                && match types[*family].as_str() {
                    "counter" => suffix == "_total" || suffix == "_created",
                    "histogram" => ["_bucket", "_sum", "_count", "_created"].contains(&suffix),
                    _ => suffix.is_empty(),
                }
        });
        match family {
            None => problems.push(format!("{name}: a sample of no declared family (or the wrong suffix)")),
            Some(family) if types[family] == "histogram" && name.ends_with("_bucket") => {
                if !series.labels.iter().any(|(k, _)| k == "le") {
                    problems.push(format!("{name}: a bucket without le"));
                }
            }
            Some(_) => {}
        }
    }
    problems
}

/// Series whose label values are known in advance are there at 0 before
/// the first query, so that a ratio alert (SERVFAIL over all answers, stale
/// over all, one upstream's timeouts over its queries) has data before the
/// first failure.
#[test]
fn series_known_in_advance_are_there_from_the_start() {
    let fake = FakeUpstream::start(Mode::Answer);
    let zoned = FakeUpstream::start(Mode::Answer);
    let config = Config::new(&[fake.server()])
        .append(&format!("[[upstream.zone]]\nname = \"corp.test\"\nservers = [\"{}\"]\n", zoned.server()));
    let stubborn = Stubborn::start(config);
    let text = stubborn.metrics();
    let at_zero = |series: String| {
        assert!(text.lines().any(|line| line == format!("{series} 0")), "{series} 0 missing from:\n{text}");
    };
    for source in ["cache", "upstream", "stale", "kept_positive", "service", "refused", "servfail", "fleet"] {
        at_zero(format!("stubborn_answers_total{{source=\"{source}\"}}"));
    }
    for rcode in ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"] {
        at_zero(format!("stubborn_responses_total{{rcode=\"{rcode}\"}}"));
    }
    // The forwarding-loop probe may have asked each upstream once by now: present, not necessarily 0.
    for upstream in [fake.server(), zoned.server()] {
        for result in ["ok", "timeout", "servfail", "refused", "error"] {
            let series = format!("stubborn_upstream_queries_total{{upstream=\"{upstream}\",result=\"{result}\"}} ");
            assert!(text.lines().any(|line| line.starts_with(&series)), "{series} missing from:\n{text}");
        }
    }
}
