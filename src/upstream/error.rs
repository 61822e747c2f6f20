//! Why one attempt at one upstream failed. The log line, the `result` label
//! of `stubborn_upstream_queries_total` and the decision to try the next
//! server all come from this one type.

use std::{fmt, io, sync::Arc};

use crate::metrics::UpstreamResult;

/// A failed attempt; every variant means "try the next server, cache nothing".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// No matching reply within `timeout`.
    Timeout,
    /// The server answered SERVFAIL.
    ServFail,
    /// The server answered REFUSED.
    Refused,
    /// The server answered another RCODE that is no answer (NOTIMP, FORMERR, ...).
    Rcode(u8),
    /// The socket failed (connection refused, unreachable, reset, ...).
    Network(io::ErrorKind),
    /// stubborn could not open a socket (out of file descriptors, ...): says
    /// nothing about the server, so it does not count against its health.
    Local(io::ErrorKind),
    /// A reply with our ID that does not parse or is no answer to our question.
    Malformed,
    /// Only replies with another ID or question came back before the timeout (RFC 5452 §9.1).
    Mismatch,
    /// Queries sent to it come back to stubborn (a forwarding loop): never asked again
    /// until the next loop check.
    Loop,
    /// The TLS handshake of an encrypted upstream failed: an untrusted,
    /// expired or wrong-name certificate, or no common protocol. Why, in words.
    Tls(Arc<str>),
    /// An encrypted connection failed otherwise: an HTTP status other than
    /// 2xx, a wrong content type, an HTTP/2 error, a closed connection.
    Connection(Arc<str>),
    /// The host name of an encrypted upstream could not be resolved through
    /// the bootstrap servers.
    Bootstrap(Arc<str>),
}

impl UpstreamError {
    /// True for failures that may say more about the question than about the
    /// server (an RCODE, a reply to another question): the health check
    /// verifies them before counting the server down.
    pub fn may_be_about_the_question(&self) -> bool {
        matches!(
            self,
            UpstreamError::ServFail | UpstreamError::Refused | UpstreamError::Rcode(_) | UpstreamError::Mismatch
        )
    }

    /// Where the attempt counts in `stubborn_upstream_queries_total`.
    pub fn result(&self) -> UpstreamResult {
        match self {
            UpstreamError::Timeout => UpstreamResult::Timeout,
            UpstreamError::ServFail => UpstreamResult::ServFail,
            UpstreamError::Refused => UpstreamResult::Refused,
            UpstreamError::Rcode(_)
            | UpstreamError::Network(_)
            | UpstreamError::Local(_)
            | UpstreamError::Malformed
            | UpstreamError::Mismatch
            | UpstreamError::Loop
            | UpstreamError::Tls(_)
            | UpstreamError::Connection(_)
            | UpstreamError::Bootstrap(_) => UpstreamResult::Error,
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Timeout => f.write_str("timed out"),
            UpstreamError::ServFail => f.write_str("answered SERVFAIL"),
            UpstreamError::Refused => f.write_str("answered REFUSED"),
            UpstreamError::Rcode(rcode) => write!(f, "answered rcode {rcode}"),
            UpstreamError::Network(kind) => write!(f, "network error: {kind}"),
            UpstreamError::Local(kind) => write!(f, "cannot open a socket: {kind}"),
            UpstreamError::Malformed => f.write_str("sent a malformed reply"),
            UpstreamError::Mismatch => f.write_str("sent only replies with a wrong ID or question"),
            UpstreamError::Loop => f.write_str("forwarding loop: queries sent to it come back to stubborn"),
            UpstreamError::Tls(reason) => write!(f, "TLS handshake failed: {reason}"),
            UpstreamError::Connection(reason) => write!(f, "connection failed: {reason}"),
            UpstreamError::Bootstrap(reason) => write!(f, "cannot resolve its host name: {reason}"),
        }
    }
}

impl From<io::Error> for UpstreamError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut => UpstreamError::Timeout,
            kind => UpstreamError::Network(kind),
        }
    }
}
