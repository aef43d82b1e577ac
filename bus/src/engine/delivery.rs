//! One batch of one lane: what is a duplicate and what is stale, the adapter's call (through its
//! peer's guard, within the delivery timeout), and the outcomes settled before anything is acked.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::acks::Settler;
use super::consumer::Incoming;
use super::{Context, settle, until_done};
use crate::adapter::{Delivery, Failure, Outcome, PeerAnswer};
use crate::config::DeliveryPolicy;
use crate::envelope::Envelope;
use crate::events;
use crate::store::{DeliveryState, OutcomeRecord};

/// Delivers one batch of one lane and settles every message in it.
pub(super) async fn process(ctx: &Context, settler: &Settler, batch: Vec<Incoming>) {
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
        if item.test && item.uncertain {
            // A test is tried once: its caller was answered already, or gave up.
            events::test_not_retried(id, envelope);
            settler.ack(&item.amqp);
            continue;
        }
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
            // Another copy of this message was tried already (a sender's retry of a message the
            // broker had confirmed before the bus died): it may have reached the peer.
            uncertain: item.uncertain || (item.failures == 0 && check.state == Some(DeliveryState::Retrying)),
            answer: if item.test { PeerAnswer::keeping_text() } else { PeerAnswer::default() },
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
            .map(|(((item, newest_seq), delivery), outcome)| settle_one(ctx, item, delivery, outcome, *newest_seq)),
    )
    .await;
    let records: Vec<OutcomeRecord> = settled.iter().flatten().flatten().cloned().collect();
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

/// What one message settles as: `None` back to the queue, or `Some` of what to record, if
/// anything (a test message's failure leaves no record).
async fn settle_one(
    ctx: &Context,
    item: &Incoming,
    delivery: &Delivery,
    outcome: Outcome,
    newest_seq: Option<u64>,
) -> Option<Option<OutcomeRecord>> {
    if item.test {
        return Some(settle::test(ctx, item, delivery, outcome));
    }
    settle::settle(ctx, item, delivery, outcome, newest_seq).await.map(Some)
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
            events::wrong_outcome_count(&ctx.runtime.id, outcomes.len(), deliveries.len());
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
