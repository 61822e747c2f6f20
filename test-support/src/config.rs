//! A stubborn config built in code: sections of `key = raw TOML` pairs with
//! quick test defaults, and raw TOML tables appended after them, rendered to
//! the text [`Stubborn`](crate::stubborn::Stubborn) writes to its config file.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// A stubborn config, rendered to TOML. Values are raw TOML (`"\"300ms\""`,
/// `"1"`, `"[\"10.0.0.0/8\"]"`); `set_str` quotes for you.
///
/// Test defaults, small so that tests are quick: `timeout = "300ms"`,
/// `fail_after = 1`, `probe_interval = "200ms"`, `stale_answer_after = "1.8s"`,
/// `stale_ttl = "30s"`. The listen and admin addresses are filled in by
/// `Stubborn::start`.
#[derive(Clone, Debug)]
pub struct Config {
    sections: BTreeMap<String, Vec<(String, String)>>,
    /// Raw TOML appended after the sections (e.g. `[[upstream.zone]]` tables).
    tail: String,
}

impl Config {
    /// Upstreams in priority order, as written in the config (`"IP:PORT"`).
    pub fn new<S: AsRef<str>>(servers: &[S]) -> Config {
        let list = servers.iter().map(|s| format!("\"{}\"", s.as_ref())).collect::<Vec<_>>().join(", ");
        Config { sections: BTreeMap::new(), tail: String::new() }
            .set("upstream", "servers", &format!("[{list}]"))
            .set_str("upstream", "timeout", "300ms")
            .set("upstream", "fail_after", "1")
            .set_str("upstream", "probe_interval", "200ms")
            .set_str("cache", "stale_answer_after", "1.8s")
            .set_str("cache", "stale_ttl", "30s")
    }

    /// Sets `[section] key = raw` (raw TOML), replacing an earlier value.
    pub fn set(mut self, section: &str, key: &str, raw: &str) -> Config {
        let entries = self.sections.entry(section.to_string()).or_default();
        entries.retain(|(k, _)| k != key);
        entries.push((key.to_string(), raw.to_string()));
        self
    }

    /// Sets `[section] key = "value"`.
    pub fn set_str(self, section: &str, key: &str, value: &str) -> Config {
        self.set(section, key, &format!("\"{value}\""))
    }

    /// Appends raw TOML after the sections, e.g. a `[[upstream.zone]]` table.
    pub fn append(mut self, toml: &str) -> Config {
        self.tail.push_str(toml);
        self.tail.push('\n');
        self
    }

    /// Removes `[section] key`.
    pub fn unset(mut self, section: &str, key: &str) -> Config {
        if let Some(entries) = self.sections.get_mut(section) {
            entries.retain(|(k, _)| k != key);
        }
        self
    }

    /// The TOML text with these listen and admin addresses.
    pub fn render(&self, listen: SocketAddr, admin: SocketAddr) -> String {
        let with_addrs = self.clone().set("server", "listen", &format!("[\"{listen}\"]")).set_str(
            "admin",
            "listen",
            &admin.to_string(),
        );
        let mut out = String::new();
        for section in ["server", "upstream", "cache", "admin", "log"] {
            if let Some(entries) = with_addrs.sections.get(section) {
                out.push_str(&format!("[{section}]\n"));
                for (k, v) in entries {
                    out.push_str(&format!("{k} = {v}\n"));
                }
                out.push('\n');
            }
        }
        out.push_str(&with_addrs.tail);
        out
    }
}
