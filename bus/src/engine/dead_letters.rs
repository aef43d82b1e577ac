//! Dead letters: the archive in the store, and the replay of an archived message.
//!
//! The engine archives a message it gives up on straight into the store (operators list,
//! filter, replay and purge the archive, which a queue cannot do) and acks it only after the
//! archive committed it, so a crash or a store outage loses nothing; a copy archived twice is one
//! row. No queue per adapter carries dead letters: a broker node then holds one Raft group per
//! adapter, not two. A replay publishes the envelope to the adapter's own queue, so it goes
//! through the engine like any message: deduplicated by id, and superseded if a newer `seq` of
//! its state was delivered meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::BasicProperties;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions};
use lapin::types::{AMQPValue, FieldTable};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::{Context, until_done};
use crate::envelope::Envelope;
use crate::privacy::redact;
use crate::store::{DeadLetterRecord, DeadLetterState, DeliveryState, OutcomeRecord, Store, StoreError};
use crate::transport::{Broker, Link, PublishError, Subscription, Target, headers};
use crate::{events, now_ms};

/// Archives one dead letter, waiting out a store outage (delivery pauses meanwhile, nothing is
/// lost). `None` when shutting down first: the broker keeps the message, unacked.
pub(super) async fn archive(ctx: &Context, record: DeadLetterRecord) -> Option<()> {
    let records = vec![record];
    until_done(ctx, "archive dead letters", || ctx.store.archive_dead_letters(records.clone())).await?;
    records.iter().for_each(events::dead_letter_archived);
    refresh_gauge(&ctx.store, &ctx.runtime.id).await;
    Some(())
}

/// What the archive keeps of one dead letter: the envelope (or the unreadable body), and the
/// history the engine wrote into its headers.
pub(super) fn record(adapter: &str, properties: &BasicProperties, body: &[u8], now: i64) -> DeadLetterRecord {
    let number = |name: &str| headers::int(properties, name);
    // Masked again here: the archive holds no citizen ID in free text.
    let reason = |name: &str| headers::text(properties, name).map(|t| redact(&t));
    let envelope = serde_json::from_slice::<Envelope>(body).ok();
    let last_failed_at = number(headers::LAST_FAILED_AT);
    DeadLetterRecord {
        message_id: envelope.as_ref().map_or_else(|| body_id(body), |e| e.id.to_string()),
        adapter: adapter.to_string(),
        message_type: envelope.as_ref().map(|e| e.message_type.clone()),
        subject: envelope.as_ref().map(|e| e.subject.clone()),
        source: envelope.as_ref().map(|e| e.source.clone()),
        seq: envelope.as_ref().map(|e| e.seq),
        body: String::from_utf8_lossy(body).into_owned(),
        attempts: number(headers::ATTEMPTS).unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
        first_failed_at: number(headers::FIRST_FAILED_AT),
        last_failed_at,
        // The engine dead-letters a message at its last failure.
        dead_at: last_failed_at.unwrap_or(now),
        last_error: reason(headers::LAST_ERROR),
        peer_answer: reason(headers::PEER_ANSWER),
        accepted_at: number(headers::ACCEPTED_AT),
        // Replayed as they came: they are data for the adapter, not text for a log.
        annotations: headers::text(properties, headers::ANNOTATIONS),
    }
}

