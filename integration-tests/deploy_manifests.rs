//! The shipped deployment files (`deploy/`): every Kubernetes manifest parses
//! as YAML; the stubborn config embedded in each ConfigMap, and every
//! `deploy/**/*.toml`, passes `stubborn check`; and the manifests agree with
//! their configs: the probes hit /readyz and /healthz on the admin address
//! the config listens on, the config file is where the container reads it,
//! the snapshot directory is a writable volume, and a pod that uses its own
//! stubborn as nameserver (`dnsPolicy: None`) names an address stubborn
//! listens on, on port 53. Every config keeps cache control on its own host
//! or pod: `[admin] control_allow` holds loopback networks only, however far
//! `allow` is widened for Prometheus.
//!
//! The configs are checked as shipped: where the snapshot's directory does
//! not exist on the machine running the test (it is a volume, or systemd's
//! StateDirectory), `check` warns about it, still passes, and creates nothing
//! (INTERFACE.md `[cache] persist`).

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::harness::stubborn::run_to_exit;

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

/// Every document of every `deploy/kubernetes/*.yaml`, with its origin.
fn manifests() -> Vec<(String, Yaml)> {
    let files = files(&deploy_dir().join("kubernetes"), ".yaml");
    assert!(files.len() >= 2, "expected the sidecar and node-local manifests, found {files:?}");
    let mut docs = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("read manifest");
        let parsed = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
        for (i, doc) in parsed.into_iter().enumerate() {
            if doc.is_null() {
                continue;
            }
            let origin = format!("{} (document {})", file.file_name().unwrap().to_string_lossy(), i + 1);
            assert!(doc["apiVersion"].as_str().is_some(), "{origin}: no apiVersion");
            assert!(doc["kind"].as_str().is_some(), "{origin}: no kind");
            assert!(doc["metadata"]["name"].as_str().is_some(), "{origin}: no metadata.name");
            docs.push((origin, doc));
        }
    }
    docs
}

/// The ConfigMaps' `stubborn.toml`, checked, by ConfigMap name.
fn checked_configmaps(docs: &[(String, Yaml)]) -> BTreeMap<String, toml::Table> {
    let mut configs = BTreeMap::new();
    for (origin, doc) in docs.iter().filter(|(_, d)| d["kind"].as_str() == Some("ConfigMap")) {
        let name = str_of(&doc["metadata"]["name"], origin).to_string();
        let text = str_of(&doc["data"]["stubborn.toml"], &format!("{origin}: data.\"stubborn.toml\""));
        let table = assert_check_passes(&format!("{origin}: ConfigMap {name}"), text);
        configs.insert(name, table);
    }
    configs
}

