//! Upstreams inside the test process, for the answer rules on paused time
//! (`resolver/tests.rs`): a [`Script`] registered for an address answers,
//! refuses, fails, stays silent or answers late, query by query, where the
//! real transports would go to the network. Everything else of the pool
//! (order, hedging, health, probes, rechecks) runs as in production.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicU16, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

use super::{Ask, UpstreamError};
use crate::{
    config::UpstreamAddr,
    test_packets::Packet,
    wire::{NOERROR, NXDOMAIN, TYPE_A},
};

/// What a script does with one query.
#[derive(Debug, Clone)]
pub enum Act {
    /// NOERROR with one A record (for A queries; NODATA for other types).
    Answer {
        ip: Ipv4Addr,
        ttl: u32,
    },
    /// NXDOMAIN with an SOA whose TTL and MINIMUM are this negative TTL.
    NxDomain(u32),
    /// NOERROR, no records, an SOA with this negative TTL.
    NoData(u32),
    /// These bytes as the reply (the ID and question are not checked here).
    Reply(Vec<u8>),
    Refuse,
    ServFail,
    /// No reply: the attempt times out.
    Silent,
    /// The act, this much later (or a timeout if that is past the deadline).
    After(Duration, Box<Act>),
}

type Behaviour = Box<dyn FnMut(&[u8]) -> Act + Send>;

/// One scripted server: what it does per question, and how often it was asked.
pub struct Script {
    behaviour: Mutex<Behaviour>,
    asked: AtomicUsize,
}

static SCRIPTS: LazyLock<Mutex<HashMap<SocketAddr, Arc<Script>>>> = LazyLock::new(Mutex::default);
/// Each script gets an address of its own (192.0.2.1, port counting up), so tests run in parallel.
static NEXT_PORT: AtomicU16 = AtomicU16::new(1024);

impl Script {
    /// A server at an address of its own doing `act` for every query; its address, as the config writes it.
    pub fn always(act: Act) -> (Arc<Script>, UpstreamAddr) {
        Script::new(move |_| act.clone())
    }

    /// A server at an address of its own doing what `behaviour` says for each question.
    pub fn new(behaviour: impl FnMut(&[u8]) -> Act + Send + 'static) -> (Arc<Script>, UpstreamAddr) {
        let script = Arc::new(Script { behaviour: Mutex::new(Box::new(behaviour)), asked: AtomicUsize::new(0) });
        let addr = SocketAddr::from(([192, 0, 2, 1], NEXT_PORT.fetch_add(1, Ordering::Relaxed)));
        SCRIPTS.lock().expect("no panics while held").insert(addr, Arc::clone(&script));
        (script, UpstreamAddr::plain(addr))
    }

    /// Does `act` from now on.
    pub fn set(&self, act: Act) {
        *self.behaviour.lock().expect("no panics while held") = Box::new(move |_| act.clone());
    }

    /// Queries received, probes included.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }

    pub(super) async fn exchange(&self, ask: &Ask<'_>, deadline: Instant) -> Result<Vec<u8>, UpstreamError> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let mut act = (self.behaviour.lock().expect("no panics while held"))(ask.question);
        loop {
            return match act {
                Act::After(delay, then) => {
                    if Instant::now() + delay > deadline {
                        tokio::time::sleep_until(deadline).await;
                        return Err(UpstreamError::Timeout);
                    }
                    tokio::time::sleep(delay).await;
                    act = *then;
                    continue;
                }
                Act::Silent => {
                    tokio::time::sleep_until(deadline).await;
                    Err(UpstreamError::Timeout)
                }
                Act::Refuse => Err(UpstreamError::Refused),
                Act::ServFail => Err(UpstreamError::ServFail),
                Act::Reply(bytes) => Ok(bytes),
                Act::Answer { ip, ttl } => Ok(answer(ask.question, ip, ttl)),
                Act::NxDomain(ttl) => Ok(negative(ask.question, NXDOMAIN, ttl)),
                Act::NoData(ttl) => Ok(negative(ask.question, NOERROR, ttl)),
            };
        }
    }
}

/// The script registered for `addr`, if any.
pub(super) fn find(addr: &UpstreamAddr) -> Option<Arc<Script>> {
    let addr = addr.socket_addr()?;
    SCRIPTS.lock().expect("no panics while held").get(&addr).cloned()
}

/// NOERROR for `question`: one A record of the question's name if it asks for A, else NODATA.
fn answer(question: &[u8], ip: Ipv4Addr, ttl: u32) -> Vec<u8> {
    let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
    if qtype != TYPE_A {
        return negative(question, NOERROR, ttl);
    }
    let reply = Packet::reply_to(question);
    let owner = reply.qname();
    reply.a(&owner, ttl, ip.octets()).build()
}

/// `rcode` with an SOA of the root in the authority section, TTL and MINIMUM `ttl` (RFC 2308).
fn negative(question: &[u8], rcode: u8, ttl: u32) -> Vec<u8> {
    Packet::reply_to(question).rcode(rcode).soa(".", ttl, [1, 3600, 900, 604_800, ttl]).build()
}
