//! What an outcome becomes: its record, and first, for a failure, the copy that carries its
//! history to a retry tier (confirmed by the broker) or to the dead-letter archive (committed by
//! the store), before the original is acked.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::message::Delivery as AmqpDelivery;
use lapin::types::{AMQPValue, FieldTable};

use super::acks::Settler;
use super::activity::TestOutcome;
use super::consumer::Incoming;
use super::{Context, dead_letters};
use crate::adapter::{Delivery, Failure, Outcome};
use crate::store::{DeliveryState, OutcomeRecord};
use crate::transport::{Target, headers, tier_name};
use crate::{events, now_ms};

/// How long a message waits in retry tier `wait`: a random 80–100 % of it, so that messages
/// that failed together (a peer's outage) do not all come back at the same moment. The tier's
/// own TTL bounds it from above.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(fastrand::f64().mul_add(0.2, 0.8))
}

/// Turns an outcome into its record, publishing the retry copy or archiving the dead letter
/// first. `None` when that could not be done: the message goes back to the queue.
pub(super) async fn settle(
    ctx: &Context,
    item: &Incoming,
    delivery: &Delivery,
    outcome: Outcome,
    newest_seq: Option<u64>,
) -> Option<OutcomeRecord> {
    let runtime = &ctx.runtime;
    let policy = &runtime.policy;
    let envelope = &item.envelope;
    let now = now_ms();
    let record = |state, last_error: Option<String>| OutcomeRecord {
        message_id: envelope.id.to_string(),
        adapter: runtime.id.clone(),
        state,
        attempts: delivery.attempt,
        last_error,
        at: now,
        newest_seq: (state == DeliveryState::Delivered && !delivery.stale)
            .then(|| (envelope.message_type.clone(), envelope.subject.clone(), envelope.seq)),
    };
    match outcome {
        Outcome::Delivered => {
            ctx.log.delivery(&runtime.id, envelope, delivery.attempt, "delivered", delivery.answer.digest());
            let latency = item.accepted_at.map(|at| Duration::from_millis(now.saturating_sub(at).max(0) as u64));
            events::delivered(&runtime.id, envelope, latency);
            ctx.activity.delivered(latency);
            Some(record(DeliveryState::Delivered, None))
        }
        Outcome::Superseded => {
            ctx.log.delivery(&runtime.id, envelope, delivery.attempt, "superseded", delivery.answer.digest());
            events::superseded(&runtime.id, envelope, newest_seq.unwrap_or(envelope.seq));
            Some(record(DeliveryState::Superseded, None))
        }
        Outcome::Transient(failure) if delivery.attempt < policy.max_attempts => {
            let tier = (item.failures as usize).min(policy.retry_tiers.len() - 1);
            let wait = policy.retry_tiers[tier];
            retry(ctx, item, &failure, delivery.attempt, now, wait).await?;
            ctx.log.delivery(&runtime.id, envelope, delivery.attempt, "retrying", kept_answer_digest(&failure));
            events::retrying(&runtime.id, envelope, delivery.attempt, wait, &failure.reason);
            let error = describe(&failure);
            ctx.activity.failed(&envelope.id.to_string(), &error, false);
            Some(record(DeliveryState::Retrying, Some(error)))
        }
        Outcome::Transient(failure) => {
            let failure = Failure {
                reason: format!("gave up after {} attempts: {}", delivery.attempt, failure.reason),
                ..failure
            };
            dead_letter(ctx, item, &failure, delivery.attempt, now).await
        }
        Outcome::Permanent(failure) => dead_letter(ctx, item, &failure, delivery.attempt, now).await,
    }
}

