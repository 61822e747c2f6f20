//! The OpenWrt init script (`deploy/openwrt/stubborn/files/stubborn.init`)
//! run as procd's `/etc/rc.common` would run it, under the shells routers
//! and Debian have (busybox `sh`, which is OpenWrt's ash, and dash), with
//! stand-ins for OpenWrt's UCI API, procd, `uci` and dnsmasq's init that
//! record what they are asked (`integration-tests/openwrt/`). No OpenWrt,
//! procd or SDK runs here.
//!
//! Pinned: the shipped `/etc/config/stubborn` renders to a config that
//! `stubborn check` passes (the init runs the real binary's check before it
//! starts anything), every UCI option lands where it should, a broken option
//! starts nothing, `uci commit stubborn` reloads (a reload trigger), a
//! reload re-renders and sends SIGHUP, and with `option dnsmasq 1` start
//! points dnsmasq at stubborn while stop leaves dnsmasq's config exactly as
//! it was, whatever it was.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use stubborn_test_support::stubborn::{binary, run_to_exit};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn harness_dir() -> PathBuf {
    repo().join("integration-tests/openwrt")
}

fn init_script() -> PathBuf {
    repo().join("deploy/openwrt/stubborn/files/stubborn.init")
}

fn shipped_uci_config() -> String {
    fs::read_to_string(repo().join("deploy/openwrt/stubborn/files/stubborn.config")).expect("read stubborn.config")
}

/// The shells to run the init under: busybox's ash (OpenWrt's /bin/sh) and
/// dash where they are installed, and `sh` always.
fn shells() -> Vec<Vec<&'static str>> {
    let mut shells = vec![vec!["sh"]];
    for (program, argv) in [("busybox", vec!["busybox", "sh"]), ("dash", vec!["dash"])] {
        if Command::new(program).arg("-c").arg("true").output().is_ok_and(|o| o.status.success())
            || Command::new(program).args(["sh", "-c", "true"]).output().is_ok_and(|o| o.status.success())
        {
            shells.push(argv);
        }
    }
    shells
}

/// A router's file system in a temp dir: `/etc/config/stubborn` (the
/// shipped one with its paths moved under the temp dir unless `keep_paths`)
/// and dnsmasq's settings (`dhcp`, lines of "option|list NAME VALUE").
struct Router {
    root: tempfile::TempDir,
    shell: Vec<&'static str>,
}

