//! The outage drill: a DNS outage replayed on loopback, in one command.
//!
//! ```text
//! scripts/drill [--names N] [--outage SECS] [--short] [--flood N [--flood-shape SHAPE]] [--new-node]
//! cargo run --release --example drill -- [--names N] [--outage SECS] [--short] [--flood N [--flood-shape SHAPE]] [--new-node]
//! ```
//!
//! 1. starts a real authoritative server (Knot DNS, `knotd`) with a zone of N
//!    names (record TTL 2 s) on a free 127.0.0.1 port, in a temp dir;
//! 2. starts two real `stubborn` processes in front of it: one as configured
//!    by default (`serve_stale = true`) and one configured as a plain
//!    forwarder (`serve_stale = false`, `keep_positive = "0s"`);
//! 3. asks both for every name once, waits until every record's TTL has run
//!    out, kills knotd (SIGKILL) for the outage, and asks both for every name
//!    once a second meanwhile (one progress line per round); then starts
//!    knotd again and measures how long stubborn takes to answer fresh;
//! 4. prints a report: the share of names answered during the outage, the
//!    latency of the first answer after the outage began, the stale answers
//!    served (EDE 3 in the replies and `stubborn_answers_total{source="stale"}`),
//!    the recovery time, and what the plain forwarder answered.
//!
//! With `--flood N`, N unique names are sent to stubborn after the warm-up,
//! from [`FLOOD_THREADS`] sockets with [`FLOOD_WINDOW`] queries in flight on
//! each; progress lines show stubborn's RSS and cache entries, and the
//! outage then shows whether the warmed names are still there to be
//! answered stale (README "Cache pressure"). `--flood-shape` picks the
//! names and how often each is asked ([`FloodShape`]): `nxdomain` (the
//! default: a random-subdomain flood under a name that does not exist,
//! answered NXDOMAIN), `answered` (names a wildcard answers, each asked
//! once), `answered-twice` (each asked twice back to back: the second ask
//! after the first reply came, so a cache hit) and `answered-10x` (the whole
//! flood sent in ten rounds, each name's ten asks spanning at least
//! [`FLOOD_SPREAD`]).
//!
//! With `--new-node` the drill is another one ([`run_new_node`]): a node
//! that starts during an outage (autoscaling, a rescheduled pod) with an
//! empty cache, beside a fleet store. A redis-server joins knotd on
//! loopback; two stubborns with `[fleet]` warm up on the names; then, in a
//! silent outage (knotd's address blackholed) and in an empty-record outage
//! (the zone published again without the records), a stubborn with
//! `[fleet]` and one without are started with empty caches and asked for
//! every name once a second. It passes when the one with `[fleet]` answers
//! at least [`NEW_NODE_GOAL`] % of the names with their right address in
//! both.
//!
//! Exit status: 0 when stubborn answered every query during the outage
//! (`--new-node`: the goal was met), 1 when it did not, 2 when the drill
//! could not run (no knotd, no redis-server, no stubborn binary, a process
//! that did not start). Everything listens on 127.0.0.1 only and
//! every wait and loop is bounded.
//!
//! The processes are the integration tests' own (`stubborn_test_support`,
//! `test-support/`): stubborn, knotd, redis-server, and a fake upstream
//! that never answers for the blackhole. The harness panics where a process
//! does not start, as a test wants; [`main`] turns that into exit status 2.
//! The stubborn binary: `STUBBORN_BIN`, else the `stubborn` next to this
//! example's target directory (`target/release/stubborn` for
//! `cargo run --release --example drill`; `cargo build --release` builds it).
//! knotd and redis-server: `KNOTD_BIN` and `REDIS_SERVER_BIN`, else
//! /usr/sbin, /usr/local/sbin, then PATH.
//!
//! `integration-tests/drill.rs` runs [`run`] and [`run_new_node`] in short mode.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use stubborn::resolver::FAILURE_RECHECK;
use stubborn_test_support::dns::{self, Ask, EDE_STALE_ANSWER};
use stubborn_test_support::knot::{Knot, Zone};
use stubborn_test_support::stubborn::{Launch, Stubborn, binary, use_binary};
use stubborn_test_support::{Config, FakeUpstream, Mode, Redis, scratch};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The zone knotd serves.
const ORIGIN: &str = "drill.test.";
/// TTL of every record in the zone: short, so that the outage starts after expiry.
const RECORD_TTL: u32 = 2;
/// How often every name is asked during the outage.
const ROUND_INTERVAL: Duration = Duration::from_secs(1);
/// Like a stub resolver (`options timeout:2 attempts:2`): wait this long for
/// a reply, then send once more.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(2_500);
const CLIENT_ATTEMPTS: u32 = 2;
/// Queries in flight at once, per resolver.
const IN_FLIGHT: usize = 128;
/// How long past stubborn's failure recheck timer to wait for fresh answers.
const RECOVERY_GRACE: Duration = Duration::from_secs(10);
/// Flood senders, and queries each keeps in flight (4 × 64 stays well under
/// stubborn's 1024 upstream fetches).
const FLOOD_THREADS: usize = 4;
const FLOOD_WINDOW: usize = 64;
/// A flood stops after this long, however many names are left.
const FLOOD_LIMIT: Duration = Duration::from_secs(900);
/// `answered-10x`: round k of ten starts no earlier than k/9 of this after
/// the first, so that each name's asks span at least this long.
const FLOOD_SPREAD: Duration = Duration::from_secs(60);
/// The wildcard under which the answered floods ask: `*.w.drill.test.`,
/// with a TTL longer than any flood, so that a name asked again while it is
/// still cached is a cache hit.
const WILDCARD_TTL: u32 = 3600;
const WILDCARD_ADDR: &str = "192.0.2.1";

