//! Servers the tests run as child processes (knotd, unbound, redis-server):
//! where their binaries are (or the path in `KNOTD_BIN`, `UNBOUND_BIN`,
//! ...), starting one in the foreground with its output appended to a log
//! file, and running a client command (redis-cli) to its end within a time
//! limit.

use std::fs;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The program `name`: the path in `NAME_BIN` (`KNOTD_BIN`,
/// `REDIS_SERVER_BIN`, ...) when that is set, else `name` in /usr/sbin,
/// /usr/local/sbin or on PATH (Debian puts knotd, knotc and unbound in
/// /usr/sbin, which is not on every user's PATH). Panics, naming the Debian
/// `package`, when there is none.
pub fn find_binary(name: &str, package: &str) -> PathBuf {
    let env = format!("{}_BIN", name.to_ascii_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&env) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/sbin", "/usr/local/sbin"]
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: apt-get install {package} (scripts/test and scripts/drill do), or set {env}")
        })
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

/// Runs `cmd` with stdin closed and its stdout and stderr captured, waiting
/// at most `limit`: past that it is killed and the answer is `Err`. (The
/// output goes to unnamed temp files, so a chatty command never blocks on a
/// full pipe while this polls.)
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let mut stdout = tempfile::tempfile().expect("temp file for stdout");
    let mut stderr = tempfile::tempfile().expect("temp file for stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().expect("clone stdout handle"))
        .stderr(stderr.try_clone().expect("clone stderr handle"))
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} still running after {limit:?}; killed"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |file: &mut fs::File| {
        let mut bytes = Vec::new();
        file.rewind().and_then(|()| file.read_to_end(&mut bytes)).expect("read captured output");
        bytes
    };
    Ok(Output { status, stdout: read(&mut stdout), stderr: read(&mut stderr) })
}
