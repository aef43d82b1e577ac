//! The adapters of a running bus at one moment: what ingress routes by, what the HTTP API shows
//! and what the broker must have declared. The roster is a snapshot, replaced whole at each change
//! (the [`fleet`](crate::fleet) makes them), so a reader never waits on one.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::adapter::Adapter;
use crate::config::{DeliveryPolicy, RequestPolicy};
use crate::engine::activity::Activity;
use crate::engine::guard::PeerGuard;
use crate::schema::ServiceSchema;
use crate::transport::Subscription;

/// One configured adapter, as the engine runs it.
pub struct AdapterRuntime {
    pub id: String,
    pub adapter: Arc<dyn Adapter>,
    pub routes: Vec<String>,
    pub policy: DeliveryPolicy,
    /// Request/reply services it answers, and how.
    pub services: Vec<String>,
    pub requests: RequestPolicy,
    /// The contracts of the services it answers that the catalogue does not hold.
    pub contracts: BTreeMap<String, Arc<ServiceSchema>>,
    /// Its peer's circuit breaker and limits, for deliveries and requests alike.
    pub guard: PeerGuard,
}

/// The adapters at one moment.
#[derive(Default)]
pub struct Roster {
    entries: BTreeMap<String, Entry>,
}

#[derive(Clone)]
struct Entry {
    runtime: Arc<AdapterRuntime>,
    phase: Phase,
    /// Kept when the adapter is changed live.
    activity: Arc<Activity>,
}

/// Where an adapter stands on the running bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Its queue is being declared: nothing is routed to it yet.
    Adding,
    /// Routed to and consumed.
    Running,
    /// Routed to; its messages wait in its queue.
    Paused,
    /// No longer routed to; what is left for it is being archived as its dead letters.
    Removing,
}

impl Phase {
    /// Whether ingress routes messages to it.
    pub fn routed(self) -> bool {
        matches!(self, Phase::Running | Phase::Paused)
    }
}

impl Roster {
    /// Every adapter, by id.
    pub fn adapters(&self) -> impl Iterator<Item = &Arc<AdapterRuntime>> {
        self.entries.values().map(|entry| &entry.runtime)
    }

    pub fn get(&self, id: &str) -> Option<&Arc<AdapterRuntime>> {
        self.entries.get(id).map(|entry| &entry.runtime)
    }

    /// What its deliveries have been doing, and its tests in flight.
    pub fn activity(&self, id: &str) -> Option<&Arc<Activity>> {
        self.entries.get(id).map(|entry| &entry.activity)
    }

    pub fn phase(&self, id: &str) -> Option<Phase> {
        self.entries.get(id).map(|entry| entry.phase)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// (adapter, routing-key patterns) of the adapters ingress routes messages to.
    pub fn receivers(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.values().filter(|e| e.phase.routed()).map(|e| (e.runtime.id.as_str(), e.runtime.routes.as_slice()))
    }

    /// The adapter that answers `service`, with its phase (`Running` or `Paused`).
    pub fn answering(&self, service: &str) -> Option<(&Arc<AdapterRuntime>, Phase)> {
        self.entries
            .values()
            .filter(|e| e.phase.routed())
            .find(|e| e.runtime.services.iter().any(|s| s == service))
            .map(|e| (&e.runtime, e.phase))
    }

    /// The contract of `service`: the catalogue's, else that of the adapter answering it.
    pub fn contract(&self, catalogue: &crate::schema::Catalogue, service: &str) -> Option<Arc<ServiceSchema>> {
        catalogue.service(service).or_else(|| self.answering(service)?.0.contracts.get(service).cloned())
    }

    /// Every service an adapter answers.
    pub fn services(&self) -> Vec<String> {
        self.entries.values().flat_map(|e| e.runtime.services.iter().cloned()).collect()
    }

    /// What the broker must have declared: every adapter's queue, bindings and retry tiers.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.entries.values().map(|e| subscription(&e.runtime)).collect()
    }
}

/// What the broker declares for one adapter.
pub fn subscription(runtime: &AdapterRuntime) -> Subscription {
    Subscription {
        adapter: runtime.id.clone(),
        routes: runtime.routes.clone(),
        retry_tiers: runtime.policy.retry_tiers.clone(),
        services: runtime.services.clone(),
    }
}

/// The current roster, shared, and a signal at each change.
#[derive(Clone)]
pub struct Adapters(Arc<Shared>);

struct Shared {
    roster: RwLock<Arc<Roster>>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl Adapters {
    /// A roster of these adapters, every one running.
    pub fn of(runtimes: impl IntoIterator<Item = Arc<AdapterRuntime>>) -> Adapters {
        let entries = runtimes
            .into_iter()
            .map(|runtime| (runtime.id.clone(), Entry { runtime, phase: Phase::Running, activity: Default::default() }))
            .collect();
        let roster = RwLock::new(Arc::new(Roster { entries }));
        Adapters(Arc::new(Shared { roster, changes: tokio::sync::watch::Sender::new(0) }))
    }

    pub fn current(&self) -> Arc<Roster> {
        self.0.roster.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Waits until the roster is as `done` wants (for tests and tools; at most `timeout`).
    pub async fn wait_until(&self, timeout: Duration, done: impl Fn(&Roster) -> bool) -> bool {
        let mut changes = self.0.changes.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                changes.borrow_and_update();
                if done(&self.current()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        });
        waited.await.is_ok() && done(&self.current())
    }

    /// Puts an adapter on the roster, in `phase`; one that replaces another of its id keeps its
    /// activity.
    pub(crate) fn insert(&self, runtime: Arc<AdapterRuntime>, phase: Phase) {
        self.change(|entries| {
            let activity = entries.get(&runtime.id).map(|old| old.activity.clone()).unwrap_or_default();
            entries.insert(runtime.id.clone(), Entry { runtime, phase, activity });
        });
    }

    pub(crate) fn remove(&self, id: &str) {
        self.change(|entries| {
            entries.remove(id);
        });
    }

    pub(crate) fn set_phase(&self, id: &str, phase: Phase) {
        self.change(|entries| {
            if let Some(entry) = entries.get_mut(id) {
                entry.phase = phase;
            }
        });
    }

    /// Replaces the roster with a changed copy (changes are rare; readers never wait long).
    fn change(&self, edit: impl FnOnce(&mut BTreeMap<String, Entry>)) {
        {
            let mut current = self.0.roster.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut entries = current.entries.clone();
            edit(&mut entries);
            *current = Arc::new(Roster { entries });
        }
        self.0.changes.send_modify(|version| *version += 1);
    }
}
