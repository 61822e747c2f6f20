//! `stubborn ctl`: the operator's client of a running stubborn's admin
//! endpoint, as `unbound-control` and `resolvectl` are of theirs. It finds
//! the endpoint from `--admin`, else from the config's `[admin] listen`
//! (read leniently: only that key, so that ctl still works while the file
//! has a mistake elsewhere — a rejected reload is exactly when an operator
//! reaches for it), asks once over plain HTTP (ureq, blocking), and prints
//! a human summary or, with `--json`, the endpoint's JSON. Output cut short
//! by its reader (`| head`) ends quietly ([`crate::output`]).
//!
//! Exit status (docs/reference.md): 0 success; 1 an error reported by stubborn
//! (including 403 outside `[admin] allow` or `control_allow`) or a lookup
//! that finds nothing; 2 a usage error (clap's); 3 no endpoint to talk to
//! (unreachable, or no `[admin] listen`), said in one line on stderr.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::Path,
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use crate::output;

/// The status `main` exits with.
pub type Status = u8;
pub const OK: Status = 0;
pub const FAILED: Status = 1;
pub const UNREACHABLE: Status = 3;

/// How long ctl waits for stubborn (a full dump of a large cache included).
const TIMEOUT: Duration = Duration::from_secs(30);
/// Degraded names `status` lists without `--all`: the most recent, a screenful
/// with the rest of the summary.
const DEGRADED_SHOWN: usize = 10;

/// `stubborn ctl`'s own options and command.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The admin endpoint, HOST:PORT (default: the config's `[admin] listen`).
    #[arg(long, global = true, value_name = "ADDR", value_parser = host_and_port)]
    pub admin: Option<String>,
    /// Print the endpoint's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// Upstreams, services, cache size and what is degraded right now (GET /status).
    ///
    /// Degraded names are counted, and the most recent listed; --all (or --json) lists them all.
    Status {
        /// List every degraded name, not only the most recent.
        #[arg(long)]
        all: bool,
    },
    /// The cache entries of a name, every type or one (exit 1 when nothing is cached).
    Lookup {
        /// The name, e.g. www.example.com.
        name: String,
        /// A record type (A, AAAA, MX, ...); every type when left out.
        r#type: Option<String>,
    },
    /// Drop a name from the cache, every type or one.
    Flush {
        /// The name to drop.
        name: String,
        /// Only this record type; every type when left out.
        r#type: Option<String>,
    },
    /// Drop a name and every name below it.
    FlushZone {
        /// The zone: b.test drops b.test and x.b.test, not xb.test.
        name: String,
    },
    /// Drop every cache entry.
    FlushAll,
    /// Every cache entry, in zone-file form with its state.
    Dump,
    /// Reload the config file, as SIGHUP does (POST /reload).
    ///
    /// Exit 1 with the file's problems when it is invalid: the running config stays.
    Reload,
    /// Switch the log line per answered query on or off, without a reload (POST /log).
    ///
    /// A reload sets it back to the config's [log] queries.
    LogQueries {
        /// on or off.
        #[arg(value_enum)]
        state: Switch,
    },
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// An outcome to report: what to print on stderr and exit with.
struct Failure {
    status: Status,
    message: String,
}

impl Failure {
    fn unreachable(message: String) -> Failure {
        Failure { status: UNREACHABLE, message }
    }
}

/// Runs `args` against the endpoint found from them or `config`; prints
/// the result and returns the exit status.
pub fn run(args: &CtlArgs, config: &Path) -> Status {
    match execute(args, config) {
        Ok(status) => status,
        Err(failure) => {
            output::stderr(&format!("stubborn ctl: {}\n", failure.message));
            failure.status
        }
    }
}

