//! The delivery engine: consumes each adapter's queue and owns everything around the adapter's
//! call — order, deduplication, newest-seq-wins, retries, dead letters, acks and records.
//!
//! Deliveries are sharded by subject into ordered lanes: one dossier's messages are handed to
//! the adapter one batch after another, while different dossiers go at once. A message is acked
//! only after its outcome is recorded (and, for a retry or a dead letter, after the broker
//! confirmed its copy), so a crash at any point redelivers it; the record then makes the
//! redelivered copy a duplicate that is acked without being sent again.

mod acks;
pub mod activity;
mod consumer;
pub mod dead_letters;
mod delivery;
pub mod guard;
mod services;
mod settle;
pub mod trial;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::audit::MessageLog;
use crate::events;
use crate::ingress::Ingress;
use crate::outbox::Outbox;
use crate::schema::Catalogue;
use crate::store::{Store, StoreError};
use crate::transport::{Broker, Link};
use activity::Activity;

/// Why one of the engine's consumers stopped while the broker was still connected.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("{0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker ended the consumer")]
    Ended,
}

pub use crate::roster::AdapterRuntime;

/// Runs an adapter's consumer of its messages (if it has routes), its server of requests (if it
/// answers services) and its own work, until `stop`; each survives broker reconnections.
pub fn spawn(
    runtime: &Arc<AdapterRuntime>,
    activity: Arc<Activity>,
    broker: &Broker,
    store: &Store,
    ingress: &Arc<Ingress>,
    stop: &CancellationToken,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    let ctx = Arc::new(Context {
        runtime: runtime.clone(),
        activity,
        catalogue: ingress.catalogue.clone(),
        broker: broker.clone(),
        store: store.clone(),
        log: ingress.log.clone(),
        shutdown: stop.clone(),
    });
    if !runtime.routes.is_empty() {
        tasks.spawn(on_each_link(ctx.clone(), "deliveries", consumer::consume));
        let (store, id) = (store.clone(), runtime.id.clone());
        tasks.spawn(async move { dead_letters::refresh_gauge(&store, &id).await });
    }
    if !runtime.services.is_empty() {
        tasks.spawn(on_each_link(ctx.clone(), "requests", services::serve));
    }
    tasks.spawn(run_own_work(ctx, Outbox::new(&runtime.id, ingress.clone())));
    tasks
}

/// The adapter's own work (polling its peer, say), restarted after a pause if it stops early.
async fn run_own_work(ctx: Arc<Context>, outbox: Outbox) {
    loop {
        ctx.runtime.adapter.run(outbox.clone(), ctx.shutdown.clone()).await;
        if ctx.shutdown.is_cancelled() {
            return;
        }
        events::adapter_work_stopped(&ctx.runtime.id, OWN_WORK_PAUSE);
        tokio::select! {
            _ = tokio::time::sleep(OWN_WORK_PAUSE) => {}
            _ = ctx.shutdown.cancelled() => return,
        }
    }
}

/// How long the adapter's own work rests before it is started again.
const OWN_WORK_PAUSE: Duration = Duration::from_secs(5);

/// What every task of one adapter's engine shares.
struct Context {
    runtime: Arc<AdapterRuntime>,
    activity: Arc<Activity>,
    catalogue: Arc<Catalogue>,
    broker: Broker,
    store: Store,
    log: MessageLog,
    shutdown: CancellationToken,
}

/// Runs one of the adapter's consumers on each live link until shutdown: when the connection is
/// lost it ends, and starts again on the next one; when it fails on a live connection (its
/// channel closed by the broker, say) it starts again after a pause. Every consumer of the
/// engine (deliveries, requests, a removed adapter's leftovers) lives in this loop.
async fn on_each_link<F, Fut>(ctx: Arc<Context>, consumer: &'static str, consume: F)
where
    F: Fn(Arc<Context>, Link) -> Fut,
    Fut: Future<Output = Result<(), ConsumerError>>,
{
    let adapter = ctx.runtime.id.as_str();
    while let Some(link) = ctx.broker.wait_link(&ctx.shutdown).await {
        let generation = link.generation;
        match consume(ctx.clone(), link).await {
            Ok(()) => events::consumer_stopped(adapter, consumer),
            Err(e) => {
                events::consumer_interrupted(adapter, consumer, &e);
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

/// Retries a store operation until it succeeds: a store outage pauses delivery, it loses nothing.
async fn until_done<T, F, Fut>(ctx: &Context, operation: &'static str, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Some(value),
            Err(e) => {
                events::delivery_paused_by_store(&ctx.runtime.id, operation, &e);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.shutdown.cancelled() => return None,
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
