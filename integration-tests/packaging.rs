//! The packaging files agree with each other, checked without
//! building a package (scripts/deb does that, and installs it): the Debian
//! changelog's version is the crate's, every asset cargo-deb packages exists
//! or is one that `cargo xtask deb-assets` writes, the packaged config keeps
//! its snapshot in the unit's StateDirectory=, and CHANGELOG.md is in the
//! Keep a Changelog form the README points to.

use std::fs;
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn debian_changelog_names_the_crate_version() {
    let changelog = read("deploy/debian/changelog");
    let first = changelog.lines().next().unwrap_or_default();
    let expected = format!("stubborn ({}-", env!("CARGO_PKG_VERSION"));
    assert!(first.starts_with(&expected), "deploy/debian/changelog starts {first:?}, not {expected:?}");
    assert!(changelog.lines().any(|l| l.starts_with(" -- ")), "a Debian changelog entry ends with a ' -- ' trailer");
}

#[test]
fn every_deb_asset_exists_or_is_generated() {
    // What `cargo xtask deb-assets target/assets` and scripts/deb write.
    const GENERATED: &[&str] = &[
        "target/assets/man/stubborn.8",
        "target/assets/completions/stubborn.bash",
        "target/assets/completions/_stubborn",
        "target/assets/completions/stubborn.fish",
        "target/assets/doc/README.md.gz",
    ];
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    let deb = manifest["package"]["metadata"]["deb"].as_table().expect("[package.metadata.deb]");
    let assets = deb["assets"].as_array().expect("assets");
    let mut dests = Vec::new();
    for asset in assets {
        let asset = asset.as_array().expect("[source, dest, mode]");
        let source = asset[0].as_str().expect("source");
        dests.push(asset[1].as_str().expect("dest").to_string());
        if source == "target/release/stubborn" {
            continue;
        }
        if source.starts_with("target/") {
            assert!(GENERATED.contains(&source), "{source} is neither in the repository nor generated");
        } else {
            assert!(repo().join(source).is_file(), "the package takes {source}, which is not in the repository");
        }
    }
    for needed in [
        "usr/bin/",
        "etc/stubborn/stubborn.toml",
        "usr/share/man/man8/stubborn.8",
        "usr/share/man/man5/stubborn.toml.5",
    ] {
        assert!(dests.iter().any(|d| d == needed), "no asset installed as {needed}");
    }
    for file in ["changelog", "license-file", "maintainer-scripts"] {
        let value = deb[file].as_str().or_else(|| deb[file].as_array().and_then(|a| a[0].as_str())).expect(file);
        assert!(repo().join(value).exists(), "{file} = {value} does not exist");
    }
    let units = deb["systemd-units"].as_table().expect("systemd-units");
    assert_eq!(units["enable"].as_bool(), Some(false), "installing must not enable the service (port 53)");
    assert_eq!(units["start"].as_bool(), Some(false), "installing must not start the service (port 53)");
}

/// The conffile's snapshot lives where the unit lets the service write:
/// `StateDirectory=stubborn` is `/var/lib/stubborn` (ProtectSystem=strict
/// makes everything else read-only).
#[test]
fn packaged_config_keeps_its_snapshot_in_the_state_directory() {
    let unit = read("deploy/systemd/stubborn.service");
    let state = unit.lines().find_map(|l| l.strip_prefix("StateDirectory=")).expect("StateDirectory=");
    let config: toml::Table = toml::from_str(&read("deploy/debian/stubborn.toml")).expect("packaged config");
    let persist = config["cache"]["persist"].as_str().expect("[cache] persist");
    assert_eq!(Path::new(persist).parent(), Some(Path::new("/var/lib").join(state).as_path()));
    let listen = config["server"]["listen"].as_array().expect("listen");
    assert!(
        listen.iter().all(|a| a.as_str().is_some_and(|a| a.ends_with(":53"))),
        "the packaged config serves port 53"
    );
}

#[test]
fn changelog_is_keep_a_changelog_and_the_readme_links_it() {
    const KINDS: &[&str] = &["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"];
    let changelog = read("CHANGELOG.md");
    assert!(changelog.starts_with("# Changelog\n"), "CHANGELOG.md opens with '# Changelog'");
    assert!(changelog.contains("keepachangelog.com"), "CHANGELOG.md names its format");
    let releases: Vec<&str> = changelog.lines().filter(|l| l.starts_with("## ")).collect();
    assert!(!releases.is_empty(), "no release sections");
    for release in &releases {
        let ok = *release == "## [Unreleased]"
            || release
                .strip_prefix("## [")
                .and_then(|r| r.split_once("] - "))
                .is_some_and(|(v, date)| v.split('.').count() == 3 && date.len() == 10 && date.as_bytes()[4] == b'-');
        assert!(ok, "not a Keep a Changelog release heading: {release}");
    }
    for kind in changelog.lines().filter_map(|l| l.strip_prefix("### ")) {
        assert!(KINDS.contains(&kind), "not a Keep a Changelog change type: {kind}");
    }
    let readme = read("README.md");
    assert!(readme.contains("(CHANGELOG.md)"), "the README links CHANGELOG.md");
    let section = readme.split("\n## Changelog\n").nth(1).map(|rest| rest.split("\n## ").next().unwrap_or_default());
    let entries = section.map_or(0, |text| text.lines().filter(|l| l.starts_with("- ")).count());
    assert_eq!(entries, 0, "the changelog lives in CHANGELOG.md, not in the README");
}