/// An unreadable body has no id of its own: it gets one from its content, so that it can be
/// shown and purged, and a copy of it delivered twice is one row.
fn body_id(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let bytes: [u8; 16] = digest[..16].try_into().expect("a SHA-256 has 32 bytes");
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// Sets `lgsp_dead_letters{adapter}`: messages waiting in the archive for an operator.
pub(super) async fn refresh_gauge(store: &Store, adapter: &str) {
    match store.dead_letter_count(adapter).await {
        Ok(count) => events::dead_letters_waiting(adapter, count),
        Err(e) => events::store_read_failed("count dead letters", &e),
    }
}

/// Empties the queue of an adapter being removed (its bindings gone, its consumers stopped):
/// every message still unsettled for it becomes its dead letter, `removed by <operator>`, and so
/// does each retry copy as it comes back from its tier. Once the store holds nothing unsettled
/// for it, its queues are deleted. Returns how many it archived, or `None` if the bus stopped
/// first (the queue is left as it is).
pub async fn undertake(
    broker: Broker,
    store: Store,
    subscription: Subscription,
    operator: String,
    shutdown: CancellationToken,
) -> Option<u64> {
    let mut archived = 0;
    while let Some(link) = broker.wait_link(&shutdown).await {
        match bury(&broker, &store, &link, &subscription, &operator, &shutdown, &mut archived).await {
            Ok(done) => return done.then_some(archived),
            Err(e) => {
                events::adapter_removal_interrupted(&subscription.adapter, &e);
                tokio::select! {
                    _ = broker.wait_link_lost(link.generation, &shutdown) => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    None
}

/// Why emptying a removed adapter's queue stopped before it was done.
#[derive(Debug, thiserror::Error)]
pub enum BurialError {
    #[error("{0}")]
    Broker(#[from] lapin::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the broker ended the consumer")]
    Ended,
}

/// How often the store is asked whether the adapter still has messages to come back.
const UNSETTLED_CHECK: Duration = Duration::from_millis(500);

/// One link's worth of [`undertake`]: `true` when the queue was deleted, `false` at shutdown.
async fn bury(
    broker: &Broker,
    store: &Store,
    link: &Link,
    subscription: &Subscription,
    operator: &str,
    shutdown: &CancellationToken,
    archived: &mut u64,
) -> Result<bool, BurialError> {
    let adapter = subscription.adapter.as_str();
    let queue = broker.names().queue(adapter);
    let tag = format!("lgsp-{adapter}-removal-{}", link.generation);
    let (channel, mut consumer) = link.subscribe(&queue, 64, &tag).await?;
    let mut check = tokio::time::interval(UNSETTLED_CHECK);
    loop {
        tokio::select! {
            next = consumer.next() => {
                let amqp = next.ok_or(BurialError::Ended)??;
                if bury_one(store, adapter, operator, &amqp).await? {
                    *archived += 1;
                }
                channel.basic_ack(amqp.delivery_tag, BasicAckOptions::default()).await?;
            }
            _ = check.tick() => {
                // Nothing unsettled: whatever the queue still holds is a copy of a settled one.
                if store.unsettled(adapter).await? == 0 {
                    let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                    broker.delete(subscription).await?;
                    refresh_gauge(store, adapter).await;
                    return Ok(true);
                }
            }
            _ = shutdown.cancelled() => return Ok(false),
        }
    }
}

/// Archives one message of a removed adapter, unless it is settled already (a duplicate copy).
async fn bury_one(store: &Store, adapter: &str, operator: &str, amqp: &AmqpDelivery) -> Result<bool, StoreError> {
    let now = now_ms();
    let mut properties = amqp.properties.clone();
    let mut table = properties.headers().clone().unwrap_or_default();
    let reason = format!("adapter {adapter} removed by {operator}");
    table.insert(headers::LAST_ERROR.into(), AMQPValue::LongString(reason.as_str().into()));
    table.insert(headers::LAST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    properties = properties.with_headers(table);
    let record = record(adapter, &properties, &amqp.data, now);
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(&amqp.data) {
        let checks = store.delivery_checks(adapter, vec![(Arc::new(envelope), false)]).await?;
        if checks.first().and_then(|c| c.state).is_some_and(|state| state.is_final()) {
            return Ok(false);
        }
    }
    let outcome = OutcomeRecord {
        message_id: record.message_id.clone(),
        adapter: adapter.to_string(),
        state: DeliveryState::DeadLettered,
        attempts: record.attempts,
        last_error: Some(reason),
        at: now,
        newest_seq: None,
    };
    store.archive_dead_letters(vec![record.clone()]).await?;
    store.record_outcomes(vec![outcome]).await?;
    events::dead_letter_archived(&record);
    Ok(true)
}

/// Why a replay or a purge did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("no dead letter {id} for adapter {adapter}")]
    NotFound { id: String, adapter: String },
    #[error("dead letter {id} is not an envelope; it cannot be replayed, only purged")]
    Unreadable { id: String },
    #[error("dead letter {id} for adapter {adapter} is {state}: {reason}")]
    Conflict { id: String, adapter: String, state: &'static str, reason: &'static str },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the broker did not take the replayed copy ({0}); it stays `replaying`: replay it again")]
    Publish(#[from] PublishError),
}

/// Hands one archived message back to its adapter's queue, or to adapter `to`'s (another that
/// takes its type: the one that gave it up was removed, say), where the engine takes it like any
/// other. In order: claim it (one commit: row `replaying`, delivery to `to` pending), publish and
/// await the broker's confirm, mark it `replayed`. A failure after the claim leaves it
/// `replaying`, to be replayed again: at worst two copies in the queue, which the engine
/// delivers once (same id). `operator` is only logged.
pub async fn replay(
    broker: &Broker,
    store: &Store,
    message_id: &str,
    (adapter, to): (&str, &str),
    operator: &str,
) -> Result<(), DeadLetterError> {
    let Some(row) = store.dead_letter(message_id, adapter).await? else {
        return Err(DeadLetterError::NotFound { id: message_id.into(), adapter: adapter.into() });
    };
    if !row.readable() {
        return Err(DeadLetterError::Unreadable { id: message_id.into() });
    }
    let conflict = |state: DeadLetterState, reason| DeadLetterError::Conflict {
        id: message_id.into(),
        adapter: adapter.into(),
        state: state.as_str(),
        reason,
    };
    match row.state {
        DeadLetterState::Replayed => return Err(conflict(row.state, "GET /v1/messages/{id} says what became of it")),
        DeadLetterState::Purged => return Err(conflict(row.state, "an operator gave up on it")),
        DeadLetterState::Dead | DeadLetterState::Replaying => {}
    }
    if !store.claim_replay(message_id, adapter, to, now_ms()).await? {
        let reason = if to == adapter {
            "its delivery is not recorded dead-lettered (GET /v1/messages/{id} says where it is)"
        } else {
            "the adapter it is replayed to had it delivered already, or its delivery is not recorded dead-lettered"
        };
        return Err(conflict(row.state, reason));
    }

    let record = &row.record;
    // No failure headers: the replayed copy starts its attempts afresh.
    let mut table = FieldTable::default();
    if let Some(accepted_at) = record.accepted_at {
        table.insert(headers::ACCEPTED_AT.into(), AMQPValue::LongLongInt(accepted_at));
    }
    if let Some(annotations) = &record.annotations {
        table.insert(headers::ANNOTATIONS.into(), AMQPValue::LongString(annotations.as_str().into()));
    }
    let mut properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
        .with_headers(table);
    if let Some(message_type) = &record.message_type {
        properties = properties.with_type(message_type.as_str().into());
    }
    // One adapter's queue, not the exchange: the other adapters had the message already.
    let queue = broker.names().queue(to);
    if let Err(e) = broker.publish(Target::Queue(&queue), record.body.as_bytes(), properties).await {
        events::dead_letter_not_replayed(adapter, message_id, operator, &e);
        return Err(e.into());
    }
    store.mark_replayed(message_id, adapter).await?;
    events::dead_letter_replayed(record, to, operator);
    refresh_gauge(store, adapter).await;
    Ok(())
}

/// Marks one archived message purged: an operator gave up on it. The row stays, for the audit.
pub async fn purge(store: &Store, message_id: &str, adapter: &str, operator: &str) -> Result<(), DeadLetterError> {
    let Some(row) = store.dead_letter(message_id, adapter).await? else {
        return Err(DeadLetterError::NotFound { id: message_id.into(), adapter: adapter.into() });
    };
    if !store.purge_dead_letter(message_id, adapter, now_ms()).await? {
        let reason = "only a dead letter waiting for an operator is purged";
        return Err(DeadLetterError::Conflict {
            id: message_id.into(),
            adapter: adapter.into(),
            state: row.state.as_str(),
            reason,
        });
    }
    events::dead_letter_purged(adapter, message_id, operator);
    refresh_gauge(store, adapter).await;
    Ok(())
}