fn execute(args: &CtlArgs, config: &Path) -> Result<Status, Failure> {
    let admin = match &args.admin {
        Some(admin) => admin.clone(),
        None => admin_from_config(config)?.to_string(),
    };
    let client = Client::new(admin);
    let name_and_type = |name: &str, qtype: &Option<String>| {
        let mut query = vec![("name", name.to_string())];
        query.extend(qtype.iter().map(|t| ("type", t.clone())));
        query
    };
    match &args.command {
        CtlCommand::Status { all } => {
            let status = client.get("/status", &[])?;
            print(args.json, &status, || Ok(status_text(&parse(&status)?, *all)))
        }
        CtlCommand::Lookup { name, r#type } => {
            let body = client.get("/cache/lookup", &name_and_type(name, r#type))?;
            let found = parse(&body)?;
            let empty = found.as_array().is_none_or(Vec::is_empty);
            let status = print(args.json, &body, || Ok(lookup_text(&found)))?;
            if empty {
                let of_type = r#type.as_ref().map_or("", |_| " of that type");
                output::stderr(&format!("stubborn ctl: nothing cached for {name}{of_type}\n"));
                return Ok(FAILED);
            }
            Ok(status)
        }
        CtlCommand::Flush { name, r#type } => flush(&client, args.json, &name_and_type(name, r#type)),
        CtlCommand::FlushZone { name } => flush(&client, args.json, &[("zone", name.clone())]),
        CtlCommand::FlushAll => flush(&client, args.json, &[("all", "1".to_string())]),
        CtlCommand::Dump if args.json => out(&client.get("/cache/dump", &[("format", "json".to_string())])?),
        CtlCommand::Dump => out(&client.get("/cache/dump", &[])?),
        CtlCommand::Reload => reload(&client, args.json),
        CtlCommand::LogQueries { state } => {
            let word = match state {
                Switch::On => "on",
                Switch::Off => "off",
            };
            let body = client.post("/log", &[("queries", word.to_string())])?;
            print(args.json, &body, || Ok(format!("query log {word}\n")))
        }
    }
}

/// `POST /reload`: exit 0 once reloaded; 1 with the config's problems on
/// stderr (and, with `--json`, the answer on stdout) when it was rejected.
fn reload(client: &Client, json: bool) -> Result<Status, Failure> {
    let (status, body) = client.send("/reload", client.agent.post(client.url("/reload")).send_empty())?;
    if status.is_success() {
        return print(json, &body, || Ok("config reloaded\n".into()));
    }
    let Some(problems) = parse(&body).ok().and_then(|answer| answer["problems"].as_array().cloned()) else {
        return Err(client.failure("/reload", status, &body));
    };
    if json {
        out(&body)?;
    }
    let mut text = String::from("stubborn ctl: reload rejected; the running config stays:\n");
    for problem in &problems {
        let _ = writeln!(text, "{}", cell(problem));
    }
    output::stderr(&text);
    Ok(FAILED)
}

fn flush(client: &Client, json: bool, query: &[(&str, String)]) -> Result<Status, Failure> {
    let body = client.post("/cache/flush", query)?;
    print(json, &body, || {
        let removed = parse(&body)?["removed"].as_u64().unwrap_or(0);
        Ok(format!("removed {removed} {}\n", if removed == 1 { "entry" } else { "entries" }))
    })
}

/// Prints `body` as it came (`--json`) or as `text` makes it.
fn print(json: bool, body: &str, text: impl FnOnce() -> Result<String, Failure>) -> Result<Status, Failure> {
    if json { out(body) } else { out(&text()?) }
}

/// Writes `text` to stdout (a reader that stopped early is no failure).
fn out(text: &str) -> Result<Status, Failure> {
    output::stdout(text).map_err(|e| Failure { status: FAILED, message: format!("cannot write to stdout: {e}") })?;
    Ok(OK)
}

fn parse(body: &str) -> Result<Value, Failure> {
    serde_json::from_str(body)
        .map_err(|e| Failure { status: FAILED, message: format!("stubborn answered something that is not JSON: {e}") })
}

/// `[admin] listen` of the config at `path`; a wildcard address is asked on loopback.
fn admin_from_config(path: &Path) -> Result<SocketAddr, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::unreachable(format!("cannot read {} for [admin] listen: {e}; give --admin ADDR", path.display()))
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let first = e.message().lines().next().unwrap_or("").to_string();
        Failure::unreachable(format!("{} is not TOML ({first}); give --admin ADDR", path.display()))
    })?;
    let listen = table.get("admin").and_then(|admin| admin.get("listen")).and_then(toml::Value::as_str);
    let Some(listen) = listen else {
        return Err(Failure::unreachable(format!(
            "{} has no [admin] listen: the admin endpoint is off; set it (and reload) or give --admin ADDR",
            path.display()
        )));
    };
    let mut addr: SocketAddr = listen.parse().map_err(|_| {
        Failure::unreachable(format!("{}: [admin] listen {listen:?} is not an address", path.display()))
    })?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(addr)
}

