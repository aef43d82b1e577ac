//! What stands between the engine and an adapter's peer: a circuit breaker (a dead peer is
//! probed, not hammered) and the peer's limits (calls at once, calls per second), shared by
//! deliveries and requests.
//!
//! The breaker counts calls in a row that failed transiently; at `failures` it opens for
//! `open_for`. Then one call goes as a probe: if it succeeds the breaker closes, if not it opens
//! again for twice as long (at most `max_open_for`). Deliveries wait while it is open, holding
//! their messages unacked, so no attempt is spent; requests are refused at once.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{BreakerPolicy, PeerLimits};
use crate::events;

pub struct PeerGuard {
    adapter: String,
    policy: BreakerPolicy,
    state: Mutex<Breaker>,
    /// Bumped on every change of `state`, to wake the lanes waiting on it.
    changed: watch::Sender<u64>,
    calls: Option<Arc<Semaphore>>,
    rate: Option<DefaultDirectRateLimiter>,
}

#[derive(Debug)]
struct Breaker {
    failures_in_row: u32,
    /// Open until then; `None` when closed.
    open_until: Option<Instant>,
    /// A probe call is out.
    probing: bool,
    open_for: Duration,
}

/// How a peer's breaker stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BreakerStatus {
    /// `closed` (calls go), `open` (the peer is failing; not called) or `probing` (one call out).
    pub state: &'static str,
    /// Calls in a row that failed transiently.
    pub failures_in_row: u32,
    /// While open: when the probe call goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_in_ms: Option<u64>,
}

/// Leave to call the peer once; say how it went with [`Pass::finish`].
pub struct Pass<'a> {
    guard: &'a PeerGuard,
    probe: bool,
    finished: bool,
    _slot: Option<OwnedSemaphorePermit>,
}

/// Whether a call may go now, when it may not wait.
pub enum Now<'a> {
    Go(Pass<'a>),
    /// The breaker is open: the peer is failing.
    Open {
        retry_in: Duration,
    },
}

impl PeerGuard {
    pub fn new(adapter: &str, policy: BreakerPolicy, limits: &PeerLimits) -> PeerGuard {
        let rate = limits.rate.and_then(NonZeroU32::new).map(|rate| {
            let burst = limits.burst.and_then(NonZeroU32::new).unwrap_or(rate);
            RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
        });
        PeerGuard {
            adapter: adapter.to_string(),
            state: Mutex::new(Breaker {
                failures_in_row: 0,
                open_until: None,
                probing: false,
                open_for: policy.open_for,
            }),
            policy,
            changed: watch::channel(0).0,
            calls: limits.concurrency.map(|n| Arc::new(Semaphore::new(n as usize))),
            rate,
        }
    }

    /// Waits until a call may go: the breaker closed (or this call is its probe), a slot free
    /// and the rate respected. `None` on shutdown.
    pub async fn wait(&self, shutdown: &CancellationToken) -> Option<Pass<'_>> {
        let probe = loop {
            let mut changed = self.changed.subscribe();
            let wait = match self.admit() {
                Ok(probe) => break probe,
                Err(wait) => wait,
            };
            tokio::select! {
                _ = async { match wait { Some(d) => tokio::time::sleep(d).await, None => { let _ = changed.changed().await; } } } => {}
                _ = shutdown.cancelled() => return None,
            }
        };
        let mut pass = Pass { guard: self, probe, finished: false, _slot: None };
        tokio::select! {
            limited = self.limits() => pass._slot = limited,
            _ = shutdown.cancelled() => return None,
        }
        Some(pass)
    }

    /// For a caller that cannot wait on the breaker (a request, whose caller is waiting): goes
    /// now or says how long the breaker stays open. The limits are still waited for.
    pub async fn now(&self) -> Now<'_> {
        match self.admit() {
            Ok(probe) => {
                let mut pass = Pass { guard: self, probe, finished: false, _slot: None };
                pass._slot = self.limits().await;
                Now::Go(pass)
            }
            Err(wait) => Now::Open { retry_in: wait.unwrap_or(self.policy.open_for) },
        }
    }

    /// `Ok(probe)` when a call may go; else how long until it might (`None`: when the probe
    /// out now comes back).
    fn admit(&self) -> Result<bool, Option<Duration>> {
        let mut state = self.state.lock().expect("breaker state");
        match state.open_until {
            None => Ok(false),
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Err(Some(until - now))
                } else if state.probing {
                    Err(None)
                } else {
                    state.probing = true;
                    Ok(true)
                }
            }
        }
    }

    async fn limits(&self) -> Option<OwnedSemaphorePermit> {
        let slot = match &self.calls {
            Some(calls) => Some(calls.clone().acquire_owned().await.expect("the semaphore is never closed")),
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.until_ready().await;
        }
        slot
    }

    fn record(&self, probe: bool, failed: bool) {
        let mut state = self.state.lock().expect("breaker state");
        if probe {
            state.probing = false;
        }
        if !failed {
            state.failures_in_row = 0;
            state.open_for = self.policy.open_for;
            if state.open_until.take().is_some() {
                events::breaker_closed(&self.adapter);
            }
        } else if self.policy.failures > 0 {
            state.failures_in_row = state.failures_in_row.saturating_add(1);
            if probe {
                state.open_for = (state.open_for * 2).min(self.policy.max_open_for);
            }
            let opens = probe || (state.open_until.is_none() && state.failures_in_row >= self.policy.failures);
            if opens {
                state.open_until = Some(Instant::now() + state.open_for);
                events::breaker_opened(&self.adapter, state.failures_in_row, state.open_for, probe);
            }
        }
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The breaker as `GET /v1/adapters` shows it.
    pub fn status(&self) -> BreakerStatus {
        let state = self.state.lock().expect("breaker state");
        let (word, probe_in_ms) = match state.open_until {
            None => ("closed", None),
            Some(_) if state.probing => ("probing", None),
            Some(until) => ("open", Some(until.saturating_duration_since(Instant::now()).as_millis() as u64)),
        };
        BreakerStatus { state: word, failures_in_row: state.failures_in_row, probe_in_ms }
    }
}