/// Replays a DNS outage on loopback: knotd behind stubborn, then knotd killed.
#[derive(Parser, Debug)]
#[command(name = "drill", about)]
struct Args {
    /// Names in the zone [default: 200; 50 with --short].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    names: Option<u32>,
    /// Seconds the authoritative server stays down [default: 20; 5 with --short].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    outage: Option<u64>,
    /// A quick run: 50 names, a 5 s outage.
    #[arg(long)]
    short: bool,
    /// Keep the temp dirs (configs, zone, logs of knotd and every stubborn) and print where.
    #[arg(long)]
    keep: bool,
    /// Before the outage, send stubborn this many unique names (see --flood-shape).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    flood: u64,
    /// The flood's names and how often each is asked: nxdomain (names that do not
    /// exist, once each), answered (names a wildcard answers, once each),
    /// answered-twice (twice back to back), answered-10x (ten times over a minute).
    #[arg(long, value_enum, default_value_t = FloodShape::Nxdomain)]
    flood_shape: FloodShape,
    /// Instead: a node started mid-outage with an empty cache, answered by the
    /// fleet store (a redis-server on loopback), in a silent and an empty-record outage.
    #[arg(long, conflicts_with = "flood")]
    new_node: bool,
}

/// What a flood asks for, and how often.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FloodShape {
    /// Unique names under `nx.drill.test.`, which does not exist: NXDOMAIN.
    #[default]
    Nxdomain,
    /// Unique names under `w.drill.test.`, answered by the wildcard `*.w`.
    Answered,
    /// Like `answered`, each name asked twice back to back.
    AnsweredTwice,
    /// Like `answered`, each name asked ten times spread over [`FLOOD_SPREAD`].
    #[value(name = "answered-10x")]
    Answered10x,
}

impl FloodShape {
    /// The `--flood-shape` value.
    pub fn label(self) -> &'static str {
        match self {
            FloodShape::Nxdomain => "nxdomain",
            FloodShape::Answered => "answered",
            FloodShape::AnsweredTwice => "answered-twice",
            FloodShape::Answered10x => "answered-10x",
        }
    }

    /// The names and their asks, in words.
    fn describe(self) -> String {
        let spread = FLOOD_SPREAD.as_secs();
        match self {
            FloodShape::Nxdomain => "under nx.drill.test. (does not exist), each asked once".to_string(),
            FloodShape::Answered => "under w.drill.test. (a wildcard answers), each asked once".to_string(),
            FloodShape::AnsweredTwice => {
                "under w.drill.test. (a wildcard answers), each asked twice back to back".to_string()
            }
            FloodShape::Answered10x => {
                format!("under w.drill.test. (a wildcard answers), each asked 10 times over >= {spread} s (10 rounds)")
            }
        }
    }

    /// The name the flood's names are under.
    fn zone(self) -> &'static str {
        match self {
            FloodShape::Nxdomain => "nx.drill.test.",
            _ => "w.drill.test.",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = std::env::var_os("STUBBORN_BIN") {
        use_binary(PathBuf::from(path));
    }
    let (names, outage) = if args.short { (50, 5) } else { (200, 20) };
    let options = Options {
        names: args.names.map_or(names, |n| n as usize),
        outage: Duration::from_secs(args.outage.unwrap_or(outage)),
        keep: args.keep,
        recovery: true,
        flood: args.flood as usize,
        flood_shape: args.flood_shape,
    };
    let mut out = io::stdout();
    // The harness panics where a process does not start (its message is
    // printed then): the drill could not run, as with an error.
    let passed = panic::catch_unwind(AssertUnwindSafe(|| {
        if args.new_node {
            run_new_node(&options, &mut out).map(|report| report.passed())
        } else {
            run(&options, &mut out).map(|report| report.passed())
        }
    }));
    match passed {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => ExitCode::from(1),
        Ok(Err(e)) => {
            let _ = out.flush();
            eprintln!("drill: could not run: {e:#}");
            ExitCode::from(2)
        }
        Err(_) => {
            let _ = out.flush();
            eprintln!("drill: could not run (see the panic above)");
            ExitCode::from(2)
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Names in the zone.
    pub names: usize,
    /// How long knotd stays down.
    pub outage: Duration,
    /// Keep the temp dirs with the configs and logs.
    pub keep: bool,
    /// After the outage, wait for stubborn's fresh answers (up to ~40 s).
    pub recovery: bool,
    /// Unique names sent to stubborn after the warm-up (0: none).
    pub flood: usize,
    /// What those names are, and how often each is asked.
    pub flood_shape: FloodShape,
}

impl Options {
    /// `--short`'s sizes (50 names, a 5 s outage), without waiting for recovery.
    pub fn short() -> Options {
        Options {
            names: 50,
            outage: Duration::from_secs(5),
            keep: false,
            recovery: false,
            flood: 0,
            flood_shape: FloodShape::Nxdomain,
        }
    }
}

/// The numbers of one resolver during the outage.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// Queries sent during the outage.
    pub asked: usize,
    /// Queries answered with the name's address.
    pub answered: usize,
    /// Names answered in every round.
    pub names_always_answered: usize,
    /// Replies carrying EDE 3 "Stale Answer".
    pub stale_replies: usize,
    /// Replies with SERVFAIL.
    pub servfail: usize,
    /// Queries with no reply at all (after every attempt).
    pub no_reply: usize,
    /// Latency of each name's first query after the outage began, sorted.
    pub first_latencies: Vec<Duration>,
    /// Growth of `stubborn_answers_total{source="stale"}` over the outage.
    pub stale_metric: f64,
}

impl Side {
    pub fn answered_percent(&self) -> f64 {
        percent(self.answered, self.asked)
    }
}

/// What the drill measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub names: usize,
    pub rounds: usize,
    /// How long knotd was really down.
    pub outage: Duration,
    /// stubborn as configured by default.
    pub stubborn: Side,
    /// The plain forwarder (`serve_stale = false`, `keep_positive = "0s"`).
    pub plain: Side,
    /// From knotd serving again to stubborn's first fresh answer.
    pub first_fresh_after: Option<Duration>,
    /// From knotd serving again to a round where every name was fresh.
    pub all_fresh_after: Option<Duration>,
    /// Whether recovery was waited for at all.
    pub recovery_measured: bool,
    /// What the flood before the outage did, if there was one.
    pub flood: Option<Flood>,
}

