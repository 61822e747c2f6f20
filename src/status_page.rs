//! The status page (`GET /` on the admin endpoint): the `/status` document
//! rendered as one HTML page for a person. Upstreams and their state,
//! degraded names, services, cache, the fleet store, and a chart of answers
//! by source over the last [`WINDOW`].
//!
//! The page is self-contained: inline CSS, an inline SVG chart, no script,
//! no external asset (the admin endpoint is often reached over an SSH
//! tunnel, with nothing else in reach), and a `<meta http-equiv="refresh">`
//! that reloads it every [`REFRESH_SECONDS`]. Bar segments carry a `<title>`,
//! so a browser shows their numbers on hover without JavaScript.
//!
//! Every string from the status document (upstream labels, names, errors,
//! the config path) is escaped ([`Escaped`]): a degraded name is whatever a
//! client asked for.
//!
//! The chart needs a little history: [`Sampler`] copies the
//! `stubborn_answers_total` counters into a ring of [`SAMPLES`] every
//! [`SAMPLE_EVERY`], and the page adds the counters of the moment as its
//! last point. Bars are answers per second between two points, so the
//! last, partial interval compares with the others.

use std::{
    collections::VecDeque,
    fmt::{self, Write as _},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::metrics::{Answers, Metrics, Source};

/// The `Content-Type` of the page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// The page reloads itself this often.
pub const REFRESH_SECONDS: u32 = 5;
/// How often the answer counters are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: [`WINDOW`] of intervals.
pub const SAMPLES: usize = 31;
/// What the chart spans: 5 minutes.
pub const WINDOW: Duration = Duration::from_secs(10 * (SAMPLES as u64 - 1));

/// The answer sources of `stubborn_answers_total`, stacked in this order
/// from the bottom of the chart, with their colours.
const SOURCES: [(&str, &str); 8] = [
    ("cache", "#2e8b57"),
    ("upstream", "#3b7dd8"),
    ("service", "#7b5cd6"),
    ("fleet", "#159a9c"),
    ("kept_positive", "#c9a227"),
    ("stale", "#e07b20"),
    ("servfail", "#d64545"),
    ("refused", "#8a8a8a"),
];

/// The answer counters at one moment, in [`SOURCES`] order.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    at: Instant,
    counts: [u64; SOURCES.len()],
}

impl Sample {
    /// The counters now.
    pub fn of(answers: &Answers) -> Sample {
        let sources = [
            Source::Cache,
            Source::Upstream,
            Source::Service,
            Source::Fleet,
            Source::KeptPositive,
            Source::Stale,
            Source::Servfail,
            Source::Refused,
        ];
        Sample { at: Instant::now(), counts: sources.map(|source| answers.get(source)) }
    }
}

/// The last [`SAMPLES`] samples, oldest first.
#[derive(Debug, Default)]
pub struct History(Mutex<VecDeque<Sample>>);

impl History {
    fn push(&self, sample: Sample) {
        let mut samples = self.0.lock().expect("no panics while held");
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The samples kept, then `now`: the chart's points.
    fn points(&self, now: Sample) -> Vec<Sample> {
        let samples = self.0.lock().expect("no panics while held");
        samples.iter().copied().chain([now]).collect()
    }
}

/// Samples the answer counters into a [`History`] every [`SAMPLE_EVERY`]
/// (the first at once) until dropped.
pub struct Sampler(JoinHandle<()>);

impl Sampler {
    /// Starts sampling; needs a Tokio runtime.
    pub fn start(history: Arc<History>, metrics: Arc<Metrics>) -> Sampler {
        Sampler(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SAMPLE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                history.push(Sample::of(&metrics.answers));
            }
        }))
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The page for `status` (the `/status` document), with the chart of
/// `history` up to the counters of `metrics` now.
pub fn page(status: &Value, history: &History, metrics: &Metrics) -> String {
    render(status, &history.points(Sample::of(&metrics.answers)), SystemTime::now())
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped: safe in HTML text and
/// in quoted attribute values, SVG included.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A JSON value as page text, escaped: a string as it is, null as a dash,
/// anything else as JSON.
struct Text<'a>(&'a Value);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::String(text) => Escaped(text).fmt(f),
            Value::Null => f.write_str("—"),
            other => Escaped(&other.to_string()).fmt(f),
        }
    }
}

