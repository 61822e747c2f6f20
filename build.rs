//! Puts `git describe` into the version (`stubborn --version`), falling back
//! to the crate version outside a git checkout (e.g. a crates.io tarball).

use std::process::Command;

fn main() {
    let described = Command::new("git")
        .args(["describe", "--tags", "--always"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let version = env!("CARGO_PKG_VERSION");
    let full = match described {
        Some(git) => format!("{version} ({git})"),
        None => version.to_string(),
    };
    println!("cargo:rustc-env=STUBBORN_VERSION={full}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