/// A flood of unique names sent to stubborn after the warm-up.
#[derive(Clone, Debug, Default)]
pub struct Flood {
    pub shape: FloodShape,
    pub names: usize,
    /// Queries sent, and the replies that came back by RCODE.
    pub counts: FloodCounts,
    pub took: Duration,
    /// stubborn's resident memory before and after, in MiB.
    pub rss_before: f64,
    pub rss_after: f64,
    /// `stubborn_cache_entries` after, and the flood's growth of
    /// `stubborn_cache_evictions_total` by kind.
    pub entries_after: f64,
    pub negative_evictions: f64,
    pub positive_evictions: f64,
}

/// Queries a flood sent, and the replies by RCODE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FloodCounts {
    pub sent: usize,
    pub noerror: usize,
    pub nxdomain: usize,
    pub servfail: usize,
    /// Any other RCODE (REFUSED, FORMERR, ...).
    pub other: usize,
}

impl FloodCounts {
    pub fn replies(&self) -> usize {
        self.noerror + self.nxdomain + self.servfail + self.other
    }

    fn add(&mut self, o: FloodCounts) {
        self.sent += o.sent;
        self.noerror += o.noerror;
        self.nxdomain += o.nxdomain;
        self.servfail += o.servfail;
        self.other += o.other;
    }

    /// Counts one reply by the RCODE in its header.
    fn count(&mut self, reply: &[u8]) {
        match reply.get(3).map(|b| b & 0x0f) {
            Some(0) => self.noerror += 1,
            Some(2) => self.servfail += 1,
            Some(3) => self.nxdomain += 1,
            _ => self.other += 1,
        }
    }
}

impl Report {
    /// stubborn answered every query during the outage.
    pub fn passed(&self) -> bool {
        self.stubborn.asked > 0 && self.stubborn.answered == self.stubborn.asked
    }
}

/// What every drill starts from: the names, knotd serving them, and with
/// `--keep` the directory every process's files are kept in.
struct Setup {
    names: Vec<String>,
    knot: Knot,
    kept: Option<PathBuf>,
}

impl Setup {
    fn new(options: &Options) -> anyhow::Result<Setup> {
        if options.names == 0 || options.outage.is_zero() {
            bail!("need at least one name and an outage longer than 0 s");
        }
        if !binary().is_file() {
            bail!("no stubborn binary at {}: run `cargo build --release` or set STUBBORN_BIN", binary().display());
        }
        let kept = if options.keep {
            let dir = tempfile::Builder::new().prefix("stubborn-drill-").tempdir().context("create a temp dir")?;
            let dir = dir.keep();
            scratch::keep_under(&dir);
            Some(dir)
        } else {
            None
        };
        let names = (0..options.names).map(|i| format!("host{i}.{ORIGIN}")).collect();
        let knot = Knot::serve(Zone { origin: ORIGIN.to_string(), ..Zone::new(&zone_records(options.names)) });
        Ok(Setup { names, knot, kept })
    }
}

/// stubborn in front of `upstream`: as configured by default, or as a plain
/// forwarder (no stale answers, no last-known-good), with the `[fleet]`
/// section `fleet` if any. `name` names its temp dir.
fn start_stubborn(name: &str, upstream: SocketAddr, plain: bool, fleet: Option<&str>) -> Stubborn {
    let config = Config::new(&[upstream.to_string()]).set_str("upstream", "probe_interval", "500ms");
    let config = if plain {
        config.set("cache", "serve_stale", "false").set_str("cache", "keep_positive", "0s")
    } else {
        config.set("cache", "serve_stale", "true")
    };
    let config = match fleet {
        Some(fleet) => config.append(fleet),
        None => config,
    };
    // STUBBORN_LOG: stubborn's RUST_LOG (e.g. "debug" with --keep); the
    // harness reads the addresses stubborn bound from stubborn::run's info lines.
    let level = std::env::var("STUBBORN_LOG").unwrap_or_else(|_| "warn".to_string());
    let filter = format!("{level},stubborn::run=info");
    Stubborn::launch(config, Launch { name, env: &[("RUST_LOG", &filter)], ..Launch::default() })
}

/// `stubborn_answers_total{source="stale"}`.
fn stale_metric(stubborn: &Stubborn) -> f64 {
    stubborn.metric("stubborn_answers_total{source=\"stale\"}")
}

/// Says where the kept files are, once every process has stopped.
fn say_kept(out: &mut dyn Write, kept: Option<PathBuf>) {
    if let Some(dir) = kept {
        say(out, &format!("kept: {} (configs, zone and logs, a directory each process)", dir.display()));
    }
}

