//! One health check of one target: resolve it (through stubborn's own cache
//! and upstreams, so a stale address keeps being checked during a DNS
//! outage), then check its addresses (`dns`: resolving is enough; `tcp:PORT`:
//! a connect; `http(s)://`: a 2xx). It passes when one address passes.

use std::{net::IpAddr, sync::Arc, time::Duration};

use hickory_proto::rr::RData;
use tokio::{net::TcpStream, time::timeout};

use super::http::HttpChecker;
use crate::{
    config::{Check, ServiceConfig, Target},
    resolver::Resolver,
    wire::{TYPE_A, TYPE_AAAA, wire_name},
};

/// Checks `target`; Err says why it failed, for the log line of a switch.
pub async fn run(
    target: &Target,
    config: &ServiceConfig,
    resolver: &Arc<Resolver>,
    http: Option<&HttpChecker>,
) -> Result<(), String> {
    let addresses = addresses(target, resolver).await;
    if addresses.is_empty() {
        return Err("does not resolve to any address".into());
    }
    let mut last_error = String::new();
    for &address in &addresses {
        let result = match &config.check {
            Check::Dns => return Ok(()),
            Check::Tcp(port) => tcp(address, *port, config.timeout).await,
            Check::Http(check) => match http {
                Some(http) => http.check(check, address, &target.to_string(), config.timeout).await,
                None => Err("no TLS configuration (see the log at start)".into()),
            },
        };
        match result {
            Ok(()) => return Ok(()),
            Err(error) => last_error = format!("{address}: {error}"),
        }
    }
    Err(last_error)
}

/// The target's addresses: itself for an IP, else its A and AAAA records (stale allowed).
pub async fn addresses(target: &Target, resolver: &Arc<Resolver>) -> Vec<IpAddr> {
    let name = match target {
        Target::Ip(ip) => return vec![*ip],
        Target::Name(name) => wire_name(name),
    };
    let (v4, v6) = tokio::join!(resolver.records(&name, TYPE_A), resolver.records(&name, TYPE_AAAA));
    v4.into_iter()
        .chain(v6)
        .filter_map(|record| match record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect()
}

async fn tcp(address: IpAddr, port: u16, limit: Duration) -> Result<(), String> {
    match timeout(limit, TcpStream::connect((address, port))).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("tcp {port}: {error}")),
        Err(_) => Err(format!("tcp {port}: timed out")),
    }
}