/// `--admin`: an IP address and port (`127.0.0.1:9153`, `[::1]:9153`) or a
/// host name and port; anything else is a usage error (exit 2), not an
/// endpoint that cannot be reached.
fn host_and_port(value: &str) -> Result<String, String> {
    let named = value.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(':') && !host.contains('/') && port.parse::<u16>().is_ok()
    });
    if named || value.parse::<SocketAddr>().is_ok() {
        Ok(value.to_string())
    } else {
        Err("expected HOST:PORT, as 127.0.0.1:9153 or [::1]:9153".to_string())
    }
}

/// One admin endpoint, asked over plain HTTP.
struct Client {
    admin: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(admin: String) -> Client {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(TIMEOUT)).build();
        Client { admin, agent: agent.into() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> Result<String, Failure> {
        let request = self.agent.get(self.url(path));
        self.finish(path, request.query_pairs(query.iter().map(|(k, v)| (*k, v.as_str()))).call())
    }

    fn post(&self, path: &str, query: &[(&str, String)]) -> Result<String, Failure> {
        let request = self.agent.post(self.url(path));
        self.finish(path, request.query_pairs(query.iter().map(|(k, v)| (*k, v.as_str()))).send_empty())
    }

    /// The body of a 2xx answer; anything else is a [`Failure`].
    fn finish(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, Failure> {
        let (status, body) = self.send(path, response)?;
        if status.is_success() { Ok(body) } else { Err(self.failure(path, status, &body)) }
    }

    /// The status and body of the answer, whatever the status.
    fn send(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(ureq::http::StatusCode, String), Failure> {
        let mut response = response.map_err(|e| {
            Failure::unreachable(format!("cannot reach stubborn's admin endpoint at {}: {e}", self.admin))
        })?;
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::unreachable(format!("reading the answer of {} at {}: {e}", path, self.admin)))?;
        Ok((response.status(), body))
    }

    /// What an answer other than 2xx says: 400s carry {"error": ...}; others a line of text.
    fn failure(&self, path: &str, status: ureq::http::StatusCode, body: &str) -> Failure {
        let said = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string());
        Failure { status: FAILED, message: format!("{path} at {}: {status}: {said}", self.admin) }
    }
}

/// Rows of cells as columns, each as wide as its widest cell, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A JSON value as a table cell: strings bare, null as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A byte count as MiB with one decimal ("-" when absent).
fn mebibytes(value: &Value) -> String {
    value.as_u64().map_or_else(|| "-".into(), |bytes| format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64))
}

/// `status` as text; `all`: every degraded name, not only the most recent.
fn status_text(status: &Value, all: bool) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "stubborn {}, up {}s, config {} (loaded {})",
        cell(&status["version"]),
        cell(&status["uptime_seconds"]),
        cell(&status["config"]["path"]),
        cell(&status["config"]["loaded"]),
    );
    let _ = writeln!(
        text,
        "cache: {} entries of {}, {} of {}; tcp: {} connections of {}",
        cell(&status["cache"]["entries"]),
        cell(&status["cache"]["capacity"]),
        mebibytes(&status["cache"]["bytes"]),
        mebibytes(&status["cache"]["max_memory"]),
        cell(&status["tcp"]["connections"]),
        cell(&status["tcp"]["limit"]),
    );
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    let upstreams: Vec<Vec<String>> = list(&status["upstreams"])
        .iter()
        .map(|u| {
            let state = if u["up"].as_bool() == Some(true) { "up" } else { "down" };
            let latency = u["latency_ms"].as_f64().map_or("-".into(), |ms| format!("{ms:.2}ms"));
            vec![
                cell(&u["upstream"]),
                cell(&u["zone"]),
                state.into(),
                cell(&u["since"]),
                latency,
                cell(&u["last_error"]),
            ]
        })
        .collect();
    text.push('\n');
    text.push_str(&table(&["UPSTREAM", "ZONE", "STATE", "SINCE", "LATENCY", "LAST ERROR"], &upstreams));
    let services: Vec<Vec<String>> = list(&status["services"])
        .iter()
        .map(|s| {
            let targets: Vec<String> = list(&s["targets"])
                .iter()
                .map(|t| {
                    let health = if t["healthy"].as_bool() == Some(true) { "healthy" } else { "unhealthy" };
                    format!("{} ({health})", cell(&t["target"]))
                })
                .collect();
            vec![cell(&s["service"]), cell(&s["active"]), targets.join(", ")]
        })
        .collect();
    if !services.is_empty() {
        text.push('\n');
        text.push_str(&table(&["SERVICE", "ACTIVE", "TARGETS"], &services));
    }
    text.push('\n');
    text.push_str(&degraded_text(&list(&status["degraded"]["answers"]), all));
    text
}

