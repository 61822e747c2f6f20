//! Servers the tests run as child processes (knotd, unbound): where their
//! binaries are, and starting one in the foreground with its output
//! appended to a log file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `name` in /usr/sbin, /usr/local/sbin or on PATH (Debian puts knotd,
/// knotc and unbound in /usr/sbin, which is not on every user's PATH).
pub fn find_binary(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/sbin", "/usr/local/sbin"]
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found: apt-get install {package} (scripts/test does)"))
}

/// Runs `program args` with stdin closed and stdout and stderr appended to `log`.
pub fn spawn_logged(program: &Path, args: &[&std::ffi::OsStr], log: &Path) -> Child {
    let out = fs::OpenOptions::new().create(true).append(true).open(log).expect("open server log");
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone log handle"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}