impl Router {
    fn new(shell: &[&'static str], uci: &str, dhcp: &[(&str, &str, &str)]) -> Router {
        let root = tempfile::Builder::new().prefix("stubborn-openwrt-").tempdir().expect("temp dir");
        let here = root.path().display().to_string();
        let uci = uci.replace("'/tmp/", &format!("'{here}/tmp/")).replace("'/var/lib/", &format!("'{here}/var/lib/"));
        fs::create_dir_all(root.path().join("etc/config")).expect("mkdir etc/config");
        fs::write(root.path().join("etc/config/stubborn"), uci).expect("write /etc/config/stubborn");
        let dhcp: String = dhcp.iter().map(|(kind, name, value)| format!("{kind}\t{name}\t{value}\n")).collect();
        fs::write(root.path().join("etc/config/dhcp.state"), dhcp).expect("write dhcp");
        Router { root, shell: shell.to_vec() }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.path().join(path.trim_start_matches('/'))
    }

    fn log_path(&self) -> PathBuf {
        self.path("log")
    }

    /// `/etc/init.d/stubborn ACTION`: (success, stderr).
    fn run(&self, action: &str) -> (bool, String) {
        let out = Command::new(self.shell[0])
            .args(&self.shell[1..])
            .arg(harness_dir().join("rc.common"))
            .arg(init_script())
            .arg(action)
            .env("HARNESS_ROOT", self.root.path())
            .env("HARNESS_LOG", self.log_path())
            .env("STUBBORN_BIN", binary())
            .output()
            .expect("run the init script");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn start(&self) {
        let (ok, stderr) = self.run("start");
        assert!(ok, "{:?}: start failed: {stderr}\n{}", self.shell, self.log());
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn clear_log(&self) {
        let _ = fs::remove_file(self.log_path());
    }

    /// `uci show dhcp`, through the stand-in.
    fn dhcp(&self) -> String {
        let out = Command::new(harness_dir().join("bin/uci"))
            .args(["show", "dhcp"])
            .env("UCI_CONFIG_DIR", self.path("etc/config"))
            .env("HARNESS_LOG", self.path("uci.log"))
            .output()
            .expect("run uci");
        assert!(out.status.success(), "uci show: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn rendered(&self) -> String {
        fs::read_to_string(self.path("var/etc/stubborn/stubborn.toml")).expect("the rendered config")
    }

    fn set_uci(&self, from: &str, to: &str) {
        let path = self.path("etc/config/stubborn");
        let text = fs::read_to_string(&path).expect("read uci");
        assert!(text.contains(from), "{from:?} not in /etc/config/stubborn");
        fs::write(&path, text.replacen(from, to, 1)).expect("write uci");
    }
}

/// The TOML the shipped `/etc/config/stubborn` renders to, as on a router
/// (its paths unchanged).
pub(crate) fn rendered_router_config() -> String {
    let root = tempfile::Builder::new().prefix("stubborn-openwrt-").tempdir().expect("temp dir");
    fs::create_dir_all(root.path().join("etc/config")).expect("mkdir");
    fs::write(root.path().join("etc/config/stubborn"), shipped_uci_config()).expect("write uci");
    let out = Command::new("sh")
        .arg(harness_dir().join("rc.common"))
        .arg(init_script())
        .arg("render")
        .env("HARNESS_ROOT", root.path())
        .env("HARNESS_LOG", root.path().join("log"))
        .env("STUBBORN_BIN", binary())
        .output()
        .expect("render");
    assert!(out.status.success(), "render: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"))
}

fn get<'a>(config: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
    config.get(section)?.get(key)
}

const DNSMASQ_AS_SHIPPED: &[(&str, &str, &str)] = &[
    ("option", "domainneeded", "1"),
    ("list", "server", "/example.lan/192.168.1.53"),
    ("list", "server", "9.9.9.9"),
    ("option", "noresolv", "0"),
    ("option", "cachesize", "1000"),
];

#[test]
fn the_shipped_uci_config_renders_to_a_config_that_passes_check() {
    let text = rendered_router_config();
    let done = run_to_exit(&["check"], &text, std::time::Duration::from_secs(10));
    assert_eq!(done.code, Some(0), "stubborn check on the rendered config:\n{text}\n{}{}", done.stdout, done.stderr);
    let config = table(&text);
    let strings = |section, key| -> Vec<String> {
        get(&config, section, key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    assert_eq!(strings("server", "listen"), ["127.0.0.1:5353", "192.168.1.1:5353"]);
    assert!(strings("server", "allow").contains(&"192.168.1.0/24".to_string()));
    assert_eq!(get(&config, "server", "rebind_protection").and_then(|v| v.as_bool()), Some(true));
    assert_eq!(strings("server", "rebind_allow"), ["lan"]);
    assert_eq!(get(&config, "server", "client_rate").and_then(|v| v.as_integer()), Some(50));
    assert_eq!(get(&config, "server", "client_burst").and_then(|v| v.as_integer()), Some(200));
    assert_eq!(
        get(&config, "upstream", "resolv_file").and_then(|v| v.as_str()),
        Some("/tmp/resolv.conf.d/resolv.conf.auto")
    );
    assert!(get(&config, "upstream", "servers").is_none(), "{text}");
    assert_eq!(get(&config, "cache", "capacity").and_then(|v| v.as_integer()), Some(20000));
    assert_eq!(get(&config, "cache", "persist").and_then(|v| v.as_str()), Some("/var/lib/stubborn/cache.snapshot"));
    assert_eq!(get(&config, "admin", "listen").and_then(|v| v.as_str()), Some("127.0.0.1:9153"));
}

#[test]
fn start_then_stop_leaves_dnsmasq_as_it_was() {
    let dnsmasq_configs: [&[(&str, &str, &str)]; 3] = [
        DNSMASQ_AS_SHIPPED,
        // Neither a server list nor noresolv set.
        &[("option", "domainneeded", "1")],
        // Already noresolv, one server.
        &[("option", "noresolv", "1"), ("list", "server", "192.0.2.53")],
    ];
    for shell in shells() {
        for dhcp in dnsmasq_configs {
            let router = Router::new(&shell, &shipped_uci_config(), dhcp);
            let before = router.dhcp();
            router.start();
            let log = router.log();
            let pointed = router.dhcp();
            assert!(
                pointed.contains("dhcp.@dnsmasq[0].server='127.0.0.1#5353'\n")
                    && pointed.contains("dhcp.@dnsmasq[0].noresolv='1'\n"),
                "{shell:?}: dnsmasq not pointed at stubborn:\n{pointed}\n{log}"
            );
            assert!(log.contains("uci commit dhcp") && log.contains("dnsmasq-init reload"), "{shell:?}: {log}");
            let command = format!("procd_set_param command {} --config {}", binary().display(), router.rendered_path());
            assert!(log.contains(&command), "{shell:?}: {log}");
            assert!(log.contains("procd_add_reload_trigger stubborn"), "{shell:?}: uci commit stubborn must reload");
            // A second start (procd's reload, or a restart) keeps the first record.
            router.start();
            let (ok, stderr) = router.run("stop");
            assert!(ok, "{shell:?}: stop: {stderr}");
            assert_eq!(router.dhcp(), before, "{shell:?}: stop did not restore dnsmasq:\n{}", router.log());
            assert!(!router.path("etc/stubborn/dnsmasq.saved").exists(), "{shell:?}: the record stays");
            // Stopped again: nothing to restore, nothing changed.
            router.clear_log();
            router.run("stop");
            assert!(!router.log().contains("uci commit"), "{shell:?}: {}", router.log());
            assert_eq!(router.dhcp(), before);
        }
    }
}

#[test]
fn without_the_dnsmasq_option_dnsmasq_is_left_alone_and_a_disabled_stubborn_restores_it() {
    for shell in shells() {
        let router = Router::new(&shell, &shipped_uci_config(), DNSMASQ_AS_SHIPPED);
        let before = router.dhcp();
        router.set_uci("option dnsmasq '1'", "option dnsmasq '0'");
        router.start();
        assert_eq!(router.dhcp(), before, "{shell:?}");
        assert!(!router.log().contains("uci set"), "{shell:?}: {}", router.log());

        // On, then `enabled 0`: reload (uci commit stubborn) stops it and restores dnsmasq.
        router.set_uci("option dnsmasq '0'", "option dnsmasq '1'");
        router.start();
        assert_ne!(router.dhcp(), before);
        router.set_uci("option enabled '1'", "option enabled '0'");
        router.clear_log();
        let (ok, stderr) = router.run("reload");
        assert!(ok, "{shell:?}: {stderr}");
        assert_eq!(router.dhcp(), before, "{shell:?}: {}", router.log());
        assert!(router.log().contains("procd_kill stubborn"), "{shell:?}: {}", router.log());
        router.clear_log();
        router.start();
        assert!(!router.log().contains("procd_open_instance"), "{shell:?}: disabled, yet started: {}", router.log());
    }
}

#[test]
fn uci_options_render_and_a_broken_one_starts_nothing() {
    let shell = shells().pop().expect("a shell");
    let uci = shipped_uci_config().replace(
        "\toption resolv_file '/tmp/resolv.conf.d/resolv.conf.auto'\n",
        "\tlist server '192.0.2.53'\n\tlist server 'tcp://192.0.2.54:53'\n",
    ) + "\nconfig zone\n\toption name 'lan'\n\tlist server '127.0.0.1:5354'\n\nconfig zone\n\toption name 'corp.example'\n\tlist server '10.1.2.3'\n";
    let router = Router::new(&shell, &uci, DNSMASQ_AS_SHIPPED);
    router.set_uci("option cache_size '20000'", "option cache_size '5000'");
    router.set_uci("option rebind_protection '1'", "option rebind_protection '0'");
    router.start();
    let text = router.rendered();
    let done = run_to_exit(&["check"], &text, std::time::Duration::from_secs(10));
    assert_eq!(done.code, Some(0), "{text}\n{}", done.stderr);
    let config = table(&text);
    assert_eq!(get(&config, "upstream", "servers").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{text}");
    assert!(get(&config, "upstream", "resolv_file").is_none(), "{text}");
    assert_eq!(get(&config, "cache", "capacity").and_then(|v| v.as_integer()), Some(5000));
    assert_eq!(get(&config, "server", "rebind_protection").and_then(|v| v.as_bool()), Some(false));
    let zones = get(&config, "upstream", "zone").and_then(|v| v.as_array()).expect("zones");
    let names: Vec<&str> = zones.iter().filter_map(|z| z.get("name")?.as_str()).collect();
    assert_eq!(names, ["lan", "corp.example"], "{text}");

    // A reload renders anew, checks, and sends SIGHUP.
    router.set_uci("option cache_size '5000'", "option cache_size '7000'");
    router.clear_log();
    let (ok, stderr) = router.run("reload");
    assert!(ok, "{stderr}");
    assert!(router.rendered().contains("capacity = 7000\n"), "{}", router.rendered());
    assert!(router.log().contains("procd_send_signal stubborn * HUP"), "{}", router.log());

    // A value that is no number: nothing started, nothing signalled, the
    // running config left as it was.
    router.set_uci("option cache_size '7000'", "option cache_size '7000\"]'");
    router.clear_log();
    let (ok, stderr) = router.run("reload");
    assert!(!ok, "reload of a broken option succeeded");
    assert!(stderr.contains("cache_size"), "{stderr}");
    assert!(!router.log().contains("HUP") && !router.log().contains("procd_open_instance"), "{}", router.log());
    assert!(router.rendered().contains("capacity = 7000\n"));
    // A value stubborn check rejects: the same.
    router.set_uci("option cache_size '7000\"]'", "option cache_size '0'");
    router.clear_log();
    let (ok, stderr) = router.run("start");
    assert!(!ok, "start with cache_size 0 succeeded");
    assert!(stderr.contains("cache.capacity"), "{stderr}");
    assert!(!router.log().contains("procd_open_instance"), "{}", router.log());
}

#[test]
fn jailed_where_procd_can_jail() {
    let shell = shells().pop().expect("a shell");
    let router = Router::new(&shell, &shipped_uci_config(), DNSMASQ_AS_SHIPPED);
    fs::create_dir_all(router.path("sbin")).expect("mkdir sbin");
    fs::copy("/bin/true", router.path("sbin/ujail")).expect("a ujail stand-in");
    fs::create_dir_all(router.path("etc/capabilities")).expect("mkdir");
    fs::copy(repo().join("deploy/openwrt/stubborn/files/stubborn.json"), router.path("etc/capabilities/stubborn.json"))
        .expect("capabilities");
    router.start();
    let log = router.log();
    let conf_dir = router.path("var/etc/stubborn");
    for line in [
        "procd_add_jail stubborn log".to_string(),
        format!("procd_add_jail_mount_rw {}", router.path("var/lib/stubborn").display()),
        format!("procd_add_jail_mount {}", conf_dir.display()),
        format!("procd_add_jail_mount {}", router.path("tmp/resolv.conf.d").display()),
        "procd_set_param user stubborn".to_string(),
        "procd_set_param no_new_privs 1".to_string(),
    ] {
        assert!(log.lines().any(|l| l == line), "{line:?} not in\n{log}");
    }
    let caps: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(router.path("etc/capabilities/stubborn.json")).expect("read"))
            .expect("capabilities JSON");
    for set in ["bounding", "effective", "ambient", "permitted", "inheritable"] {
        assert_eq!(caps[set], serde_json::json!(["CAP_NET_BIND_SERVICE"]), "{set}");
    }
}

/// What the package Makefile's defines expand to, from `make` with stand-ins
/// for the build system's includes (no OpenWrt SDK runs here): each piece on
/// its own after a `--- NAME` line.
const STUB_PACKAGE_MK: &str = r#"PKG_BUILD_DIR:=/build/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR:=$(PKG_BUILD_DIR)/ipkg-install
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
INSTALL_DATA:=install -m0644
CP:=cp -fpR
define BuildPackage
$$(info --- package)
$$(info $$(Package/$(1)))
$$(info --- prepare)
$$(info $$(Build/Prepare))
$$(info --- compile)
$$(info $$(Build/Compile))
$$(info --- install)
$$(info $$(call Package/$(1)/install,/ROOT))
show: ;
endef
"#;
const STUB_RUST_PACKAGE_MK: &str = r#"RUST_ARCH_DEPENDS:=@RUST
define Build/Compile/Cargo
	cargo install --root $(PKG_INSTALL_DIR) --path $(PKG_BUILD_DIR)/$(1) $(if $(RUST_PKG_FEATURES),--features "$(RUST_PKG_FEATURES)") $(2)
endef
"#;

/// The package Makefile, read by make with the build system's includes
/// stood in for: it builds with the feed's Rust helpers and installs the
/// binary, the init, the UCI config and the capabilities, from files that exist.
#[test]
fn the_feed_makefile_installs_existing_files_with_the_rust_helpers() {
    let dir = repo().join("deploy/openwrt/stubborn");
    let stubs = tempfile::Builder::new().prefix("stubborn-openwrt-mk-").tempdir().expect("temp dir");
    fs::write(stubs.path().join("rules.mk"), "").expect("write");
    fs::write(stubs.path().join("package.mk"), STUB_PACKAGE_MK).expect("write");
    fs::create_dir_all(stubs.path().join("feeds/packages/lang/rust")).expect("mkdir");
    fs::write(stubs.path().join("feeds/packages/lang/rust/rust-package.mk"), STUB_RUST_PACKAGE_MK).expect("write");
    let out = Command::new("make")
        .current_dir(&dir)
        .args(["-s", "-f", "Makefile", "show"])
        .arg(format!("TOPDIR={}", stubs.path().display()))
        .arg(format!("INCLUDE_DIR={}", stubs.path().display()))
        .output()
        .expect("run make (Debian: make)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "make: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let piece = |name: &str| -> String {
        let after = text.split(&format!("--- {name}\n")).nth(1).unwrap_or_else(|| panic!("no {name} in\n{text}"));
        after.split("--- ").next().unwrap_or_default().to_string()
    };
    let package = piece("package");
    assert!(package.contains("DEPENDS:=@RUST"), "the package depends on RUST_ARCH_DEPENDS:\n{package}");
    assert!(package.contains("USERID:=stubborn=853:stubborn=853"), "{package}");
    let compile = piece("compile");
    assert!(compile.contains("cargo install") && compile.contains("--no-default-features"), "{compile}");
    let prepare = piece("prepare");
    let root = repo().display().to_string();
    for copied in ["Cargo.toml", "Cargo.lock", "build.rs", "src", "xtask"] {
        assert!(prepare.contains(&format!("{root}/{copied} ")), "Build/Prepare does not copy {copied}: {prepare}");
        assert!(repo().join(copied).exists());
    }
    let install = piece("install");
    for (from, to) in [
        ("/ipkg-install/bin/stubborn", "/ROOT/usr/bin/stubborn"),
        ("./files/stubborn.init", "/ROOT/etc/init.d/stubborn"),
        ("./files/stubborn.config", "/ROOT/etc/config/stubborn"),
        ("./files/stubborn.json", "/ROOT/etc/capabilities/stubborn.json"),
    ] {
        assert!(install.lines().any(|l| l.contains(from) && l.ends_with(to)), "{from} -> {to} not in\n{install}");
        if let Some(file) = from.strip_prefix("./") {
            assert!(dir.join(file).is_file(), "the Makefile installs {file}, which is missing");
        }
    }
    assert!(install.contains("install -m0755 ./files/stubborn.init"), "the init must be executable:\n{install}");
}

impl Router {
    fn rendered_path(&self) -> String {
        self.path("var/etc/stubborn/stubborn.toml").display().to_string()
    }
}