/// Runs the drill, writing progress and the report to `out`.
pub fn run(options: &Options, out: &mut dyn Write) -> anyhow::Result<Report> {
    let Setup { names, mut knot, kept: kept_in } = Setup::new(options)?;
    let stubborn = start_stubborn("stubborn", knot.addr, false, None);
    let plain = start_stubborn("plain", knot.addr, true, None);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("start tokio")?;

    say(
        out,
        &format!(
            "stubborn outage drill: {} names (TTL {RECORD_TTL} s) served by knotd on {}; outage {} s",
            options.names,
            knot.addr,
            options.outage.as_secs()
        ),
    );
    say(
        out,
        &format!(
            "  stubborn        on {} (admin {}): serve_stale = true, the defaults\n  plain forwarder on {} (admin {}): serve_stale = false, keep_positive = \"0s\"",
            stubborn.dns, stubborn.admin, plain.dns, plain.admin
        ),
    );

    // --- warm-up: every name once, through both.
    let (ok_s, ok_p) =
        runtime.block_on(async { tokio::join!(warm_up(stubborn.dns, &names), warm_up(plain.dns, &names)) });
    say(
        out,
        &format!(
            "warm-up: stubborn answered {ok_s}/{n}, plain forwarder {ok_p}/{n} (fresh from knotd)",
            n = names.len()
        ),
    );
    if ok_s != names.len() || ok_p != names.len() {
        bail!(
            "warm-up failed: not every name resolved through both resolvers\n{}\n{}",
            stubborn.log_tail(30),
            plain.log_tail(30)
        );
    }
    let flooded = if options.flood > 0 {
        Some(flood_stubborn(&stubborn, options.flood, options.flood_shape, out)?)
    } else {
        None
    };
    let wait = Duration::from_secs(u64::from(RECORD_TTL) + 1);
    say(out, &format!("waiting {} s for every record's TTL ({RECORD_TTL} s) to run out", wait.as_secs()));
    std::thread::sleep(wait);

    // --- the outage.
    let stale_before = (stale_metric(&stubborn), stale_metric(&plain));
    knot.stop();
    let outage_start = Instant::now();
    say(
        out,
        &format!(
            "t=+0.0s  knotd killed (SIGKILL); asking for every name every {} s for {} s",
            ROUND_INTERVAL.as_secs(),
            options.outage.as_secs()
        ),
    );
    let mut report = Report { names: names.len(), flood: flooded, ..Report::default() };
    let mut always_s = vec![true; names.len()];
    let mut always_p = vec![true; names.len()];
    let max_rounds = (options.outage.as_millis() / ROUND_INTERVAL.as_millis()) as usize + 1;
    for k in 0..max_rounds {
        let start = outage_start + ROUND_INTERVAL * k as u32;
        if start >= outage_start + options.outage {
            break;
        }
        sleep_until(start);
        let (s, p) = runtime.block_on(async { tokio::join!(round(stubborn.dns, &names), round(plain.dns, &names)) });
        if k == 0 {
            report.stubborn.first_latencies = sorted_latencies(&s);
            report.plain.first_latencies = sorted_latencies(&p);
        }
        tally(&mut report.stubborn, &mut always_s, &s);
        tally(&mut report.plain, &mut always_p, &p);
        report.rounds += 1;
        say(
            out,
            &format!(
                "t=+{:4.1}s  round {:2}: stubborn {:>4}/{} answered ({} stale) | plain forwarder {:>4}/{} answered ({} SERVFAIL)",
                start.duration_since(outage_start).as_secs_f64(),
                k + 1,
                s.iter().filter(|o| o.answered).count(),
                names.len(),
                s.iter().filter(|o| o.stale).count(),
                p.iter().filter(|o| o.answered).count(),
                names.len(),
                p.iter().filter(|o| o.rcode == Some(ResponseCode::ServFail)).count(),
            ),
        );
    }
    report.stubborn.names_always_answered = always_s.iter().filter(|a| **a).count();
    report.plain.names_always_answered = always_p.iter().filter(|a| **a).count();
    report.stubborn.stale_metric = stale_metric(&stubborn) - stale_before.0;
    report.plain.stale_metric = stale_metric(&plain) - stale_before.1;

    // --- recovery.
    sleep_until(outage_start + options.outage);
    knot.start_again();
    let back = Instant::now();
    report.outage = back.duration_since(outage_start);
    say(out, &format!("t=+{:4.1}s  knotd started again and serving", report.outage.as_secs_f64()));
    if options.recovery {
        // Names are asked again as soon as the probe sees knotd back, and at
        // the latest FAILURE_RECHECK after their failed refresh: wait that long, and a bit more.
        let deadline = (outage_start + FAILURE_RECHECK).max(back) + RECOVERY_GRACE;
        let mut last_fresh = usize::MAX;
        while Instant::now() < deadline {
            let asked = Instant::now();
            let s = runtime.block_on(round(stubborn.dns, &names));
            let fresh = s.iter().filter(|o| o.answered && !o.stale).count();
            let stale = s.iter().filter(|o| o.stale).count();
            if fresh > 0 && report.first_fresh_after.is_none() {
                report.first_fresh_after = Some(asked.duration_since(back));
            }
            if fresh != last_fresh {
                let t = asked.duration_since(outage_start).as_secs_f64();
                say(out, &format!("t=+{t:4.1}s  recovery: stubborn {fresh}/{} fresh ({stale} stale)", names.len()));
                last_fresh = fresh;
            }
            if fresh == names.len() {
                report.all_fresh_after = Some(asked.duration_since(back));
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        report.recovery_measured = true;
    }

    say(out, &render(&report));
    drop((stubborn, plain, knot));
    say_kept(out, kept_in);
    Ok(report)
}

/// The final report, as printed.
pub fn render(r: &Report) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "\n== report ==");
    let _ = writeln!(
        t,
        "outage: knotd down {:.1} s; {} rounds, each asking for all {} names (every record expired before the outage)",
        r.outage.as_secs_f64(),
        r.rounds,
        r.names
    );
    if let Some(f) = &r.flood {
        let c = &f.counts;
        let _ = writeln!(
            t,
            "flood before the outage: --flood-shape {}: {} unique names {}\n  \
             {} queries in {:.1} s ({:.0}/s); replies by RCODE: {} NOERROR, {} NXDOMAIN, {} SERVFAIL, {} other; {} without a reply\n  \
             stubborn RSS {:.1} MiB before, {:.1} MiB after; {} cache entries after; \
             evictions: {} negative, {} positive",
            f.shape.label(),
            f.names,
            f.shape.describe(),
            c.sent,
            f.took.as_secs_f64(),
            c.sent as f64 / f.took.as_secs_f64(),
            c.noerror,
            c.nxdomain,
            c.servfail,
            c.other,
            c.sent.saturating_sub(c.replies()),
            f.rss_before,
            f.rss_after,
            f.entries_after,
            f.negative_evictions,
            f.positive_evictions
        );
    }
    for (title, side) in [
        ("stubborn (serve_stale = true, the default):", &r.stubborn),
        ("plain forwarder, the same run with serve_stale = false and keep_positive = \"0s\":", &r.plain),
    ] {
        let _ = writeln!(t, "{title}");
        let _ = writeln!(
            t,
            "  answered during the outage:  {}/{} queries ({:.1} %); {}/{} names answered in every round ({:.1} %)",
            side.answered,
            side.asked,
            side.answered_percent(),
            side.names_always_answered,
            r.names,
            percent(side.names_always_answered, r.names)
        );
        let _ = writeln!(
            t,
            "  first-answer latency:        median {}, max {} (each name's first query after knotd died; {IN_FLIGHT} in flight at once)",
            ms(median(&side.first_latencies)),
            ms(side.first_latencies.last().copied())
        );
        let _ = writeln!(
            t,
            "  stale answers:               {} replies with EDE 3 (Stale Answer); stubborn_answers_total{{source=\"stale\"}} +{}",
            side.stale_replies, side.stale_metric
        );
        let _ = writeln!(
            t,
            "  failures:                    {} SERVFAIL, {} without any reply",
            side.servfail, side.no_reply
        );
    }
    if r.recovery_measured {
        let _ = writeln!(
            t,
            "recovery: first fresh answer {} after knotd was back, every name fresh after {}\n          \
             (the background probe sees knotd again; names whose refresh failed during the outage\n          \
             are asked again at once instead of after RFC 8767's {} s failure recheck timer)",
            secs(r.first_fresh_after),
            secs(r.all_fresh_after),
            FAILURE_RECHECK.as_secs()
        );
    } else {
        let _ = writeln!(t, "recovery: not measured");
    }
    let verdict = if r.passed() { "PASS" } else { "FAIL" };
    let _ = write!(
        t,
        "RESULT: {verdict}: stubborn answered {:.1} % of the queries during a {:.0} s outage; a plain forwarder {:.1} %",
        r.stubborn.answered_percent(),
        r.outage.as_secs_f64(),
        r.plain.answered_percent()
    );
    t
}

