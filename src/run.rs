//! Starting and stopping: every socket is bound before anything is served
//! (a bind failure is fatal: exit status 2, the address and the OS error in
//! the message), then the listeners run until SIGTERM or SIGINT.

use std::{
    io,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use tokio::{
    net::{TcpListener, UdpSocket},
    signal::unix::{SignalKind, signal},
};
use tracing::{info, warn};

use crate::{
    admin::{self, Admin},
    cache::Cache,
    config::Config,
    metrics::Metrics,
    resolver::Resolver,
    server::{self, Acl, Server},
    upstream::Upstreams,
};

/// An address that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind {protocol} {addr}: {source}")]
pub struct BindError {
    pub protocol: &'static str,
    pub addr: SocketAddr,
    pub source: io::Error,
}

/// Serves `config` until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), BindError> {
    let metrics = Arc::new(Metrics::new());
    let upstreams = Upstreams::new(&config.upstream, &metrics);
    let resolver = Arc::new(Resolver::new(Cache::new(&config.cache), upstreams, Arc::clone(&metrics)));
    let admin = Arc::new(Admin { metrics: Arc::clone(&metrics), resolver: Arc::clone(&resolver), ready: false.into() });
    if let Some(addr) = config.admin {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| BindError { protocol: "admin tcp", addr, source })?;
        info!(address = %listener.local_addr().unwrap_or(addr), "admin endpoint listening");
        tokio::spawn(admin::serve(listener, Arc::clone(&admin)));
    }

    let server = Arc::new(Server { resolver, acl: Acl::new(config.server.allow.clone()), metrics });
    let mut bound = Vec::new();
    for &addr in &config.server.listen {
        bound.push(bind(addr).await?);
    }
    for (udp, tcp) in bound {
        let address = udp.local_addr().map_err(|source| BindError {
            protocol: "udp",
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        info!(%address, "listening on udp and tcp");
        tokio::spawn(server::serve_udp(Arc::new(udp), Arc::clone(&server)));
        tokio::spawn(server::serve_tcp(tcp, Arc::clone(&server)));
    }
    admin.ready.store(true, Ordering::Relaxed);
    info!(config = %config.path.display(), upstreams = config.upstream.servers.len(), "ready");
    shutdown().await;
    info!("shutting down");
    Ok(())
}

/// UDP and TCP on `addr`; with port 0, TCP takes the port UDP got.
async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), BindError> {
    let udp = UdpSocket::bind(addr).await.map_err(|source| BindError { protocol: "udp", addr, source })?;
    let addr = udp.local_addr().map_err(|source| BindError { protocol: "udp", addr, source })?;
    let tcp = TcpListener::bind(addr).await.map_err(|source| BindError { protocol: "tcp", addr, source })?;
    Ok((udp, tcp))
}

/// Resolves on SIGTERM (service managers, `kill`) or SIGINT (Ctrl-C).
/// SIGHUP, which would otherwise kill the process, is caught and logged:
/// this build has no reload, so a changed config needs a restart.
async fn shutdown() {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
    else {
        warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => warn!("SIGHUP: this build cannot reload its config; restart stubborn to apply changes"),
        }
    }
}
