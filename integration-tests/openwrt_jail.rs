//! The OpenWrt jail shows stubborn every path its config names. On OpenWrt
//! 21.02 and later with the capabilities file installed, procd runs
//! stubborn in a ujail that holds only what the init script
//! (`deploy/openwrt/stubborn/files/stubborn.init`) mounts; a path left out
//! is simply not there, and a jailed router stubborn without its resolv
//! file never finds an upstream.
//!
//! No procd or ujail runs here: the init's `jail_mounts` function is run
//! under `sh` with `procd_add_jail_mount` and `procd_add_jail_mount_rw`
//! stubbed to print their arguments, for each shipped `deploy/**/*.toml` and
//! the config the init renders from the shipped `/etc/config/stubborn`,
//! each copied to a directory of its own (the config "in use"). Checked
//! against the config as TOML: the config's directory and the resolv file's are
//! mounted (both files are replaced by rename: an editor or a uci-style
//! write; netifd), every `ca_file` is, and the snapshot's directory is
//! mounted writable.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn init_script() -> PathBuf {
    repo().join("deploy/openwrt/stubborn/files/stubborn.init")
}

/// The system's certificate store, which the init mounts when it exists.
const CERTS: &str = "/etc/ssl/certs";

/// What the jail mounts: (path, writable), in the order procd was told.
#[derive(Debug)]
struct Mounts(Vec<(PathBuf, bool)>);

impl Mounts {
    /// Runs the init's `jail_mounts CONFIG` with stubbed procd helpers.
    fn of(config: &Path) -> Mounts {
        const STUBS: &str = r#"
procd_add_jail_mount() { for p in "$@"; do printf 'ro %s\n' "$p"; done; }
procd_add_jail_mount_rw() { for p in "$@"; do printf 'rw %s\n' "$p"; done; }
. "$0"
jail_mounts "$1"
"#;
        let out = Command::new("sh").arg("-c").arg(STUBS).arg(init_script()).arg(config).output().expect("run sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "jail_mounts {}: {}\n{stdout}{stderr}",
            config.display(),
            out.status
        );
        let mounts: Vec<(PathBuf, bool)> = stdout
            .lines()
            .map(|line| match line.split_once(' ') {
                Some(("ro", path)) => (PathBuf::from(path), false),
                Some(("rw", path)) => (PathBuf::from(path), true),
                _ => panic!("jail_mounts printed {line:?}, not a procd_add_jail_mount call"),
            })
            .collect();
        for (i, (path, _)) in mounts.iter().enumerate() {
            assert!(path.is_absolute(), "mount {} is not an absolute path: {mounts:?}", path.display());
            assert!(!mounts[..i].iter().any(|(p, _)| p == path), "{} mounted twice: {mounts:?}", path.display());
        }
        Mounts(mounts)
    }

    /// The mount `path` is seen through: the innermost one holding it.
    fn holding(&self, path: &Path) -> Option<&(PathBuf, bool)> {
        self.0.iter().filter(|(m, _)| path.starts_with(m)).max_by_key(|(m, _)| m.components().count())
    }

    fn assert_readable(&self, path: &Path, why: &str) {
        assert!(
            self.holding(path).is_some(),
            "{why}: {} is not in the jail, which mounts {:?}",
            path.display(),
            self.0
        );
    }

    fn assert_writable(&self, path: &Path, why: &str) {
        match self.holding(path) {
            Some((_, true)) => {}
            Some((m, false)) => panic!("{why}: {} is under {}, mounted read-only", path.display(), m.display()),
            None => panic!("{why}: {} is not in the jail, which mounts {:?}", path.display(), self.0),
        }
    }

    fn contains(&self, path: &str, writable: bool) -> bool {
        self.0.iter().any(|(p, w)| p == Path::new(path) && *w == writable)
    }
}

fn string_at<'a>(table: &'a toml::Table, section: &str, key: &str) -> Option<&'a str> {
    table.get(section)?.get(key)?.as_str()
}

fn dir_of(path: &str) -> &Path {
    Path::new(path).parent().unwrap_or_else(|| panic!("{path} names no file in a directory"))
}

