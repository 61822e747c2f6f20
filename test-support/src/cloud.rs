//! Stand-ins for the clouds behind a multi-cloud `[[service]]`, and what
//! the tests of one read from stubborn: real listeners on 127.0.0.x
//! addresses, one per cloud (Linux routes all of 127.0.0.0/8 to loopback,
//! so binding 127.0.0.2-127.0.0.9 needs no setup).
//!
//! - [`TcpTarget`]: a TCP listener that can be closed (connects get refused,
//!   as from a dead host) and reopened on the same address; it accepts and
//!   drops connections, so its backlog never fills. (An HTTP(S) cloud is an
//!   [`HttpServer`](crate::http_server::HttpServer).)
//! - [`ServiceSpec`]: one `[[service]]` table, rendered to TOML.
//! - [`answered`] / [`wait_switch`]: what a reply for a service name says
//!   (CNAME to a target plus its addresses, or a literal address), and a
//!   deadline-bounded poll for the switch from one to another.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::dns::{Ask, Reply};
use crate::metrics::metric_in;
use crate::ports::{bind_tcp_retrying, free_port};
use crate::stubborn::Stubborn;

/// "AWS": the primary target's address.
pub const AWS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// "GCP": the first secondary's address.
pub const GCP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// A fixed address, the last secondary, written as an IP in the config.
pub const FIXED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

/// The service name the tests configure.
pub const SERVICE: &str = "api.example.test";
pub const AWS_NAME: &str = "api.aws.example.test";
pub const GCP_NAME: &str = "api.gcp.example.test";

/// Zone lines for `Knot::start` with the two target names (TTL `ttl`).
pub fn target_zone(ttl: u32) -> String {
    format!("api.aws {ttl} IN A {AWS}\napi.gcp {ttl} IN A {GCP}")
}

/// A port free for TCP on 127.0.0.1 through 127.0.0.9 (and for UDP on
/// 127.0.0.1, see `free_port`): the one check port of a service, the same
/// on every target address.
pub fn service_port() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if (1..=9).all(|i| TcpListener::bind((Ipv4Addr::new(127, 0, 0, i), port)).is_ok()) {
            return port;
        }
    }
    panic!("no port free on all of 127.0.0.1-9 in 100 tries");
}

/// A TCP listener standing for a cloud's endpoint (a `tcp:PORT` check).
pub struct TcpTarget {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl TcpTarget {
    /// Listens on `ip:port` and accepts (and drops) every connection.
    pub fn open(ip: Ipv4Addr, port: u16) -> TcpTarget {
        let mut target =
            TcpTarget { addr: SocketAddr::new(IpAddr::V4(ip), port), accepted: Arc::default(), running: None };
        target.reopen();
        target
    }

    /// Listens again on the same address (no-op when open).
    pub fn reopen(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = bind_tcp_retrying(self.addr);
        listener.set_nonblocking(true).expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, accepted) = (stop.clone(), self.accepted.clone());
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.running = Some((stop, thread));
    }

    /// Closes the listener: connects are refused from now on (checked).
    pub fn close(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            thread.join().expect("listener thread");
        }
        assert!(
            TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err(),
            "{} still accepts connections after close",
            self.addr
        );
    }

    /// Connections accepted so far (the health checks that reached it).
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for TcpTarget {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

/// One `[[service]]` table. Test defaults: `interval = "200ms"`,
/// `timeout = "300ms"`, `fall = 2`, `rise = 2`, `ttl = "10s"`, check `dns`
/// (the default, left out of the TOML).
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub primary: String,
    pub secondary: Vec<String>,
    pub check: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
    pub ttl: Duration,
    pub ca_file: Option<PathBuf>,
}

impl ServiceSpec {
    pub fn new(name: &str, primary: &str, secondary: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            primary: primary.to_string(),
            secondary: secondary.iter().map(|s| s.to_string()).collect(),
            check: None,
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(300),
            fall: 2,
            rise: 2,
            ttl: Duration::from_secs(10),
            ca_file: None,
        }
    }

    /// The usual three clouds: `api.example.test` with primary
    /// `api.aws.example.test`, secondaries `api.gcp.example.test` and 127.0.0.4.
    pub fn three_clouds() -> ServiceSpec {
        ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME, &FIXED.to_string()])
    }

    pub fn check(mut self, check: &str) -> ServiceSpec {
        self.check = Some(check.to_string());
        self
    }

    pub fn ca_file(mut self, path: PathBuf) -> ServiceSpec {
        self.ca_file = Some(path);
        self
    }

    pub fn fall_rise(mut self, fall: u32, rise: u32) -> ServiceSpec {
        self.fall = fall;
        self.rise = rise;
        self
    }

    /// Longest time a switch away from a failing target may take:
    /// `interval × fall` + 1 s.
    pub fn fall_deadline(&self) -> Duration {
        self.interval * self.fall + Duration::from_secs(1)
    }

    /// Longest time a switch back to a recovered target may take:
    /// `interval × rise` + 1 s.
    pub fn rise_deadline(&self) -> Duration {
        self.interval * self.rise + Duration::from_secs(1)
    }

    pub fn toml(&self) -> String {
        let ms = |d: Duration| format!("\"{}ms\"", d.as_millis());
        let secondary = self.secondary.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        let mut out = format!(
            "[[service]]\nname = \"{}\"\nprimary = \"{}\"\nsecondary = [{secondary}]\n",
            self.name, self.primary
        );
        if let Some(check) = &self.check {
            out.push_str(&format!("check = \"{check}\"\n"));
        }
        out.push_str(&format!(
            "interval = {}\ntimeout = {}\nfall = {}\nrise = {}\nttl = {}\n",
            ms(self.interval),
            ms(self.timeout),
            self.fall,
            self.rise,
            ms(self.ttl)
        ));
        if let Some(path) = &self.ca_file {
            out.push_str(&format!("ca_file = \"{}\"\n", path.display()));
        }
        out
    }
}

