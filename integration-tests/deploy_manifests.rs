//! The shipped deployment files (`deploy/`): every Kubernetes overlay
//! (`deploy/kubernetes/overlays/*`) renders with kustomize, alone and with
//! each optional component (`components/monitoring`, `components/fleet`);
//! the stubborn config in each rendered ConfigMap, and every
//! `deploy/**/*.toml`, passes `stubborn check`; and the manifests agree with
//! their configs: the probes hit /readyz and /healthz on the admin address
//! the config listens on, the config file is where the container reads it,
//! the snapshot directory is a writable volume, the metrics Service and the
//! ServiceMonitor reach the admin port, the fleet's secrets are mounted
//! read-only where `[fleet]` reads them, and a pod that uses its own
//! stubborn as nameserver (`dnsPolicy: None`) names an address stubborn
//! listens on, on port 53. Every config keeps cache control on its own host
//! or pod: `[admin] control_allow` holds loopback networks only, however far
//! `allow` is widened for Prometheus. The cluster DNS address and the
//! namespace are kustomize values: changed in an overlay, they change
//! everywhere they are used, and nothing of the defaults is left.
//!
//! The configs are checked as shipped: where the snapshot's directory does
//! not exist on the machine running the test (it is a volume, or systemd's
//! StateDirectory), `check` warns about it, still passes, and creates nothing
//! (`[cache] persist`).
//!
//! kustomize is `kubectl kustomize` (kustomize 5): `$STUBBORN_KUBECTL`, else
//! `kubectl` on PATH, else the one `scripts/check-deploy` installs.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use stubborn_test_support::stubborn::run_to_exit;

const DEFAULT_CONFIG_PATH: &str = "/etc/stubborn/stubborn.toml";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
pub(crate) fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `stubborn check` on `text` (from `origin`), as shipped; panics with
/// stubborn's messages when it fails, or when a missing snapshot directory
/// is not warned about or is created.
fn assert_check_passes(origin: &str, text: &str) -> toml::Table {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{origin}: not TOML: {e}"));
    let snapshot_dir = persist_path(&table).map(|p| Path::new(&p).parent().expect("persist names a file").to_owned());
    let missing = snapshot_dir.filter(|dir| !dir.exists());
    let done = run_to_exit(&["check"], text, std::time::Duration::from_secs(10));
    assert_eq!(done.code, Some(0), "{origin}: stubborn check failed:\n{}{}", done.stdout, done.stderr);
    if let Some(dir) = missing {
        let warned = done.stderr.lines().any(|l| l.contains("cache.persist") && l.contains(&*dir.to_string_lossy()));
        assert!(warned, "{origin}: no warning about the missing {}:\n{}", dir.display(), done.stderr);
        assert!(!dir.exists(), "{origin}: check created {}", dir.display());
    }
    assert_control_is_loopback(origin, &table);
    table
}

/// `[admin] control_allow` as written holds loopback networks only (left
/// out, it is 127.0.0.1 and ::1).
fn assert_control_is_loopback(origin: &str, config: &toml::Table) {
    let Some(list) = config.get("admin").and_then(|a| a.get("control_allow")) else { return };
    let list = list.as_array().unwrap_or_else(|| panic!("{origin}: [admin] control_allow is not a list"));
    for net in list {
        let text = net.as_str().unwrap_or_else(|| panic!("{origin}: [admin] control_allow holds {net}"));
        let net: ipnet::IpNet = text.parse().unwrap_or_else(|e| panic!("{origin}: control_allow {text:?}: {e}"));
        assert!(
            net.network().is_loopback() && net.broadcast().is_loopback(),
            "{origin}: [admin] control_allow lets {net} flush and read the cache; keep it to loopback"
        );
    }
}

fn persist_path(config: &toml::Table) -> Option<String> {
    config.get("cache")?.get("persist")?.as_str().map(str::to_string)
}

fn admin_listen(config: &toml::Table, origin: &str) -> SocketAddr {
    let text = config
        .get("admin")
        .and_then(|a| a.get("listen"))
        .and_then(|l| l.as_str())
        .unwrap_or_else(|| panic!("{origin}: the probes need [admin] listen"));
    text.parse().unwrap_or_else(|e| panic!("{origin}: [admin] listen {text:?}: {e}"))
}