/// Copies `text` to `stubborn.toml` in a temp dir and checks that the jail
/// for it holds every path it names. Returns what it checked, for callers
/// that want to know nothing was skipped.
fn assert_jail_holds_what_it_names(origin: &str, text: &str) -> Vec<&'static str> {
    let dir = tempfile::Builder::new().prefix("stubborn-test-").tempdir().expect("temp dir");
    let config_path = dir.path().join("stubborn.toml");
    fs::write(&config_path, text).expect("write config");
    let config: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{origin}: not TOML: {e}"));
    let mounts = Mounts::of(&config_path);
    let mut checked = vec!["config"];

    // A reload reads the config's path again: the directory, so that a file
    // renamed over the old one is what the jail shows.
    mounts.assert_readable(dir.path(), &format!("{origin}: the config's directory"));
    if let Some(resolv) = string_at(&config, "upstream", "resolv_file") {
        mounts.assert_readable(dir_of(resolv), &format!("{origin}: resolv_file's directory"));
        checked.push("resolv_file");
    }
    let services = config.get("service").and_then(|s| s.as_array()).map(Vec::as_slice).unwrap_or_default();
    let ca_files = string_at(&config, "upstream", "ca_file")
        .into_iter()
        .chain(services.iter().filter_map(|s| s.get("ca_file")?.as_str()));
    for ca in ca_files {
        mounts.assert_readable(Path::new(ca), &format!("{origin}: ca_file"));
        checked.push("ca_file");
    }
    if let Some(persist) = string_at(&config, "cache", "persist") {
        // Written beside the snapshot, then renamed over it.
        mounts.assert_writable(dir_of(persist), &format!("{origin}: the snapshot's directory"));
        checked.push("persist");
    }
    if Path::new(CERTS).is_dir() {
        mounts.assert_readable(Path::new(CERTS), &format!("{origin}: the system's CA certificates"));
    }
    checked
}

#[test]
fn the_jail_holds_every_path_each_shipped_config_names() {
    let configs = crate::deploy_manifests::files(&repo().join("deploy"), ".toml");
    for path in &configs {
        let origin = path.strip_prefix(repo()).unwrap_or(path).display().to_string();
        let text = fs::read_to_string(path).expect("read config");
        assert_jail_holds_what_it_names(&origin, &text);
    }
    // The config the init ships with: nothing of it may be left out.
    let router = crate::openwrt_init::rendered_router_config();
    let checked = assert_jail_holds_what_it_names("the rendered /etc/config/stubborn", &router);
    for key in ["resolv_file", "persist"] {
        assert!(checked.contains(&key), "the router config: expected it to name {key}; checked {checked:?}");
    }
}

/// The init reads the keys as people write them (either quotes, spaces
/// around `=`, a comment after the value, a key in quotes), only in their
/// table, not in comments; every `ca_file`, also of `[[service]]`s; a
/// snapshot in the config's own directory makes that one writable mount.
#[test]
fn the_jail_follows_the_paths_as_written() {
    let dir = tempfile::Builder::new().prefix("stubborn-test-").tempdir().expect("temp dir");
    let here = dir.path().display();
    let text = format!(
        r#"# persist = "/commented/out/cache.snapshot"
[upstream]
  resolv_file   =   '/run/stubborn wan/resolv.conf'   # netifd-like
ca_file = "/opt/upstream-ca.pem"

[[upstream.zone]]
name = "lan"
servers = ["127.0.0.1:5354"]

[ cache ] # spaces in the header
"persist" = "{here}/cache.snapshot"

[[service]]
name = "api.example.com"
primary = "192.0.2.1"
check = "https://{{addr}}:443/"
ca_file = "/srv/service-ca.pem"
"#
    );
    assert_jail_holds_what_it_names("a config written unlike the shipped ones", &text);
    let config_path = dir.path().join("stubborn.toml");
    fs::write(&config_path, &text).expect("write config");
    let mounts = Mounts::of(&config_path);
    for (path, writable) in [
        (&*here.to_string(), true),
        ("/run/stubborn wan", false),
        ("/opt/upstream-ca.pem", false),
        ("/srv/service-ca.pem", false),
    ] {
        assert!(mounts.contains(path, writable), "expected {path} (writable: {writable}) in {mounts:?}");
    }
    assert!(mounts.holding(Path::new("/commented/out")).is_none(), "a commented-out key was read: {mounts:?}");
}

/// A config that names neither a resolv file nor a snapshot gets the
/// router config's: the init's defaults are the paths the shipped
/// `/etc/config/stubborn` renders to.
#[test]
fn without_the_keys_the_jail_mounts_the_router_configs_paths() {
    let router: toml::Table =
        toml::from_str(&crate::openwrt_init::rendered_router_config()).expect("router config is TOML");
    let resolv = string_at(&router, "upstream", "resolv_file").expect("router config names resolv_file");
    let persist = string_at(&router, "cache", "persist").expect("router config names persist");

    let dir = tempfile::Builder::new().prefix("stubborn-test-").tempdir().expect("temp dir");
    let config_path = dir.path().join("stubborn.toml");
    fs::write(&config_path, "[upstream]\nservers = [\"192.0.2.53\"]\n").expect("write config");
    let mounts = Mounts::of(&config_path);
    mounts.assert_readable(dir_of(resolv), "the default resolv directory");
    mounts.assert_writable(dir_of(persist), "the default state directory");
}
