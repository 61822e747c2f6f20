//! The real `stubborn` binary under test ([`binary`]), run as a server
//! ([`Stubborn`]) or as a command to its end ([`run_to_exit`], [`check`]).
//!
//! `Stubborn::start(config)` writes the TOML config into a temp dir, runs
//! `stubborn --config PATH` with its stderr in a log file, and waits (10 s
//! deadline) until `GET /readyz` on the admin port answers 200. The process
//! is killed in `Drop`, and its log printed when the test is failing.
//! Like hickory-dns's `bin/tests/integration/server_harness.rs`.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::config::Config;
use crate::dns::{Ask, Reply};
use crate::http_client::{http_get, http_request};
use crate::metrics::metric_in;
use crate::{scratch, wait};

/// The stubborn binary every start here runs: the one [`use_binary`] named,
/// else the `stubborn` cargo built beside the running executable (for
/// `target/debug/deps/integration-HASH` or `target/release/examples/drill`,
/// `target/debug/stubborn` or `target/release/stubborn`: cargo builds the
/// binary before an integration test, and `scripts/drill` before the drill).
pub fn binary() -> &'static Path {
    BINARY.get_or_init(beside_this_executable)
}

/// Runs `path` instead of the binary beside the running executable (the
/// drill's `STUBBORN_BIN`). Panics once [`binary`] has answered otherwise.
pub fn use_binary(path: PathBuf) {
    let chosen = BINARY.get_or_init(|| path.clone());
    assert_eq!(*chosen, path, "use_binary after the harness had started {}", chosen.display());
}

static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// `stubborn` in the cargo profile directory the running executable is in
/// (its `deps/` or `examples/` subdirectory taken off).
fn beside_this_executable() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running executable");
    let mut dir = exe.parent().expect("an executable is in a directory");
    if dir.file_name().is_some_and(|name| name == "deps" || name == "examples") {
        dir = dir.parent().expect("deps/ and examples/ are in the profile directory");
    }
    dir.join(format!("stubborn{}", std::env::consts::EXE_SUFFIX))
}

/// How a stubborn is started, besides its config: `Launch::default()` is
/// what [`Stubborn::start`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Launch<'a> {
    /// Names its temp dir, `stubborn-NAME-XXXXXX` (empty: `test`).
    pub name: &'a str,
    /// Extra environment variables. A `RUST_LOG` here replaces the
    /// harness's `info,stubborn=debug`; it must still let the info lines of
    /// `stubborn::run` through, which say what stubborn bound.
    pub env: &'a [(&'a str, &'a str)],
    /// Sets `JOURNAL_STREAM` to its stderr, as systemd does when stderr is the journal.
    pub journal: bool,
    /// Extra command-line arguments (e.g. `--log-format json`).
    pub args: &'a [&'a str],
}

/// A running stubborn.
pub struct Stubborn {
    /// In a mutex so that `ask(&self)` can tell a dead process from a bad answer.
    child: Mutex<Option<Child>>,
    /// Where it answers DNS (UDP and TCP).
    pub dns: SocketAddr,
    /// Where it serves /metrics, /healthz, /readyz.
    pub admin: SocketAddr,
    dir: TempDir,
    pub config_text: String,
}

impl Stubborn {
    /// Starts stubborn with `config` on port 0 for DNS and admin (the kernel
    /// picks free ports: no check-then-bind race), reads the bound addresses
    /// back from its log, writes them into the config file (so that a
    /// SIGHUP reload keeps them), and waits until /readyz is 200.
    pub fn start(config: Config) -> Stubborn {
        Stubborn::start_with(config, &[], false)
    }

    /// As [`Stubborn::start`], with extra environment variables, and with
    /// `JOURNAL_STREAM` naming its stderr (as systemd does when stderr is
    /// the journal) when `journal` is set.
    pub fn start_with(config: Config, env: &[(&str, &str)], journal: bool) -> Stubborn {
        Stubborn::launch(config, Launch { env, journal, ..Launch::default() })
    }

    /// As [`Stubborn::start`], with extra command-line arguments (e.g.
    /// `--log-format json`).
    pub fn start_with_args(config: Config, args: &[&str]) -> Stubborn {
        Stubborn::launch(config, Launch { args, ..Launch::default() })
    }

