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

use tokio::{
    task::JoinSet,
    time::{Instant, MissedTickBehavior},
};
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
    let alive = every_interval_until_alive(upstream, timing, probe_question, |server| {
        if server.health.is_up() { Next::Stop } else { Next::Check }
    });
    if let Some(upstream) = alive.await {
        upstream.record_success(None, None);
    }
}

/// Whether a scheduled check of a server goes ahead.
enum Next {
    Check,
    /// Not this time (a server in a forwarding loop is not asked).
    Skip,
    /// The server needs no more checks.
    Stop,
}

/// [`check`]s `server` every `probe_interval`, until a check finds it
/// alive (returned) or it is dropped by a reload or `next` says stop
/// (None). A check is started on schedule even while earlier ones wait
/// out their `timeout`: a server that comes back is heard from within one
/// interval, however long the timeout, and it is asked no more often than
/// `probe_interval` says.
async fn every_interval_until_alive(
    server: Weak<Upstream>,
    timing: Timing,
    question: Arc<[u8]>,
    next: impl Fn(&Upstream) -> Next,
) -> Option<Arc<Upstream>> {
    let mut checks = JoinSet::new();
    let mut schedule = tokio::time::interval_at(Instant::now() + timing.probe_interval, timing.probe_interval);
    schedule.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = schedule.tick() => {
                let server = server.upgrade()?;
                match next(&server) {
                    Next::Stop => return None,
                    Next::Skip => continue,
                    Next::Check => {}
                }
                let (question, timing) = (Arc::clone(&question), timing.clone());
                checks.spawn(async move { check(&server, &question, &timing).await.is_alive().then_some(server) });
            }
            Some(Ok(Some(alive))) = checks.join_next(), if !checks.is_empty() => return Some(alive),
        }
    }
}

/// Runs after a pool failed a whole resolution: probes each of its servers
/// every `probe_interval`, each on its own schedule (a dead first server's
/// probes, waiting out their timeout, do not delay hearing from the second),
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
        let probed = every_interval_until_alive(server, timing.clone(), Arc::clone(&probe_question), |server| {
            if server.health.is_looped() { Next::Skip } else { Next::Check }
        });
        probing.spawn(probed);
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
