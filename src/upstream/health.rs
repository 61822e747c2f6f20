//! Health of one upstream: a small state machine, up → down after
//! `fail_after` consecutive failures, down → up when the server shows it is
//! alive (the [`Verdict`] of a background probe, or an answer to a query).
//! Reading "is it up" on the query path is one atomic load; transitions are
//! returned so that the caller logs each one once and starts the probe
//! (linkerd's failure-accrual breaker has the same shape). It also keeps
//! what `/status` shows: since when, the last error, and a smoothed latency.
//!
//! No client can mark a healthy server down, or make it flap, by what it
//! asks. Timeouts and network errors are about the server and count at
//! once. A REFUSED, SERVFAIL, other RCODE or reply to another question may
//! be about the names asked only, so when such failures help reach
//! `fail_after` the caller is told to [`Transition::Verify`]: it asks the
//! server two questions, never the one a client asked last, and the server
//! is alive if it answers either:
//! - the pool's probe question, `<zone> NS` (`. NS` for the default pool),
//!   which the down probes ask too. No client controls the root, and a
//!   recursive resolver answers it from its root priming (RFC 8109) whatever
//!   happens to the zones its clients ask about: a client whose zone answers
//!   once and then fails cannot fail this check;
//! - the first question the server answered (CD clear), kept for the life
//!   of its health and never renewed: renewed after failures, it would be
//!   whatever a client asks next, the attacker's pick. It is there for
//!   servers that refuse the root but serve names (an authoritative, a
//!   forwarder limited to some zones), which answer only names their
//!   operator serves. A client may have asked it first, but the root still
//!   speaks for a recursive resolver: the check fails only if both fail.
//!   The price of never renewing it: a server that refuses the root and
//!   stops serving that name's zone is counted down by refusals of other
//!   names, and comes back when it answers one of the two again (or a
//!   query while no server of its pool is up).
//!
//! The verdict ([`Health::verdict`]): an answer to either means the failures
//! were about the names (the count starts over). Failing a question it
//! answered before (either one), or failing the probe question with
//! SERVFAIL, a timeout or a broken reply, means the server is down. A server
//! that has answered neither and refuses the probe question cannot be told
//! from an authoritative asked for names outside its zones (a fresh start):
//! its refusals never count it down; it is asked first and fails over at
//! once. A down server comes back on the same verdict, asked by a probe
//! every `probe_interval`: one that refuses or fails everything, both
//! questions included, stays down, so its state changes at most once per
//! probe interval. A refused probe question brings a server back only when
//! it never answered either question (it went down for silence or errors and
//! replies again, and nothing better is known to ask it).

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use super::UpstreamError;

/// Weight of a new latency sample in the moving average.
const LATENCY_WEIGHT: f64 = 0.2;

/// What a recorded result changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    /// The failure that reached `fail_after`: stop using the server, start probing it.
    WentDown,
    /// `fail_after` reached with failures that may be about the names asked:
    /// ask the server the probe question and [`Health::known_good`], judge
    /// the replies with [`Health::verdict`] and report with [`Health::verified`].
    Verify,
    /// The first success of a down server: use it again.
    CameUp,
}

/// What a server's replies to stubborn's own questions say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It answered one of them: it serves names.
    Answers,
    /// It answered neither ever, and refuses the probe question: it
    /// replies, but whether it serves names cannot be told.
    Refuses,
    /// It fails a question it answered before, or the probe question for
    /// reasons about the server (SERVFAIL, a timeout, a broken reply).
    Fails,
    /// stubborn could not ask (a local error): nothing is learnt.
    Unknown,
}

impl Verdict {
    /// True when a down server may be used again.
    pub fn is_alive(self) -> bool {
        matches!(self, Verdict::Answers | Verdict::Refuses)
    }
}

#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    /// It forwards our queries back to us: never asked, not even when
    /// every server is down, until a new loop check clears it.
    looped: AtomicBool,
    state: Mutex<State>,
    fail_after: u32,
}

/// A copy of the health for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub up: bool,
    /// When the server last went up or down (start time if never).
    pub since: SystemTime,
    pub last_error: Option<UpstreamError>,
    /// Exponentially weighted moving average of answered attempts.
    pub latency: Option<Duration>,
}

