//! Built without the `fleet` cargo feature: config validation rejects
//! `[fleet]`, so no fleet is ever started and none of this runs.

use std::{sync::Arc, time::Duration, time::SystemTime};

use serde_json::Value;

use crate::{
    cache::Entry,
    config::{CacheConfig, FleetConfig},
    metrics::Metrics,
};

/// Never made: there is no value of this type.
pub enum Fleet {}

impl Fleet {
    pub fn start(_: FleetConfig, _: Arc<Metrics>) -> Fleet {
        unreachable!("config validation rejects [fleet] in a build without the fleet feature")
    }

    pub fn config(&self) -> &FleetConfig {
        match *self {}
    }

    pub fn publish(&self, _: &[u8], _: &Arc<Entry>, _: Duration) {
        match *self {}
    }

    pub async fn read(&self, _: &[u8], _: &CacheConfig) -> Option<Entry> {
        match *self {}
    }

    pub async fn first_empty(&self, _: &[u8], _: SystemTime, _: Duration) -> Option<SystemTime> {
        match *self {}
    }

    pub fn status(&self) -> Value {
        match *self {}
    }
}