/// The names answered degraded: how many, by reason, and the most recent
/// [`DEGRADED_SHOWN`] of them (every one with `all`).
fn degraded_text(answers: &[Value], all: bool) -> String {
    if answers.is_empty() {
        return "no degraded answers in the last 10 minutes\n".into();
    }
    let mut by_reason: Vec<(String, usize)> = Vec::new();
    for reason in answers.iter().map(|d| cell(&d["reason"])) {
        match by_reason.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, count)) => *count += 1,
            None => by_reason.push((reason, 1)),
        }
    }
    by_reason.sort();
    let reasons: Vec<String> = by_reason.iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    let names = if answers.len() == 1 { "name" } else { "names" };
    let mut text = format!("degraded in the last 10 minutes: {} {names} ({})\n", answers.len(), reasons.join(", "));
    let shown = if all { answers.len() } else { answers.len().min(DEGRADED_SHOWN) };
    let rows: Vec<Vec<String>> = answers[..shown]
        .iter()
        .map(|d| vec![cell(&d["name"]), cell(&d["type"]), cell(&d["reason"]), cell(&d["since"]), cell(&d["count"])])
        .collect();
    text.push_str(&table(&["DEGRADED NAME", "TYPE", "REASON", "SINCE", "COUNT"], &rows));
    if shown < answers.len() {
        let _ = writeln!(text, "... and {} more: stubborn ctl status --all lists every one", answers.len() - shown);
    }
    text
}

fn yes_no(flag: &Value) -> String {
    if flag.as_bool() == Some(true) { "yes" } else { "no" }.into()
}

fn lookup_text(found: &Value) -> String {
    let entries = found.as_array().cloned().unwrap_or_default();
    let mut text = String::new();
    for entry in &entries {
        let row = vec![
            cell(&entry["name"]),
            cell(&entry["type"]),
            cell(&entry["rcode"]),
            cell(&entry["state"]),
            cell(&entry["ttl"]),
            cell(&entry["expired_for"]),
            cell(&entry["age"]),
            yes_no(&entry["dnssec_ok"]),
            yes_no(&entry["checking_disabled"]),
        ];
        text.push_str(&table(&["NAME", "TYPE", "RCODE", "STATE", "TTL", "EXPIRED FOR", "AGE", "DO", "CD"], &[row]));
        for record in entry["records"].as_array().into_iter().flatten() {
            let _ = writeln!(text, "    {}", cell(record));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let text = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(text, "A          LONGER\nwide cell  x\ny          z\n");
    }

    #[test]
    fn degraded_names_are_summed_up_and_the_most_recent_listed() {
        let answers: Vec<Value> = (0..30)
            .map(|i| {
                let reason = if i % 3 == 0 { "kept_positive" } else { "stale" };
                serde_json::json!({"name": format!("n{i}.test."), "type": "A", "reason": reason, "since": "-", "count": 1})
            })
            .collect();
        let text = degraded_text(&answers, false);
        assert!(text.starts_with("degraded in the last 10 minutes: 30 names (10 kept_positive, 20 stale)\n"), "{text}");
        assert_eq!(text.lines().filter(|line| line.starts_with('n')).count(), DEGRADED_SHOWN, "{text}");
        assert!(text.contains("n0.test.") && !text.contains("n10.test."), "the most recent first: {text}");
        assert!(text.ends_with("... and 20 more: stubborn ctl status --all lists every one\n"), "{text}");
        let all = degraded_text(&answers, true);
        assert_eq!(all.lines().filter(|line| line.starts_with('n')).count(), 30, "{all}");
        assert_eq!(degraded_text(&[], false), "no degraded answers in the last 10 minutes\n");
    }

    #[test]
    fn a_wildcard_admin_address_is_asked_on_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stubborn.toml");
        std::fs::write(&path, "[admin]\nlisten = \"0.0.0.0:9153\"\n[upstream\nbroken").unwrap();
        assert!(admin_from_config(&path).is_err(), "not TOML");
        std::fs::write(&path, "[admin]\nlisten = \"0.0.0.0:9153\"\n[cache]\ntypo = 1\n").unwrap();
        assert_eq!(admin_from_config(&path).ok(), Some("127.0.0.1:9153".parse().unwrap()), "lenient");
        std::fs::write(&path, "[server]\n").unwrap();
        let failure = admin_from_config(&path).err().unwrap();
        assert_eq!(failure.status, UNREACHABLE);
        assert!(failure.message.contains("no [admin] listen"), "{}", failure.message);
    }
}
