//! `[fleet]`: the store a fleet of stubborns shares its last good answers
//! in (Redis or Valkey, standalone or Cluster). The secrets it names (the
//! store's password, the HMAC key) are read here, at load, so that `check`
//! finds an unreadable or empty file and a running stubborn never reads
//! them again until a reload.

use std::{fmt, fs, path::PathBuf, time::Duration};

use toml::Spanned;

use super::{file::FleetFile, validate::Validator};

/// The fewest octets a `key_file` must hold: HMAC-SHA256 keys shorter than
/// the hash (32 octets) weaken it (RFC 2104 §3).
pub const MIN_KEY_LEN: usize = 32;
/// `publish_rate` at most: past it, a typo rather than a plan.
const MAX_PUBLISH_RATE: u64 = 1_000_000;

/// `[fleet]`, checked, with its secrets read.
#[derive(Clone, PartialEq)]
pub struct FleetConfig {
    /// One URL: a standalone server; several: seed nodes of a Cluster.
    pub store: Vec<String>,
    /// From `password_file`, without its line end.
    pub password: Option<String>,
    /// One fleet per prefix.
    pub key_prefix: String,
    /// From `key_file`: entries are tagged with HMAC-SHA256 under it, and
    /// entries without a valid tag are ignored.
    pub key: Option<Vec<u8>>,
    /// The CA a `rediss://` store's certificate is checked against (instead of the system roots).
    pub ca_file: Option<PathBuf>,
    /// An unchanged answer is republished at most this often by one node.
    pub publish_interval: Duration,
    /// Store writes per second at most.
    pub publish_rate: u32,
    /// A store read waits at most this long.
    pub timeout: Duration,
}

impl FleetConfig {
    /// The store URLs as shown to operators: any password taken out.
    pub fn store_shown(&self) -> Vec<String> {
        self.store.iter().map(|url| without_password(url)).collect()
    }
}

/// No secret in logs or `{:?}`.
impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("store", &self.store_shown())
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("key_prefix", &self.key_prefix)
            .field("key", &self.key.as_ref().map(|_| "…"))
            .field("ca_file", &self.ca_file)
            .field("publish_interval", &self.publish_interval)
            .field("publish_rate", &self.publish_rate)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `url` with the password of its user-info (`redis://user:PASSWORD@host`) replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let shown = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
            format!("{scheme}://{shown}@{host}")
        }
        None => url.to_string(),
    }
}

pub(super) fn validate(v: &mut Validator<'_>, file: FleetFile) -> FleetConfig {
    let store_span = file.store.span();
    let store: Vec<String> = file
        .store
        .into_inner()
        .into_iter()
        .filter(|url| {
            let ok = ["redis://", "rediss://"].iter().any(|scheme| {
                url.get_ref().strip_prefix(scheme).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
            });
            if !ok {
                let what =
                    format!("{:?} is not a redis:// or rediss:// URL with a host", without_password(url.get_ref()));
                v.problem(url.span(), "fleet.store", &what);
            }
            ok
        })
        .map(Spanned::into_inner)
        .collect();
    if store.is_empty() {
        v.problem(store_span, "fleet.store", "names no store: one URL (standalone) or the seed nodes of a Cluster");
    }
    let secret = |v: &mut Validator<'_>, value: Option<Spanned<String>>, key: &str| {
        let value = value?;
        match fs::read(value.get_ref()) {
            Ok(bytes) if bytes.trim_ascii().is_empty() => {
                v.problem(value.span(), key, &format!("{} is empty", value.get_ref()));
                None
            }
            Ok(bytes) => Some(bytes.trim_ascii_end().to_vec()),
            Err(error) => {
                v.problem(value.span(), key, &format!("cannot read {}: {error}", value.get_ref()));
                None
            }
        }
    };
    let password =
        secret(v, file.password_file, "fleet.password_file").map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let key_span = file.key_file.as_ref().map(Spanned::span);
    let key = secret(v, file.key_file, "fleet.key_file");
    if let (Some(key), Some(span)) = (&key, key_span)
        && key.len() < MIN_KEY_LEN
    {
        let what = format!("holds {} octets; an HMAC-SHA256 key needs at least {MIN_KEY_LEN}", key.len());
        v.problem(span, "fleet.key_file", &what);
    }
    let key_prefix = file.key_prefix.map_or_else(|| "stubborn:".to_string(), Spanned::into_inner);
    let ca_file = file.ca_file.and_then(|value| {
        let path = PathBuf::from(value.get_ref());
        match crate::tls::check_ca_file(&path) {
            Ok(()) => Some(path),
            Err(what) => {
                v.problem(value.span(), "fleet.ca_file", &what);
                None
            }
        }
    });
    let publish_rate = match file.publish_rate {
        Some(rate) if !(1..=MAX_PUBLISH_RATE).contains(rate.get_ref()) => {
            v.problem(
                rate.span(),
                "fleet.publish_rate",
                &format!("must be from 1 to {MAX_PUBLISH_RATE} writes a second"),
            );
            1_000
        }
        Some(rate) => u32::try_from(rate.into_inner()).unwrap_or(1_000),
        None => 1_000,
    };
    FleetConfig {
        store,
        password,
        key_prefix,
        key,
        ca_file,
        publish_interval: v.duration(file.publish_interval, "fleet.publish_interval", Duration::from_secs(300), true),
        publish_rate,
        timeout: v.duration(file.timeout, "fleet.timeout", Duration::from_millis(100), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(without_password("redis://:s3cret@10.0.0.5:6379/0"), "redis://:***@10.0.0.5:6379/0");
        assert_eq!(without_password("rediss://app:s3cret@cache:6380"), "rediss://app:***@cache:6380");
        assert_eq!(without_password("redis://10.0.0.5:6379/0"), "redis://10.0.0.5:6379/0");
    }
}