/// What a reply for a service name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// `service CNAME target` and the target's addresses (owner = target).
    Via { target: String, addrs: Vec<IpAddr> },
    /// Addresses as records of the service name itself, no CNAME.
    Literal(Vec<IpAddr>),
    /// Anything else: another rcode, stray records, ... (the reply summary).
    Other(String),
}

impl Answered {
    /// `service CNAME target` + `target A ip`.
    pub fn via(target: &str, ip: Ipv4Addr) -> Answered {
        Answered::Via { target: target.to_string(), addrs: vec![IpAddr::V4(ip)] }
    }

    /// `service A ip`.
    pub fn literal(ip: Ipv4Addr) -> Answered {
        Answered::Literal(vec![IpAddr::V4(ip)])
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Reads a NOERROR reply for `service` as an [`Answered`].
pub fn answered(reply: &Reply, service: &str) -> Answered {
    let other = || Answered::Other(reply.summary());
    if reply.rcode() != ResponseCode::NoError {
        return other();
    }
    let mut cname = None;
    let mut owned: Vec<(String, IpAddr)> = Vec::new();
    for record in &reply.msg.answers {
        let owner = record.name.to_ascii();
        match &record.data {
            RData::CNAME(target) if same_name(&owner, service) && cname.is_none() => {
                cname = Some(target.0.to_ascii().trim_end_matches('.').to_lowercase());
            }
            RData::A(a) => owned.push((owner, IpAddr::V4(a.0))),
            RData::AAAA(a) => owned.push((owner, IpAddr::V6(a.0))),
            _ => return other(),
        }
    }
    let owner_wanted = cname.clone().unwrap_or_else(|| service.to_string());
    if owned.iter().any(|(owner, _)| !same_name(owner, &owner_wanted)) {
        return other();
    }
    let mut addrs: Vec<IpAddr> = owned.into_iter().map(|(_, ip)| ip).collect();
    addrs.sort();
    match cname {
        Some(target) => Answered::Via { target, addrs },
        None if addrs.is_empty() => other(),
        None => Answered::Literal(addrs),
    }
}

/// Asks `qtype` for `service` and reads the reply.
pub fn ask_service(stubborn: &Stubborn, service: &str, qtype: RecordType) -> (Reply, Answered) {
    let reply = stubborn.ask(&Ask::new(&format!("{service}."), qtype).timeout(Duration::from_secs(3)));
    let what = answered(&reply, service);
    (reply, what)
}

/// Polls A for `service` until the answer is `to`, at most `deadline`; every
/// answer until then must be `from` (no SERVFAIL, no empty or mixed answer
/// while the switch happens). Returns how long the switch took.
pub fn wait_switch(stubborn: &Stubborn, service: &str, from: &Answered, to: &Answered, deadline: Duration) -> Duration {
    wait_switch_through(stubborn, service, std::slice::from_ref(from), to, deadline)
}

/// As [`wait_switch`], with every answer until `to` one of `allowed`.
pub fn wait_switch_through(
    stubborn: &Stubborn,
    service: &str,
    allowed: &[Answered],
    to: &Answered,
    deadline: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let (reply, now) = ask_service(stubborn, service, RecordType::A);
        if now == *to {
            return start.elapsed();
        }
        assert!(
            allowed.contains(&now),
            "while switching from {allowed:?} to {to:?} ({:?} in), got {now:?}: {}",
            start.elapsed(),
            reply.summary()
        );
        assert!(
            start.elapsed() <= deadline,
            "still {now:?} after {deadline:?}, expected {to:?}; last reply: {}",
            reply.summary()
        );
        thread::sleep(Duration::from_millis(25));
    }
}

/// Asserts that A for `service` answers `expected` now.
pub fn assert_answers(stubborn: &Stubborn, service: &str, expected: &Answered) -> Reply {
    let (reply, now) = ask_service(stubborn, service, RecordType::A);
    assert_eq!(&now, expected, "A {service}: {}", reply.summary());
    reply
}

/// `stubborn_service_target{service,target}` for each of `targets`, in order.
pub fn target_gauges(stubborn: &Stubborn, service: &str, targets: &[&str]) -> Vec<f64> {
    let text = stubborn.metrics();
    targets
        .iter()
        .map(|t| metric_in(&text, &format!("stubborn_service_target{{service=\"{service}\",target=\"{t}\"}}")))
        .collect()
}

/// `stubborn_failovers_total{service}`.
pub fn failovers(stubborn: &Stubborn, service: &str) -> f64 {
    stubborn.metric(&format!("stubborn_failovers_total{{service=\"{service}\"}}"))
}