fn listen_addrs(config: &toml::Table) -> Vec<SocketAddr> {
    config
        .get("server")
        .and_then(|s| s.get("listen"))
        .and_then(|l| l.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn str_of<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str().unwrap_or_else(|| panic!("{what}: expected a string, found {y:?}"))
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

const OVERLAYS: [&str; 3] = ["node-local", "sidecar", "cluster"];
const COMPONENTS: [&str; 2] = ["monitoring", "fleet"];

/// The `kubectl` whose `kustomize` renders the overlays.
fn kubectl() -> PathBuf {
    if let Some(path) = std::env::var_os("STUBBORN_KUBECTL") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join("kubectl")).find(|p| p.is_file()));
    // Where scripts/check-deploy puts the one it installs.
    let tools = std::env::var_os("STUBBORN_DEPLOY_TOOLS").map(PathBuf::from).or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
        Some(cache.join("stubborn-deploy-tools"))
    });
    let installed = tools.map(|dir| dir.join("bin/kubectl")).filter(|p| p.is_file());
    on_path.or(installed).unwrap_or_else(|| {
        panic!(
            "no kubectl (for kubectl kustomize): run scripts/check-deploy, which installs one, or set STUBBORN_KUBECTL"
        )
    })
}

/// A copy of `deploy/kubernetes` and `deploy/monitoring` in a temp dir, with
/// throwaway fleet secrets (the real ones are never in the repository), to
/// render with components switched on and values changed.
struct Deploy {
    dir: tempfile::TempDir,
}

impl Deploy {
    fn copy() -> Deploy {
        let dir = tempfile::Builder::new().prefix("stubborn-deploy-").tempdir().expect("temp dir");
        for sub in ["kubernetes", "monitoring"] {
            copy_tree(&deploy_dir().join(sub), &dir.path().join(sub));
        }
        let secrets = dir.path().join("kubernetes/components/fleet/secrets");
        fs::create_dir_all(&secrets).expect("mkdir secrets");
        fs::write(secrets.join("key"), "k".repeat(40)).expect("write key");
        fs::write(secrets.join("password"), "s3cret").expect("write password");
        Deploy { dir }
    }

    fn overlay(&self, overlay: &str) -> PathBuf {
        self.dir.path().join("kubernetes/overlays").join(overlay)
    }

    /// Edits the overlay's kustomization.yaml: `from` becomes `to`.
    fn edit(&self, overlay: &str, from: &str, to: &str) {
        let path = self.overlay(overlay).join("kustomization.yaml");
        let text = fs::read_to_string(&path).expect("read kustomization");
        assert!(text.contains(from), "{overlay}/kustomization.yaml has no {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).expect("write kustomization");
    }

    /// `kubectl kustomize` of `overlay` with `components` switched on (as a
    /// user does: listed in the overlay's `components:`), as documents.
    fn render(&self, overlay: &str, components: &[&str]) -> Vec<(String, Yaml)> {
        if !components.is_empty() {
            let list: String = components.iter().map(|c| format!("\n  - ../../components/{c}")).collect();
            self.edit(overlay, "components: []", &format!("components:{list}"));
        }
        let out = std::process::Command::new(kubectl())
            .arg("kustomize")
            .arg(self.overlay(overlay))
            .output()
            .expect("run kubectl kustomize");
        if !components.is_empty() {
            let list: String = components.iter().map(|c| format!("\n  - ../../components/{c}")).collect();
            self.edit(overlay, &format!("components:{list}"), "components: []");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let name = format!("overlays/{overlay} {components:?}");
        assert!(out.status.success(), "kubectl kustomize {name}: {}", String::from_utf8_lossy(&out.stderr));
        let parsed = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: not YAML: {e}"));
        let mut docs = Vec::new();
        for doc in parsed.into_iter().filter(|d| !d.is_null()) {
            let origin = format!(
                "{name}: {} {}",
                doc["kind"].as_str().unwrap_or("?"),
                doc["metadata"]["name"].as_str().unwrap_or("?")
            );
            assert!(doc["apiVersion"].as_str().is_some(), "{origin}: no apiVersion");
            assert!(doc["kind"].as_str().is_some(), "{origin}: no kind");
            assert!(doc["metadata"]["name"].as_str().is_some(), "{origin}: no metadata.name");
            assert!(
                doc["metadata"]["annotations"]["config.kubernetes.io/local-config"].is_badvalue(),
                "{origin}: a local-config resource reached the output"
            );
            docs.push((origin, doc));
        }
        docs
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy");
        }
    }
}

fn of_kind<'a>(docs: &'a [(String, Yaml)], kind: &str) -> Vec<&'a (String, Yaml)> {
    docs.iter().filter(|(_, d)| d["kind"].as_str() == Some(kind)).collect()
}

