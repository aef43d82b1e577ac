//! The delivery engine: consumes each adapter's queue and owns everything around the adapter's
//! call — order, deduplication, newest-seq-wins, retries, dead letters, acks and records.
//!
//! Deliveries are sharded by subject into ordered lanes: one dossier's messages are handed to
//! the adapter one batch after another, while different dossiers go at once. A message is acked
//! only after its outcome is recorded (and, for a retry or a dead letter, after the broker
//! confirmed its copy), so a crash at any point redelivers it; the record then makes the
//! redelivered copy a duplicate that is acked without being sent again.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::BasicProperties;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::adapter::{Adapter, Delivery, Failure, Outcome};
use crate::config::{DeliveryPolicy, RequestPolicy};
use crate::envelope::Envelope;
use crate::ingress::Ingress;
use crate::outbox::Outbox;
use crate::schema::Catalogue;
use crate::store::{DeliveryState, OutcomeRecord, Store};
use crate::transport::{Broker, Link, Target};
use crate::{events, now_ms};

/// AMQP headers the bus sets on the messages it publishes. A retry or dead-letter copy carries
/// its history: attempts, first and last failure times, the last error and the peer's answer.
pub mod headers {
    /// When the bus accepted the message (Unix ms), for the delivery-latency metric.
    pub const ACCEPTED_AT: &str = "x-lgsp-accepted-at";
    /// Failed attempts so far.
    pub const ATTEMPTS: &str = "x-lgsp-attempts";
    pub const FIRST_FAILED_AT: &str = "x-lgsp-first-failed-at";
    pub const LAST_FAILED_AT: &str = "x-lgsp-last-failed-at";
    pub const LAST_ERROR: &str = "x-lgsp-last-error";
    /// The peer's answer to the last attempt, when there was one.
    pub const PEER_ANSWER: &str = "x-lgsp-peer-answer";
    pub const ADAPTER: &str = "x-lgsp-adapter";
    /// The bus's annotations of the message (JSON): see `Delivery::annotations`.
    pub const ANNOTATIONS: &str = "x-lgsp-annotations";
    /// An earlier attempt may have reached the peer: see `Delivery::uncertain`.
    pub const UNCERTAIN: &str = "x-lgsp-uncertain";
}

pub mod dead_letters;
pub mod guard;
mod services;

use guard::PeerGuard;

/// One configured adapter, as the engine runs it.
pub struct AdapterRuntime {
    pub id: String,
    pub adapter: Arc<dyn Adapter>,
    pub routes: Vec<String>,
    pub policy: DeliveryPolicy,
    /// Request/reply services it answers, and how.
    pub services: Vec<String>,
    pub requests: RequestPolicy,
    /// Its peer's circuit breaker and limits, for deliveries and requests alike.
    pub guard: PeerGuard,
}

/// Runs, per adapter, a consumer of its messages (if it has routes) and a server of its
/// requests (if it answers services), until shutdown; each survives broker reconnections.
pub fn spawn(
    adapters: &[Arc<AdapterRuntime>],
    broker: &Broker,
    store: &Store,
    ingress: &Arc<Ingress>,
    shutdown: &CancellationToken,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    for runtime in adapters {
        let ctx = Arc::new(Context {
            runtime: runtime.clone(),
            catalogue: ingress.catalogue.clone(),
            broker: broker.clone(),
            store: store.clone(),
            shutdown: shutdown.clone(),
        });
        if !runtime.routes.is_empty() {
            tasks.spawn(on_each_link(ctx.clone(), "deliveries", consume));
            tasks.spawn(on_each_link(ctx.clone(), "dead letters", dead_letters::keep));
        }
        if !runtime.services.is_empty() {
            tasks.spawn(on_each_link(ctx.clone(), "requests", services::serve));
        }
        tasks.spawn(run_own_work(ctx, Outbox::new(&runtime.id, ingress.clone())));
    }
    tasks
}

/// The adapter's own work (polling its peer, say), restarted after a pause if it stops early.
async fn run_own_work(ctx: Arc<Context>, outbox: Outbox) {
    loop {
        ctx.runtime.adapter.run(outbox.clone(), ctx.shutdown.clone()).await;
        if ctx.shutdown.is_cancelled() {
            return;
        }
        warn!(adapter = %ctx.runtime.id, "the adapter's own work stopped; restarting it in 5 s");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = ctx.shutdown.cancelled() => return,
        }
    }
}

