//! The adapter's queue, read off the broker and sharded by subject into ordered lanes: one
//! dossier's messages are handed over one batch after another, different dossiers at once.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::BasicCancelOptions;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::acks::Settler;
use super::{ConsumerError, Context, delivery, settle};
use crate::envelope::Envelope;
use crate::events;
use crate::transport::{Link, headers};

/// A delivery read off the queue, ready for a lane.
pub(super) struct Incoming {
    pub amqp: AmqpDelivery,
    pub envelope: Arc<Envelope>,
    /// Failed attempts before this one.
    pub failures: u32,
    pub uncertain: bool,
    pub accepted_at: Option<i64>,
    pub first_failed_at: Option<i64>,
    pub annotations: Arc<serde_json::Value>,
    /// A test message: tried once, its outcome answered to whoever sent it.
    pub test: bool,
}

/// Consumes the adapter's queue: deliveries are sharded by subject into lanes.
pub(super) async fn consume(ctx: Arc<Context>, link: Link) -> Result<(), ConsumerError> {
    let runtime = &ctx.runtime;
    let queue = ctx.broker.names().queue(&runtime.id);
    let tag = format!("lgsp-{}-{}", runtime.id, link.generation);
    let (channel, mut consumer) = link.subscribe(&queue, runtime.policy.prefetch, &tag).await?;
    let (settler, acks) = Settler::start(&runtime.id, channel.clone());
    events::consuming(&runtime.id, runtime.policy.lanes, runtime.policy.prefetch);

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
            Some(Err(e)) => break Err(e.into()),
            None => break Err(ConsumerError::Ended),
        };
        match serde_json::from_slice::<Envelope>(&amqp.data) {
            Ok(envelope) => {
                let lane = lane_of(&envelope.subject, lanes.len());
                let _ = lanes[lane].send(Incoming::new(amqp, envelope));
            }
            Err(e) => {
                let reason = format!("not a valid envelope: {e}");
                settle::dead_letter_unreadable(&ctx, &settler, amqp, &reason).await;
            }
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
        let properties = &amqp.properties;
        // The bus's annotations, carried as JSON in a header (an empty object if none).
        let annotations = headers::text(properties, headers::ANNOTATIONS)
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        Incoming {
            failures: headers::int(properties, headers::ATTEMPTS).unwrap_or(0).max(0) as u32,
            // Redelivered: the bus stopped (or lost the channel) while this one was in hand.
            uncertain: amqp.redelivered || headers::flag(properties, headers::UNCERTAIN),
            accepted_at: headers::int(properties, headers::ACCEPTED_AT),
            first_failed_at: headers::int(properties, headers::FIRST_FAILED_AT),
            annotations: Arc::new(annotations),
            test: headers::flag(properties, headers::TEST),
            envelope: Arc::new(envelope),
            amqp,
        }
    }
}

/// One lane: batches of what waits in it, up to the adapter's `max_batch`, one after another.
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
        delivery::process(&ctx, &settler, std::mem::take(&mut batch)).await;
    }
}
