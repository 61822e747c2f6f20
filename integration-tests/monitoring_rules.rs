//! The monitoring that ships in `deploy/monitoring/`: the Prometheus alert
//! rules pass `promtool check rules` and their unit tests (`promtool test
//! rules`, a test for every alert), the PrometheusRule manifest holds the
//! same rules as the rule file, and every metric the rules and the Grafana
//! dashboard use is one a running stubborn exports (its `/metrics`, by
//! family name).
//!
//! promtool is Debian's `prometheus` package (scripts/check-deploy
//! installs it); without it the promtool checks say so and pass.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use hickory_proto::rr::RecordType;

use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring")
}

fn yaml(file: &str) -> Yaml {
    let text = fs::read_to_string(monitoring().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: not YAML: {e}")).remove(0)
}

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("promtool")).find(|p| p.is_file())
}

/// Every rule of the rule file: (alert name, expression).
fn alerts() -> Vec<(String, String)> {
    let rules = yaml("stubborn.rules.yml");
    let mut alerts = Vec::new();
    for group in rules["groups"].as_vec().expect("groups") {
        for rule in group["rules"].as_vec().expect("rules") {
            let name = rule["alert"].as_str().expect("alerting rules only").to_string();
            let expr = rule["expr"].as_str().expect("an expr").to_string();
            alerts.push((name, expr));
        }
    }
    alerts
}

#[test]
fn promtool_checks_the_rules_and_runs_their_tests() {
    let Some(promtool) = promtool() else {
        eprintln!("promtool not found (Debian: prometheus; scripts/check-deploy installs it): rules not checked");
        return;
    };
    for args in [&["check", "rules", "stubborn.rules.yml"][..], &["test", "rules", "stubborn.rules.test.yml"]] {
        let out = Command::new(&promtool).args(args).current_dir(monitoring()).output().expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_alert_has_a_unit_test_and_the_alerts_the_docs_promise_exist() {
    let tests = fs::read_to_string(monitoring().join("stubborn.rules.test.yml")).expect("read the rule tests");
    let names: Vec<String> = alerts().into_iter().map(|(name, _)| name).collect();
    for name in &names {
        assert!(tests.contains(&format!("alertname: {name}\n")), "{name} has no promtool test");
    }
    for (wanted, metric) in [
        ("an upstream down", "stubborn_upstream_up"),
        ("answers served stale", "stubborn_answers_total"),
        ("SERVFAIL ratio", "stubborn_responses_total"),
        ("fetches shed", "stubborn_upstream_fetches_shed_total"),
        ("the fleet store down", "stubborn_fleet_up"),
        ("a reload failing", "stubborn_config_reloads_total"),
    ] {
        assert!(alerts().iter().any(|(_, expr)| expr.contains(metric)), "no alert on {wanted} ({metric})");
    }
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/README.md")).expect("README");
    for name in &names {
        assert!(readme.contains(name.as_str()), "deploy/README.md does not list the alert {name}");
    }
}

#[test]
fn the_prometheusrule_manifest_holds_the_rule_file() {
    let rules = yaml("stubborn.rules.yml");
    let manifest = yaml("prometheusrule.yaml");
    assert_eq!(manifest["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(manifest["kind"].as_str(), Some("PrometheusRule"));
    assert_eq!(
        manifest["spec"]["groups"], rules["groups"],
        "prometheusrule.yaml's spec.groups differ from stubborn.rules.yml's groups: copy them over (indented under spec:)"
    );
    let kustomization = yaml("kustomization.yaml");
    let resources: Vec<&str> =
        kustomization["resources"].as_vec().expect("resources").iter().filter_map(Yaml::as_str).collect();
    assert_eq!(resources, ["prometheusrule.yaml"]);
}

/// `stubborn_…` and `process_…` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if is_name(bytes[i]) && (i == 0 || !is_name(bytes[i - 1])) {
            let end = (i..bytes.len()).find(|&j| !is_name(bytes[j])).unwrap_or(bytes.len());
            let word = &text[i..end];
            if word.starts_with("stubborn_") || word.starts_with("process_") {
                names.insert(word.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn the_rules_and_the_dashboard_use_only_metrics_stubborn_exports() {
    let fake = FakeUpstream::start(Mode::Answer);
    // A service, so that the service series exist.
    let service = "[[service]]\nname = \"api.example.test\"\nprimary = \"192.0.2.7\"\n";
    let stubborn = Stubborn::start(Config::new(&[fake.server()]).append(service));
    // stubborn_responses_total has a series (and so a TYPE line) once a response went out.
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    let (_, text) = stubborn.metrics_accepting("text/plain");
    // Families and their types, from the text format 0.0.4 (counters by their `_total` name).
    let families: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' ').map(|(n, t)| (n.to_string(), t.to_string())))
        .collect();
    let exported = |name: &str| {
        families.iter().any(|(family, kind)| {
            name == family
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"].iter().any(|s| name.strip_suffix(s) == Some(family.as_str())))
        })
    };

    let rules = fs::read_to_string(monitoring().join("stubborn.rules.yml")).expect("read rules");
    let exprs: String = alerts().into_iter().map(|(_, expr)| expr + "\n").collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(monitoring().join("grafana-dashboard.json")).expect("read dashboard"))
            .expect("the dashboard is JSON");
    let mut dashboard_exprs = String::new();
    let mut ids = BTreeSet::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        assert!(ids.insert(panel["id"].as_i64().expect("a panel id")), "panel id {} twice", panel["id"]);
        for target in panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default() {
            dashboard_exprs.push_str(target["expr"].as_str().expect("a target's expr"));
            dashboard_exprs.push('\n');
            assert_eq!(
                target["datasource"]["uid"].as_str().or(panel["datasource"]["uid"].as_str()),
                Some("${datasource}")
            );
        }
    }
    for (what, text_used) in [("stubborn.rules.yml", &exprs), ("grafana-dashboard.json", &dashboard_exprs)] {
        let used = metric_names(text_used);
        assert!(used.len() >= 5, "{what}: expected metrics, found {used:?}");
        for name in &used {
            assert!(exported(name), "{what} uses {name}, which stubborn does not export:\n{text}");
        }
    }
    assert!(metric_names(&rules).iter().all(|n| exported(n)));
    // The dashboard shows what the alerts are about.
    for (alert, expr) in alerts() {
        for name in metric_names(&expr) {
            assert!(dashboard_exprs.contains(&name), "the dashboard shows nothing of {name} ({alert})");
        }
    }
}