// === a new node mid-outage (--new-node)

/// The share of names a node started mid-outage must answer correctly.
pub const NEW_NODE_GOAL: f64 = 99.0;

/// The two outages a new node is started into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// The authoritative's address reads nothing and answers nothing.
    Silent,
    /// The zone published again without the records: NXDOMAIN for every name.
    EmptyRecords,
}

impl Outage {
    fn label(self) -> &'static str {
        match self {
            Outage::Silent => "silent outage",
            Outage::EmptyRecords => "empty-record outage",
        }
    }
}

/// What one new node answered during an outage.
#[derive(Clone, Debug, Default)]
pub struct NewSide {
    /// Queries sent.
    pub asked: usize,
    /// Answered NOERROR with exactly the name's own address.
    pub correct: usize,
    /// Correct answers in the first round, asked as soon as the node was ready.
    pub first_round_correct: usize,
    /// Replies carrying EDE 3 "Stale Answer".
    pub stale_replies: usize,
    pub servfail: usize,
    pub nxdomain: usize,
    /// Queries with no reply at all (after every attempt).
    pub no_reply: usize,
    /// Latency of each name's first query, sorted.
    pub first_latencies: Vec<Duration>,
    /// `stubborn_answers_total{source="fleet"}` at the end: answers read
    /// from the store where the node had nothing else.
    pub from_fleet: f64,
    /// `stubborn_answers_total{source="kept_positive"}` at the end: records
    /// (its own or the store's) kept over an empty answer.
    pub kept_positive: f64,
}

impl NewSide {
    pub fn correct_percent(&self) -> f64 {
        percent(self.correct, self.asked)
    }

    fn tally(&mut self, outcomes: &[Outcome], first: bool) {
        for (i, o) in outcomes.iter().enumerate() {
            let correct = o.is_correct(i);
            self.asked += 1;
            self.correct += usize::from(correct);
            self.first_round_correct += usize::from(first && correct);
            self.stale_replies += usize::from(o.stale);
            self.servfail += usize::from(o.rcode == Some(ResponseCode::ServFail));
            self.nxdomain += usize::from(o.rcode == Some(ResponseCode::NXDomain));
            self.no_reply += usize::from(o.rcode.is_none());
        }
        if first {
            self.first_latencies = sorted_latencies(outcomes);
        }
    }
}

/// One outage of the new-node drill.
#[derive(Clone, Debug)]
pub struct NewNodeOutage {
    pub outage: Outage,
    pub rounds: usize,
    /// The node started mid-outage with `[fleet]`.
    pub fleet: NewSide,
    /// The node started beside it without `[fleet]`.
    pub alone: NewSide,
    /// Empty-record outage: the names each warmed node answered with the
    /// last good records when first asked after the change.
    pub warmed_kept: Option<(usize, usize)>,
}

/// What the new-node drill measured.
#[derive(Clone, Debug)]
pub struct NewNodeReport {
    pub names: usize,
    /// Answers the two warmed nodes had written to the store before the outage.
    pub published: f64,
    pub silent: NewNodeOutage,
    pub empty: NewNodeOutage,
}

impl NewNodeReport {
    /// The node with `[fleet]` answered at least [`NEW_NODE_GOAL`] % of the
    /// names correctly in both outages.
    pub fn passed(&self) -> bool {
        [&self.silent, &self.empty].iter().all(|o| o.fleet.asked > 0 && o.fleet.correct_percent() >= NEW_NODE_GOAL)
    }
}