/// Whether the labels `selector` (matchLabels, or a Service's selector) all hold in `labels`.
fn selects(selector: &Yaml, labels: &Yaml) -> bool {
    let Some(selector) = selector.as_hash() else { return false };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels[k.as_str().unwrap_or_default()] == *v)
}

/// The ConfigMaps' `stubborn.toml`, checked, by ConfigMap name. A config
/// with `[fleet]` is checked with the Secret it names written to a temp dir
/// (`check` reads `key_file` and `password_file`): the Secret has to be
/// mounted where the config reads it, which the workload checks below pin.
fn checked_configmaps(docs: &[(String, Yaml)]) -> BTreeMap<String, toml::Table> {
    let mut configs = BTreeMap::new();
    for (origin, doc) in of_kind(docs, "ConfigMap") {
        let name = str_of(&doc["metadata"]["name"], origin).to_string();
        let Some(text) = doc["data"]["stubborn.toml"].as_str() else { continue };
        let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{origin}: not TOML: {e}"));
        let secrets = tempfile::Builder::new().prefix("stubborn-secrets-").tempdir().expect("temp dir");
        let mut checked_text = text.to_string();
        if let Some(fleet) = table.get("fleet") {
            for key in ["key_file", "password_file"] {
                let Some(path) = fleet.get(key).and_then(|p| p.as_str()) else { continue };
                let file = secrets.path().join(key);
                fs::write(&file, "x".repeat(40)).expect("write secret");
                checked_text = checked_text.replace(&format!("\"{path}\""), &format!("\"{}\"", file.display()));
            }
        }
        assert_check_passes(&format!("{origin}: stubborn.toml"), &checked_text);
        configs.insert(name, table);
    }
    configs
}