    /// As [`Stubborn::start`], started as `launch` says.
    pub fn launch(config: Config, launch: Launch<'_>) -> Stubborn {
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let dir = scratch::temp_dir(if launch.name.is_empty() { "test" } else { launch.name });
        let config_path = dir.path().join("stubborn.toml");
        fs::write(&config_path, config.render(any_port, any_port)).expect("write stubborn.toml");
        let child = spawn(&config_path, &dir.path().join("stubborn.log"), &launch);
        let mut s = Stubborn {
            child: Mutex::new(Some(child)),
            dns: any_port,
            admin: any_port,
            dir,
            config_text: config.render(any_port, any_port),
        };
        (s.dns, s.admin) = s.wait_bound();
        s.config_text = config.render(s.dns, s.admin);
        fs::write(&config_path, &s.config_text).expect("rewrite stubborn.toml with the bound ports");
        s.wait_ready();
        s
    }

    /// The DNS and admin addresses stubborn logs once it has bound them.
    fn wait_bound(&self) -> (SocketAddr, SocketAddr) {
        self.wait_starting("the bound addresses in its log", || {
            let log = self.log();
            Some((logged_address(&log, "listening on udp and tcp")?, logged_address(&log, "admin endpoint listening")?))
        })
    }

    fn wait_ready(&self) {
        self.wait_starting("GET /readyz to answer 200", || {
            matches!(http_get(self.admin, "/readyz"), Ok((200, _))).then_some(())
        })
    }

    /// Polls `probe` for up to 10 s while stubborn starts; panics with its
    /// config and log if it exits first or the time runs out.
    fn wait_starting<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                panic!(
                    "stubborn exited with {status} while waiting for {what}; config:\n{}\nlog:\n{}",
                    self.config_text,
                    self.log()
                );
            }
            if let Some(value) = probe() {
                return value;
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("no {what} after 10 s; config:\n{}\nlog:\n{}", self.config_text, self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `ask` to stubborn; on no reply, says whether the process is gone.
    pub fn ask(&self, ask: &Ask) -> Reply {
        match ask.try_send(self.dns) {
            Ok(reply) => reply,
            Err(e) => match self.exit_status() {
                Some(status) => panic!(
                    "{} to stubborn at {}: {e}; stubborn is not running any more ({status}; \
                     a SIGTERM from outside the test shows as \"shutting down\" in its log)",
                    ask.name(),
                    self.dns
                ),
                None => panic!("{} to stubborn at {}: {e} (the process is still running)", ask.name(), self.dns),
            },
        }
    }

    /// `Some(status)` once the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child.lock().expect("child lock").as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().expect("child lock").as_ref().expect("stubborn was started").id()
    }

    /// A memory figure of the process from `/proc/PID/status`, in KiB:
    /// `"VmRSS"` (resident now) or `"VmHWM"` (the most it has been).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc/PID/status");
        let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')));
        let line = line.unwrap_or_else(|| panic!("no {field} in /proc/PID/status:\n{status}"));
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    }

    /// Sends a signal by name (e.g. "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits up to `deadline` for the process to exit.
    pub fn wait_exit(&self, deadline: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if start.elapsed() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The config file it was started with (tests may rewrite it before SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("stubborn.toml")
    }

    /// stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The last `lines` lines of its log, headed by the log's path.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        format!("----- {} -----\n{}", self.log_path().display(), all[all.len().saturating_sub(lines)..].join("\n"))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stubborn.log")
    }

    /// `GET path` on the admin endpoint: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path).unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.admin))
    }

    /// `POST path` on the admin endpoint: (status, body).
    pub fn post(&self, path: &str) -> (u16, String) {
        http_request("POST", self.admin, path).unwrap_or_else(|e| panic!("POST {path} on {}: {e}", self.admin))
    }

    /// `POST /cache/flush?QUERY`, expected to succeed: the `removed` count.
    pub fn flush(&self, query: &str) -> u64 {
        let (status, body) = self.post(&format!("/cache/flush?{query}"));
        assert_eq!(status, 200, "POST /cache/flush?{query} answered {status}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        json["removed"].as_u64().unwrap_or_else(|| panic!("no removed count in {body}"))
    }

    /// `GET /cache/lookup?name=NAME[&type=T]`, expected to succeed: the entries.
    pub fn lookup(&self, name: &str, qtype: Option<&str>) -> Vec<serde_json::Value> {
        let path = match qtype {
            Some(t) => format!("/cache/lookup?name={name}&type={t}"),
            None => format!("/cache/lookup?name={name}"),
        };
        let (status, body) = self.get(&path);
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        json.as_array().unwrap_or_else(|| panic!("not a list: {body}")).clone()
    }

    /// Runs `stubborn ctl ARGS --config PATH` against this stubborn's config.
    pub fn ctl(&self, args: &[&str]) -> Finished {
        let mut all = vec!["ctl"];
        all.extend_from_slice(args);
        run_to_exit(&all, &self.config_text, Duration::from_secs(20))
    }

    /// The /metrics text.
    pub fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "GET /metrics answered {status}: {body}");
        body
    }

    /// `GET /metrics` with `Accept: accept`, as Prometheus asks: the
    /// content type and the body.
    pub fn metrics_accepting(&self, accept: &str) -> (String, String) {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
        let mut response = agent
            .get(format!("http://{}/metrics", self.admin))
            .header("Accept", accept)
            .call()
            .unwrap_or_else(|e| panic!("GET /metrics on {}: {e}", self.admin));
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (content_type, response.body_mut().read_to_string().expect("a text body"))
    }

    /// The value of a metric, e.g. `stubborn_answers_total{source="stale"}`:
    /// the sum over the series of that name whose labels include the given
    /// ones; 0 when there is none (a counter that never moved may be absent).
    pub fn metric(&self, query: &str) -> f64 {
        metric_in(&self.metrics(), query)
    }

    /// Polls until `metric(query)` satisfies `ok`, at most `deadline`.
    pub fn wait_metric(&self, query: &str, deadline: Duration, ok: impl Fn(f64) -> bool) -> f64 {
        wait::until(&format!("{query} to reach the expected value"), deadline, || {
            let v = self.metric(query);
            ok(v).then_some(v)
        })
    }
}