/// The new-node drill: a redis-server and knotd on loopback, two stubborns
/// with `[fleet]` warmed on the names (each asks half of them), then two
/// outages; in each, a stubborn with `[fleet]` and one without are started
/// with empty caches and asked for every name every [`ROUND_INTERVAL`]
/// for `options.outage`:
///
/// 1. silent: knotd killed and its address blackholed (a UDP socket and a
///    TCP listener that never read);
/// 2. empty records: knotd back with the zone published again without the
///    names (NXDOMAIN); the warmed nodes are asked first, as they would be
///    in a running fleet.
pub fn run_new_node(options: &Options, out: &mut dyn Write) -> anyhow::Result<NewNodeReport> {
    let Setup { names, mut knot, kept: kept_in } = Setup::new(options)?;
    let redis = Redis::start();
    let key_dir = scratch::temp_dir("fleet-key");
    let key_file = key_dir.path().join("fleet.key");
    fs::write(&key_file, rand::random::<[u8; 32]>()).context("write the fleet key")?;
    let upstream = knot.addr;
    let fleet = format!("[fleet]\nstore = [\"{}\"]\nkey_file = \"{}\"\n", redis.url(), key_file.display());
    let node = |name: &str, with_fleet: bool| start_stubborn(name, upstream, false, with_fleet.then_some(&*fleet));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("start tokio")?;

    say(
        out,
        &format!(
            "stubborn new-node drill: {} names (TTL {RECORD_TTL} s) served by knotd on {}; a fleet store (redis-server) on {}; each outage {} s",
            options.names,
            knot.addr,
            redis.addr(),
            options.outage.as_secs()
        ),
    );
    let a = node("fleet-a", true);
    let b = node("fleet-b", true);
    say(
        out,
        &format!(
            "  warmed nodes fleet-a on {} and fleet-b on {}: [fleet] with key_file, the defaults otherwise",
            a.dns, b.dns
        ),
    );

    // --- warm-up: fleet-a asks the even names, fleet-b the odd ones.
    let (even, odd): (Vec<usize>, Vec<usize>) = (0..names.len()).partition(|i| i % 2 == 0);
    let pick = |indices: &[usize]| indices.iter().map(|&i| names[i].clone()).collect::<Vec<_>>();
    let (even_names, odd_names) = (pick(&even), pick(&odd));
    let (warm_a, warm_b) =
        runtime.block_on(async { tokio::join!(round(a.dns, &even_names), round(b.dns, &odd_names)) });
    let right = |outcomes: &[Outcome], indices: &[usize]| {
        outcomes.iter().zip(indices).filter(|&(o, &i)| o.is_correct(i)).count()
    };
    let (ok_a, ok_b) = (right(&warm_a, &even), right(&warm_b, &odd));
    say(
        out,
        &format!(
            "warm-up: fleet-a answered {ok_a}/{} names, fleet-b {ok_b}/{} (fresh from knotd)",
            even.len(),
            odd.len()
        ),
    );
    if ok_a != even.len() || ok_b != odd.len() {
        bail!("warm-up failed: not every name resolved\n{}\n{}", a.log_tail(30), b.log_tail(30));
    }
    let published = || {
        let ok = "stubborn_fleet_published_total{result=\"ok\"}";
        a.metric(ok) + b.metric(ok)
    };
    // At the default publish_rate (1000 a second) every name is written within names/1000 s.
    let deadline = Instant::now() + Duration::from_secs(10 + names.len() as u64 / 1000);
    while published() < names.len() as f64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let published = published();
    say(out, &format!("published: {published} answers written to the store by fleet-a and fleet-b"));
    if published < names.len() as f64 {
        bail!(
            "the warmed nodes published {published} of {} answers\n{}\n{}",
            names.len(),
            a.log_tail(30),
            b.log_tail(30)
        );
    }

    // --- 1. the silent outage.
    knot.stop();
    let blackhole =
        FakeUpstream::start_at(knot.addr, Mode::Blackhole).with_context(|| format!("blackhole {}", knot.addr))?;
    say(
        out,
        &format!(
            "\n-- silent outage: knotd killed, {} blackholed (UDP and TCP: nothing read, nothing answered)",
            knot.addr
        ),
    );
    let silent = new_nodes(&node, Outage::Silent, &names, options.outage, &runtime, out);
    drop(blackhole);

    // --- 2. the empty-record outage: the provider's mistake, the zone
    // published again (the next serial) without any hostN record.
    knot.set_records(&zone_records(0));
    knot.start_again();
    say(
        out,
        &format!(
            "\n-- empty-record outage: knotd serving again, the zone published without the {} records (NXDOMAIN)",
            names.len()
        ),
    );
    let (kept_a, kept_b) = runtime.block_on(async { tokio::join!(round(a.dns, &names), round(b.dns, &names)) });
    let kept = |outcomes: &[Outcome]| outcomes.iter().enumerate().filter(|&(i, o)| o.is_correct(i)).count();
    let warmed_kept = (kept(&kept_a), kept(&kept_b));
    say(
        out,
        &format!(
            "warmed nodes, first ask after the change: fleet-a {}/{n}, fleet-b {}/{n} answered with the last good records",
            warmed_kept.0,
            warmed_kept.1,
            n = names.len()
        ),
    );
    let mut empty = new_nodes(&node, Outage::EmptyRecords, &names, options.outage, &runtime, out);
    empty.warmed_kept = Some(warmed_kept);

    let report = NewNodeReport { names: names.len(), published, silent, empty };
    say(out, &render_new_node(&report));
    drop((a, b, knot, redis));
    say_kept(out, kept_in);
    Ok(report)
}

/// Starts a node with `[fleet]` and one without, with empty caches, and asks
/// both for every name every [`ROUND_INTERVAL`] for `outage`.
fn new_nodes(
    node: &dyn Fn(&str, bool) -> Stubborn,
    outage: Outage,
    names: &[String],
    duration: Duration,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
) -> NewNodeOutage {
    let tag = match outage {
        Outage::Silent => "silent",
        Outage::EmptyRecords => "empty",
    };
    let start = Instant::now();
    // The node with [fleet] last, so that it is asked the moment it is ready,
    // as a Service sends a pod traffic once its readiness probe passes.
    let alone = node(&format!("new-{tag}-alone"), false);
    let with = node(&format!("new-{tag}-fleet"), true);
    say(
        out,
        &format!(
            "t=+{:4.1}s  new nodes started, empty caches: with [fleet] on {}, without on {}; asked at once",
            start.elapsed().as_secs_f64(),
            with.dns,
            alone.dns
        ),
    );
    let mut report =
        NewNodeOutage { outage, rounds: 0, fleet: NewSide::default(), alone: NewSide::default(), warmed_kept: None };
    let first = Instant::now();
    let max_rounds = (duration.as_millis() / ROUND_INTERVAL.as_millis()) as usize + 1;
    for k in 0..max_rounds {
        let at = first + ROUND_INTERVAL * k as u32;
        if at >= first + duration {
            break;
        }
        sleep_until(at);
        let (f, l) = runtime.block_on(async { tokio::join!(round(with.dns, names), round(alone.dns, names)) });
        report.fleet.tally(&f, k == 0);
        report.alone.tally(&l, k == 0);
        report.rounds += 1;
        let correct = |o: &[Outcome]| o.iter().enumerate().filter(|&(i, o)| o.is_correct(i)).count();
        let rcode = |o: &[Outcome], r: ResponseCode| o.iter().filter(|o| o.rcode == Some(r)).count();
        say(
            out,
            &format!(
                "t=+{:4.1}s  round {:2}: new node with [fleet] {:>4}/{} correct ({} stale) | without {:>4}/{} ({} SERVFAIL, {} NXDOMAIN)",
                at.duration_since(start).as_secs_f64(),
                k + 1,
                correct(&f),
                names.len(),
                f.iter().filter(|o| o.stale).count(),
                correct(&l),
                names.len(),
                rcode(&l, ResponseCode::ServFail),
                rcode(&l, ResponseCode::NXDomain),
            ),
        );
    }
    for (side, node) in [(&mut report.fleet, &with), (&mut report.alone, &alone)] {
        side.from_fleet = node.metric("stubborn_answers_total{source=\"fleet\"}");
        side.kept_positive = node.metric("stubborn_answers_total{source=\"kept_positive\"}");
    }
    report
}

