//! Unbound (Debian package `unbound`) serving DNS over TLS (RFC 7858) and
//! DNS over HTTPS (RFC 8484) on loopback, in front of a test authoritative:
//! the real encrypted upstream stubborn's `tls://` and `https://` servers
//! are tested against. It also answers plain UDP/TCP, for readiness checks.
//!
//! unbound runs in the foreground as a child of the test (`do-daemonize:
//! no`, no chroot, no user switch), with its config, certificate, key and
//! pid file in a temp dir. It forwards every name to the authoritative and
//! answers `. NS` itself (the question stubborn probes a down upstream
//! with; an authoritative for `example.test.` would refuse it, and Unbound
//! would turn that into SERVFAIL), and serves `test.` (RFC 6761 makes it
//! one of Unbound's default NXDOMAIN zones) by forwarding. It can be killed and started again on
//! the same ports, like a crashed server.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use tempfile::TempDir;

use crate::dns::Ask;
use crate::ports::free_port;
use crate::process::{find_binary, spawn_logged};
use crate::scratch;
use crate::wait;

/// The name the test certificates are issued for.
pub const TLS_NAME: &str = "dns.test";

/// A running (or stopped) unbound.
pub struct Unbound {
    dir: TempDir,
    /// Plain UDP and TCP.
    pub plain: SocketAddr,
    /// DNS over TLS.
    pub tls: SocketAddr,
    /// DNS over HTTPS, path `/dns-query`.
    pub https: SocketAddr,
    child: Option<Child>,
}

/// How an [`Unbound`] is set up.
pub struct UnboundSpec<'a> {
    /// Where every name is forwarded (plain DNS).
    pub forward_to: SocketAddr,
    /// The certificate (PEM, leaf first) and key it presents.
    pub cert: &'a Path,
    pub key: &'a Path,
    /// How long an idle TCP/TLS connection stays open (Unbound's default: 30 s).
    pub tcp_idle_timeout: Duration,
}

impl Unbound {
    pub fn start(spec: &UnboundSpec<'_>) -> Unbound {
        let dir = scratch::temp_dir("unbound");
        let at = |port: u16| -> SocketAddr { ([127, 0, 0, 1], port).into() };
        let mut unbound =
            Unbound { dir, plain: at(free_port()), tls: at(free_port()), https: at(free_port()), child: None };
        unbound.write_config(spec);
        unbound.start_again();
        unbound
    }

    /// `tls://127.0.0.1:PORT#dns.test`
    pub fn tls_server(&self) -> String {
        format!("tls://{}#{TLS_NAME}", self.tls)
    }

    /// `https://127.0.0.1:PORT/dns-query#dns.test`
    pub fn https_server(&self) -> String {
        format!("https://{}/dns-query#{TLS_NAME}", self.https)
    }

    /// Kills unbound (SIGKILL: its connections are reset, its ports close).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts unbound (again) on the same ports and waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "unbound is already running");
        let config = self.config_path();
        let args = ["-d".as_ref(), "-c".as_ref(), config.as_os_str()];
        self.child = Some(spawn_logged(&find_binary("unbound", "unbound"), &args, &self.log_path()));
        let plain = self.plain;
        wait::until(&format!("unbound on {plain} to answer"), Duration::from_secs(10), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("unbound exited with {status}; log:\n{}", self.log());
            }
            let probe = Ask::new(".", RecordType::NS).timeout(Duration::from_millis(200));
            probe.try_send(plain).ok().map(|_| ())
        });
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("unbound.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("unbound.log")
    }

    fn write_config(&self, spec: &UnboundSpec<'_>) {
        let dir = self.dir.path().display();
        let config = format!(
            r#"server:
    interface: {plain}
    interface: {tls}
    interface: {https}
    tls-port: {tls_port}
    https-port: {https_port}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    incoming-num-tcp: 100
    tcp-idle-timeout: {idle}
    module-config: "iterator"
    do-not-query-localhost: no
    infra-keep-probing: yes
    infra-host-ttl: 1
    qname-minimisation: no
    access-control: 127.0.0.0/8 allow
    local-zone: "test." nodefault
    local-zone: "." transparent
    local-data: ". 3600 IN NS ns.example.test."

remote-control:
    control-enable: no

forward-zone:
    name: "."
    forward-addr: {forward}
"#,
            plain = at_form(self.plain),
            tls = at_form(self.tls),
            https = at_form(self.https),
            tls_port = self.tls.port(),
            https_port = self.https.port(),
            key = spec.key.display(),
            cert = spec.cert.display(),
            idle = spec.tcp_idle_timeout.as_millis(),
            forward = at_form(spec.forward_to),
        );
        fs::write(self.config_path(), config).expect("write unbound.conf");
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("----- unbound {} log -----\n{}", self.plain, self.log());
        }
    }
}

/// `127.0.0.1@5353`, Unbound's way of writing an address with a port.
fn at_form(addr: SocketAddr) -> String {
    format!("{}@{}", addr.ip(), addr.port())
}