/// A test message's one attempt: its outcome goes to whoever sent it and to the message log,
/// never to a retry tier or the archive. What to record: a delivered one (so that a copy
/// redelivered is not sent again), without its `seq`, which tells nothing of the real subject.
pub(super) fn test(ctx: &Context, item: &Incoming, delivery: &Delivery, outcome: Outcome) -> Option<OutcomeRecord> {
    let (runtime, envelope) = (&ctx.runtime, &item.envelope);
    let message_id = envelope.id.to_string();
    let peer_answer = delivery.answer.text().map(|text| crate::privacy::redact(&text));
    let tested = match &outcome {
        Outcome::Delivered => {
            ctx.activity.delivered(None);
            TestOutcome { outcome: "delivered", permanent: None, error: None, peer_answer }
        }
        Outcome::Superseded => TestOutcome { outcome: "superseded", permanent: None, error: None, peer_answer },
        Outcome::Transient(failure) | Outcome::Permanent(failure) => {
            let error = crate::privacy::redact(&failure.reason);
            ctx.activity.failed(&message_id, &describe(failure), false);
            let peer_answer = failure.peer_answer.as_deref().map(crate::privacy::redact).or(peer_answer);
            let permanent = Some(matches!(outcome, Outcome::Permanent(_)));
            TestOutcome { outcome: "failed", permanent, error: Some(error), peer_answer }
        }
    };
    let result = format!("test.{}", tested.outcome);
    ctx.log.delivery(&runtime.id, envelope, delivery.attempt, &result, delivery.answer.digest());
    events::tested(&runtime.id, &message_id, tested.outcome);
    ctx.activity.tested(&message_id, tested.clone());
    let state = match outcome {
        Outcome::Delivered => DeliveryState::Delivered,
        Outcome::Superseded => DeliveryState::Superseded,
        Outcome::Transient(_) | Outcome::Permanent(_) => return None,
    };
    Some(OutcomeRecord {
        message_id,
        adapter: runtime.id.clone(),
        state,
        attempts: delivery.attempt,
        last_error: None,
        at: now_ms(),
        newest_seq: None,
    })
}

async fn dead_letter(
    ctx: &Context,
    item: &Incoming,
    failure: &Failure,
    attempt: u32,
    now: i64,
) -> Option<OutcomeRecord> {
    let runtime = &ctx.runtime;
    let properties = copy_properties(&item.amqp.properties).with_headers(history(ctx, item, failure, attempt, now));
    let record = dead_letters::record(&runtime.id, &properties, &item.amqp.data, now);
    dead_letters::archive(ctx, record).await?;
    ctx.log.delivery(&runtime.id, &item.envelope, attempt, "dead_lettered", kept_answer_digest(failure));
    let message_id = item.envelope.id.to_string();
    events::dead_lettered(&runtime.id, &message_id, &item.envelope.subject, attempt, &failure.reason);
    let error = describe(failure);
    ctx.activity.failed(&message_id, &error, true);
    Some(OutcomeRecord {
        message_id,
        adapter: runtime.id.clone(),
        state: DeliveryState::DeadLettered,
        attempts: attempt,
        last_error: Some(error),
        at: now,
        newest_seq: None,
    })
}

/// The digest of a failure's answer as the bus keeps it (masked and cut to size): what the
/// dead letter and the retry copy carry, so the log's digest can be checked against them.
fn kept_answer_digest(failure: &Failure) -> Option<String> {
    failure.peer_answer.as_deref().map(crate::envelope::sha256_hex)
}

/// The reason as stored and shown: personal data masked, the peer's answer appended.
fn describe(failure: &Failure) -> String {
    let text = match &failure.peer_answer {
        Some(answer) => format!("{} (peer answered: {answer})", failure.reason),
        None => failure.reason.clone(),
    };
    crate::privacy::redact(&text)
}