/// The new-node drill's report, as printed.
pub fn render_new_node(r: &NewNodeReport) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "\n== report ==");
    let _ = writeln!(
        t,
        "{} names warmed on two stubborns with [fleet] (each asked half of them; {} answers in the store); \
         in each outage a node with an empty cache started mid-outage",
        r.names, r.published
    );
    for o in [&r.silent, &r.empty] {
        let what = match o.outage {
            Outage::Silent => "knotd killed and its address blackholed",
            Outage::EmptyRecords => "the zone published again without the records: NXDOMAIN",
        };
        let _ = writeln!(t, "{} ({what}; {} rounds of {} names):", o.outage.label(), o.rounds, r.names);
        if let Some((ka, kb)) = o.warmed_kept {
            let _ = writeln!(
                t,
                "  warmed nodes:              fleet-a {ka}/{n}, fleet-b {kb}/{n} kept the last good records",
                n = r.names
            );
        }
        for (title, side) in [("new node with [fleet]:   ", &o.fleet), ("new node without [fleet]:", &o.alone)] {
            let _ = writeln!(
                t,
                "  {title} {}/{} correct ({:.1} %), first round {}/{}; first answers median {}, max {}; \
                 {} stale (EDE 3); answers by source: fleet {}, kept_positive {}; {} SERVFAIL, {} NXDOMAIN, {} without a reply",
                side.correct,
                side.asked,
                side.correct_percent(),
                side.first_round_correct,
                r.names,
                ms(median(&side.first_latencies)),
                ms(side.first_latencies.last().copied()),
                side.stale_replies,
                side.from_fleet,
                side.kept_positive,
                side.servfail,
                side.nxdomain,
                side.no_reply
            );
        }
    }
    let verdict = if r.passed() { "PASS" } else { "FAIL" };
    let _ = write!(
        t,
        "RESULT: {verdict}: a node started mid-outage with [fleet] answered {:.1} % of the names correctly in a silent outage \
         and {:.1} % in an empty-record outage (goal >= {NEW_NODE_GOAL} %); without [fleet] {:.1} % and {:.1} %",
        r.silent.fleet.correct_percent(),
        r.empty.fleet.correct_percent(),
        r.silent.alone.correct_percent(),
        r.empty.alone.correct_percent()
    );
    t
}

// === flooding

/// Sends `count` unique names of `shape` to stubborn, in ten steps with a
/// progress line each: ten tenths of the names (`answered-twice`: each
/// asked twice back to back), or for `answered-10x` ten rounds of every
/// name, spread over [`FLOOD_SPREAD`]. Bounded by [`FLOOD_LIMIT`].
fn flood_stubborn(stubborn: &Stubborn, count: usize, shape: FloodShape, out: &mut dyn Write) -> anyhow::Result<Flood> {
    let evictions = |kind: &str| stubborn.metric(&format!("stubborn_cache_evictions_total{{kind=\"{kind}\"}}"));
    let rss_mib = || stubborn.memory_kib("VmRSS") as f64 / 1024.0;
    let (negative_before, positive_before) = (evictions("negative"), evictions("positive"));
    let mut f = Flood { shape, rss_before: rss_mib(), ..Flood::default() };
    let start = Instant::now();
    let deadline = start + FLOOD_LIMIT;
    let step = count.div_ceil(10);
    let back_to_back = if shape == FloodShape::AnsweredTwice { 2 } else { 1 };
    for k in 0..10 {
        // (names, not before): a tenth of the names at once, or every name in round k.
        let (range, not_before) = if shape == FloodShape::Answered10x {
            (0..count, start + FLOOD_SPREAD * k / 9)
        } else {
            ((k as usize * step).min(count)..((k as usize + 1) * step).min(count), start)
        };
        if range.is_empty() || not_before >= deadline || Instant::now() >= deadline {
            break;
        }
        sleep_until(not_before);
        f.names = f.names.max(range.end);
        f.counts.add(flood(stubborn.dns, range, shape.zone(), back_to_back, deadline)?);
        let entries = stubborn.metric("stubborn_cache_entries");
        let round = if shape == FloodShape::Answered10x { format!("round {}/10: ", k + 1) } else { String::new() };
        say(
            out,
            &format!(
                "flood: {round}{}/{count} names, {} queries sent in {:.1} s, {} NOERROR and {} NXDOMAIN replies; stubborn RSS {:.1} MiB, {entries} cache entries",
                f.names,
                f.counts.sent,
                start.elapsed().as_secs_f64(),
                f.counts.noerror,
                f.counts.nxdomain,
                rss_mib()
            ),
        );
    }
    f.took = start.elapsed();
    f.rss_after = rss_mib();
    f.entries_after = stubborn.metric("stubborn_cache_entries");
    f.negative_evictions = evictions("negative") - negative_before;
    f.positive_evictions = evictions("positive") - positive_before;
    Ok(f)
}

/// Sends the names numbered `range` under `zone` from
/// [`FLOOD_THREADS`] sockets, [`FLOOD_WINDOW`] in flight on each; each
/// window is sent `back_to_back` times, each time once the replies to the
/// last came (or 2 s passed). Returns the queries sent and the replies by RCODE.
fn flood(
    server: SocketAddr,
    range: std::ops::Range<usize>,
    zone: &'static str,
    back_to_back: usize,
    deadline: Instant,
) -> io::Result<FloodCounts> {
    let threads: Vec<_> = (0..FLOOD_THREADS)
        .map(|t| {
            let names: Vec<usize> = range.clone().skip(t).step_by(FLOOD_THREADS).collect();
            std::thread::spawn(move || -> io::Result<FloodCounts> {
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.connect(server)?;
                socket.set_read_timeout(Some(Duration::from_secs(2)))?;
                let (mut counts, mut buf) = (FloodCounts::default(), [0u8; 1500]);
                for window in names.chunks(FLOOD_WINDOW) {
                    if Instant::now() > deadline {
                        break;
                    }
                    for _ in 0..back_to_back {
                        for &i in window {
                            socket.send(&dns::raw_query(i as u16, 0x0100, 1, &format!("f{i}.{zone}"), 1))?;
                            counts.sent += 1;
                        }
                        for _ in window {
                            let Ok(n) = socket.recv(&mut buf) else { break };
                            counts.count(&buf[..n]);
                        }
                    }
                }
                Ok(counts)
            })
        })
        .collect();
    let mut total = FloodCounts::default();
    for thread in threads {
        total.add(thread.join().map_err(|_| io::Error::other("a flood thread panicked"))??);
    }
    Ok(total)
}

