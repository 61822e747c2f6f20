//! The parsed form of an `http://` or `https://` service check
//! (`check = "https://{addr}:8443/health"`). It lives in config, the ground
//! floor, because `stubborn check` has to reject a bad one; running the check
//! belongs to `service::http`.

use std::fmt;

use hyper::Uri;

/// The literal host part of a check URL: the address under test goes there.
const ADDR: &str = "{addr}";

/// A check of the form `http://{addr}:PORT/path` or
/// `https://{addr}:PORT/path` (`{addr}` literally; PORT required; path
/// optional, default "/").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub tls: bool,
    pub port: u16,
    /// Origin-form request target: starts with `/`, may carry a `?query`.
    pub path: String,
}

impl HttpCheck {
    /// Parses the `check` value; Err is a human message for `stubborn check`
    /// (e.g. "expected https://{addr}:PORT/path").
    pub fn parse(check: &str) -> Result<HttpCheck, String> {
        let (tls, rest) = if let Some(rest) = strip_prefix_ignore_case(check, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(check, "http://") {
            (false, rest)
        } else {
            return Err(format!("expected http://{ADDR}:PORT/path or https://{ADDR}:PORT/path, got {check:?}"));
        };
        let scheme = if tls { "https" } else { "http" };
        let expected = format!("expected {scheme}://{ADDR}:PORT/path");
        let Some(rest) = rest.strip_prefix(ADDR) else {
            return Err(format!(
                "{expected}, got {check:?} (the host must be literally {ADDR}: each address of the target is put there)"
            ));
        };
        let Some(rest) = rest.strip_prefix(':') else {
            return Err(format!("{expected}, got {check:?} (the port is required)"));
        };
        let digits = rest.find('/').unwrap_or(rest.len());
        let (port, path) = rest.split_at(digits);
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{expected}, got {check:?} (bad port {port:?})"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{expected}, got {check:?} (port {port} is not in 1-65535)")),
        };
        let path = if path.is_empty() { "/" } else { path };
        if path.contains('#') {
            return Err(format!("{expected}, got {check:?} (a #fragment is not sent to a server)"));
        }
        if path.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(format!("{expected}, got {check:?} (spaces or control characters in the path)"));
        }
        // The same parser hyper will use for the request: what passes here is sendable.
        match path.parse::<Uri>() {
            Ok(uri) if uri.scheme().is_none() && uri.authority().is_none() => {}
            _ => return Err(format!("{expected}, got {check:?} (bad path {path:?})")),
        }
        Ok(HttpCheck { tls, port, path: path.to_string() })
    }

    /// The scheme's own port, left out of the `Host` header.
    pub fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }
}

impl fmt::Display for HttpCheck {
    /// The check as written in the config, e.g. `https://{addr}:8443/health`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{ADDR}:{}{}", self.port, self.path)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(check: &str) -> HttpCheck {
        HttpCheck::parse(check).unwrap_or_else(|e| panic!("{check:?} should parse: {e}"))
    }

    fn err(check: &str) -> String {
        match HttpCheck::parse(check) {
            Ok(parsed) => panic!("{check:?} should be rejected, parsed as {parsed:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_http_with_path() {
        assert_eq!(ok("http://{addr}:8080/health"), HttpCheck { tls: false, port: 8080, path: "/health".into() });
    }

    #[test]
    fn parses_https_with_path_and_query() {
        assert_eq!(
            ok("https://{addr}:8443/health/ready?deep=1"),
            HttpCheck { tls: true, port: 8443, path: "/health/ready?deep=1".into() }
        );
    }

    #[test]
    fn path_defaults_to_root() {
        assert_eq!(ok("https://{addr}:443"), HttpCheck { tls: true, port: 443, path: "/".into() });
        assert_eq!(ok("http://{addr}:80/"), HttpCheck { tls: false, port: 80, path: "/".into() });
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert!(ok("HTTPS://{addr}:8443/x").tls);
        assert!(!ok("Http://{addr}:8080/x").tls);
    }

    #[test]
    fn display_round_trips() {
        for check in ["http://{addr}:8080/health", "https://{addr}:8443/", "https://{addr}:1/a?b=c"] {
            assert_eq!(ok(check).to_string(), check);
            assert_eq!(ok(&ok(check).to_string()), ok(check));
        }
    }

    #[test]
    fn rejects_other_schemes() {
        for check in ["tcp:443", "dns", "ftp://{addr}:21/", "{addr}:80/", "", "https:/{addr}:1/"] {
            let e = err(check);
            assert!(e.contains("expected http://{addr}:PORT/path or https://{addr}:PORT/path"), "{check:?}: {e}");
        }
    }

    #[test]
    fn rejects_a_host_other_than_the_addr_placeholder() {
        for check in ["https://api.example.com:443/", "http://127.0.0.1:80/", "https://{ADDR}:443/", "https://:443/"] {
            let e = err(check);
            assert!(e.contains("literally {addr}"), "{check:?}: {e}");
        }
        assert!(err("https://api.example.com:443/").starts_with("expected https://{addr}:PORT/path"));
    }

    #[test]
    fn requires_a_port() {
        for check in ["https://{addr}/health", "http://{addr}"] {
            assert!(err(check).contains("the port is required"), "{check:?}");
        }
    }

    #[test]
    fn rejects_bad_ports() {
        for (check, says) in [
            ("https://{addr}:/health", "bad port"),
            ("https://{addr}:https/health", "bad port"),
            ("https://{addr}:-1/", "bad port"),
            ("https://{addr}:+443/", "bad port"),
            ("https://{addr}:0/", "not in 1-65535"),
            ("https://{addr}:65536/", "not in 1-65535"),
            ("https://{addr}:99999999999999999999/", "not in 1-65535"),
        ] {
            let e = err(check);
            assert!(e.contains(says), "{check:?} should say {says:?}: {e}");
        }
        assert_eq!(ok("https://{addr}:65535/").port, 65535);
    }

    #[test]
    fn rejects_bad_paths() {
        for check in [
            "https://{addr}:443health",
            "https://{addr}:443/he alth",
            "https://{addr}:443/health\n",
            "https://{addr}:443/a#frag",
            "https://{addr}:443/\u{7f}",
        ] {
            let e = err(check);
            assert!(e.starts_with("expected https://{addr}:PORT/path"), "{check:?}: {e}");
        }
    }
}