struct Context {
    runtime: Arc<AdapterRuntime>,
    catalogue: Arc<Catalogue>,
    broker: Broker,
    store: Store,
    shutdown: CancellationToken,
}

/// Runs one of the adapter's consumers on each live link until shutdown: when the connection is
/// lost it ends, and starts again on the next one; when it fails on a live connection (its
/// channel closed by the broker, say) it starts again after a pause. Every consumer of the
/// engine (deliveries, requests, dead letters) lives in this loop.
async fn on_each_link<F, Fut>(ctx: Arc<Context>, what: &'static str, consume: F)
where
    F: Fn(Arc<Context>, Link) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let adapter = ctx.runtime.id.as_str();
    while let Some(link) = ctx.broker.wait_link(&ctx.shutdown).await {
        let generation = link.generation;
        match consume(ctx.clone(), link).await {
            Ok(()) => info!(adapter, what, "consumer stopped"),
            Err(e) => {
                warn!(adapter, what, error = %e, "consumer interrupted; resuming when the broker is back");
                tokio::select! {
                    _ = ctx.broker.wait_link_lost(generation, &ctx.shutdown) => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        if ctx.shutdown.is_cancelled() {
            break;
        }
    }
}

/// A delivery read off the queue, ready for a lane.
struct Incoming {
    amqp: AmqpDelivery,
    envelope: Arc<Envelope>,
    /// Failed attempts before this one.
    failures: u32,
    uncertain: bool,
    accepted_at: Option<i64>,
    first_failed_at: Option<i64>,
    annotations: Arc<serde_json::Value>,
}

/// Consumes the adapter's queue: deliveries are sharded by subject into lanes.
async fn consume(ctx: Arc<Context>, link: Link) -> Result<(), String> {
    let runtime = &ctx.runtime;
    let queue = ctx.broker.names().queue(&runtime.id);
    let tag = format!("lgsp-{}-{}", runtime.id, link.generation);
    let (channel, mut consumer) = link.subscribe(&queue, runtime.policy.prefetch, &tag).await?;
    let (settler, acks) = Settler::start(channel.clone());
    info!(adapter = %runtime.id, lanes = runtime.policy.lanes, prefetch = runtime.policy.prefetch, "consuming");

    let mut lanes = Vec::with_capacity(runtime.policy.lanes);
    let mut lane_tasks = JoinSet::new();
    for _ in 0..runtime.policy.lanes {
        let (sender, receiver) = mpsc::unbounded_channel();
        lanes.push(sender);
        lane_tasks.spawn(lane(ctx.clone(), settler.clone(), receiver));
    }

    let result = loop {
        let next = tokio::select! {
            next = consumer.next() => next,
            _ = ctx.shutdown.cancelled() => break Ok(()),
        };
        let amqp = match next {
            Some(Ok(amqp)) => amqp,
            Some(Err(e)) => break Err(e.to_string()),
            None => break Err("the broker ended the consumer".to_string()),
        };
        match serde_json::from_slice::<Envelope>(&amqp.data) {
            Ok(envelope) => {
                let lane = lane_of(&envelope.subject, lanes.len());
                let _ = lanes[lane].send(Incoming::new(amqp, envelope));
            }
            Err(e) => dead_letter_unreadable(&ctx, &settler, amqp, &format!("not a valid envelope: {e}")).await,
        }
    };
    // Stop deliveries first, so that closing the channel finds no consumer running.
    if result.is_ok() {
        let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
    }
    drop(consumer);
    // Lanes finish the batch in hand; on shutdown they leave the rest, which the broker requeues
    // when the channel closes.
    drop(lanes);
    while lane_tasks.join_next().await.is_some() {}
    drop(settler);
    let _ = acks.await;
    result
}

fn lane_of(subject: &str, lanes: usize) -> usize {
    let mut hasher = std::hash::DefaultHasher::new();
    subject.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

impl Incoming {
    fn new(amqp: AmqpDelivery, envelope: Envelope) -> Self {
        let header = |name: &str| amqp.properties.headers().as_ref().and_then(|h| h.inner().get(name)).and_then(as_i64);
        Incoming {
            failures: header(headers::ATTEMPTS).unwrap_or(0).max(0) as u32,
            // Redelivered: the bus stopped (or lost the channel) while this one was in hand.
            uncertain: amqp.redelivered
                || matches!(
                    amqp.properties.headers().as_ref().and_then(|h| h.inner().get(headers::UNCERTAIN)),
                    Some(AMQPValue::Boolean(true))
                ),
            accepted_at: header(headers::ACCEPTED_AT),
            first_failed_at: header(headers::FIRST_FAILED_AT),
            annotations: Arc::new(annotations(&amqp)),
            envelope: Arc::new(envelope),
            amqp,
        }
    }
}

/// The bus's annotations of a message, carried as JSON in a header (an empty object if none).
fn annotations(amqp: &AmqpDelivery) -> serde_json::Value {
    let text =
        amqp.properties.headers().as_ref().and_then(|h| h.inner().get(headers::ANNOTATIONS)).and_then(|v| match v {
            AMQPValue::LongString(text) => Some(text.to_string()),
            _ => None,
        });
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| serde_json::json!({}))
}

fn as_i64(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(*v as i64),
        AMQPValue::LongUInt(v) => Some(*v as i64),
        AMQPValue::Timestamp(v) => Some(*v as i64),
        _ => None,
    }
}

async fn lane(ctx: Arc<Context>, settler: Settler, mut receiver: mpsc::UnboundedReceiver<Incoming>) {
    let max_batch = ctx.runtime.adapter.max_batch().max(1);
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.recv().await {
        if ctx.shutdown.is_cancelled() {
            return;
        }
        batch.push(first);
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        process(&ctx, &settler, std::mem::take(&mut batch)).await;
    }
}

/// Delivers one batch of one lane and settles every message in it.
async fn process(ctx: &Context, settler: &Settler, batch: Vec<Incoming>) {
    let id = ctx.runtime.id.as_str();
    // A second try: it failed before, or may have reached the peer before a crash or timeout.
    let envelopes: Vec<(Arc<Envelope>, bool)> =
        batch.iter().map(|i| (i.envelope.clone(), i.failures > 0 || i.uncertain)).collect();
    let Some(checks) =
        until_done(ctx, "read delivery states", || ctx.store.delivery_checks(id, envelopes.clone())).await
    else {
        return;
    };

    // Decide, in lane order, what is a duplicate and what is stale.
    let mut newest: HashMap<(&str, &str), u64> = HashMap::new();
    let mut seen = HashSet::new();
    let mut work = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::with_capacity(batch.len());
    for (item, check) in batch.iter().zip(&checks) {
        let envelope = &item.envelope;
        if check.state.is_some_and(DeliveryState::is_final) || !seen.insert(envelope.id) {
            events::duplicate(id, envelope);
            settler.ack(&item.amqp);
            continue;
        }
        let key = (envelope.message_type.as_str(), envelope.subject.as_str());
        // A state is overtaken by a newer one delivered; on a second try, also by a newer one
        // accepted, which carries the newer truth and may already be at the peer (sent before a
        // crash, or by a call that timed out): sending the older one then would set the peer back.
        let newest_seq = newest.get(&key).copied().max(check.last_seq).max(check.newest_accepted);
        // Only a message carrying state can be overtaken; an event or a command always counts.
        let stale = ctx.catalogue.is_state(&envelope.message_type) && newest_seq.is_some_and(|n| envelope.seq < n);
        if !stale {
            newest.insert(key, envelope.seq);
        }
        deliveries.push(Delivery {
            envelope: envelope.clone(),
            annotations: item.annotations.clone(),
            stale,
            attempt: item.failures + 1,
            uncertain: item.uncertain,
        });
        work.push((item, newest_seq));
    }
    if deliveries.is_empty() {
        return;
    }

    // On shutdown the batch is left unacked: the broker gives it back when the channel closes.
    let Some(outcomes) = call_adapter(ctx, &deliveries).await else { return };

    // Copies for retry tiers and dead letters are confirmed before anything is acked.
    let settled = futures::future::join_all(
        work.iter()
            .zip(&deliveries)
            .zip(outcomes)
            .map(|(((item, newest_seq), delivery), outcome)| settle(ctx, item, delivery, outcome, *newest_seq)),
    )
    .await;
    let records: Vec<OutcomeRecord> = settled.iter().flatten().cloned().collect();
    if until_done(ctx, "record outcomes", || ctx.store.record_outcomes(records.clone())).await.is_none() {
        return;
    }
    for ((item, _), record) in work.iter().zip(&settled) {
        match record {
            Some(_) => settler.ack(&item.amqp),
            // Its retry or dead-letter copy was not confirmed: back to the queue, to try again.
            None => settler.requeue(&item.amqp),
        }
    }
}

/// Calls the adapter once its peer's guard lets it (`None` on shutdown); the outcomes as the
/// adapter's policy classes them.
async fn call_adapter(ctx: &Context, deliveries: &[Delivery]) -> Option<Vec<Outcome>> {
    let policy = &ctx.runtime.policy;
    let pass = ctx.runtime.guard.wait(&ctx.shutdown).await?;
    let all = |failure: Failure| vec![Outcome::Transient(failure); deliveries.len()];
    let outcomes = match tokio::time::timeout(policy.timeout, ctx.runtime.adapter.deliver(deliveries)).await {
        Ok(outcomes) if outcomes.len() == deliveries.len() => outcomes,
        Ok(outcomes) => {
            error!(adapter = %ctx.runtime.id, got = outcomes.len(), expected = deliveries.len(), "adapter returned the wrong number of outcomes");
            all(Failure::new(format!("adapter returned {} outcomes for {} messages", outcomes.len(), deliveries.len())))
        }
        // The adapter was cut off mid-call: the peer may have taken it.
        Err(_) => all(Failure::new(format!("no answer from the adapter within {:?}", policy.timeout))
            .with_code("timeout")
            .uncertain()),
    };
    pass.finish(outcomes.iter().all(|o| matches!(o, Outcome::Transient(_))));
    Some(outcomes.into_iter().map(|outcome| classify(policy, outcome)).collect())
}

/// The adapter's policy overrides how the adapter classed a failure, by its code.
fn classify(policy: &DeliveryPolicy, outcome: Outcome) -> Outcome {
    let listed = |list: &[String], failure: &Failure| failure.code.as_ref().is_some_and(|code| list.contains(code));
    match outcome {
        Outcome::Transient(failure) if listed(&policy.permanent, &failure) => {
            let reason = format!("{} (permanent by the adapter's delivery policy)", failure.reason);
            Outcome::Permanent(Failure { reason, ..failure })
        }
        Outcome::Permanent(failure) if listed(&policy.transient, &failure) => {
            let reason = format!("{} (retried by the adapter's delivery policy)", failure.reason);
            Outcome::Transient(Failure { reason, ..failure })
        }
        other => other,
    }
}

/// How long a message waits in retry tier `wait`: a random 80–100 % of it, so that messages
/// that failed together (a peer's outage) do not all come back at the same moment. The tier's
/// own TTL bounds it from above.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(fastrand::f64().mul_add(0.2, 0.8))
}

/// Turns an outcome into its record, publishing the retry or dead-letter copy first. `None`
/// when that copy could not be published: the message goes back to the queue.
async fn settle(
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
            let latency = item.accepted_at.map(|at| Duration::from_millis(now.saturating_sub(at).max(0) as u64));
            events::delivered(&runtime.id, envelope, latency);
            Some(record(DeliveryState::Delivered, None))
        }
        Outcome::Superseded => {
            events::superseded(&runtime.id, envelope, newest_seq.unwrap_or(envelope.seq));
            Some(record(DeliveryState::Superseded, None))
        }
        Outcome::Transient(failure) if delivery.attempt < policy.max_attempts => {
            let tier = (item.failures as usize).min(policy.retry_tiers.len() - 1);
            let wait = policy.retry_tiers[tier];
            let queue = ctx.broker.names().retry_queue(&runtime.id, wait);
            publish_copy(ctx, item, &queue, &failure, delivery.attempt, now, Some(jittered(wait))).await?;
            events::retrying(&runtime.id, envelope, delivery.attempt, wait, &failure.reason);
            Some(record(DeliveryState::Retrying, Some(describe(&failure))))
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

async fn dead_letter(
    ctx: &Context,
    item: &Incoming,
    failure: &Failure,
    attempt: u32,
    now: i64,
) -> Option<OutcomeRecord> {
    let runtime = &ctx.runtime;
    let queue = ctx.broker.names().dead_letter_queue(&runtime.id);
    publish_copy(ctx, item, &queue, failure, attempt, now, None).await?;
    events::dead_lettered(&runtime.id, &item.envelope.id.to_string(), &item.envelope.subject, attempt, &failure.reason);
    Some(OutcomeRecord {
        message_id: item.envelope.id.to_string(),
        adapter: runtime.id.clone(),
        state: DeliveryState::DeadLettered,
        attempts: attempt,
        last_error: Some(describe(failure)),
        at: now,
        newest_seq: None,
    })
}

/// The reason as stored and shown: personal data masked, the peer's answer appended.
fn describe(failure: &Failure) -> String {
    let text = match &failure.peer_answer {
        Some(answer) => format!("{} (peer answered: {answer})", failure.reason),
        None => failure.reason.clone(),
    };
    crate::privacy::redact(&text)
}

/// Publishes the message again, to a retry tier (expiring after `wait`) or the dead-letter
/// queue, carrying its history.
async fn publish_copy(
    ctx: &Context,
    item: &Incoming,
    queue: &str,
    failure: &Failure,
    attempt: u32,
    now: i64,
    wait: Option<Duration>,
) -> Option<()> {
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
    let mut properties = copy_properties(&item.amqp.properties).with_headers(table);
    if let Some(wait) = wait {
        properties = properties.with_expiration(wait.as_millis().max(1).to_string().into());
    }
    match ctx.broker.publish(Target::Queue(queue), &item.amqp.data, properties).await {
        Ok(()) => Some(()),
        Err(e) => {
            warn!(adapter = %ctx.runtime.id, id = %item.envelope.id, queue, error = %e,
                "cannot move the message; it stays in the queue and comes back");
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
async fn dead_letter_unreadable(ctx: &Context, settler: &Settler, amqp: AmqpDelivery, reason: &str) {
    let queue = ctx.broker.names().dead_letter_queue(&ctx.runtime.id);
    let now = now_ms();
    // The same history headers as any dead letter: it was never attempted.
    let mut table = FieldTable::default();
    table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(0));
    table.insert(headers::FIRST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    table.insert(headers::LAST_FAILED_AT.into(), AMQPValue::LongLongInt(now));
    table.insert(headers::LAST_ERROR.into(), AMQPValue::LongString(reason.into()));
    table.insert(headers::PEER_ANSWER.into(), AMQPValue::Void);
    table.insert(headers::ADAPTER.into(), AMQPValue::LongString(ctx.runtime.id.as_str().into()));
    let properties = BasicProperties::default().with_headers(table);
    if ctx.broker.publish(Target::Queue(&queue), &amqp.data, properties).await.is_ok() {
        events::dead_lettered(&ctx.runtime.id, "-", "-", 0, reason);
        settler.ack(&amqp);
    } else {
        settler.requeue(&amqp);
    }
}

/// Settles deliveries of one channel. Lanes finish out of order; one task acks the contiguous
/// run of settled delivery tags with `multiple`, so the broker gets one ack per run rather than
/// one per message, and never an ack below one it already had.
#[derive(Clone)]
struct Settler(mpsc::UnboundedSender<Settle>);

enum Settle {
    Ack(u64),
    Requeue(u64),
}

impl Settler {
    fn start(channel: lapin::Channel) -> (Settler, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Settler(sender), tokio::spawn(acknowledge(channel, receiver)))
    }

    fn ack(&self, amqp: &AmqpDelivery) {
        let _ = self.0.send(Settle::Ack(amqp.delivery_tag));
    }

    fn requeue(&self, amqp: &AmqpDelivery) {
        let _ = self.0.send(Settle::Requeue(amqp.delivery_tag));
    }
}

async fn acknowledge(channel: lapin::Channel, mut settles: mpsc::UnboundedReceiver<Settle>) {
    // Delivery tags on a channel count from 1.
    let mut next = 1u64;
    let mut settled = std::collections::BTreeSet::new();
    let mut batch = Vec::new();
    while settles.recv_many(&mut batch, 4096).await > 0 {
        for settle in batch.drain(..) {
            match settle {
                Settle::Ack(tag) => {
                    settled.insert(tag);
                }
                Settle::Requeue(tag) => {
                    let requeue = BasicNackOptions { multiple: false, requeue: true };
                    if let Err(e) = channel.basic_nack(tag, requeue).await {
                        warn!(error = %e, "requeue failed; the broker redelivers when the channel closes");
                    }
                    settled.insert(tag);
                }
            }
        }
        let start = next;
        while settled.remove(&next) {
            next += 1;
        }
        if next > start {
            // A failed ack means the channel is gone: the broker redelivers, the store dedups.
            if let Err(e) = channel.basic_ack(next - 1, BasicAckOptions { multiple: true }).await {
                warn!(error = %e, "ack failed; the messages will be redelivered and deduplicated");
            }
        }
    }
}

/// Retries a store operation until it succeeds: a store outage pauses delivery, it loses nothing.
async fn until_done<T, F, Fut>(ctx: &Context, what: &str, mut operation: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, crate::store::StoreError>>,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match operation().await {
            Ok(value) => return Some(value),
            Err(e) => {
                error!(adapter = %ctx.runtime.id, error = %e, "cannot {what}; delivery paused");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.shutdown.cancelled() => return None,
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
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
