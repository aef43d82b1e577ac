//! What an adapter's deliveries have been doing lately, for `GET /v1/adapters`: counts since the
//! bus started, rates over the last minute and the last failure; and the tests in flight, each
//! waiting for its one outcome. Kept in memory and bounded: a minute of one-second buckets and
//! one last error. An adapter keeps its activity when it is changed live.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::oneshot;
use utoipa::ToSchema;

use crate::now_ms;

/// Seconds the rates look back over.
const WINDOW: usize = 60;
/// Tests waiting for their outcome at once, at most (each holds an HTTP request open).
pub const MAX_TESTS: usize = 32;

#[derive(Default)]
pub struct Activity {
    counts: Mutex<Counts>,
    tests: Mutex<HashMap<String, oneshot::Sender<TestOutcome>>>,
}

struct Counts {
    delivered: u64,
    failed: u64,
    dead_lettered: u64,
    /// Deliveries and failures of each of the last `WINDOW` seconds, by second modulo `WINDOW`.
    seconds: [Second; WINDOW],
    last_delivered_at: Option<i64>,
    last_error: Option<LastError>,
}

#[derive(Default, Clone, Copy)]
struct Second {
    /// Unix second this bucket counts; an older one counts nothing.
    at: i64,
    delivered: u32,
    failed: u32,
    /// Of the delivered, those whose acceptance time is known, and their latencies (from the
    /// bus's acceptance to the peer's acknowledgement).
    timed: u32,
    latency_ms_sum: u64,
    latency_ms_max: u32,
}

/// What the deliveries of some seconds added up to (see [`Activity::span`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub delivered: u64,
    pub failed: u64,
    pub timed: u64,
    pub latency_ms_sum: u64,
    pub latency_ms_max: u32,
}

impl std::ops::AddAssign for Span {
    fn add_assign(&mut self, other: Span) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.timed += other.timed;
        self.latency_ms_sum += other.latency_ms_sum;
        self.latency_ms_max = self.latency_ms_max.max(other.latency_ms_max);
    }
}

/// The last failed delivery to the adapter's peer.
#[derive(Clone, Serialize, ToSchema)]
pub struct LastError {
    /// RFC 3339.
    pub at: String,
    pub message_id: String,
    /// Why, as the dead letter or the retry records it (personal data masked).
    pub error: String,
}

/// What the adapter's deliveries have been doing.
#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    /// Messages its peer took since the bus started.
    pub delivered: u64,
    /// Failed attempts since the bus started (each retried or dead-lettered).
    pub failed: u64,
    /// Of those, messages given up on: in the dead-letter archive.
    pub dead_lettered: u64,
    /// Messages its peer took in the last minute.
    pub delivered_per_minute: u64,
    /// Failed attempts in the last minute.
    pub failed_per_minute: u64,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

/// What became of a test message: its one attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestOutcome {
    /// `delivered`, `superseded` or `failed`.
    pub outcome: &'static str,
    /// For a failure: whether the delivery policy takes it for permanent (a real message would
    /// be dead-lettered at once) or transient (it would be retried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the peer answered, as received (personal data masked, at most 2 KB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_answer: Option<String>,
}

impl Activity {
    /// A delivery the peer took, `latency` after the bus accepted the message (when known).
    pub fn delivered(&self, latency: Option<std::time::Duration>) {
        let now = now_ms();
        let mut counts = self.lock();
        counts.delivered += 1;
        counts.last_delivered_at = Some(now);
        let second = counts.second(now);
        second.delivered += 1;
        if let Some(latency) = latency {
            let ms = u32::try_from(latency.as_millis()).unwrap_or(u32::MAX);
            second.timed += 1;
            second.latency_ms_sum += u64::from(ms);
            second.latency_ms_max = second.latency_ms_max.max(ms);
        }
    }

    /// The deliveries of the Unix seconds `from..to`, of the last `WINDOW` seconds only.
    pub fn span(&self, from: i64, to: i64) -> Span {
        let counts = self.lock();
        let mut span = Span::default();
        for second in counts.seconds.iter().filter(|s| (from..to).contains(&s.at)) {
            span += Span {
                delivered: second.delivered.into(),
                failed: second.failed.into(),
                timed: second.timed.into(),
                latency_ms_sum: second.latency_ms_sum,
                latency_ms_max: second.latency_ms_max,
            };
        }
        span
    }