/// The checks of one rendered overlay; `fleet`: rendered with components/fleet.
fn check_rendered(docs: &[(String, Yaml)], fleet: bool) {
    let configs = checked_configmaps(docs);
    assert_eq!(configs.len(), 1, "expected one stubborn ConfigMap, found {:?}", configs.keys());

    let workloads: Vec<_> = docs
        .iter()
        .filter(|(_, d)| matches!(d["kind"].as_str(), Some("Deployment" | "DaemonSet" | "StatefulSet")))
        .collect();
    assert_eq!(workloads.len(), 1, "expected one workload");

    for (origin, doc) in workloads {
        let pod = &doc["spec"]["template"]["spec"];
        let pod_labels = &doc["spec"]["template"]["metadata"]["labels"];
        assert!(selects(&doc["spec"]["selector"]["matchLabels"], pod_labels), "{origin}: selector vs pod labels");
        let stubborns: Vec<&Yaml> = list(&pod["containers"])
            .iter()
            .chain(list(&pod["initContainers"]))
            .filter(|c| c["image"].as_str().is_some_and(|i| i.contains("stubborn")))
            .collect();
        assert_eq!(stubborns.len(), 1, "{origin}: expected one stubborn container");
        let container = stubborns[0];
        let cname = str_of(&container["name"], origin);
        let origin = format!("{origin}: container {cname}");

        // Where it reads its config, and which ConfigMap is there.
        // `command` replaces the image's ENTRYPOINT (which names the config
        // already); `args` would be appended to it, and a second --config is
        // an error.
        let argv: Vec<&str> =
            list(&container["command"]).iter().chain(list(&container["args"])).filter_map(Yaml::as_str).collect();
        let configs_given = argv.iter().filter(|a| **a == "--config").count();
        assert!(configs_given <= 1, "{origin}: --config given {configs_given} times in {argv:?}");
        if container["command"].is_badvalue() {
            assert_eq!(configs_given, 0, "{origin}: args add a second --config to the image's ENTRYPOINT");
        }
        let config_path = argv
            .iter()
            .position(|a| *a == "--config")
            .map_or(DEFAULT_CONFIG_PATH, |i| argv.get(i + 1).copied().expect("--config takes a path"));
        let config_dir = Path::new(config_path).parent().expect("config path has a directory");
        assert_eq!(Path::new(config_path).file_name().unwrap(), "stubborn.toml", "{origin}: the ConfigMap key");
        let mounts = list(&container["volumeMounts"]);
        let mount_of = |dir: &Path| mounts.iter().find(|m| m["mountPath"].as_str().map(Path::new) == Some(dir));
        let config_mount =
            mount_of(config_dir).unwrap_or_else(|| panic!("{origin}: nothing mounted at {config_dir:?}"));
        assert_eq!(config_mount["readOnly"].as_bool(), Some(true), "{origin}: the config volume is writable");
        let volume_name = str_of(&config_mount["name"], &origin);
        let volume = list(&pod["volumes"])
            .iter()
            .find(|v| v["name"].as_str() == Some(volume_name))
            .unwrap_or_else(|| panic!("{origin}: no volume {volume_name}"));
        let sources = list(&volume["projected"]["sources"]);
        let cm_name = sources
            .iter()
            .find_map(|s| s["configMap"]["name"].as_str())
            .or_else(|| volume["configMap"]["name"].as_str())
            .unwrap_or_else(|| panic!("{origin}: volume {volume_name} holds no ConfigMap"));
        let config =
            configs.get(cm_name).unwrap_or_else(|| panic!("{origin}: ConfigMap {cm_name} is not in the manifests"));

        // [fleet]: its secrets are in the config's (read-only) volume, from
        // the rendered Secret, at the paths the config reads.
        match config.get("fleet") {
            None => assert!(!fleet, "{origin}: rendered with components/fleet, but the config has no [fleet]"),
            Some(table) => {
                assert!(fleet, "{origin}: [fleet] without components/fleet");
                let secret = sources.iter().find(|s| !s["secret"].is_badvalue()).map(|s| &s["secret"]);
                let secret = secret.unwrap_or_else(|| panic!("{origin}: [fleet] but no Secret in {volume_name}"));
                let secret_name = str_of(&secret["name"], &origin);
                let (_, secret_doc) = of_kind(docs, "Secret")
                    .into_iter()
                    .find(|(_, d)| d["metadata"]["name"].as_str() == Some(secret_name))
                    .unwrap_or_else(|| panic!("{origin}: Secret {secret_name} is not in the manifests"));
                for key in ["key_file", "password_file"] {
                    let path =
                        table.get(key).and_then(|p| p.as_str()).unwrap_or_else(|| panic!("{origin}: no fleet.{key}"));
                    let relative = Path::new(path)
                        .strip_prefix(config_dir)
                        .unwrap_or_else(|_| panic!("{origin}: fleet.{key} {path} is not in {config_dir:?}"));
                    let item = list(&secret["items"])
                        .iter()
                        .find(|i| i["path"].as_str().map(Path::new) == Some(relative))
                        .unwrap_or_else(|| panic!("{origin}: nothing of the Secret is mounted at {path}"));
                    let data_key = str_of(&item["key"], &origin);
                    assert!(
                        !secret_doc["data"][data_key].is_badvalue(),
                        "{origin}: Secret {secret_name} has no {data_key}"
                    );
                }
            }
        }

        // Probes: /readyz and /healthz on the admin port, reachable by the kubelet.
        let admin = admin_listen(config, &origin);
        let port_named = |name: &str| {
            list(&container["ports"])
                .iter()
                .find(|p| p["name"].as_str() == Some(name))
                .and_then(|p| p["containerPort"].as_i64())
        };
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/readyz")]
        {
            let get = &container[probe]["httpGet"];
            if probe == "startupProbe" && container[probe].is_badvalue() {
                continue;
            }
            assert_eq!(get["path"].as_str(), Some(path), "{origin}: {probe} path");
            let port = match &get["port"] {
                Yaml::Integer(p) => *p,
                Yaml::String(name) => port_named(name)
                    .unwrap_or_else(|| panic!("{origin}: {probe} names port {name:?}, which the container lacks")),
                other => panic!("{origin}: {probe} port {other:?}"),
            };
            assert_eq!(port, i64::from(admin.port()), "{origin}: {probe} port vs [admin] listen {admin}");
            match get["host"].as_str() {
                Some(host) => {
                    let host: IpAddr = host.parse().unwrap_or_else(|e| panic!("{origin}: {probe} host {host:?}: {e}"));
                    assert!(
                        admin.ip().is_unspecified() || admin.ip() == host,
                        "{origin}: {probe} asks {host}, stubborn's admin listens on {admin}"
                    );
                }
                // Without host the kubelet connects to the pod IP.
                None => assert!(
                    admin.ip().is_unspecified(),
                    "{origin}: {probe} goes to the pod IP, but [admin] listen is {admin}"
                ),
            }
        }

        // Scraped by Prometheus, through the metrics Service (and the
        // prometheus.io annotations): the admin endpoint listens where the
        // scrape arrives (the pod IP) and lets a pod address in, past
        // `[admin] allow` (default: loopback only).
        assert_eq!(port_named("metrics"), Some(i64::from(admin.port())), "{origin}: port \"metrics\" vs {admin}");
        assert!(admin.ip().is_unspecified(), "{origin}: scraped on the pod IP, but [admin] listen is {admin}");
        let annotations = &doc["spec"]["template"]["metadata"]["annotations"];
        if annotations["prometheus.io/scrape"].as_str() == Some("true") {
            let port: u16 = str_of(&annotations["prometheus.io/port"], &origin).parse().expect("a port");
            assert_eq!(port, admin.port(), "{origin}: prometheus.io/port vs [admin] listen {admin}");
        }
        let allow: Vec<ipnet::IpNet> = config
            .get("admin")
            .and_then(|a| a.get("allow"))
            .and_then(|a| a.as_array())
            .map(|list| list.iter().filter_map(|n| n.as_str()?.parse().ok()).collect())
            .unwrap_or_default();
        let prometheus: IpAddr = "10.244.1.7".parse().expect("an address");
        assert!(
            allow.iter().any(|net| net.contains(&prometheus)),
            "{origin}: Prometheus (a pod, e.g. {prometheus}) would get 403: [admin] allow is {allow:?}"
        );
        let metrics_services: Vec<_> = of_kind(docs, "Service")
            .into_iter()
            .filter(|(_, s)| s["metadata"]["labels"]["app.kubernetes.io/component"].as_str() == Some("metrics"))
            .collect();
        assert_eq!(metrics_services.len(), 1, "{origin}: expected one metrics Service");
        let (service_origin, service) = metrics_services[0];
        assert!(selects(&service["spec"]["selector"], pod_labels), "{service_origin}: does not select {origin}");
        assert_eq!(service["spec"]["clusterIP"].as_str(), Some("None"), "{service_origin}: expected headless");
        let service_port = list(&service["spec"]["ports"])
            .iter()
            .find(|p| p["name"].as_str() == Some("metrics"))
            .unwrap_or_else(|| panic!("{service_origin}: no port named metrics"));
        assert_eq!(service_port["targetPort"].as_str(), Some("metrics"), "{service_origin}: targetPort");
        for (monitor_origin, monitor) in of_kind(docs, "ServiceMonitor") {
            assert!(
                selects(&monitor["spec"]["selector"]["matchLabels"], &service["metadata"]["labels"]),
                "{monitor_origin}: does not select {service_origin}"
            );
            let endpoint = &list(&monitor["spec"]["endpoints"])[0];
            assert_eq!(endpoint["port"].as_str(), Some("metrics"), "{monitor_origin}");
            assert_eq!(endpoint["path"].as_str(), Some("/metrics"), "{monitor_origin}");
        }

        // The snapshot directory is a writable volume.
        if let Some(persist) = persist_path(config) {
            let dir = Path::new(&persist).parent().expect("persist has a directory");
            let mount =
                mount_of(dir).unwrap_or_else(|| panic!("{origin}: the snapshot directory {dir:?} is not a volume"));
            assert_ne!(mount["readOnly"].as_bool(), Some(true), "{origin}: the snapshot volume is read-only");
        }

        // A pod whose resolv.conf is stubborn: stubborn listens there, on port 53.
        if pod["dnsPolicy"].as_str() == Some("None") {
            let listen = listen_addrs(config);
            let nameservers = list(&pod["dnsConfig"]["nameservers"]);
            assert!(!nameservers.is_empty(), "{origin}: dnsPolicy None without dnsConfig.nameservers");
            for ns in nameservers {
                let ip: IpAddr = str_of(ns, &origin).parse().expect("a nameserver IP");
                assert!(
                    listen.iter().any(|l| l.port() == 53 && l.ip() == ip),
                    "{origin}: nameserver {ip} but stubborn listens on {listen:?}"
                );
            }
        }

        // A Service in front of the DNS port targets what stubborn listens on.
        for (service_origin, service) in of_kind(docs, "Service") {
            if service["metadata"]["labels"]["app.kubernetes.io/component"].as_str() != Some("dns") {
                continue;
            }
            assert!(selects(&service["spec"]["selector"], pod_labels), "{service_origin}: does not select {origin}");
            for port in list(&service["spec"]["ports"]) {
                assert_eq!(port["port"].as_i64(), Some(53), "{service_origin}: DNS on port 53");
                let target = str_of(&port["targetPort"], service_origin);
                let target =
                    port_named(target).unwrap_or_else(|| panic!("{service_origin}: no container port {target}"));
                assert!(
                    listen_addrs(config).iter().any(|l| i64::from(l.port()) == target && l.ip().is_unspecified()),
                    "{service_origin}: targets port {target}, stubborn listens on {:?}",
                    listen_addrs(config)
                );
            }
        }

        // A PodDisruptionBudget, where there is one, covers these pods.
        for (pdb_origin, pdb) in of_kind(docs, "PodDisruptionBudget") {
            assert!(selects(&pdb["spec"]["selector"]["matchLabels"], pod_labels), "{pdb_origin}: selects no pod");
        }
    }
}

