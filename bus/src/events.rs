//! Named events: each logs one line an operator can read and counts in a Prometheus metric.
//!
//! Metric names are snake_case with `_total` for counters; labels are few and bounded (adapter
//! ids and message types come from config and the schemas, never from callers).

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use tracing::{debug, error, info, warn};

use crate::envelope::Envelope;
use crate::privacy::redact;

pub fn broker_connected(up: bool) {
    gauge!("lgsp_broker_connected").set(if up { 1.0 } else { 0.0 });
}

pub fn message_accepted(envelope: &Envelope) {
    counter!("lgsp_messages_accepted_total", "type" => envelope.message_type.clone()).increment(1);
    debug!(id = %envelope.id, r#type = %envelope.message_type, subject = %envelope.subject, seq = envelope.seq, "accepted");
}

/// A submission refused at ingress; `reason` is a fixed word (invalid, unroutable, conflict…).
pub fn message_rejected(reason: &'static str) {
    counter!("lgsp_messages_rejected_total", "reason" => reason).increment(1);
}

pub fn delivered(adapter: &str, envelope: &Envelope, latency: Option<Duration>) {
    counter!("lgsp_messages_delivered_total", "adapter" => adapter.to_string()).increment(1);
    if let Some(latency) = latency {
        histogram!("lgsp_delivery_latency_seconds", "adapter" => adapter.to_string()).record(latency.as_secs_f64());
    }
    debug!(adapter, id = %envelope.id, subject = %envelope.subject, seq = envelope.seq, "delivered");
}

pub fn superseded(adapter: &str, envelope: &Envelope, newest_seq: u64) {
    counter!("lgsp_messages_superseded_total", "adapter" => adapter.to_string()).increment(1);
    info!(adapter, id = %envelope.id, subject = %envelope.subject, seq = envelope.seq, newest_seq,
        "superseded: a newer state of this subject was delivered first, or is on its way");
}

pub fn duplicate(adapter: &str, envelope: &Envelope) {
    counter!("lgsp_messages_duplicate_total", "adapter" => adapter.to_string()).increment(1);
    debug!(adapter, id = %envelope.id, "duplicate delivery acknowledged without resending");
}

pub fn retrying(adapter: &str, envelope: &Envelope, attempt: u32, wait: Duration, reason: &str) {
    counter!("lgsp_messages_retried_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, id = %envelope.id, subject = %envelope.subject, attempt, retry_in = ?wait,
        reason = %redact(reason), "delivery failed; will retry");
}

pub fn dead_lettered(adapter: &str, id: &str, subject: &str, attempt: u32, reason: &str) {
    counter!("lgsp_messages_dead_lettered_total", "adapter" => adapter.to_string()).increment(1);
    error!(adapter, id, subject, attempt, reason = %redact(reason), "dead-lettered: needs an operator");
}

/// The adapter's peer keeps failing: the bus stops calling it until `open_for` has passed.
pub fn breaker_opened(adapter: &str, failures: u32, open_for: Duration, probe_failed: bool) {
    gauge!("lgsp_breaker_open", "adapter" => adapter.to_string()).set(1.0);
    counter!("lgsp_breaker_opened_total", "adapter" => adapter.to_string()).increment(1);
    let why = if probe_failed { "the probe call failed" } else { "calls in a row failed" };
    warn!(adapter, failures, open_for = ?open_for,
        "circuit breaker open ({why}): messages wait in the queue, requests are answered 503, one probe call after the pause");
}

pub fn breaker_closed(adapter: &str) {
    gauge!("lgsp_breaker_open", "adapter" => adapter.to_string()).set(0.0);
    info!(adapter, "circuit breaker closed: the peer answers again");
}

/// A dead letter reached the archive. Never the payload; the reason masked.
pub fn dead_letter_archived(record: &crate::store::DeadLetterRecord) {
    counter!("lgsp_dead_letters_archived_total", "adapter" => record.adapter.clone()).increment(1);
    info!(
        adapter = %record.adapter,
        id = %record.message_id,
        r#type = record.message_type.as_deref().unwrap_or("-"),
        subject = record.subject.as_deref().unwrap_or("-"),
        attempts = record.attempts,
        reason = %redact(record.last_error.as_deref().unwrap_or("-")),
        "dead letter archived"
    );
}

/// Dead letters of the adapter waiting in the archive for an operator.
pub fn dead_letters_waiting(adapter: &str, count: u64) {
    gauge!("lgsp_dead_letters", "adapter" => adapter.to_string()).set(count as f64);
}

pub fn dead_letter_replayed(record: &crate::store::DeadLetterRecord, operator: &str) {
    counter!("lgsp_dead_letters_replayed_total", "adapter" => record.adapter.clone()).increment(1);
    info!(adapter = %record.adapter, id = %record.message_id, subject = record.subject.as_deref().unwrap_or("-"),
        operator, "dead letter replayed");
}

pub fn dead_letter_not_replayed(adapter: &str, id: &str, operator: &str, error: &dyn std::fmt::Display) {
    warn!(adapter, id, operator, error = %error, "dead letter not replayed; it stays replaying");
}

pub fn dead_letter_purged(adapter: &str, id: &str, operator: &str) {
    counter!("lgsp_dead_letters_purged_total", "adapter" => adapter.to_string()).increment(1);
    info!(adapter, id, operator, "dead letter purged");
}