/// The message's history after this failure, as headers: a retry copy carries them, and a
/// dead letter is archived from them.
fn history(ctx: &Context, item: &Incoming, failure: &Failure, attempt: u32, now: i64) -> FieldTable {
    let mut table = item.amqp.properties.headers().clone().unwrap_or_default();
    let text = |s: &str| AMQPValue::LongString(crate::privacy::redact(s).into());
    table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(attempt as i64));
    table.insert(headers::FIRST_FAILED_AT.into(), AMQPValue::LongLongInt(item.first_failed_at.unwrap_or(now)));
    table.insert(headers::LAST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    table.insert(headers::LAST_ERROR.into(), text(&failure.reason));
    table.insert(headers::ADAPTER.into(), AMQPValue::LongString(ctx.runtime.id.as_str().into()));
    match &failure.peer_answer {
        Some(answer) => table.insert(headers::PEER_ANSWER.into(), text(answer)),
        None => table.insert(headers::PEER_ANSWER.into(), AMQPValue::Void),
    };
    // The adapter settles an earlier doubt (or says it could not, marking this failure too).
    table.insert(headers::UNCERTAIN.into(), AMQPValue::Boolean(failure.uncertain));
    table
}

/// Publishes the message again to retry tier `tier`, from which it comes back to the adapter's
/// queue after a jittered wait, carrying its history.
async fn retry(
    ctx: &Context,
    item: &Incoming,
    failure: &Failure,
    attempt: u32,
    now: i64,
    tier: Duration,
) -> Option<()> {
    let mut table = history(ctx, item, failure, attempt, now);
    table.insert(headers::RETRY_TIER.into(), AMQPValue::LongString(tier_name(tier).into()));
    let properties = copy_properties(&item.amqp.properties)
        .with_headers(table)
        .with_expiration(jittered(tier).as_millis().max(1).to_string().into());
    let queue = ctx.broker.names().queue(&ctx.runtime.id);
    match ctx.broker.publish(Target::Retry(&queue), &item.amqp.data, properties).await {
        Ok(()) => Some(()),
        Err(e) => {
            let tier_queue = ctx.broker.names().retry_queue(tier);
            events::message_not_moved(&ctx.runtime.id, &item.envelope.id.to_string(), &tier_queue, &e);
            None
        }
    }
}

fn copy_properties(original: &BasicProperties) -> BasicProperties {
    let mut properties = BasicProperties::default().with_content_type("application/json".into());
    if let Some(id) = original.message_id() {
        properties = properties.with_message_id(id.clone());
    }
    if let Some(kind) = original.kind() {
        properties = properties.with_type(kind.clone());
    }
    if let Some(timestamp) = original.timestamp() {
        properties = properties.with_timestamp(*timestamp);
    }
    properties
}

/// A message that is not an envelope cannot be delivered; it waits for an operator.
pub(super) async fn dead_letter_unreadable(ctx: &Context, settler: &Settler, amqp: AmqpDelivery, reason: &str) {
    let now = now_ms();
    // The same history as any dead letter: it was never attempted.
    let mut table = FieldTable::default();
    table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(0));
    table.insert(headers::FIRST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    table.insert(headers::LAST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    table.insert(headers::LAST_ERROR.into(), AMQPValue::LongString(reason.into()));
    let properties = BasicProperties::default().with_headers(table);
    let record = dead_letters::record(&ctx.runtime.id, &properties, &amqp.data, now);
    match dead_letters::archive(ctx, record).await {
        Some(()) => {
            events::dead_lettered(&ctx.runtime.id, "-", "-", 0, reason);
            ctx.activity.failed("-", reason, true);
            settler.ack(&amqp);
        }
        // Shutting down: the broker keeps it.
        None => settler.requeue(&amqp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_80_to_100_percent_of_its_tier() {
        let tier = Duration::from_secs(10);
        let waits: Vec<Duration> = (0..1000).map(|_| jittered(tier)).collect();
        assert!(waits.iter().all(|w| *w >= tier.mul_f64(0.8) && *w <= tier));
        let spread = waits.iter().max().unwrap().saturating_sub(*waits.iter().min().unwrap());
        assert!(spread > Duration::from_secs(1), "retries of one tier are spread: {spread:?}");
    }
}