#[test]
fn kubernetes_overlays_render_with_every_component_and_their_configs_pass_check() {
    let deploy = Deploy::copy();
    for overlay in OVERLAYS {
        for components in [&[][..], &["monitoring"], &["fleet"], &COMPONENTS] {
            let docs = deploy.render(overlay, components);
            check_rendered(&docs, components.contains(&"fleet"));
            let kinds: Vec<&str> = docs.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
            for (component, kind) in
                [("monitoring", "ServiceMonitor"), ("monitoring", "PrometheusRule"), ("fleet", "Secret")]
            {
                assert_eq!(
                    kinds.contains(&kind),
                    components.contains(&component),
                    "overlays/{overlay} {components:?}: {kind} in {kinds:?}"
                );
            }
            match overlay {
                "node-local" => {
                    assert!(kinds.contains(&"DaemonSet"), "{kinds:?}");
                    let (_, ds) = of_kind(&docs, "DaemonSet")[0];
                    assert_eq!(ds["spec"]["template"]["spec"]["hostNetwork"].as_bool(), Some(true));
                }
                "cluster" => {
                    assert!(kinds.contains(&"Deployment") && kinds.contains(&"PodDisruptionBudget"), "{kinds:?}");
                }
                _ => assert!(kinds.contains(&"Deployment"), "{kinds:?}"),
            }
        }
    }
}

