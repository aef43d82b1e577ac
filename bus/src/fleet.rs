//! The adapters of a running bus, which change while it runs: one is added, paused, resumed or
//! removed without a restart, and no message is lost or sent twice meanwhile.
//!
//! Whoever routes or answers by the adapters (ingress, the HTTP API, the broker's topology) reads
//! the current [`Roster`](crate::roster::Roster). The order of each change
//! keeps every accepted message somewhere: an adapter's queue is declared and bound before
//! ingress routes anything to it, and on removal ingress stops routing to it before its bindings
//! go, so what is left in its queue is all it will get, and that is archived as dead letters
//! (replayable elsewhere) before the queue is deleted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, AdapterRuntime};
use crate::events;
use crate::ingress::Ingress;
use crate::roster::{Adapters, Phase, subscription};
use crate::store::Store;
use crate::transport::{Broker, Subscription};

/// Why a change to the fleet was not made; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("an adapter `{0}` exists")]
    Exists(String),
    #[error("no adapter `{0}`")]
    NotFound(String),
    #[error("adapter `{0}` is {1:?}: {2}")]
    Phase(String, Phase, &'static str),
    #[error("the broker is unreachable, so the adapter's queue cannot be declared: {0}")]
    Broker(String),
}

/// An adapter's engine tasks, stopped together.
struct Running {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

/// Runs the adapters' engines and changes the roster.
pub struct Fleet {
    adapters: Adapters,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// Removals whose leftovers are still being archived.
    removals: tokio::sync::Mutex<JoinSet<()>>,
    broker: Broker,
    store: Store,
    ingress: Arc<Ingress>,
    /// Cancelled when the bus stops: every adapter's tasks end.
    shutdown: CancellationToken,
}

/// How long adding an adapter waits for the broker before it gives up.
const BROKER_WAIT: Duration = Duration::from_secs(5);

impl Fleet {
    /// Starts the engine of every adapter of `adapters` (declared with the broker's topology).
    pub fn start(
        adapters: Adapters,
        broker: Broker,
        store: Store,
        ingress: Arc<Ingress>,
        shutdown: CancellationToken,
    ) -> Fleet {
        let fleet = Fleet {
            adapters,
            running: Default::default(),
            removals: Default::default(),
            broker,
            store,
            ingress,
            shutdown,
        };
        let running =
            fleet.adapters.current().adapters().map(|runtime| (runtime.id.clone(), fleet.run(runtime))).collect();
        Fleet { running: tokio::sync::Mutex::new(running), ..fleet }
    }

    pub fn adapters(&self) -> &Adapters {
        &self.adapters
    }

    fn run(&self, runtime: &Arc<AdapterRuntime>) -> Running {
        let stop = self.shutdown.child_token();
        let activity = self.adapters.current().activity(&runtime.id).cloned().unwrap_or_default();
        let tasks = engine::spawn(runtime, activity, &self.broker, &self.store, &self.ingress, &stop);
        Running { stop, tasks }
    }

    /// Adds an adapter to the running bus: its queue declared and bound, then routed to, then
    /// consumed, all before this returns.
    pub async fn add(&self, runtime: Arc<AdapterRuntime>) -> Result<(), FleetError> {
        let mut running = self.running.lock().await;
        let id = runtime.id.clone();
        if self.adapters.current().get(&id).is_some() {
            return Err(FleetError::Exists(id));
        }
        self.adapters.insert(runtime.clone(), Phase::Adding);
        let link = tokio::time::timeout(BROKER_WAIT, self.broker.wait_link(&self.shutdown)).await.ok().flatten();
        let declared = match link {
            Some(_) => self.broker.declare(&subscription(&runtime)).await.map_err(|e| e.to_string()),
            None => Err(format!("not connected within {BROKER_WAIT:?}")),
        };
        if let Err(e) = declared {
            self.adapters.remove(&id);
            return Err(FleetError::Broker(e));
        }
        self.adapters.set_phase(&id, Phase::Running);
        running.insert(id.clone(), self.run(&runtime));
        events::adapter_added(&id);
        Ok(())
    }

