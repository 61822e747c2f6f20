//! Built without the `encrypted` cargo feature: config validation rejects
//! `tls://` and `https://` upstreams, so no upstream ever has this state.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::ClientConfig;
use tokio::time::Instant;

use super::{Ask, UpstreamError};
use crate::config::UpstreamAddr;

/// Never made: there is no value of this type.
pub enum Encrypted {}

impl Encrypted {
    pub fn new(_: &UpstreamAddr, _: &Arc<ClientConfig>, _: &Arc<[SocketAddr]>, _: Duration) -> Option<Encrypted> {
        None
    }

    pub async fn exchange(self: &Arc<Self>, _: &Ask<'_>, _: Instant) -> Result<Vec<u8>, UpstreamError> {
        match **self {}
    }
}
