//! Checking an upstream's health in the background, with questions
//! stubborn picks itself: a verification when failures that may be about
//! the names asked reach `fail_after` ([`verify`]), the probe of a server
//! counted down until it answers ([`probe_until_up`]), and the recheck of
//! a pool whose whole resolution failed ([`recheck_until_answered`]). Each
//! asks [`check`]'s two questions.

use std::sync::{
    Arc, Weak,
    atomic::{AtomicBool, Ordering},
};

use tokio::{task::JoinSet, time::Instant};
use tracing::debug;

use super::{
    Recovered, Timing, Upstream, UpstreamError,
    health::{Transition, Verdict},
};

/// Checks failures that may have been about the names asked: asks
/// `upstream` stubborn's own questions ([`check`]); only a server that
/// fails them is marked down.
pub(super) async fn verify(upstream: Arc<Upstream>, timing: Timing, probe_question: Arc<[u8]>) {
    let verdict = check(&upstream, &probe_question, &timing).await;
    if upstream.health.verified(verdict) == Transition::WentDown {
        let error = upstream.health.report().last_error.unwrap_or(UpstreamError::Timeout);
        upstream.went_down(&error, &timing, &probe_question);
    } else if verdict != Verdict::Fails {
        debug!(upstream = %upstream.addr.label, ?verdict, "failures checked: not counted down");
    }
}

/// Asks `upstream` the probe question and the first question it answered
/// (at once, so a check takes at most one `timeout`), and judges the
/// replies ([`Health::verdict`]). Used by verifications and probes alike.
pub(super) async fn check(upstream: &Upstream, probe_question: &[u8], timing: &Timing) -> Verdict {
    let deadline = Instant::now() + timing.timeout;
    let known_good = upstream.health.known_good();
    let probe = upstream.ask_plain(probe_question, deadline);
    let known_good = async {
        match &known_good {
            Some(question) => Some(upstream.ask_plain(question, deadline).await),
            None => None,
        }
    };
    tokio::pin!(probe, known_good);
    // An answer to either settles it at once: a server still loading a zone
    // may drop one question until its timeout, which must not delay the other.
    let (mut probed, mut known) = (None, None);
    loop {
        tokio::select! {
            result = &mut probe, if probed.is_none() => {
                if result.is_ok() {
                    return upstream.health.verdict(result, None);
                }
                probed = Some(result);
            }
            result = &mut known_good, if known.is_none() => {
                if matches!(result, Some(Ok(()))) {
                    return Verdict::Answers;
                }
                known = Some(result);
            }
        }
        if let (Some(probe), Some(known_good)) = (&probed, &known) {
            return upstream.health.verdict(probe.clone(), known_good.clone());
        }
    }
}

/// Runs while the server is down: [`check`]s it every `probe_interval`
/// until it is alive, or until a reload has dropped it.
pub(super) async fn probe_until_up(upstream: Weak<Upstream>, timing: Timing, probe_question: Arc<[u8]>) {
    loop {
        tokio::time::sleep(timing.probe_interval).await;
        let Some(upstream) = upstream.upgrade() else { return };
        if upstream.health.is_up() {
            return;
        }
        if check(&upstream, &probe_question, &timing).await.is_alive() {
            upstream.record_success(None, None);
            return;
        }
    }
}

/// Runs after a pool failed a whole resolution: probes each of its servers
/// every `probe_interval`, each on its own schedule (a dead first server's
/// probe, waiting out its timeout, does not delay hearing from the second),
/// until one answers; then notes the recovery (which ends the failure
/// recheck of the names that failed) and clears `rechecking`. Ends early
/// when a reload has dropped the pool.
pub(super) async fn recheck_until_answered(
    servers: Vec<Weak<Upstream>>,
    timing: Timing,
    probe_question: Arc<[u8]>,
    rechecking: Arc<AtomicBool>,
    recovered: Arc<Recovered>,
) {
    let mut probing = JoinSet::new();
    for server in servers {
        let (question, timing) = (Arc::clone(&probe_question), timing.clone());
        probing.spawn(async move {
            loop {
                tokio::time::sleep(timing.probe_interval).await;
                let server = server.upgrade()?;
                if !server.health.is_looped() && check(&server, &question, &timing).await.is_alive() {
                    return Some(server);
                }
            }
        });
    }
    // Dropping the set (on return) stops the other servers' probes.
    while let Some(probed) = probing.join_next().await {
        if let Ok(Some(server)) = probed {
            server.record_success(None, None);
            recovered.mark();
            rechecking.store(false, Ordering::Relaxed);
            return;
        }
    }
}