    /// A failed attempt: `error` is already masked.
    pub fn failed(&self, message_id: &str, error: &str, dead_lettered: bool) {
        let now = now_ms();
        let mut counts = self.lock();
        counts.failed += 1;
        counts.dead_lettered += u64::from(dead_lettered);
        counts.second(now).failed += 1;
        let at = crate::rfc3339_ms(now);
        counts.last_error = Some(LastError { at, message_id: message_id.into(), error: error.into() });
    }

    pub fn view(&self) -> ActivityView {
        let now_second = now_ms() / 1000;
        let counts = self.lock();
        let recent = counts.seconds.iter().filter(|s| now_second - s.at < WINDOW as i64);
        let (delivered, failed) =
            recent.fold((0, 0), |(d, f), s| (d + u64::from(s.delivered), f + u64::from(s.failed)));
        ActivityView {
            delivered: counts.delivered,
            failed: counts.failed,
            dead_lettered: counts.dead_lettered,
            delivered_per_minute: delivered,
            failed_per_minute: failed,
            last_delivered_at: counts.last_delivered_at.map(crate::rfc3339_ms),
            last_error: counts.last_error.clone(),
        }
    }

    /// Waits for the outcome of test message `message_id`, to be published next; `None` when
    /// `MAX_TESTS` are waiting already.
    pub fn expect_test(&self, message_id: &str) -> Option<oneshot::Receiver<TestOutcome>> {
        let mut tests = self.tests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tests.retain(|_, waiting| !waiting.is_closed());
        if tests.len() >= MAX_TESTS {
            return None;
        }
        let (sender, receiver) = oneshot::channel();
        tests.insert(message_id.to_string(), sender);
        Some(receiver)
    }

    /// Hands a test's outcome to whoever waits for it (no one, once it gave up).
    pub fn tested(&self, message_id: &str, outcome: TestOutcome) {
        let waiting = self.tests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(message_id);
        if let Some(waiting) = waiting {
            let _ = waiting.send(outcome);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            delivered: 0,
            failed: 0,
            dead_lettered: 0,
            seconds: [Second::default(); WINDOW],
            last_delivered_at: None,
            last_error: None,
        }
    }
}

impl Counts {
    /// The bucket of the second of `now_ms`, emptied if it held an older second.
    fn second(&mut self, now_ms: i64) -> &mut Second {
        let at = now_ms / 1000;
        let bucket = &mut self.seconds[at.rem_euclid(WINDOW as i64) as usize];
        if bucket.at != at {
            *bucket = Second { at, ..Default::default() };
        }
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_the_last_error() {
        let activity = Activity::default();
        activity.delivered(Some(std::time::Duration::from_millis(30)));
        activity.delivered(None);
        activity.failed("m-1", "peer answered 503", false);
        activity.failed("m-2", "peer answered 400", true);
        let view = activity.view();
        assert_eq!((view.delivered, view.failed, view.dead_lettered), (2, 2, 1));
        assert_eq!((view.delivered_per_minute, view.failed_per_minute), (2, 2));
        let last = view.last_error.expect("a last error");
        assert_eq!((last.message_id.as_str(), last.error.as_str()), ("m-2", "peer answered 400"));
        assert!(view.last_delivered_at.is_some());
        let now = now_ms() / 1000;
        let span = activity.span(now - 5, now + 1);
        assert_eq!((span.delivered, span.failed, span.timed, span.latency_ms_sum), (2, 2, 1, 30));
        assert_eq!(activity.span(now - 60, now - 30), Span::default());
    }

    #[test]
    fn a_bucket_of_an_older_second_counts_nothing_in_the_rate() {
        let mut counts = Counts::default();
        counts.second(1_000_000).delivered = 5;
        // The same bucket a minute later starts from zero.
        assert_eq!(counts.second(1_000_000 + WINDOW as i64 * 1000).delivered, 0);
    }

    #[test]
    fn a_test_outcome_reaches_its_waiter_and_waiters_are_capped() {
        let activity = Activity::default();
        let mut waiting = activity.expect_test("t-1").unwrap();
        let outcome =
            TestOutcome { outcome: "delivered", permanent: None, error: None, peer_answer: Some("ok".into()) };
        activity.tested("t-1", outcome);
        assert_eq!(waiting.try_recv().unwrap().peer_answer.as_deref(), Some("ok"));
        let held: Vec<_> = (0..MAX_TESTS).map(|i| activity.expect_test(&format!("t-{i}x")).unwrap()).collect();
        assert!(activity.expect_test("one-more").is_none());
        drop(held);
        assert!(activity.expect_test("one-more").is_some(), "a waiter that gave up frees its place");
    }
}