impl Drop for Stubborn {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().map(|mut c| c.take()).unwrap_or(None) {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "----- stubborn config -----\n{}----- stubborn log (dns {}, admin {}) -----\n{}",
                self.config_text,
                self.dns,
                self.admin,
                last_bytes(&self.log(), 200_000)
            );
        }
    }
}

/// The stderr line of `stubborn check` reporting `line` of the config, if
/// any: it carries `PATH:LINE:COL:` where COL is a number.
pub fn reported_line(out: &Finished, line: usize) -> Option<&str> {
    let prefix = format!("{}:{line}:", out.config_path.display());
    out.stderr.lines().find(|l| {
        l.find(&prefix).is_some_and(|at| {
            let rest = &l[at + prefix.len()..];
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            digits > 0 && rest[digits..].starts_with(':')
        })
    })
}

/// Result of running the binary to completion.
#[derive(Debug)]
pub struct Finished {
    /// Exit code; `None` when killed by a signal or at the deadline.
    pub code: Option<i32>,
    pub stderr: String,
    pub stdout: String,
    /// The config file it was given.
    pub config_path: PathBuf,
}

/// Runs `stubborn ARGS` with stdout a pipe whose reader is gone before
/// anything is written (a `| head` that stopped early): the exit code and stderr.
pub fn run_with_stdout_closed(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stubborn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for stubborn");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs `stubborn check --config PATH` on `toml_text`.
pub fn check(toml_text: &str) -> Finished {
    run_to_exit(&["check"], toml_text, Duration::from_secs(10))
}

/// Runs `stubborn ARGS --config PATH` on `toml_text` and waits up to
/// `deadline` for it to exit (it is killed at the deadline).
pub fn run_to_exit(args: &[&str], toml_text: &str, deadline: Duration) -> Finished {
    let dir = scratch::temp_dir("test");
    let config_path = dir.path().join("stubborn.toml");
    fs::write(&config_path, toml_text).expect("write config");
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let mut child = Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(&config_path)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("create stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create stderr file"))
        .spawn()
        .expect("spawn stubborn");
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status.code();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let finished = Finished {
        code,
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        config_path: config_path.clone(),
    };
    // Keep the dir (and so the path in messages) alive no longer than needed.
    drop(dir);
    finished
}

fn spawn(config_path: &Path, log_path: &Path, launch: &Launch<'_>) -> Child {
    use std::os::unix::fs::MetadataExt;
    let log = fs::File::create(log_path).expect("create stubborn log");
    let mut command = Command::new(binary());
    command.args(launch.args).arg("--config").arg(config_path);
    command.env("RUST_LOG", "info,stubborn=debug").env("NO_COLOR", "1");
    command.envs(launch.env.iter().copied());
    if launch.journal {
        let stderr = log.metadata().expect("log file metadata");
        command.env("JOURNAL_STREAM", format!("{}:{}", stderr.dev(), stderr.ino()));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()))
}

/// The `address=` (or, in JSON logs, `"address":`) of the first log line containing `message`.
fn logged_address(log: &str, message: &str) -> Option<SocketAddr> {
    let line = log.lines().find(|line| line.contains(message))?;
    let value = match line.split("address=").nth(1) {
        Some(text) => text.split_whitespace().next()?,
        None => line.split("\"address\":\"").nth(1)?.split('"').next()?,
    };
    value.parse().ok()
}

fn last_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
