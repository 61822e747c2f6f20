//! Redis (Debian packages `redis-server` and `redis-tools`) for the fleet
//! store: a standalone server, optionally with a password or serving TLS
//! only, and a Redis Cluster of masters, all on 127.0.0.1.
//!
//! Every redis-server runs in the foreground as a child of the test, from a
//! config file in its own temp dir, with nothing persisted (`save ""`,
//! `appendonly no`; a cluster node's `nodes-PORT.conf` is the only file it
//! writes there). It can be killed and started again on the same port, like
//! a crashed server. Tests read and write raw keys through `redis-cli`
//! ([`Redis::cli`], [`RedisCluster::cli`]), run with `-e`: an error reply
//! fails the call like a refused connection does.
//!
//! TLS: Debian's redis-server is built with TLS. The certificate comes from
//! a [`TestCa`] and is valid for `localhost` and 127.0.0.1; clients do not
//! present one (`tls-auth-clients no`).

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use crate::ports::{free_port, free_port_pair};
use crate::process::{find_binary, output_within, spawn_logged};
use crate::scratch;
use crate::test_ca::TestCa;
use crate::wait;

/// How far a cluster node's bus port is from its client port (Redis' default).
pub const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// How long one `redis-cli` run may take.
const CLI_LIMIT: Duration = Duration::from_secs(10);

/// A running (or stopped) redis-server.
pub struct Redis {
    dir: TempDir,
    port: u16,
    password: Option<String>,
    tls: Option<Tls>,
    cluster: bool,
    child: Option<Child>,
}

/// The CA (kept alive: its temp dir holds the files) and the server's
/// certificate and key.
#[derive(Clone)]
struct Tls {
    ca: Arc<TestCa>,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    fn new(label: &str) -> Tls {
        let ca = TestCa::new(label);
        let (cert, key) = ca.leaf_files(&["localhost", "127.0.0.1"], false);
        Tls { ca: Arc::new(ca), cert, key }
    }
}

impl Redis {
    /// A standalone server on a free port, no password, plain TCP.
    pub fn start() -> Redis {
        Redis::launch(free_port(), None, None, false)
    }

    /// As `start`, with `requirepass`: commands need `AUTH password` first.
    /// [`Redis::url`] leaves the password out; see [`Redis::password`].
    pub fn start_with_password(password: &str) -> Redis {
        assert!(!password.contains(['"', '\\', '\n']), "test passwords are plain: no quote, backslash or newline");
        Redis::launch(free_port(), Some(password.to_string()), None, false)
    }

    /// As `start`, serving TLS only (`port 0`, `tls-port`), with a
    /// certificate for `localhost` and 127.0.0.1 from a CA of its own
    /// ([`Redis::ca_file`]).
    pub fn start_tls() -> Redis {
        Redis::launch(free_port(), None, Some(Tls::new("redis")), false)
    }

    fn launch(port: u16, password: Option<String>, tls: Option<Tls>, cluster: bool) -> Redis {
        let dir = scratch::temp_dir("redis");
        let mut redis = Redis { dir, port, password, tls, cluster, child: None };
        redis.write_config();
        redis.start_again();
        redis
    }

    /// The port clients connect to (the TLS port of a TLS server).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// `redis://127.0.0.1:PORT/0`, or `rediss://localhost:PORT/0` with TLS
    /// (the name the certificate is checked against). Never the password.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("rediss://localhost:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// The `requirepass` password, if the server has one.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The CA certificate (PEM) the server's certificate chains to.
    /// Panics on a server without TLS.
    pub fn ca_file(&self) -> PathBuf {
        self.tls.as_ref().expect("ca_file on a Redis without TLS").ca.pem_path()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills redis-server (SIGKILL: connections are reset, the port closes
    /// at once, like a crashed server) and checks the port refuses connects.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_err(),
            "redis-server on {} still accepts connections after stop",
            self.addr()
        );
    }