/// The cluster DNS address and the namespace are set once, in an overlay's
/// kustomization.yaml, and land everywhere they are used: the configs'
/// upstreams (over TCP for node-local's cluster.local) and the sidecar pod's
/// first search domain. Nothing of the defaults is left.
#[test]
fn the_cluster_dns_and_the_namespace_are_kustomize_values() {
    let deploy = Deploy::copy();
    for overlay in OVERLAYS {
        let docs = deploy.render(overlay, &[]);
        let configs = checked_configmaps(&docs);
        let config = configs.values().next().expect("a config");
        let zone = config["upstream"]["zone"].as_array().and_then(|z| z.first()).expect("a zone");
        assert_eq!(zone["name"].as_str(), Some("cluster.local"), "{overlay}");
        let expected = if overlay == "node-local" { "tcp://10.96.0.10" } else { "10.96.0.10" };
        assert_eq!(
            zone["servers"].as_array().map(Vec::as_slice),
            Some(&[toml::Value::from(expected)][..]),
            "{overlay}"
        );

        deploy.edit(overlay, "clusterDNS=10.96.0.10", "clusterDNS=10.100.0.53");
        let namespace = match overlay {
            "node-local" => "kube-system",
            "sidecar" => "default",
            _ => "stubborn",
        };
        deploy.edit(overlay, &format!("namespace: {namespace}"), "namespace: shop");
        let docs = deploy.render(overlay, &["fleet", "monitoring"]);
        for (origin, doc) in &docs {
            let text = format!("{doc:?}");
            assert!(!text.contains("10.96.0.10"), "{origin}: the default cluster DNS is left:\n{text}");
            if doc["kind"].as_str() != Some("Namespace") {
                assert_eq!(doc["metadata"]["namespace"].as_str(), Some("shop"), "{origin}");
            }
        }
        let configs = checked_configmaps(&docs);
        let config = configs.values().next().expect("a config");
        let zone = &config["upstream"]["zone"].as_array().expect("zones")[0];
        let expected = if overlay == "node-local" { "tcp://10.100.0.53" } else { "10.100.0.53" };
        assert_eq!(
            zone["servers"].as_array().map(Vec::as_slice),
            Some(&[toml::Value::from(expected)][..]),
            "{overlay}"
        );
        if let Some(servers) = config["upstream"].get("servers") {
            assert_eq!(servers.as_array().map(Vec::as_slice), Some(&[toml::Value::from(expected)][..]), "{overlay}");
        }
        if overlay == "sidecar" {
            let (_, deployment) = of_kind(&docs, "Deployment")[0];
            let searches = &deployment["spec"]["template"]["spec"]["dnsConfig"]["searches"];
            assert_eq!(searches[0].as_str(), Some("shop.svc.cluster.local"), "{searches:?}");
        }
    }
}

