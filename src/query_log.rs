//! The query log (`[log] queries`): one line per answered query, giving the
//! client, the name and type asked, the RCODE, where the answer came from
//! (the `source` of `stubborn_answers_total`), the upstream that gave it
//! (when one was asked for it) and the milliseconds from receipt to reply.
//! Each is a field of an info event of target `stubborn::query`, so that
//! `--log-format json` gives them as JSON fields.
//!
//! It is switched at run time (`POST /log?queries=on|off`, `stubborn ctl
//! log-queries on|off`) without a reload; a reload sets it from the config.
//! Off, it costs a query one relaxed atomic load.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use tracing::info;

use crate::{
    query::{Query, QueryType},
    resolver::Answer,
    wire::rcode_label,
};

/// Whether answered queries are logged.
pub struct QueryLog(AtomicBool);

impl QueryLog {
    pub fn new(on: bool) -> QueryLog {
        QueryLog(AtomicBool::new(on))
    }

    /// The one check a query pays while the log is off.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// Logs `answer` (whose header RCODE is `rcode`) to `query` from `client`,
/// received at `received_at`.
pub fn record(client: IpAddr, query: &Query, answer: &Answer, rcode: u16, received_at: Instant) {
    let micros = received_at.elapsed().as_micros();
    let upstream = answer.upstream.as_ref().map_or("", |upstream| upstream.addr.label.as_str());
    let rcode = rcode_label(rcode);
    info!(
        target: "stubborn::query",
        client = %client,
        name = %query.name(),
        "type" = %QueryType(query.qtype),
        rcode = %rcode,
        source = %answer.source.label(),
        upstream = %upstream,
        ms = micros as f64 / 1000.0,
        "query"
    );
}