impl Pass<'_> {
    /// How the call went: `failed` when the peer failed (every message of it failed
    /// transiently, or the request found the peer unavailable).
    pub fn finish(mut self, failed: bool) {
        self.finished = true;
        self.guard.record(self.probe, failed);
    }
}

impl Drop for Pass<'_> {
    /// A call abandoned (shutdown) tells nothing about the peer; a probe's turn passes on.
    fn drop(&mut self) {
        if !self.finished && self.probe {
            self.guard.state.lock().expect("breaker state").probing = false;
            self.guard.changed.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(failures: u32) -> PeerGuard {
        let policy =
            BreakerPolicy { failures, open_for: Duration::from_millis(50), max_open_for: Duration::from_millis(150) };
        PeerGuard::new("portal", policy, &PeerLimits::default())
    }

    fn is_open(guard: &PeerGuard) -> bool {
        guard.status().state != "closed"
    }

    async fn call(guard: &PeerGuard, failed: bool) -> bool {
        let pass = guard.wait(&CancellationToken::new()).await.unwrap();
        let probe = pass.probe;
        pass.finish(failed);
        probe
    }

    #[tokio::test]
    async fn it_opens_after_failures_in_row_and_a_success_resets_the_count() {
        let guard = guard(3);
        for _ in 0..2 {
            call(&guard, true).await;
        }
        call(&guard, false).await;
        for _ in 0..2 {
            call(&guard, true).await;
        }
        assert!(!is_open(&guard), "a success in between starts the count again");
        call(&guard, true).await;
        assert!(is_open(&guard));
        assert!(matches!(guard.now().await, Now::Open { .. }), "requests are refused while open");
    }

    #[tokio::test]
    async fn while_open_one_probe_goes_and_a_failed_probe_doubles_the_pause() {
        let guard = guard(1);
        call(&guard, true).await;
        let opened = Instant::now();
        assert!(call(&guard, true).await, "the first call after the pause is the probe");
        assert!(opened.elapsed() >= Duration::from_millis(50));
        let reopened = Instant::now();
        // Twice as long now; a success closes it.
        assert!(call(&guard, false).await);
        assert!(reopened.elapsed() >= Duration::from_millis(100));
        assert!(!is_open(&guard));
        assert!(!call(&guard, false).await, "closed: no probe");
    }

    #[tokio::test]
    async fn only_one_probe_is_out_at_a_time() {
        let guard = Arc::new(guard(1));
        call(&guard, true).await;
        let probe = guard.wait(&CancellationToken::new()).await.unwrap();
        assert!(probe.probe);
        // Another caller waits for the probe's answer rather than calling too.
        let waiting = tokio::spawn({
            let guard = guard.clone();
            async move { guard.wait(&CancellationToken::new()).await.map(|p| p.probe) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        probe.finish(false);
        assert_eq!(waiting.await.unwrap(), Some(false));
    }

    #[tokio::test]
    async fn zero_failures_turns_it_off() {
        let guard = guard(0);
        for _ in 0..20 {
            call(&guard, true).await;
        }
        assert!(!is_open(&guard));
    }

    #[tokio::test]
    async fn calls_at_once_are_limited() {
        let limits = PeerLimits { concurrency: Some(2), ..PeerLimits::default() };
        let guard = PeerGuard::new("portal", BreakerPolicy::default(), &limits);
        let shutdown = CancellationToken::new();
        let first = guard.wait(&shutdown).await.unwrap();
        let _second = guard.wait(&shutdown).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(20), guard.wait(&shutdown)).await;
        assert!(third.is_err(), "a third call waits for a slot");
        first.finish(false);
        assert!(guard.wait(&shutdown).await.is_some());
    }

    #[tokio::test]
    async fn calls_per_second_are_limited_after_the_burst() {
        let limits = PeerLimits { rate: Some(1), burst: Some(2), ..PeerLimits::default() };
        let guard = PeerGuard::new("portal", BreakerPolicy::default(), &limits);
        let shutdown = CancellationToken::new();
        for _ in 0..2 {
            guard.wait(&shutdown).await.unwrap().finish(false);
        }
        let third = tokio::time::timeout(Duration::from_millis(100), guard.wait(&shutdown)).await;
        assert!(third.is_err(), "the third call waits for the rate");
    }
}