/// The stubborn configs of the overlays are read by kustomize, whose
/// replacements count single quotes: the cluster DNS strings are the only
/// single-quoted ones, and no comment holds an apostrophe.
#[test]
fn overlay_configs_quote_only_the_cluster_dns_in_single_quotes() {
    for overlay in OVERLAYS {
        let path = deploy_dir().join("kubernetes/overlays").join(overlay).join("stubborn.toml");
        let text = fs::read_to_string(&path).expect("read config");
        let quoted: Vec<&str> = text.split('\'').skip(1).step_by(2).collect();
        assert!(text.matches('\'').count().is_multiple_of(2) && !quoted.is_empty(), "{overlay}: {quoted:?}");
        for q in quoted {
            assert!(q.ends_with("10.96.0.10"), "{overlay}/stubborn.toml: single-quoted {q:?} is not the cluster DNS");
        }
    }
}

#[test]
fn every_shipped_toml_config_passes_check() {
    let configs = files(&deploy_dir(), ".toml");
    assert!(configs.len() >= 3, "expected the systemd, container and OpenWrt configs, found {configs:?}");
    for path in configs {
        let text = fs::read_to_string(&path).expect("read config");
        assert_check_passes(&path.display().to_string(), &text);
    }
}

/// No container engine runs the tests, so the Containerfile is read instead:
/// what it copies from the build context exists, and the entrypoint reads
/// the config the image ships.
#[test]
fn containerfile_copies_what_exists_and_runs_the_shipped_config() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(deploy_dir().join("container/Containerfile")).expect("read Containerfile");
    let mut shipped_config = None;
    for line in text.lines().map(str::trim).filter(|l| l.starts_with("COPY ")) {
        let words: Vec<&str> = line.split_whitespace().skip(1).filter(|w| !w.starts_with("--chown")).collect();
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let (dest, sources) = words.split_last().expect("COPY has a destination");
        for source in sources {
            assert!(repo.join(source).exists(), "Containerfile copies {source}, which is not in the repository");
            if source.ends_with("stubborn.toml") {
                shipped_config = Some(dest.to_string());
            }
        }
    }
    let shipped_config = shipped_config.expect("the Containerfile copies a stubborn.toml into the image");
    let entrypoint = text.lines().find(|l| l.starts_with("ENTRYPOINT")).expect("an ENTRYPOINT");
    assert!(
        entrypoint.contains(&format!("\"--config\", \"{shipped_config}\"")),
        "{entrypoint} does not read {shipped_config}"
    );
    assert_eq!(shipped_config, DEFAULT_CONFIG_PATH, "the manifests assume the image's config path");
    assert!(text.lines().any(|l| l.starts_with("USER ") && !l.contains(" 0") && !l.contains("root")), "non-root USER");
}

