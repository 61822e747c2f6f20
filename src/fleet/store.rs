//! The connection to the fleet store and whether it is up. A task of its
//! own connects (a standalone server through one multiplexed connection, a
//! Cluster through redis-rs's cluster client, which follows the slots), then
//! pings it every [`PING_EVERY`]; any failed command, the task's or a
//! caller's, marks the store down, drops the connection and makes the task
//! connect again, at most once per [`PING_EVERY`]. Callers never wait for a
//! down store: they see it down and skip it. Each change of state is
//! logged once.

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwapOption;
use redis::{
    Client, Cmd, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value,
    aio::{ConnectionLike, MultiplexedConnection},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
};
use tracing::{info, warn};

use crate::{config::FleetConfig, metrics::Metrics};

/// How often a connected store is pinged, and a lost one dialled again.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to either kind of store.
#[derive(Clone)]
pub enum Connection {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Standalone(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Standalone(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// The store's connection and state, shared by its users and its task.
pub struct Store {
    config: FleetConfig,
    /// `stubborn_fleet_up` follows `up`.
    metrics: Arc<Metrics>,
    connection: ArcSwapOption<Connection>,
    up: AtomicBool,
    state: Mutex<State>,
}

/// What `/status` shows of the store.
#[derive(Debug, Clone)]
pub struct State {
    /// When the store last went up or down (start time if never).
    pub since: SystemTime,
    pub last_error: Option<String>,
}

impl Store {
    /// The store of `config`; its connecting task runs while the store is
    /// held anywhere else.
    pub fn start(config: FleetConfig, metrics: Arc<Metrics>) -> Arc<Store> {
        let store = Arc::new(Store {
            config,
            metrics,
            connection: ArcSwapOption::empty(),
            up: AtomicBool::new(false),
            state: Mutex::new(State { since: SystemTime::now(), last_error: None }),
        });
        tokio::spawn(keep_connected(Arc::downgrade(&store)));
        store
    }

    /// The connection, while the store is up.
    pub fn connection(&self) -> Option<Connection> {
        if !self.is_up() {
            return None;
        }
        self.connection.load().as_deref().cloned()
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    pub fn state(&self) -> State {
        self.state.lock().expect("no panics while held").clone()
    }

    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// A command failed with `error`: the store is down until it answers again.
    pub fn failed(&self, error: &str) {
        self.connection.store(None);
        self.set_up(false, Some(error));
    }

    fn set_up(&self, up: bool, error: Option<&str>) {
        let mut state = self.state.lock().expect("no panics while held");
        if let Some(error) = error {
            state.last_error = Some(error.to_string());
        }
        if self.up.swap(up, Ordering::Relaxed) == up {
            return;
        }
        state.since = SystemTime::now();
        self.metrics.fleet_up.set(i64::from(up));
        let store = self.config.store_shown().join(", ");
        if up {
            info!(%store, "fleet store up");
        } else {
            warn!(%store, error = error.unwrap_or("unknown"), "fleet store down; reads skipped until it answers");
        }
    }
}

/// Connects, pings, reconnects, for as long as the store is held.
async fn keep_connected(store: Weak<Store>) {
    loop {
        let Some(held) = store.upgrade() else { return };
        let connection = held.connection.load_full();
        let outcome = match connection {
            Some(connection) => ping(&mut (*connection).clone()).await.map(|()| None),
            None => connect(&held.config).await.map(Some),
        };
        match outcome {
            Ok(Some(connection)) => {
                held.connection.store(Some(Arc::new(connection)));
                held.set_up(true, None);
            }
            Ok(None) => held.set_up(true, None),
            Err(error) => held.failed(&error),
        }
        drop(held);
        tokio::time::sleep(PING_EVERY).await;
    }
}

async fn ping(connection: &mut Connection) -> Result<(), String> {
    let pong: RedisResult<String> = redis::cmd("PING").query_async(connection).await;
    pong.map(drop).map_err(|error| error.to_string())
}

/// A new connection to the store of `config`.
async fn connect(config: &FleetConfig) -> Result<Connection, String> {
    let certificates = match &config.ca_file {
        Some(path) => {
            let root = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            Some(TlsCertificates { client_tls: None, root_cert: Some(root) })
        }
        None => None,
    };
    let connecting = async {
        if let [url] = config.store.as_slice() {
            let mut info = redis::IntoConnectionInfo::into_connection_info(url.as_str())?;
            if let Some(password) = &config.password {
                info = info.clone().set_redis_settings(info.redis_settings().clone().set_password(password));
            }
            let client = match certificates {
                Some(certificates) => Client::build_with_tls(info, certificates)?,
                None => Client::open(info)?,
            };
            let settings = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(CONNECT_TIMEOUT));
            Ok::<_, redis::RedisError>(Connection::Standalone(
                client.get_multiplexed_async_connection_with_config(&settings).await?,
            ))
        } else {
            let mut builder = ClusterClientBuilder::new(config.store.iter().map(String::as_str))
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(CONNECT_TIMEOUT)
                .retries(1);
            if let Some(password) = &config.password {
                builder = builder.password(password);
            }
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            Ok(Connection::Cluster(builder.build()?.get_async_connection().await?))
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("connect timed out".to_string()),
    }
}