/// An RFC 3339 time of the status document, and how long ago it was.
struct Since<'a>(&'a Value, SystemTime);

impl fmt::Display for Since<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(text) = self.0.as_str() else { return Text(self.0).fmt(f) };
        match humantime::parse_rfc3339(text).ok().and_then(|at| self.1.duration_since(at).ok()) {
            Some(ago) => write!(f, "{} <span class=\"dim\">({} ago)</span>", Escaped(text), Ago(ago)),
            None => Escaped(text).fmt(f),
        }
    }
}

/// A duration to the second, in its two largest units (`3m 12s`, `2h 5m`).
struct Ago(Duration);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            0..60 => write!(f, "{s}s"),
            60..3600 => write!(f, "{}m {}s", s / 60, s % 60),
            3600..86400 => write!(f, "{}h {}m", s / 3600, s % 3600 / 60),
            _ => write!(f, "{}d {}h", s / 86400, s % 86400 / 3600),
        }
    }
}

/// A byte count in binary units (`941.7 KiB`).
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = self.0 as f64;
        for unit in ["B", "KiB", "MiB", "GiB"] {
            if value < 1024.0 || unit == "GiB" {
                return if unit == "B" { write!(f, "{value} B") } else { write!(f, "{value:.1} {unit}") };
            }
            value /= 1024.0;
        }
        unreachable!("GiB ends the loop")
    }
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:12px 20px;max-width:1160px;color:#1d2125;background:#fff}
h1{font-size:22px;margin:0}h2{font-size:16px;margin:18px 0 6px}
header{display:flex;align-items:baseline;gap:14px;flex-wrap:wrap}
.dim{color:#6a737d}
.banner{padding:8px 12px;border-radius:6px;margin:10px 0;font-weight:600}
.banner.ok{background:#e6f4ea;color:#1e6b34}.banner.bad{background:#fdecea;color:#9b1c1c}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;color:#4a5560;background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff}
.up{background:#2e8b57}.down{background:#d64545}.warn{background:#c9a227}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 28px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 0;padding:0;list-style:none}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
svg text{font:11px system-ui,sans-serif;fill:#6a737d}
footer{margin-top:18px;color:#6a737d;font-size:12px}
";

/// The whole page for `status`, with the chart of `points`, as at `now`.
fn render(status: &Value, points: &[Sample], now: SystemTime) -> String {
    let degraded = &status["degraded"];
    let count = |list: &Value| list.as_array().map_or(0, Vec::len);
    let down = count(&degraded["upstreams_down"]);
    let names = count(&degraded["answers"]);
    let off_primary = count(&degraded["services_not_on_primary"]);
    let fleet_down = status.get("fleet").is_some_and(|fleet| fleet["up"] == false);
    let mut problems = Vec::new();
    if down > 0 {
        problems.push(format!("{down} of {} upstreams down", count(&status["upstreams"])));
    }
    if names > 0 {
        problems.push(format!("{names} names answered degraded"));
    }
    if off_primary > 0 {
        problems.push(format!("{off_primary} services not on their primary"));
    }
    if fleet_down {
        problems.push("fleet store down".into());
    }

    let mut out = String::with_capacity(16 * 1024);
    let title = if problems.is_empty() { "ok".to_string() } else { problems.join(", ") };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>stubborn: {}</title><style>{STYLE}</style></head><body>\n",
        Escaped(&title)
    );
    let _ = writeln!(
        out,
        "<header><h1>stubborn</h1><span class=\"dim\">{} · up {} · config {} (loaded {}) · as of {}</span></header>",
        Text(&status["version"]),
        Ago(Duration::from_secs(status["uptime_seconds"].as_u64().unwrap_or(0))),
        Text(&status["config"]["path"]),
        Text(&status["config"]["loaded"]),
        Escaped(&crate::admin::rfc3339(now)),
    );
    if problems.is_empty() {
        out.push_str("<p class=\"banner ok\">All well: every upstream up, no degraded answers.</p>\n");
    } else {
        let _ = writeln!(out, "<p class=\"banner bad\">Degraded: {}.</p>", Escaped(&problems.join("; ")));
    }
    upstreams(&mut out, &status["upstreams"], now);
    degraded_names(&mut out, &degraded["answers"], now);
    chart(&mut out, points);
    out.push_str("<div class=\"grid\"><div>\n");
    services(&mut out, &status["services"]);
    out.push_str("</div><div>\n");
    cache(&mut out, status);
    if let Some(fleet) = status.get("fleet") {
        fleet_store(&mut out, fleet, now);
    }
    out.push_str("</div></div>\n");
    let _ = write!(
        out,
        "<footer>Reloads every {REFRESH_SECONDS} s. The same as JSON: <a href=\"/status\">/status</a>; \
         Prometheus: <a href=\"/metrics\">/metrics</a>.</footer>\n</body></html>\n"
    );
    out
}

fn upstreams(out: &mut String, upstreams: &Value, now: SystemTime) {
    out.push_str(
        "<h2>Upstreams</h2><table><tr><th>upstream</th><th>zone</th><th>state</th><th>since</th>\
         <th class=\"num\">latency</th><th>last error</th></tr>\n",
    );
    for upstream in upstreams.as_array().into_iter().flatten() {
        let state = if upstream["up"] == true {
            "<span class=\"badge up\">up</span>"
        } else {
            "<span class=\"badge down\">down</span>"
        };
        let latency = upstream["latency_ms"].as_f64().map_or_else(|| "—".to_string(), |ms| format!("{ms:.1} ms"));
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td class=\"num\">{latency}</td><td>{}</td></tr>",
            Text(&upstream["upstream"]),
            Text(&upstream["zone"]),
            Since(&upstream["since"], now),
            Text(&upstream["last_error"]),
        );
    }
    out.push_str("</table>\n");
}

fn degraded_names(out: &mut String, answers: &Value, now: SystemTime) {
    out.push_str(
        "<h2>Degraded names <span class=\"dim\">(answered stale or kept-positive, last 10 minutes)</span></h2>\n",
    );
    let answers = answers.as_array().map_or(&[][..], Vec::as_slice);
    if answers.is_empty() {
        out.push_str("<p class=\"dim\">None.</p>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>name</th><th>type</th><th>reason</th><th>since</th><th>last</th>\
         <th class=\"num\">answers</th></tr>\n",
    );
    for answer in answers {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td><span class=\"badge warn\">{}</span></td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td></tr>",
            Text(&answer["name"]),
            Text(&answer["type"]),
            Text(&answer["reason"]),
            Since(&answer["since"], now),
            Since(&answer["last"], now),
            Text(&answer["count"]),
        );
    }
    out.push_str("</table>\n");
}

fn services(out: &mut String, services: &Value) {
    out.push_str("<h2>Services</h2>\n");
    let services = services.as_array().map_or(&[][..], Vec::as_slice);
    if services.is_empty() {
        out.push_str("<p class=\"dim\">None configured.</p>\n");
        return;
    }
    out.push_str("<table><tr><th>service</th><th>active</th><th>targets, primary first</th></tr>\n");
    for service in services {
        let targets = service["targets"].as_array().map_or(&[][..], Vec::as_slice);
        let primary = targets.first().map(|target| &target["target"]);
        let active = &service["active"];
        let on_primary = primary == Some(active);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}{}</td><td>",
            Text(&service["service"]),
            Text(active),
            if on_primary { "" } else { " <span class=\"badge warn\">not primary</span>" },
        );
        for (i, target) in targets.iter().enumerate() {
            let health = if target["healthy"] == true { "up" } else { "down" };
            let _ = write!(
                out,
                "{}{} <span class=\"badge {health}\">{}</span>",
                if i > 0 { "<br>" } else { "" },
                Text(&target["target"]),
                if target["healthy"] == true { "healthy" } else { "failing" },
            );
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn cache(out: &mut String, status: &Value) {
    let (cache, tcp) = (&status["cache"], &status["tcp"]);
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "<h2>Cache</h2><table>\
         <tr><td>entries</td><td class=\"num\">{} of {}</td></tr>\
         <tr><td>memory</td><td class=\"num\">{} of {}</td></tr>\
         <tr><td>TCP connections</td><td class=\"num\">{} of {}</td></tr></table>",
        number(&cache["entries"]),
        number(&cache["capacity"]),
        Size(number(&cache["bytes"])),
        Size(number(&cache["max_memory"])),
        number(&tcp["connections"]),
        number(&tcp["limit"]),
    );
}

fn fleet_store(out: &mut String, fleet: &Value, now: SystemTime) {
    let state = if fleet["up"] == true {
        "<span class=\"badge up\">up</span>"
    } else {
        "<span class=\"badge down\">down</span>"
    };
    let reads = &fleet["reads"];
    let _ = writeln!(
        out,
        "<h2>Fleet store</h2><table>\
         <tr><td>store</td><td>{}</td></tr>\
         <tr><td>state</td><td>{state} since {}</td></tr>\
         <tr><td>last error</td><td>{}</td></tr>\
         <tr><td>published</td><td>{} ({} dropped)</td></tr>\
         <tr><td>reads</td><td>{} hit, {} miss, {} error, {} rejected, {} invalid</td></tr></table>",
        Text(&fleet["store"]),
        Since(&fleet["since"], now),
        Text(&fleet["last_error"]),
        Text(&fleet["published"]),
        Text(&fleet["dropped"]),
        Text(&reads["hit"]),
        Text(&reads["miss"]),
        Text(&reads["error"]),
        Text(&reads["rejected"]),
        Text(&reads["invalid"]),
    );
}

/// The chart's size and plot area, in SVG user units.
const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 22.0;

/// One bar: the answers per second of each source between two points, and
/// where it stands (seconds before the last point).
struct Bar {
    from: f64,
    to: f64,
    rates: [f64; SOURCES.len()],
    counts: [u64; SOURCES.len()],
}

fn bars(points: &[Sample]) -> Vec<Bar> {
    let Some(last) = points.last() else { return Vec::new() };
    let window = WINDOW.as_secs_f64();
    points
        .windows(2)
        .filter_map(|pair| {
            let seconds = pair[1].at.saturating_duration_since(pair[0].at).as_secs_f64();
            let from = last.at.saturating_duration_since(pair[0].at).as_secs_f64().min(window);
            let to = last.at.saturating_duration_since(pair[1].at).as_secs_f64();
            if seconds < 0.001 || to >= window {
                return None;
            }
            let counts: [u64; SOURCES.len()] =
                std::array::from_fn(|i| pair[1].counts[i].saturating_sub(pair[0].counts[i]));
            Some(Bar { from, to, rates: counts.map(|n| n as f64 / seconds), counts })
        })
        .collect()
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `value`.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&v| v >= value * 0.999_999).unwrap_or(10.0 * power)
}

fn rate(value: f64) -> String {
    if value >= 10.0 || value == 0.0 { format!("{value:.0}") } else { format!("{value:.1}") }
}

/// The answers-by-source chart: stacked bars of answers per second over
/// the last [`WINDOW`], then a legend with each source's total.
fn chart(out: &mut String, points: &[Sample]) {
    let bars = bars(points);
    let top = nice_ceiling(bars.iter().map(|bar| bar.rates.iter().sum::<f64>()).fold(0.0, f64::max));
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let window = WINDOW.as_secs_f64();
    let x = |ago: f64| LEFT + plot_w * (1.0 - ago / window);
    let y = |value: f64| TOP + plot_h * (1.0 - value / top);
    let _ = write!(
        out,
        "<h2>Answers by source <span class=\"dim\">(per second, last {} minutes)</span></h2>\n\
         <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" \
         aria-label=\"answers per second by source, last {} minutes\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        WINDOW.as_secs() / 60,
        WINDOW.as_secs() / 60,
    );
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7eb\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(value) + 4.0,
            rate(value),
            y = y(value),
        );
    }
    let minutes = WINDOW.as_secs() / 60;
    for minute in 0..=minutes {
        let label = if minute == 0 { "now".to_string() } else { format!("−{minute} min") };
        let anchor = if minute == minutes {
            "start"
        } else if minute == 0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{label}</text>",
            x(minute as f64 * 60.0),
            HEIGHT - 6.0,
        );
    }
    for bar in &bars {
        let (left, right) = (x(bar.from), x(bar.to));
        let width = (right - left - 1.0).max(1.0);
        let mut base = 0.0;
        for (i, (source, colour)) in SOURCES.iter().enumerate() {
            if bar.counts[i] == 0 {
                continue;
            }
            let (low, high) = (y(base), y(base + bar.rates[i]));
            base += bar.rates[i];
            let _ = writeln!(
                out,
                "<rect x=\"{left:.1}\" y=\"{high:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{colour}\">\
                 <title>{source}: {} answers, {}/s</title></rect>",
                (low - high).max(0.5),
                bar.counts[i],
                rate(bar.rates[i]),
            );
        }
    }
    if bars.iter().all(|bar| bar.counts.iter().all(|&n| n == 0)) {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no answers in this window</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0,
        );
    }
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#9aa4ae\"/></svg>",
        WIDTH - RIGHT,
        bottom = TOP + plot_h,
    );
    out.push_str("<ul class=\"legend\">");
    for (i, (source, colour)) in SOURCES.iter().enumerate() {
        let total: u64 = bars.iter().map(|bar| bar.counts[i]).sum();
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{colour}\"></span>{source} <span class=\"dim\">{total}</span></li>"
        );
    }
    out.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A sample `seconds_ago` before `start` + 400 s (no `Instant` before boot).
    fn sample(seconds_ago: u64, start: Instant, counts: [u64; 8]) -> Sample {
        Sample { at: start + Duration::from_secs(400 - seconds_ago), counts }
    }

    fn status_with(name: &str) -> Value {
        json!({
            "version": "0.1.0 (test)",
            "uptime_seconds": 75,
            "config": { "path": "/etc/stubborn/<x>.toml", "loaded": "2026-11-26T14:04:12Z" },
            "cache": { "entries": 3, "capacity": 100, "bytes": 2048, "max_memory": 102400 },
            "tcp": { "connections": 0, "limit": 512 },
            "upstreams": [
                { "upstream": "10.0.0.2:53", "zone": ".", "up": false, "since": "2026-11-26T14:04:13Z",
                  "last_error": "timed out <after 300ms>", "latency_ms": null },
                { "upstream": "10.0.0.3:53", "zone": ".", "up": true, "since": "2026-11-26T14:04:12Z",
                  "last_error": null, "latency_ms": 1.21 }
            ],
            "services": [
                { "service": "api&co.example.com", "active": "b.example.net",
                  "targets": [ { "target": "a.example.net", "healthy": false },
                               { "target": "b.example.net", "healthy": true } ] }
            ],
            "degraded": {
                "answers": [ { "name": name, "type": "A", "reason": "stale",
                    "since": "2026-11-26T14:04:13Z", "last": "2026-11-26T14:05:01Z", "count": 57 } ],
                "upstreams_down": [ { "upstream": "10.0.0.2:53" } ],
                "services_not_on_primary": [ { "service": "api&co.example.com" } ]
            }
        })
    }

    fn at() -> SystemTime {
        humantime::parse_rfc3339("2026-11-26T14:06:00Z").expect("time")
    }

    #[test]
    fn escapes_a_hostile_name() {
        let hostile = "<script>alert(\"x\")</script>'.example.";
        let html = render(&status_with(hostile), &[], at());
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;.example."), "{html}");
        assert!(html.contains("api&amp;co.example.com"), "{html}");
        assert!(html.contains("/etc/stubborn/&lt;x&gt;.toml"), "{html}");
        assert!(html.contains("timed out &lt;after 300ms&gt;"), "{html}");
        assert_eq!(Escaped("a&b<c>d\"e'f").to_string(), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(Escaped("plain.example.").to_string(), "plain.example.");
    }

    #[test]
    fn page_is_self_contained_and_refreshes() {
        let html = render(&status_with("www.example.com."), &[], at());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"), "{html}");
        assert!(!html.contains("<script") && !html.contains(" src="), "no script, no external asset: {html}");
        assert_eq!(html.matches("://").count(), html.matches("http://www.w3.org/2000/svg").count(), "{html}");
        assert!(html.contains("<title>stubborn: 1 of 2 upstreams down, 1 names answered degraded"), "{html}");
        assert!(html.contains("2026-11-26T14:04:13Z <span class=\"dim\">(1m 47s ago)</span>"), "{html}");
        assert!(html.contains("not primary"), "{html}");
        assert!(html.contains("2.0 KiB of 100.0 KiB"), "{html}");
        assert!(!html.contains("Fleet store"), "no fleet section without a fleet: {html}");
    }

    #[test]
    fn all_well_without_problems() {
        let mut status = status_with("x.");
        status["degraded"] = json!({ "answers": [], "upstreams_down": [], "services_not_on_primary": [] });
        status["fleet"] = json!({ "store": "redis://127.0.0.1:6379", "up": true, "since": "2026-11-26T14:04:12Z",
            "last_error": null, "published": 4, "dropped": 0,
            "reads": { "hit": 1, "miss": 2, "error": 0, "rejected": 0, "invalid": 0 } });
        let html = render(&status, &[], at());
        assert!(html.contains("All well") && html.contains("<title>stubborn: ok</title>"), "{html}");
        assert!(html.contains("Fleet store") && html.contains("redis://127.0.0.1:6379"), "{html}");
        assert!(html.contains("no answers in this window"), "{html}");
    }

    #[test]
    fn history_keeps_the_last_samples() {
        let history = History::default();
        let now = Instant::now();
        for i in 0..SAMPLES as u64 + 5 {
            history.push(Sample { at: now, counts: [i; 8] });
        }
        let points = history.points(Sample { at: now, counts: [99; 8] });
        assert_eq!(points.len(), SAMPLES + 1);
        assert_eq!(points[0].counts[0], 5, "the oldest went first");
        assert_eq!(points[SAMPLES].counts[0], 99, "the counters now come last");
    }

    #[test]
    fn chart_stacks_answers_per_second() {
        let now = Instant::now();
        let points = [
            sample(400, now, [0; 8]), // before the window, with the next: left out
            sample(320, now, [0; 8]),
            sample(20, now, [100, 0, 0, 0, 0, 0, 0, 0]),
            sample(10, now, [200, 50, 0, 0, 0, 0, 0, 0]),
            // a partial interval: 5 s with 25 stale answers is 5/s
            sample(5, now, [200, 50, 0, 0, 0, 25, 0, 0]),
            sample(0, now, [200, 50, 0, 0, 0, 25, 0, 0]),
        ];
        let bars = bars(&points);
        assert_eq!(bars.len(), 4, "the interval wholly before the window is left out");
        assert_eq!((bars[0].from, bars[0].to), (300.0, 20.0), "clipped to the window");
        assert_eq!(bars[1].rates[..2], [10.0, 5.0]);
        assert_eq!(bars[2].rates[5], 5.0);
        let mut html = String::new();
        chart(&mut html, &points);
        assert!(html.contains("<title>cache: 100 answers, 10/s</title>"), "{html}");
        assert!(html.contains("<title>stale: 25 answers, 5.0/s</title>"), "{html}");
        // 15/s at most: the axis goes to 20.
        assert!(html.contains(">20</text>") && !html.contains("no answers"), "{html}");
        assert!(html.contains("stale <span class=\"dim\">25</span>"), "{html}");
    }

    #[test]
    fn nice_ceilings() {
        for (value, ceiling) in
            [(0.0, 1.0), (0.3, 0.5), (1.0, 1.0), (1.2, 2.0), (15.0, 20.0), (51.0, 100.0), (9999.0, 10000.0)]
        {
            assert_eq!(nice_ceiling(value), ceiling, "{value}");
        }
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(Size(512).to_string(), "512 B");
        assert_eq!(Size(964_320).to_string(), "941.7 KiB");
        assert_eq!(Size(102_400_000).to_string(), "97.7 MiB");
        assert_eq!(Ago(Duration::from_secs(42)).to_string(), "42s");
        assert_eq!(Ago(Duration::from_secs(3 * 3600 + 5 * 60 + 9)).to_string(), "3h 5m");
    }
}