/// The Containerfile's shape, read without a container engine:
/// every instruction is a Dockerfile instruction (continuations joined),
/// each `COPY --from` names an earlier stage, the build stage makes a
/// static musl binary (an Alpine Rust image, whose host target is musl) and
/// the image it runs from is `distroless/static` or `scratch` (no libc).
#[test]
fn containerfile_builds_a_static_binary_into_a_minimal_image() {
    const INSTRUCTIONS: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    let text = fs::read_to_string(deploy_dir().join("container/Containerfile")).expect("read Containerfile");
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    assert!(current.is_empty(), "the Containerfile ends inside a continued line: {current}");
    let mut stages: Vec<(String, Option<String>)> = Vec::new();
    for instruction in &logical {
        let keyword = instruction.split_whitespace().next().unwrap_or_default();
        assert!(INSTRUCTIONS.contains(&keyword), "not a Dockerfile instruction: {instruction}");
        let words: Vec<&str> = instruction.split_whitespace().collect();
        match keyword {
            "FROM" => {
                let name = match words.as_slice() {
                    [_, _, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    [_, _] => None,
                    _ => panic!("FROM IMAGE [AS NAME]: {instruction}"),
                };
                stages.push((words[1].to_string(), name));
            }
            "COPY" => {
                if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                    let earlier = stages[..stages.len() - 1].iter().any(|(_, n)| n.as_deref() == Some(from));
                    assert!(earlier, "COPY --from={from} names no earlier stage");
                }
            }
            _ => assert!(!stages.is_empty(), "{keyword} before the first FROM"),
        }
    }
    let (build_image, _) = stages.first().expect("a build stage");
    assert!(build_image.contains("rust:") && build_image.ends_with("alpine"), "musl build stage, got {build_image}");
    let (run_image, _) = stages.last().expect("a run stage");
    assert!(
        run_image.contains("distroless/static") || run_image == "scratch",
        "the image runs from {run_image}, not distroless/static or scratch"
    );
    let builds = logical.iter().any(|i| i.starts_with("RUN ") && i.contains("cargo build") && i.contains("--locked"));
    assert!(builds, "the build stage runs cargo build --locked");
    let entry_binary = logical
        .iter()
        .find_map(|i| i.strip_prefix("ENTRYPOINT [\""))
        .and_then(|rest| rest.split('"').next())
        .expect("an exec-form ENTRYPOINT");
    let copied = logical.iter().any(|i| i.starts_with("COPY --from=") && i.ends_with(entry_binary));
    assert!(copied, "the run stage copies the built binary to {entry_binary}");
}