// === asking

/// The outcome of one query (with its retry).
#[derive(Clone, Debug)]
struct Outcome {
    /// NOERROR with an A record.
    answered: bool,
    /// The A records' addresses.
    addresses: Vec<Ipv4Addr>,
    /// The reply carried EDE 3.
    stale: bool,
    rcode: Option<ResponseCode>,
    /// From the first send to the reply (or to giving up).
    latency: Duration,
}

impl Outcome {
    /// The answer of `hostI`: NOERROR with exactly its address.
    fn is_correct(&self, i: usize) -> bool {
        self.answered && self.addresses == [host_address(i)]
    }
}

/// Asks `server` for the A record of every name, at most [`IN_FLIGHT`] at once.
/// Asks `server` for every name of `names`, then up to [`WARM_UP_RETRIES`]
/// times, a second apart, for those not answered yet (knotd can drop some
/// of a first burst of thousands, and the resolver then counts it down
/// until its next probe): how many names were answered.
async fn warm_up(server: SocketAddr, names: &[String]) -> usize {
    let mut missed = names.to_vec();
    for attempt in 0..=WARM_UP_RETRIES {
        if attempt > 0 {
            if missed.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let outcomes = round(server, &missed).await;
        missed = missed.into_iter().zip(outcomes).filter(|(_, o)| !o.answered).map(|(name, _)| name).collect();
    }
    names.len() - missed.len()
}

/// Further rounds of a warm-up for the names not answered yet.
const WARM_UP_RETRIES: usize = 3;

async fn round(server: SocketAddr, names: &[String]) -> Vec<Outcome> {
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let Ok(permit) = limit.clone().acquire_owned().await else { break };
        let name = name.clone();
        tasks.spawn(async move {
            let outcome = ask(server, &name).await;
            drop(permit);
            (i, outcome)
        });
    }
    let mut outcomes = vec![None; names.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((i, outcome)) = done {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or(Outcome {
                answered: false,
                addresses: Vec::new(),
                stale: false,
                rcode: None,
                latency: CLIENT_TIMEOUT * CLIENT_ATTEMPTS,
            })
        })
        .collect()
}

/// One A query with EDNS over UDP, like a stub resolver: [`CLIENT_ATTEMPTS`]
/// tries of [`CLIENT_TIMEOUT`] each.
async fn ask(server: SocketAddr, name: &str) -> Outcome {
    let start = Instant::now();
    for _ in 0..CLIENT_ATTEMPTS {
        if let Ok(Some(reply)) = tokio::time::timeout(CLIENT_TIMEOUT, exchange(server, name)).await {
            let addresses: Vec<Ipv4Addr> =
                reply.answers.iter().filter_map(|r| if let RData::A(a) = &r.data { Some(a.0) } else { None }).collect();
            let answered = reply.metadata.response_code == ResponseCode::NoError && !addresses.is_empty();
            return Outcome {
                answered,
                addresses,
                stale: dns::ede(&reply).iter().any(|&(code, _)| code == EDE_STALE_ANSWER),
                rcode: Some(reply.metadata.response_code),
                latency: start.elapsed(),
            };
        }
    }
    Outcome { answered: false, addresses: Vec::new(), stale: false, rcode: None, latency: start.elapsed() }
}

/// Sends one query (the harness's: RD, EDNS with a 1232-octet payload) and
/// waits for the reply with its ID; `None` on a socket error.
async fn exchange(server: SocketAddr, name: &str) -> Option<Message> {
    let query = Ask::new(name, RecordType::A).message();
    let id = query.metadata.id;
    let wire = query.to_vec().ok()?;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
    socket.send_to(&wire, server).await.ok()?;
    let mut buf = vec![0u8; 4096];
    // Bounded by the caller's timeout; skips anything that is not our reply.
    loop {
        let (n, from) = socket.recv_from(&mut buf).await.ok()?;
        if from != server {
            continue;
        }
        if let Ok(reply) = Message::from_vec(&buf[..n])
            && reply.metadata.id == id
        {
            return Some(reply);
        }
    }
}

fn tally(side: &mut Side, always: &mut [bool], outcomes: &[Outcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        side.asked += 1;
        side.answered += usize::from(o.answered);
        side.stale_replies += usize::from(o.stale);
        side.servfail += usize::from(o.rcode == Some(ResponseCode::ServFail));
        side.no_reply += usize::from(o.rcode.is_none());
        always[i] &= o.answered;
    }
}

fn sorted_latencies(outcomes: &[Outcome]) -> Vec<Duration> {
    let mut v: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
    v.sort();
    v
}

// === the zone

/// `hostN`'s address, from 198.18.0.0/15 (RFC 2544, benchmarking): data
/// only, never contacted.
fn host_address(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18 + ((i >> 16) % 2) as u8, ((i >> 8) & 0xff) as u8, (i & 0xff) as u8)
}

/// The zone's records: `host0` .. `host{names-1}`, each an A record with
/// TTL [`RECORD_TTL`], and the wildcard `*.w` that answers the answered floods.
fn zone_records(names: usize) -> String {
    let mut zone = format!("*.w {WILDCARD_TTL} IN A {WILDCARD_ADDR}\n");
    for i in 0..names {
        let _ = writeln!(zone, "host{i} {RECORD_TTL} IN A {}", host_address(i));
    }
    zone
}

// === small things

fn say(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        std::thread::sleep(when - now);
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

fn median(sorted: &[Duration]) -> Option<Duration> {
    sorted.get(sorted.len() / 2).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "never (within the wait)".to_string(), |d| format!("{:.2} s", d.as_secs_f64()))
}
