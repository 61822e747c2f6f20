//! The shipped systemd unit (`deploy/systemd/stubborn.service`) passes
//! `systemd-analyze verify`, with ExecStart pointed at the binary under test
//! (verify checks that the executable exists). Run where
//! systemd is installable (scripts/test installs it as root); elsewhere the
//! test says it was skipped.

use std::path::Path;
use std::process::Command;

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].into_iter().find(|p| Path::new(p).exists());
    let Some(analyze) = analyze else {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian package systemd)");
        return;
    };
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/systemd/stubborn.service"))
        .expect("read the unit");
    assert!(unit.contains("/usr/local/bin/stubborn"), "the unit runs /usr/local/bin/stubborn");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stubborn.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/stubborn", env!("CARGO_BIN_EXE_stubborn"))).expect("write unit");
    // --man=no: the unit's Documentation= names man pages that the Debian
    // package installs (scripts/deb verifies the installed unit with them).
    let out = Command::new(analyze).args(["verify", "--man=no"]).arg(&path).output().expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the machine, not the unit (no systemd running here), are not failures.
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("stubborn.service")).collect();
    assert!(out.status.success() && complaints.is_empty(), "systemd-analyze verify:\n{stderr}");
}
