//! Scenario: a peer floods the admin endpoint of a stubborn held to 1024
//! file descriptors — 5000 connections that never send a byte, then 2000
//! slowloris ones that send a request line and then one header byte every
//! quarter second, never finishing the head. Meanwhile DNS misses keep
//! being answered, a /metrics scrape keeps answering on its first try,
//! stubborn's descriptors stay within the admin cap (256) plus what it
//! holds anyway, every flood connection is closed within the 5 s header
//! timeout (plus a margin), and so is a kept-alive connection left idle
//! after its answer.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use stubborn_test_support::http_client::http_get;
use stubborn_test_support::{Ask, Config, FakeUpstream, Mode, Stubborn};

const STUBBORN_NOFILE: u64 = 1024;
const IDLE: usize = 5000;
const SLOWLORIS: usize = 2000;
/// stubborn's admin connection cap and header timeout.
const ADMIN_CAP: usize = 256;
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Checks run every `TICK`; a close is seen within a tick or two of it happening.
const TICK: Duration = Duration::from_millis(250);
const MARGIN: Duration = Duration::from_secs(2);

/// A connection of the flood, non-blocking, and when the server closed it.
struct Peer {
    stream: TcpStream,
    opened: Instant,
    /// Bytes the server sent (an answer, for the kept-alive connection).
    received: usize,
    closed: Option<Instant>,
}

impl Peer {
    /// Connects and sends `first_bytes`. A connect may wait for the kernel
    /// to resend its SYN (1 s, then 3 s) when a burst fills the accept queue.
    fn open(admin: SocketAddr, first_bytes: &[u8]) -> Peer {
        let mut stream = TcpStream::connect_timeout(&admin, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to the admin endpoint: {e}"));
        stream.write_all(first_bytes).expect("write the first bytes");
        stream.set_nonblocking(true).expect("non-blocking");
        Peer { stream, opened: Instant::now(), received: 0, closed: None }
    }

    /// `count` peers, opened by 4 threads so that a resent SYN holds up only
    /// a quarter of them; each thread checks its peers every 20 opened, so
    /// that a close is seen soon after it happens, not after the last open.
    fn open_many(admin: SocketAddr, count: usize, first_bytes: &[u8]) -> Vec<Peer> {
        let open_some = || {
            let mut peers = Vec::with_capacity(count / 4);
            for i in 0..count / 4 {
                if i % 20 == 0 {
                    peers.iter_mut().for_each(Peer::check);
                }
                peers.push(Peer::open(admin, first_bytes));
            }
            peers
        };
        thread::scope(|scope| {
            let openers: Vec<_> = (0..4).map(|_| scope.spawn(open_some)).collect();
            openers.into_iter().flat_map(|opener| opener.join().expect("opener")).collect()
        })
    }

    /// Reads what is there; an end of stream or a reset is the server closing it.
    fn check(&mut self) {
        let mut buffer = [0u8; 4096];
        while self.closed.is_none() {
            match self.stream.read(&mut buffer) {
                Ok(0) => self.closed = Some(Instant::now()),
                Ok(n) => self.received += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.closed = Some(Instant::now()),
            }
        }
    }

    /// How long it stayed open; None while it is.
    fn lifetime(&self) -> Option<Duration> {
        self.closed.map(|closed| closed - self.opened)
    }
}

/// What the observer saw while the flood ran.
#[derive(Default, Debug)]
struct Observed {
    scrapes: usize,
    scrape_failures: Vec<String>,
    slowest_scrape: Duration,
    misses: usize,
    miss_failures: Vec<String>,
    most_fds: usize,
    most_rss_kib: u64,
}

/// Sets the flag when dropped: the observer stops even when the flood panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Scrapes /metrics, asks a new name and counts stubborn's descriptors and
/// memory, every 100 ms until `stop` (30 s at most).
fn observe(stubborn: &Stubborn, stop: &AtomicBool) -> Observed {
    let (pid, admin, dns) = (stubborn.pid(), stubborn.admin, stubborn.dns);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Observed::default();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        seen.most_fds = seen.most_fds.max(fds(pid));
        seen.most_rss_kib = seen.most_rss_kib.max(rss_kib(pid));
        let start = Instant::now();
        match http_get(admin, "/metrics") {
            Ok((200, body)) if body.contains("stubborn_queries_total") => seen.scrapes += 1,
            other => seen.scrape_failures.push(format!("{other:?}")),
        }
        seen.slowest_scrape = seen.slowest_scrape.max(start.elapsed());
        let ask = Ask::new(&format!("miss{i}.example.test."), RecordType::A).timeout(Duration::from_secs(2));
        match ask.try_send(dns) {
            Ok(reply) if reply.rcode() == ResponseCode::NoError => seen.misses += 1,
            Ok(reply) => seen.miss_failures.push(reply.summary()),
            Err(e) => seen.miss_failures.push(e.to_string()),
        }
        thread::sleep(Duration::from_millis(100));
    }
    seen
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or(0)
}