#[test]
fn kubernetes_manifests_parse_and_their_configs_pass_check() {
    let docs = manifests();
    let configs = checked_configmaps(&docs);
    assert!(configs.len() >= 2, "expected a ConfigMap in each manifest, found {:?}", configs.keys());

    let workloads: Vec<_> = docs
        .iter()
        .filter(|(_, d)| matches!(d["kind"].as_str(), Some("Deployment" | "DaemonSet" | "StatefulSet")))
        .collect();
    let kinds: Vec<&str> = workloads.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
    assert!(kinds.contains(&"Deployment") && kinds.contains(&"DaemonSet"), "found workloads {kinds:?}");

    for (origin, doc) in workloads {
        let pod = &doc["spec"]["template"]["spec"];
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
        let volume_name = str_of(&config_mount["name"], &origin);
        let volume = list(&pod["volumes"])
            .iter()
            .find(|v| v["name"].as_str() == Some(volume_name))
            .unwrap_or_else(|| panic!("{origin}: no volume {volume_name}"));
        let cm_name = str_of(&volume["configMap"]["name"], &format!("{origin}: volume {volume_name}.configMap.name"));
        let config =
            configs.get(cm_name).unwrap_or_else(|| panic!("{origin}: ConfigMap {cm_name} is not in the manifests"));

        // Probes: /readyz and /healthz on the admin port, reachable by the kubelet.
        let admin = admin_listen(config, &origin);
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/readyz")]
        {
            let get = &container[probe]["httpGet"];
            if probe == "startupProbe" && container[probe].is_badvalue() {
                continue;
            }
            assert_eq!(get["path"].as_str(), Some(path), "{origin}: {probe} path");
            let port = match &get["port"] {
                Yaml::Integer(p) => *p,
                Yaml::String(name) => list(&container["ports"])
                    .iter()
                    .find(|p| p["name"].as_str() == Some(name))
                    .and_then(|p| p["containerPort"].as_i64())
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

        // Scraped by Prometheus (the prometheus.io annotations): the admin
        // endpoint listens where the scrape arrives (the pod IP) and lets a
        // pod address in, past `[admin] allow` (default: loopback only).
        let annotations = &doc["spec"]["template"]["metadata"]["annotations"];
        if annotations["prometheus.io/scrape"].as_str() == Some("true") {
            let port: u16 = str_of(&annotations["prometheus.io/port"], &origin).parse().expect("a port");
            assert_eq!(port, admin.port(), "{origin}: prometheus.io/port vs [admin] listen {admin}");
            assert!(admin.ip().is_unspecified(), "{origin}: scraped on the pod IP, but [admin] listen is {admin}");
            let allow: Vec<ipnet::IpNet> = config
                .get("admin")
                .and_then(|a| a.get("allow"))
                .and_then(|a| a.as_array())
                .map(|list| list.iter().filter_map(|n| n.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            let pod: IpAddr = "10.244.1.7".parse().expect("an address");
            assert!(
                allow.iter().any(|net| net.contains(&pod)),
                "{origin}: Prometheus (a pod, e.g. {pod}) would get 403: [admin] allow is {allow:?}"
            );
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

/// The Containerfile's shape, read without a container engine (issue 13):
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

/// The fleet store wiring `node-local.yaml` carries commented out (the
/// `[fleet]` lines of its config, the Secret's mount and volume), once
/// uncommented: the manifest still parses, the config passes `check` with
/// the Secret's files in place, the Secret is mounted read-only where
/// `key_file` and `password_file` point, and the header's `kubectl create
/// secret` makes the files they name.
#[cfg(feature = "fleet")]
#[test]
fn node_local_fleet_wiring_uncommented_is_valid() {
    let text = fs::read_to_string(deploy_dir().join("kubernetes/node-local.yaml")).expect("read node-local.yaml");
    let mut wired = uncomment_block(&text, "# [fleet]");
    for _ in 0..2 {
        wired = uncomment_block(&wired, "# - name: fleet");
    }
    let docs = YamlLoader::load_from_str(&wired).unwrap_or_else(|e| panic!("uncommented: not YAML: {e}\n{wired}"));
    let of_kind = |kind: &str| docs.iter().find(|d| d["kind"].as_str() == Some(kind)).expect(kind);
    let config = str_of(&of_kind("ConfigMap")["data"]["stubborn.toml"], "ConfigMap data.\"stubborn.toml\"");
    let table: toml::Table = toml::from_str(config).unwrap_or_else(|e| panic!("uncommented config: not TOML: {e}"));
    let fleet = table.get("fleet").and_then(|f| f.as_table()).expect("[fleet] once uncommented");
    let file_of = |key: &str| fleet.get(key).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("[fleet] {key}"));
    let (key_file, password_file) = (Path::new(file_of("key_file")), Path::new(file_of("password_file")));
    let secret_dir = key_file.parent().expect("key_file has a directory");
    assert_eq!(password_file.parent(), Some(secret_dir), "both secrets come from the one Secret");

    let pod = &of_kind("DaemonSet")["spec"]["template"]["spec"];
    let container = list(&pod["containers"])
        .iter()
        .find(|c| c["image"].as_str().is_some_and(|i| i.contains("stubborn")))
        .expect("the stubborn container");
    let mount = list(&container["volumeMounts"])
        .iter()
        .find(|m| m["mountPath"].as_str().map(Path::new) == Some(secret_dir))
        .unwrap_or_else(|| panic!("nothing mounted at {}", secret_dir.display()));
    assert_eq!(mount["readOnly"].as_bool(), Some(true), "the Secret is mounted read-only");
    let volume_name = str_of(&mount["name"], "the mount");
    let volume = list(&pod["volumes"]).iter().find(|v| v["name"].as_str() == Some(volume_name)).expect("its volume");
    let secret = str_of(&volume["secret"]["secretName"], "a Secret volume");
    assert!(text.contains(&format!("create secret generic {secret}")), "the header creates the Secret {secret}");
    for file in [key_file, password_file] {
        let name = file.file_name().expect("a file").to_string_lossy();
        assert!(text.contains(&format!("--from-file={name}=")), "the header's Secret has no file {name}");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join(key_file.file_name().unwrap()), [7u8; 32]).expect("write key");
    fs::write(dir.path().join(password_file.file_name().unwrap()), "s3cret\n").expect("write password");
    let config = config.replace(&*secret_dir.to_string_lossy(), &dir.path().to_string_lossy());
    assert_check_passes("node-local.yaml, [fleet] uncommented", &config);
}

#[cfg(feature = "fleet")]
/// `text` with the comment block starting at the line `first` (trimmed)
/// uncommented: that line and those after it that start with the same
/// indentation and `# `, each without its `# `.
fn uncomment_block(text: &str, first: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim() == first).unwrap_or_else(|| panic!("no line {first:?}"));
    let indent = &lines[start][..lines[start].len() - lines[start].trim_start().len()];
    let prefix = format!("{indent}# ");
    let mut out = String::new();
    let mut inside = false;
    for (i, line) in lines.iter().enumerate() {
        inside |= i == start;
        match line.strip_prefix(&prefix) {
            Some(rest) if inside => out.push_str(&format!("{indent}{rest}\n")),
            _ => {
                inside = false;
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}