#[derive(Debug)]
struct State {
    /// Consecutive failures; reset by any success.
    failures: u32,
    /// Some of those failures may be about the names asked (not the server).
    about_names: bool,
    /// A check of those failures is running: no second one.
    verifying: bool,
    /// The first question the server answered, never replaced: what a
    /// check asks besides the probe question.
    known_good: Option<Box<[u8]>>,
    /// The server answered the probe question once: failing it later is
    /// about the server, whatever the RCODE.
    answered_probe: bool,
    since: SystemTime,
    last_error: Option<UpstreamError>,
    latency: Option<Duration>,
}

impl Health {
    pub fn new(fail_after: u32) -> Health {
        let state = State {
            failures: 0,
            about_names: false,
            verifying: false,
            known_good: None,
            answered_probe: false,
            since: SystemTime::now(),
            last_error: None,
            latency: None,
        };
        Health {
            up: AtomicBool::new(true),
            looped: AtomicBool::new(false),
            state: Mutex::new(state),
            fail_after: fail_after.max(1),
        }
    }

    /// Consecutive failures that count a server down.
    pub fn fail_after(&self) -> u32 {
        self.fail_after
    }

    /// Marks the server as a forwarding loop: down, with that as its last error.
    pub fn looped(&self) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        self.looped.store(true, Ordering::Relaxed);
        state.last_error = Some(UpstreamError::Loop);
        self.went_down(&mut state)
    }

    /// True while the server is known to forward back to us.
    pub fn is_looped(&self) -> bool {
        self.looped.load(Ordering::Relaxed)
    }

    /// A new loop check starts: a server found looping before is up again
    /// until the check says otherwise.
    pub fn clear_loop(&self) -> Transition {
        if self.looped.swap(false, Ordering::Relaxed) { self.success(None, None) } else { Transition::Unchanged }
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records an answer to `question` that took `latency` (None: a probe
    /// or a verification, which say nothing of query latency or names).
    pub fn success(&self, question: Option<&[u8]>, latency: Option<Duration>) -> Transition {
        if self.is_looped() {
            // Its answers come through stubborn itself: they prove nothing.
            return Transition::Unchanged;
        }
        let mut state = self.state.lock().expect("no panics while held");
        state.failures = 0;
        state.about_names = false;
        // Kept from the first answer on, so a success costs no allocation.
        if let Some(question) = question
            && state.known_good.is_none()
        {
            state.known_good = Some(question.into());
        }
        if let Some(sample) = latency {
            state.latency = Some(match state.latency {
                None => sample,
                Some(average) => average.mul_f64(1.0 - LATENCY_WEIGHT) + sample.mul_f64(LATENCY_WEIGHT),
            });
        }
        if self.up.swap(true, Ordering::Relaxed) {
            Transition::Unchanged
        } else {
            state.since = SystemTime::now();
            Transition::CameUp
        }
    }

    pub fn failure(&self, error: &UpstreamError) -> Transition {
        if self.is_looped() {
            // As for its answers; and its last error stays the loop.
            return Transition::Unchanged;
        }
        let mut state = self.state.lock().expect("no panics while held");
        state.failures = state.failures.saturating_add(1);
        state.about_names |= error.may_be_about_the_question();
        state.last_error = Some(error.clone());
        if state.failures < self.fail_after || !self.is_up() || state.verifying {
            return Transition::Unchanged;
        }
        if state.about_names {
            state.verifying = true;
            Transition::Verify
        } else {
            self.went_down(&mut state)
        }
    }

    /// The question a check asks besides the probe question: the first
    /// one the server answered, if any.
    pub fn known_good(&self) -> Option<Box<[u8]>> {
        self.state.lock().expect("no panics while held").known_good.clone()
    }

    /// Judges a check: `probe` is the server's reply to the probe
    /// question, `known_good` to [`Health::known_good`] (None when there
    /// was none to ask). Notes an answered probe question for later checks.
    pub fn verdict(&self, probe: Result<(), UpstreamError>, known_good: Option<Result<(), UpstreamError>>) -> Verdict {
        let mut state = self.state.lock().expect("no panics while held");
        let probe = match probe {
            Ok(()) => {
                state.answered_probe = true;
                return Verdict::Answers;
            }
            Err(error) => error,
        };
        let known_good = match known_good {
            Some(Ok(())) => return Verdict::Answers,
            Some(Err(error)) => Some(error),
            None => None,
        };
        let local = |error: &UpstreamError| matches!(error, UpstreamError::Local(_));
        if known_good.as_ref().is_some_and(|e| !local(e)) || (state.answered_probe && !local(&probe)) {
            return Verdict::Fails;
        }
        if local(&probe) || known_good.is_some() {
            // A question could not be asked; the other proves nothing.
            return Verdict::Unknown;
        }
        match probe {
            UpstreamError::Refused | UpstreamError::Rcode(_) => Verdict::Refuses,
            _ => Verdict::Fails,
        }
    }

    /// The outcome of a [`Transition::Verify`]: only [`Verdict::Fails`] counts
    /// the server down; otherwise the failures were about the names.
    pub fn verified(&self, verdict: Verdict) -> Transition {
        let mut state = self.state.lock().expect("no panics while held");
        state.verifying = false;
        if verdict != Verdict::Fails {
            state.failures = 0;
            state.about_names = false;
            Transition::Unchanged
        } else if self.is_up() {
            self.went_down(&mut state)
        } else {
            Transition::Unchanged
        }
    }

    fn went_down(&self, state: &mut State) -> Transition {
        if self.up.swap(false, Ordering::Relaxed) {
            state.since = SystemTime::now();
            Transition::WentDown
        } else {
            Transition::Unchanged
        }
    }

    /// The smoothed latency of answered queries, if any was answered.
    pub fn latency(&self) -> Option<Duration> {
        self.state.lock().expect("no panics while held").latency
    }

    pub fn report(&self) -> HealthReport {
        let state = self.state.lock().expect("no panics while held");
        HealthReport {
            up: self.is_up(),
            since: state.since,
            last_error: state.last_error.clone(),
            latency: state.latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: UpstreamError = UpstreamError::Timeout;
    const REFUSED: Result<(), UpstreamError> = Err(UpstreamError::Refused);
    const SERVFAIL: Result<(), UpstreamError> = Err(UpstreamError::ServFail);
    const ANSWERED: Result<(), UpstreamError> = Ok(());

    /// Fails `fail_after` times with `error`; the last one asks for a check.
    fn failed_to_a_check(h: &Health, error: &UpstreamError) {
        for _ in 1..h.fail_after() {
            assert_eq!(h.failure(error), Transition::Unchanged);
        }
        assert_eq!(h.failure(error), Transition::Verify);
    }

    #[test]
    fn down_after_fail_after_consecutive_failures_only() {
        let h = Health::new(3);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.success(None, None), Transition::Unchanged, "a success resets the count");
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged);
        assert!(h.is_up());
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        assert!(!h.is_up());
        assert_eq!(h.failure(&TIMEOUT), Transition::Unchanged, "went down once, not again");
        assert_eq!(h.report().last_error, Some(TIMEOUT));
    }

    #[test]
    fn one_success_brings_a_down_server_back() {
        let h = Health::new(1);
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        let down_since = h.report().since;
        assert_eq!(h.success(None, None), Transition::CameUp);
        assert!(h.is_up());
        assert!(h.report().since >= down_since);
        assert_eq!(h.success(None, None), Transition::Unchanged);
    }

    #[test]
    fn latency_is_a_moving_average() {
        let h = Health::new(1);
        h.success(None, Some(Duration::from_millis(10)));
        h.success(None, Some(Duration::from_millis(20)));
        assert_eq!(h.report().latency, Some(Duration::from_millis(12)));
    }

    #[test]
    fn refusals_about_names_are_verified_before_a_down_mark() {
        let h = Health::new(3);
        h.success(Some(b"good"), None);
        failed_to_a_check(&h, &UpstreamError::Refused);
        assert_eq!(h.failure(&UpstreamError::Refused), Transition::Unchanged, "one verification at a time");
        assert!(h.is_up());
        assert_eq!(h.known_good().as_deref(), Some(b"good".as_slice()));
        let verdict = h.verdict(REFUSED, Some(ANSWERED));
        assert_eq!(verdict, Verdict::Answers);
        assert_eq!(h.verified(verdict), Transition::Unchanged);
        assert!(h.is_up(), "it answered the known-good question: the refusals were about the names");
        failed_to_a_check(&h, &UpstreamError::ServFail);
        let verdict = h.verdict(REFUSED, Some(REFUSED));
        assert_eq!(verdict, Verdict::Fails, "it refuses what it answered before");
        assert_eq!(h.verified(verdict), Transition::WentDown);
        assert!(!h.is_up());
    }

    /// A client makes a name of its own zone answer once, right after a
    /// failure, then fail: the check never asks that name, and a recursive
    /// answers the probe question.
    #[test]
    fn no_client_picks_the_question_that_checks_the_server() {
        let h = Health::new(3);
        h.success(Some(b"first"), None);
        h.failure(&UpstreamError::ServFail);
        h.success(Some(b"evil"), None);
        assert_eq!(h.known_good().as_deref(), Some(b"first".as_slice()), "not renewed after a failure");
        for _ in 0..5 {
            failed_to_a_check(&h, &UpstreamError::ServFail);
            let verdict = h.verdict(ANSWERED, Some(SERVFAIL));
            assert_eq!(verdict, Verdict::Answers, "the probe question is answered");
            assert_eq!(h.verified(verdict), Transition::Unchanged);
        }
        assert!(h.is_up());
    }

    /// A fresh start: an authoritative refuses the root and the names
    /// outside its zones; nothing tells it from a server refusing all.
    #[test]
    fn refusals_before_any_answer_never_count_down() {
        let h = Health::new(3);
        for _ in 0..10 {
            failed_to_a_check(&h, &UpstreamError::Refused);
            let verdict = h.verdict(REFUSED, None);
            assert_eq!(verdict, Verdict::Refuses);
            assert_eq!(h.verified(verdict), Transition::Unchanged);
        }
        assert!(h.is_up());
        assert!(verdict_of_fresh(Err(UpstreamError::Rcode(4))).is_alive(), "NOTIMP for the root: a policy too");
    }

    /// With nothing answered before, the probe question decides: failing it
    /// (not refusing it) is about the server; an answer is learnt.
    #[test]
    fn the_probe_question_alone_decides_before_any_answer() {
        assert_eq!(verdict_of_fresh(SERVFAIL), Verdict::Fails);
        assert_eq!(verdict_of_fresh(Err(TIMEOUT)), Verdict::Fails);
        assert_eq!(verdict_of_fresh(Err(UpstreamError::Mismatch)), Verdict::Fails);
        assert_eq!(verdict_of_fresh(Err(UpstreamError::Local(std::io::ErrorKind::Other))), Verdict::Unknown);
        let h = Health::new(1);
        assert_eq!(h.verdict(ANSWERED, None), Verdict::Answers);
        assert_eq!(h.verdict(REFUSED, None), Verdict::Fails, "it refuses what it answered before");
    }

    fn verdict_of_fresh(probe: Result<(), UpstreamError>) -> Verdict {
        Health::new(1).verdict(probe, None)
    }

    #[test]
    fn a_local_error_decides_nothing() {
        let local = || Err(UpstreamError::Local(std::io::ErrorKind::Other));
        let h = Health::new(1);
        h.success(Some(b"good"), None);
        assert_eq!(h.verdict(REFUSED, Some(local())), Verdict::Unknown);
        assert_eq!(h.verdict(local(), Some(REFUSED)), Verdict::Fails, "it refuses what it answered before");
        assert_eq!(h.verified(Verdict::Unknown), Transition::Unchanged);
        assert!(h.is_up());
        assert!(!Verdict::Unknown.is_alive(), "no probe brings a server back on it");
    }

    /// A server that refuses everything, its known-good question included:
    /// down at the first check and down at every probe after it, so one
    /// change, until it answers again.
    #[test]
    fn a_server_refusing_everything_goes_down_once_and_stays_down() {
        let h = Health::new(3);
        h.success(Some(b"good"), None);
        let mut changes = Vec::new();
        for _ in 0..20 {
            for _ in 0..3 {
                match h.failure(&UpstreamError::Refused) {
                    Transition::Verify => changes.push(h.verified(h.verdict(REFUSED, Some(REFUSED)))),
                    transition => changes.push(transition),
                }
            }
            let probe = h.verdict(REFUSED, Some(REFUSED));
            assert!(!probe.is_alive(), "a refused probe brings nothing back");
        }
        changes.retain(|t| *t != Transition::Unchanged);
        assert_eq!(changes, [Transition::WentDown]);
        assert!(h.verdict(ANSWERED, Some(REFUSED)).is_alive());
        assert_eq!(h.success(None, None), Transition::CameUp);
    }

    #[test]
    fn timeouts_alone_go_down_without_a_check() {
        let h = Health::new(2);
        h.success(Some(b"good"), None);
        h.failure(&TIMEOUT);
        assert_eq!(h.failure(&TIMEOUT), Transition::WentDown);
        let fresh = Health::new(2);
        fresh.failure(&TIMEOUT);
        assert_eq!(fresh.failure(&TIMEOUT), Transition::WentDown);
    }
}