    /// Starts redis-server (again) on the same port and waits until it
    /// answers PING (with the password, over TLS, as configured).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let config = self.config_path();
        self.child = Some(spawn_logged(&redis_server(), &[config.as_os_str()], &self.log_path()));
        wait::until(&format!("redis-server on {} to answer PING", self.addr()), Duration::from_secs(10), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server exited with {status}; log:\n{}", self.log());
            }
            (self.try_cli(&["PING"]).ok()? == "PONG").then_some(())
        });
    }

    /// `redis-cli -p PORT -e ARGS...` (with the password and TLS options the
    /// server needs); its stdout without the trailing newline. Output is
    /// redis-cli's raw form: `GET` of a missing key is empty, `KEYS` one key
    /// a line, `DBSIZE` a bare number. Panics when redis-cli fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As `cli`, with failures (no connection, an error reply) as `Err`.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        run_cli(self.cli_command(false), args)
    }

    /// redis-cli with the connection options for this server; `cluster`
    /// adds `-c` (follow MOVED and ASK redirections).
    fn cli_command(&self, cluster: bool) -> Command {
        let mut cmd = Command::new(redis_cli());
        match &self.password {
            Some(password) => cmd.env("REDISCLI_AUTH", password),
            None => cmd.env_remove("REDISCLI_AUTH"),
        };
        match &self.tls {
            Some(tls) => cmd.args(["-h", "localhost", "--tls", "--cacert"]).arg(tls.ca.pem_path()),
            None => cmd.args(["-h", "127.0.0.1"]),
        };
        cmd.args(["-p", &self.port.to_string(), "-e"]);
        if cluster {
            cmd.arg("-c");
        }
        cmd
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("redis.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let mut config = format!(
            "bind 127.0.0.1\n\
             protected-mode no\n\
             daemonize no\n\
             logfile \"\"\n\
             dir \"{dir}\"\n\
             save \"\"\n\
             appendonly no\n",
            dir = dir.display()
        );
        let w = &mut config;
        match &self.tls {
            Some(tls) => {
                let _ = write!(
                    w,
                    "port 0\ntls-port {port}\ntls-cert-file \"{cert}\"\ntls-key-file \"{key}\"\n\
                     tls-ca-cert-file \"{ca}\"\ntls-auth-clients no\n",
                    port = self.port,
                    cert = tls.cert.display(),
                    key = tls.key.display(),
                    ca = tls.ca.pem_path().display(),
                );
            }
            None => {
                let _ = writeln!(w, "port {}", self.port);
            }
        }
        if let Some(password) = &self.password {
            let _ = writeln!(w, "requirepass \"{password}\"");
        }
        if self.cluster {
            let _ = write!(
                w,
                "cluster-enabled yes\ncluster-config-file \"{conf}\"\ncluster-node-timeout 2000\ncluster-port {bus}\n",
                conf = dir.join(format!("nodes-{}.conf", self.port)).display(),
                bus = self.port + CLUSTER_BUS_OFFSET,
            );
            if self.tls.is_some() {
                let _ = writeln!(w, "tls-cluster yes");
            }
        }
        fs::write(self.config_path(), config).expect("write redis.conf");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("----- redis-server {} log -----\n{}", self.addr(), self.log());
        }
    }
}

/// A Redis Cluster of masters only (no replicas), each on its own port with
/// its cluster bus at port + 10000, the slots spread by `redis-cli
/// --cluster create`.
pub struct RedisCluster {
    nodes: Vec<Redis>,
}

impl RedisCluster {
    /// `masters` (at least 3) nodes, plain TCP, no password; returns once
    /// every node reports `cluster_state:ok` and knows all the others.
    pub fn start(masters: usize) -> RedisCluster {
        RedisCluster::form(masters, None)
    }

    /// As `start`, serving TLS only, the cluster bus too (`tls-cluster
    /// yes`); one certificate for `localhost` and 127.0.0.1 on every node.
    pub fn start_tls(masters: usize) -> RedisCluster {
        RedisCluster::form(masters, Some(Tls::new("redis-cluster")))
    }

    fn form(masters: usize, tls: Option<Tls>) -> RedisCluster {
        assert!(masters >= 3, "redis-cli --cluster create needs at least 3 masters, not {masters}");
        let nodes: Vec<Redis> =
            (0..masters).map(|_| Redis::launch(free_port_pair(CLUSTER_BUS_OFFSET), None, tls.clone(), true)).collect();
        let cluster = RedisCluster { nodes };
        let mut create = cluster.nodes[0].cli_command(false);
        create.args(["--cluster", "create"]);
        create.args(cluster.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = output_within(&mut create, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ok();
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok` and knows
    /// every node (after `start`, or a node's `start_again`).
    pub fn wait_ok(&self) {
        let known = format!("cluster_known_nodes:{}", self.nodes.len());
        wait::until("every Redis Cluster node to report cluster_state:ok", Duration::from_secs(20), || {
            self.nodes
                .iter()
                .filter(|n| n.is_running())
                .all(|n| {
                    let info = n.try_cli(&["CLUSTER", "INFO"]).unwrap_or_default();
                    info.lines().any(|l| l.trim() == "cluster_state:ok") && info.lines().any(|l| l.trim() == known)
                })
                .then_some(())
        });
    }

    /// One seed URL per node (see [`Redis::url`]).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Redis::url).collect()
    }

    pub fn nodes(&self) -> &[Redis] {
        &self.nodes
    }

    /// Node `i`, to stop and start again (then [`RedisCluster::wait_ok`]).
    pub fn node_mut(&mut self, i: usize) -> &mut Redis {
        &mut self.nodes[i]
    }

    /// The CA certificate (PEM) of a TLS cluster. Panics without TLS.
    pub fn ca_file(&self) -> PathBuf {
        self.nodes[0].ca_file()
    }

    /// `redis-cli -c -e ARGS...` against the first node: keys are read and
    /// written on whichever node owns their slot. See [`Redis::cli`].
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As `cli`, with failures as `Err`.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        run_cli(self.nodes[0].cli_command(true), args)
    }

    /// Kills every node (see [`Redis::stop`]).
    pub fn stop_all(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
    }
}

/// Runs `cmd ARGS` within [`CLI_LIMIT`]; stdout without its trailing newline.
fn run_cli(mut cmd: Command, args: &[&str]) -> Result<String, String> {
    cmd.args(args);
    let out = output_within(&mut cmd, CLI_LIMIT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("redis-cli {args:?} failed ({}): {stdout}{stderr}", out.status));
    }
    Ok(stdout.strip_suffix('\n').unwrap_or(&stdout).to_string())
}

fn redis_server() -> PathBuf {
    find_binary("redis-server", "redis-server")
}

fn redis_cli() -> PathBuf {
    find_binary("redis-cli", "redis-tools")
}