/// This test process holds every flood connection: its soft limit goes up to the hard one.
fn raise_own_nofile(needed: u64) {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(hard >= needed, "the flood needs {needed} descriptors in the test process; the hard limit is {hard}");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
}

fn limit_nofile(pid: u32, limit: u64) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={limit}:{limit}"))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success(), "prlimit --pid={pid} failed");
}

#[test]
fn admin_flood_neither_exhausts_descriptors_nor_blocks_a_scrape() {
    raise_own_nofile((IDLE + SLOWLORIS) as u64 + 1000);
    let upstream = FakeUpstream::start(Mode::Answer);
    let stubborn = Stubborn::start(Config::new(&[upstream.server()]));
    limit_nofile(stubborn.pid(), STUBBORN_NOFILE);
    let quiet_fds = fds(stubborn.pid());
    let quiet_rss = rss_kib(stubborn.pid());
    let stop = AtomicBool::new(false);
    let flood_start = Instant::now();

    let (peers, kept_alive, seen) = thread::scope(|scope| {
        let observer = scope.spawn(|| observe(&stubborn, &stop));
        let stop_observer = StopOnDrop(&stop);
        let mut peers = Peer::open_many(stubborn.admin, IDLE, b"");
        let slowloris_line = b"GET /metrics HTTP/1.1\r\nHost: stubborn\r\nX-Slow: ";
        peers.extend(Peer::open_many(stubborn.admin, SLOWLORIS, slowloris_line));
        let opened = flood_start.elapsed();
        let kept_alive = Peer::open(stubborn.admin, b"GET /metrics HTTP/1.1\r\nHost: stubborn\r\n\r\n");
        let mut kept_alive = [kept_alive];
        // Bounded: every peer must be closed by the header timeout of the last one opened, plus the margin.
        let deadline = Instant::now() + HEADER_TIMEOUT + MARGIN + TICK;
        while Instant::now() < deadline {
            for peer in peers.iter_mut().chain(&mut kept_alive) {
                peer.check();
            }
            if peers.iter().chain(&kept_alive).all(|p| p.closed.is_some()) {
                break;
            }
            for peer in peers[IDLE..].iter_mut().filter(|p| p.closed.is_none()) {
                let _ = peer.stream.write(b"a");
            }
            thread::sleep(TICK);
        }
        drop(stop_observer);
        eprintln!("{IDLE} + {SLOWLORIS} connections opened in {opened:?}");
        (peers, kept_alive, observer.join().expect("observer"))
    });

    let flood_time = flood_start.elapsed();
    eprintln!(
        "flood over in {flood_time:?}: {seen:?}; stubborn had {quiet_fds} descriptors and {quiet_rss} KiB before"
    );
    assert!(stubborn.exit_status().is_none(), "stubborn died in the flood");
    assert!(seen.scrape_failures.is_empty(), "scrapes failed: {:?}", seen.scrape_failures);
    assert!(seen.scrapes >= 10, "only {} scrapes in {flood_time:?}", seen.scrapes);
    assert!(seen.miss_failures.is_empty(), "misses not answered: {:?}", seen.miss_failures);
    assert!(seen.slowest_scrape < Duration::from_secs(3), "a scrape took {:?}", seen.slowest_scrape);
    assert!(
        seen.most_fds <= quiet_fds + ADMIN_CAP + 64,
        "stubborn held {} descriptors (quiet: {quiet_fds}, admin cap {ADMIN_CAP})",
        seen.most_fds
    );
    for (kind, range) in [("idle", 0..IDLE), ("slowloris", IDLE..IDLE + SLOWLORIS)] {
        let open = peers[range.clone()].iter().filter(|p| p.closed.is_none()).count();
        assert_eq!(open, 0, "{open} {kind} connections still open after {flood_time:?}");
        let longest = peers[range].iter().filter_map(|p| p.lifetime()).max().unwrap_or_default();
        eprintln!("longest-lived {kind} connection: {longest:?}");
        assert!(longest <= HEADER_TIMEOUT + MARGIN, "a {kind} connection stayed open {longest:?}");
    }
    let [kept_alive] = &kept_alive;
    assert!(kept_alive.received > 0, "the kept-alive connection got no answer");
    let idle_for = kept_alive.lifetime().expect("the kept-alive connection is closed");
    assert!(idle_for <= HEADER_TIMEOUT + MARGIN, "kept alive {idle_for:?} after its answer");
}
