//! Scenario: during an outage an operator opens the status page (`GET /` on
//! the admin endpoint) in a real browser, headless Chromium (Debian's
//! `chromium`; scripts/test installs it). Of two upstreams the first is a
//! blackhole, so it is down; a name with a 1 s TTL is cached and then its
//! authoritative (Knot) is stopped, so it is answered stale. The page as the
//! browser rendered it (`--dump-dom`) names the down upstream in a row that
//! says down, the stale name in a row that says stale, the service, and
//! has the answers chart; and the browser needed no script for it.
//!
//! With `STATUS_PAGE_SCREENSHOT=1` the test first sends a few minutes of
//! varied traffic, so that the chart has history, and then writes the
//! screenshot shown in the README (`docs/status-page.png`, 1200x900):
//!
//! ```sh
//! STATUS_PAGE_SCREENSHOT=1 scripts/test status_page -- --nocapture
//! ```
//!
//! (The committed file was then shrunk with `pngquant --quality=80-95`.)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use stubborn_test_support::cloud::{AWS_NAME, GCP_NAME, SERVICE, ServiceSpec, target_zone};
use stubborn_test_support::process::output_within;
use stubborn_test_support::wait::sleep_until;
use stubborn_test_support::{Ask, Config, FakeUpstream, Knot, Mode, Stubborn};

const WEB: &str = "web.example.test.";
/// Names answered stale once their authoritative is gone (1 s TTLs).
const SHORT_LIVED: [&str; 3] = [WEB, "mail.example.test.", "shop.example.test."];
/// How long one run of the browser may take.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

fn zone() -> String {
    format!(
        "web 1 IN A 192.0.2.80\nmail 1 IN A 192.0.2.25\nshop 1 IN A 192.0.2.44\nwww 300 IN A 192.0.2.10\n\
         * 300 IN A 192.0.2.1\n{}",
        target_zone(300)
    )
}

/// Debian's `chromium` on PATH, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `args`, in a profile of its own,
/// within [`BROWSER_LIMIT`]; returns its stdout.
fn browse(chromium: &PathBuf, args: &[&str], url: &str) -> String {
    let profile = tempfile::Builder::new().prefix("stubborn-chromium-").tempdir().expect("chromium profile dir");
    let mut command = Command::new(chromium);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check"])
        // Loopback only: no update checks, no sync, no proxy in the way.
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-proxy-server"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url);
    let output = output_within(&mut command, BROWSER_LIMIT).unwrap_or_else(|e| panic!("chromium: {e}"));
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("chromium prints UTF-8")
}

/// The table row of the rendered page that holds `text`.
fn row_of<'a>(dom: &'a str, text: &str) -> &'a str {
    let at = dom.find(text).unwrap_or_else(|| panic!("{text} not on the page:\n{dom}"));
    let start = dom[..at].rfind("<tr").unwrap_or_else(|| panic!("{text} is not in a table row:\n{dom}"));
    let end = at + dom[at..].find("</tr>").expect("rows are closed");
    &dom[start..end]
}

#[test]
fn browser_shows_the_down_upstream_and_the_stale_name() {
    let Some(chromium) = chromium() else {
        eprintln!("SKIPPED: chromium not found on PATH (scripts/test installs it: apt-get install chromium)");
        return;
    };
    let screenshot = std::env::var_os("STATUS_PAGE_SCREENSHOT").is_some_and(|v| v == "1");
    let dead = FakeUpstream::start(Mode::Blackhole);
    let mut knot = Knot::start(&zone());
    let stubborn = Stubborn::start(
        Config::new(&[dead.server(), knot.server()]).append(&ServiceSpec::new(SERVICE, AWS_NAME, &[GCP_NAME]).toml()),
    );
    let up = format!("stubborn_upstream_up{{upstream=\"{}\"}}", dead.server());
    stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
    stubborn.wait_metric(&up, Duration::from_secs(3), |v| v == 0.0);
    if screenshot {
        traffic(&stubborn, Duration::from_secs(150), 0);
    }
    for name in SHORT_LIVED {
        let fresh = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(fresh.ipv4s().len(), 1, "{}", fresh.summary());
    }
    let fetched = Instant::now();
    sleep_until(fetched, Duration::from_millis(1_500)); // past the 1 s TTL
    knot.stop();
    for name in SHORT_LIVED {
        let stale = stubborn.ask(&Ask::new(name, RecordType::A));
        assert_eq!(stale.answer_ttls(), vec![30], "stale: {}", stale.summary());
    }
    if screenshot {
        traffic(&stubborn, Duration::from_secs(40), 1_000_000);
    }

    let url = format!("http://{}/", stubborn.admin);
    let dom = browse(&chromium, &["--dump-dom"], &url);
    assert!(dom.contains("Degraded:"), "the banner says degraded:\n{dom}");
    let down = row_of(&dom, &dead.server());
    assert!(down.contains(">down<"), "the dead upstream's row says down: {down}");
    let stale = row_of(&dom, WEB);
    assert!(stale.contains(">stale<"), "the stale name's row says stale: {stale}");
    assert!(dom.contains(SERVICE), "the service is listed:\n{dom}");
    assert!(dom.contains("<svg") && dom.contains("Answers by source"), "the chart is there:\n{dom}");
    assert!(!dom.contains("<script"), "no script on the page:\n{dom}");

    if screenshot {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/status-page.png");
        let _ = std::fs::remove_file(path);
        browse(
            &chromium,
            &[
                &format!("--screenshot={path}"),
                "--window-size=1200,900",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ],
            &url,
        );
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot at {path}");
        eprintln!("wrote {path} ({size} bytes)");
    }
}

/// Sends queries for `length` at a rate that rises and falls: repeats of a
/// cached name, new names under the wildcard (upstream, or SERVFAIL during
/// the outage), the service, and the short-lived names (stale during the
/// outage). `first` numbers the new names, so that two calls ask different ones.
fn traffic(stubborn: &Stubborn, length: Duration, first: u64) {
    let start = Instant::now();
    let mut n = first;
    let mut tick = 0u64;
    while start.elapsed() < length {
        let per_tick = 1 + (tick / 25) % 6; // a new level every 5 s
        for _ in 0..per_tick {
            stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
            stubborn.ask(&Ask::new("www.example.test.", RecordType::A));
            n += 1;
            if n.is_multiple_of(3) {
                stubborn.ask(&Ask::new(&format!("n{n}.example.test."), RecordType::A));
            }
        }
        if tick.is_multiple_of(5) {
            stubborn.ask(&Ask::new(&format!("{SERVICE}."), RecordType::A));
            stubborn.ask(&Ask::new(SHORT_LIVED[(tick / 5) as usize % SHORT_LIVED.len()], RecordType::A));
        }
        tick += 1;
        sleep_until(start, Duration::from_millis(200 * tick));
    }
}