    /// Replaces a running or paused adapter with a changed one (its routes, policy, limits or
    /// settings), keeping its queue: the new bindings first, then ingress routes by the new
    /// routes, then the old bindings go; its consumers stop (what they held goes back to the
    /// queue) and start again as the new one. Nothing meant for it is missed, and what it had
    /// is delivered once (the store knows what was delivered).
    pub async fn replace(&self, runtime: Arc<AdapterRuntime>) -> Result<(), FleetError> {
        let mut running = self.running.lock().await;
        let id = runtime.id.clone();
        let roster = self.adapters.current();
        let (Some(old), Some(phase)) = (roster.get(&id).cloned(), roster.phase(&id)) else {
            return Err(FleetError::NotFound(id));
        };
        if !phase.routed() {
            return Err(FleetError::Phase(id, phase, "it is being added or removed"));
        }
        self.broker.declare(&subscription(&runtime)).await.map_err(|e| FleetError::Broker(e.to_string()))?;
        if let Some(tasks) = running.remove(&id) {
            stop(tasks).await;
        }
        self.adapters.insert(runtime.clone(), phase);
        if phase == Phase::Running {
            running.insert(id.clone(), self.run(&runtime));
        }
        // Ingress routes by the new routes from here on; then the old bindings can go.
        self.ingress.routing_barrier().await;
        let gone = Subscription {
            routes: old.routes.iter().filter(|r| !runtime.routes.contains(r)).cloned().collect(),
            services: old.services.iter().filter(|s| !runtime.services.contains(s)).cloned().collect(),
            ..subscription(&old)
        };
        self.broker.unbind(&gone).await.map_err(|e| FleetError::Broker(e.to_string()))?;
        events::adapter_replaced(&id);
        Ok(())
    }

    /// Stops consuming an adapter's messages; they wait in its queue, still routed to it.
    pub async fn pause(&self, id: &str) -> Result<(), FleetError> {
        let mut running = self.running.lock().await;
        self.expect(id, Phase::Running, "only a running adapter is paused")?;
        if let Some(tasks) = running.remove(id) {
            stop(tasks).await;
        }
        self.adapters.set_phase(id, Phase::Paused);
        events::adapter_paused(id);
        Ok(())
    }

    /// Consumes a paused adapter's messages again.
    pub async fn resume(&self, id: &str) -> Result<(), FleetError> {
        let mut running = self.running.lock().await;
        let runtime = self.expect(id, Phase::Paused, "only a paused adapter is resumed")?;
        running.insert(id.to_string(), self.run(&runtime));
        self.adapters.set_phase(id, Phase::Running);
        events::adapter_resumed(id);
        Ok(())
    }

    /// Removes an adapter: nothing more is routed to it and its consumers stop before this
    /// returns; then, in the background, what is left for it (in its queue, or coming back from a
    /// retry tier) is archived as its dead letters, its queues are deleted and it leaves the
    /// roster (until then its phase is `removing`).
    pub async fn remove(&self, id: &str, operator: &str) -> Result<(), FleetError> {
        let mut running = self.running.lock().await;
        let roster = self.adapters.current();
        let (Some(runtime), Some(phase)) = (roster.get(id).cloned(), roster.phase(id)) else {
            return Err(FleetError::NotFound(id.into()));
        };
        if !phase.routed() {
            return Err(FleetError::Phase(id.into(), phase, "it is being added or removed"));
        }
        self.adapters.set_phase(id, Phase::Removing);
        // Ingress no longer routes to it, and every message it routed there before is published
        // and recorded by now. Then its bindings go, so its queue gets nothing more.
        self.ingress.routing_barrier().await;
        if let Err(e) = self.broker.unbind(&subscription(&runtime)).await {
            self.adapters.set_phase(id, phase);
            return Err(FleetError::Broker(e.to_string()));
        }
        if let Some(tasks) = running.remove(id) {
            stop(tasks).await;
        }
        events::adapter_removing(id, operator);
        let (adapters, broker, store) = (self.adapters.clone(), self.broker.clone(), self.store.clone());
        let (id, operator, shutdown) = (id.to_string(), operator.to_string(), self.shutdown.clone());
        self.removals.lock().await.spawn(async move {
            let buried = engine::dead_letters::undertake(broker, store, subscription(&runtime), operator, shutdown);
            if let Some(archived) = buried.await {
                adapters.remove(&id);
                events::adapter_removed(&id, archived);
            }
        });
        Ok(())
    }

    /// The adapter, when it is in `phase`.
    fn expect(&self, id: &str, phase: Phase, why: &'static str) -> Result<Arc<AdapterRuntime>, FleetError> {
        let roster = self.adapters.current();
        match (roster.get(id), roster.phase(id)) {
            (Some(runtime), Some(found)) if found == phase => Ok(runtime.clone()),
            (Some(_), Some(found)) => Err(FleetError::Phase(id.into(), found, why)),
            _ => Err(FleetError::NotFound(id.into())),
        }
    }

    /// Waits for every adapter's tasks and every removal to end (the bus is stopping: `shutdown`
    /// was cancelled).
    pub async fn join(&self) {
        let mut running = self.running.lock().await;
        for (_, tasks) in running.drain() {
            stop(tasks).await;
        }
        let mut removals = self.removals.lock().await;
        while removals.join_next().await.is_some() {}
    }
}

async fn stop(mut running: Running) {
    running.stop.cancel();
    while running.tasks.join_next().await.is_some() {}
}
