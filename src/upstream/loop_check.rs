//! Forwarding-loop detection (the idea of CoreDNS's `loop` plugin). A
//! resolv.conf fallback, a resolv file or a resolver in between can make
//! stubborn its own upstream. After start, a reload and a new resolv file,
//! every upstream is asked a random name under [`SUFFIX`]; if that query
//! comes back to stubborn's own listener, the upstream it was sent to
//! forwards to stubborn: it is marked down with `last error: forwarding
//! loop` and not asked again until the next check, and the returning probe
//! is answered REFUSED on the spot. Another stubborn's probe is forwarded
//! like any query, so that a loop through a second stubborn is found too,
//! and also to a server found looping, so that both stubborns of a loop
//! between them see it (a looping server's failures, like its answers,
//! change nothing: its last error stays the loop).
//! No loop becomes a query storm: a query that comes round again joins the
//! fetch already in flight for it (coalescing) instead of starting one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use tokio::{task::JoinSet, time::Instant};

use super::{Ask, Upstream, Upstreams};
use crate::wire::{self, TYPE_A};

/// `_stubborn-loop.invalid.` in wire form: `.invalid` never resolves
/// anywhere (RFC 6761 §6.4), so no resolver caches or answers it for real.
const SUFFIX: &[u8] = b"\x0e_stubborn-loop\x07invalid\x00";

/// The probe names sent and not yet answered, with the upstream each went to.
#[derive(Default)]
pub struct LoopCheck {
    sent: Mutex<HashMap<Box<[u8]>, Weak<Upstream>>>,
}

impl LoopCheck {
    /// True for a name (lower-case wire form) under the reserved suffix.
    pub fn is_probe(name: &[u8]) -> bool {
        wire::is_at_or_below(name, SUFFIX)
    }

    /// A probe name arrived at stubborn's listener: if stubborn sent it,
    /// the upstream it went to loops back. True when one was found.
    pub fn received(&self, name: &[u8]) -> bool {
        let sent = self.sent.lock().expect("no panics while held").remove(name);
        match sent.and_then(|upstream| upstream.upgrade()) {
            Some(upstream) => {
                upstream.mark_loop();
                true
            }
            None => false,
        }
    }

    /// Asks each server of `upstreams` (each once, however many pools list
    /// it) its own probe name, and waits for every answer or timeout.
    pub async fn run(self: Arc<Self>, upstreams: Arc<Upstreams>) {
        let mut asked: Vec<&Arc<Upstream>> = Vec::new();
        for server in upstreams.servers() {
            if !asked.iter().any(|a| Arc::ptr_eq(a, server)) {
                asked.push(server);
            }
        }
        let mut probes = JoinSet::new();
        for server in asked {
            server.clear_loop();
            let name = probe_name();
            self.sent.lock().expect("no panics while held").insert(name.clone().into(), Arc::downgrade(server));
            let (server, timeout) = (Arc::clone(server), upstreams.timeout());
            probes.spawn(async move {
                let question = wire::question_of(&name, TYPE_A);
                let ask = Ask::plain(&question);
                // The answer says nothing: whether the probe came back is what counts.
                let _ = server.exchange(&ask, Instant::now() + timeout).await;
            });
        }
        probes.join_all().await;
        self.sent.lock().expect("no panics while held").clear();
    }
}

/// `<16 random hex digits>._stubborn-loop.invalid.` in wire form.
fn probe_name() -> Vec<u8> {
    let label = format!("{:016x}", rand::random::<u64>());
    let mut name = vec![16];
    name.extend_from_slice(label.as_bytes());
    name.extend_from_slice(SUFFIX);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_are_under_the_suffix_on_label_boundaries() {
        assert!(LoopCheck::is_probe(&probe_name()));
        assert!(LoopCheck::is_probe(SUFFIX));
        assert!(!LoopCheck::is_probe(b"\x03www\x07example\x00"));
        assert!(!LoopCheck::is_probe(b"\x0fx_stubborn-loop\x07invalid\x00"));
    }
}
