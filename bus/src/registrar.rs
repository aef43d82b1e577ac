//! Adapters registered over the API, by an agency for its own systems or by an admin for anyone:
//! checked as a whole (every problem named), kept in the store (they survive restarts), and run
//! on the bus once approved, without a restart. A member's registration waits for an admin.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::adapter::AdapterKind;
use crate::audit::MessageLog;
use crate::auth::grants::unknown_types;
use crate::auth::{Caller, Denied};
use crate::config::{AdapterSection, ConfigProblem, MessageRight, is_secret_key};
use crate::fleet::{Fleet, FleetError};
use crate::memory::Remember;
use crate::registry::{self, Built};
use crate::schema::Catalogue;
use crate::store::{Registration, RegistrationState, Store, StoreError};
use crate::{events, now_ms};

/// Why a registration, or a change to one, was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the registration is not valid: {} problem(s)", .0.len())]
    Invalid(Vec<ConfigProblem>),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("no registered adapter `{0}`")]
    NotFound(String),
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    State(String),
    #[error(transparent)]
    Fleet(FleetError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a registration needs of the bus to be checked and built.
#[derive(Clone)]
pub struct Builder {
    pub kinds: Vec<Arc<dyn AdapterKind>>,
    pub catalogue: Arc<Catalogue>,
    pub memory: Arc<dyn Remember>,
    /// Sandbox mode: a kind's simulator fills in what the registration leaves out, and serves.
    pub sandbox: bool,
}

impl Builder {
    /// Reads and builds a registration's body (the `[adapters.<id>]` table, as JSON, with its
    /// `id`), reporting every problem keyed relative to the body.
    pub fn build(&self, id: &str, body: &Value) -> Result<(AdapterSection, Built), Vec<ConfigProblem>> {
        let section = section(id, body).map_err(|mut problems| {
            // The kind's own problems and unknown types too, so that every one is named at once.
            problems.extend(self.kind_problems(id, body));
            let subscriptions: Option<Vec<MessageRight>> =
                body.get("subscriptions").cloned().and_then(|s| serde_json::from_value(s).ok());
            problems.extend(unknown_types("subscriptions", &subscriptions.unwrap_or_default(), &self.catalogue));
            problems
        })?;
        let mut problems = unknown_types("subscriptions", &section.subscriptions, &self.catalogue);
        let built = registry::build_one(id, &section, &self.kinds, self.sandbox, Some(self.memory.clone()));
        match built {
            Ok(built) => {
                problems.extend(uncontracted(&section, &built, &self.catalogue));
                if problems.is_empty() { Ok((section, built)) } else { Err(problems) }
            }
            Err(errors) => {
                problems.extend(errors);
                Err(problems)
            }
        }
    }

    /// What the adapter's kind finds wrong with the body's settings, read on their own.
    fn kind_problems(&self, id: &str, body: &Value) -> Vec<ConfigProblem> {
        let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (Ok(kind), Some(mut settings)) = (registry::kind_named(&self.kinds, kind), body.as_object().cloned())
        else {
            return Vec::new();
        };
        for owned in AdapterSection::KEYS.iter().chain(&["id"]) {
            settings.remove(*owned);
        }
        let Ok(settings) = toml::Table::try_from(&settings) else { return Vec::new() };
        registry::build_adapter(kind, id, &settings, self.sandbox, None).err().unwrap_or_default()
    }
}

/// The `[adapters.<id>]` table a body says, read and checked.
fn section(id: &str, body: &Value) -> Result<AdapterSection, Vec<ConfigProblem>> {
    let Value::Object(fields) = body else {
        return Err(vec![ConfigProblem::new("", "a registration is a JSON object: {\"id\": …, \"kind\": …}")]);
    };
    if let Some(named) = fields.get("id")
        && named.as_str() != Some(id)
    {
        return Err(vec![ConfigProblem::new("id", format!("must be `{id}`, the adapter's id"))]);
    }
    let mut fields = fields.clone();
    fields.remove("id");
    let table = toml::Table::try_from(&fields).map_err(|e| {
        vec![ConfigProblem::new(
            "",
            format!("cannot be read as settings: {e} (leave a key out rather than set it null)"),
        )]
    })?;
    AdapterSection::parse(id, table)
}

/// Services the adapter answers without a contract (neither the catalogue's nor uploaded), and
/// uploaded contracts of services it does not answer.
fn uncontracted(section: &AdapterSection, built: &Built, catalogue: &Catalogue) -> Vec<ConfigProblem> {
    let answered = &built.runtime.services;
    let mut problems = Vec::new();
    for service in answered {
        if catalogue.service(service).is_none() && !section.schemas.contains_key(service) {
            problems.push(ConfigProblem::new(
                format!("schemas.\"{service}\""),
                format!("`{service}` is answered but has no contract: upload its `request` and `reply` JSON Schemas"),
            ));
        }
        if catalogue.service(service).is_some() && section.schemas.contains_key(service) {
            problems.push(ConfigProblem::new(
                format!("schemas.\"{service}\""),
                format!("`{service}` is one of the bus's own services: its contract cannot be replaced"),
            ));
        }
    }
    for service in section.schemas.keys().filter(|s| !answered.contains(s)) {
        problems.push(ConfigProblem::new(
            format!("schemas.\"{service}\""),
            format!("the adapter does not answer `{service}` (see its `services`)"),
        ));
    }
    problems
}

/// Whether the caller may register (or change) an adapter that consumes and answers as `section`
/// and `built` say: a member only for the types of its agencies and the services its rights
/// name; an admin for anything.
fn permitted(caller: &Caller, section: &AdapterSection, built: &Built) -> Result<(), Denied> {
    if section.routes.is_some() {
        caller.may_route()?;
    }
    for subscription in &section.subscriptions {
        for message_type in &subscription.types {
            for agency in &subscription.agencies {
                caller.may_receive(message_type, agency)?;
            }
        }
    }
    for service in &built.runtime.services {
        caller.may_offer(service)?;
    }
    Ok(())
}

/// Whether the caller may change or remove a registration: its owner or an admin.
fn may_change(caller: &Caller, registration: &Registration) -> Result<(), Denied> {
    if caller.is_operator() {
        return caller.need(crate::config::Role::Admin);
    }
    if registration.owner == caller.name() {
        return Ok(());
    }
    let id = &registration.id;
    Err(Denied::new(
        format!("change adapter {id}"),
        format!("adapter `{id}` is {}'s: only its owner or an admin changes it", registration.owner),
    ))
}

/// Registrations, and the adapters they run.
pub struct Registrar {
    builder: Builder,
    store: Store,
    fleet: Arc<Fleet>,
    log: MessageLog,
    /// Adapters of the config file: changed there, not here.
    configured: BTreeSet<String>,
    /// One change at a time, so each sees the last.
    changing: tokio::sync::Mutex<()>,
}

impl Registrar {
    pub fn new(
        builder: Builder,
        store: Store,
        fleet: Arc<Fleet>,
        log: MessageLog,
        configured: BTreeSet<String>,
    ) -> Registrar {
        Registrar { builder, store, fleet, log, configured, changing: Default::default() }
    }

    /// Builds the approved registrations for a bus that is starting; one that no longer builds
    /// (its kind left the binary, say) is left out, and logged.
    pub async fn restore(builder: &Builder, store: &Store) -> Result<Vec<Built>, StoreError> {
        let mut built = Vec::new();
        for registration in store.registrations().await? {
            if registration.state != RegistrationState::Approved {
                continue;
            }
            match builder.build(&registration.id, &registration.body) {
                Ok((_, adapter)) => built.push(adapter),
                Err(problems) => events::registration_unusable(&registration.id, &problems),
            }
        }
        Ok(built)
    }

    pub async fn list(&self) -> Result<Vec<Registration>, StoreError> {
        self.store.registrations().await
    }

    pub async fn get(&self, id: &str) -> Result<Option<Registration>, StoreError> {
        Ok(self.store.registrations().await?.into_iter().find(|r| r.id == id))
    }

    /// Registers an adapter: an admin's runs at once; a member's waits for an admin as
    /// `pending`. A rejected registration of the same owner is replaced.
    pub async fn register(&self, caller: &Caller, body: Value) -> Result<Registration, Refusal> {
        caller.registrant()?;
        let _changing = self.changing.lock().await;
        let id = body.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        if id.is_empty() {
            return Err(Refusal::Invalid(vec![ConfigProblem::new(
                "id",
                "is required: the adapter's id, such as `land_hatinh`",
            )]));
        }
        let (section, built) = self.builder.build(&id, &body).map_err(Refusal::Invalid)?;
        permitted(caller, &section, &built)?;
        // Only its owner's rejected registration may be registered again.
        let taken = self.configured.contains(&id)
            || match self.get(&id).await? {
                Some(existing) => existing.state != RegistrationState::Rejected || existing.owner != caller.name(),
                None => self.fleet.adapters().current().get(&id).is_some(),
            };
        if taken {
            return Err(Refusal::Exists(format!("an adapter `{id}` exists; change it with PUT /v1/adapters/{id}")));
        }
        self.answered_elsewhere(&id, &built)?;
        let now = now_ms();
        let admin = caller.is_operator();
        let state = if admin { RegistrationState::Approved } else { RegistrationState::Pending };
        let registration = Registration {
            id: id.clone(),
            owner: caller.name().into(),
            state,
            reason: None,
            body,
            created_at: now,
            updated_at: now,
        };
        if admin {
            self.run(built).await?;
        }
        self.keep(caller, "adapters.register", registration).await
    }

    /// Changes a registration: a running adapter's bindings, policy, limits and settings are
    /// replaced live; a pending or rejected one waits (again) for an admin, unless an admin
    /// changed it.
    pub async fn update(&self, caller: &Caller, id: &str, body: Value) -> Result<Registration, Refusal> {
        caller.registrant()?;
        let _changing = self.changing.lock().await;
        let existing = self.owned(caller, id).await?;
        let (section, built) = self.builder.build(id, &body).map_err(Refusal::Invalid)?;
        permitted(caller, &section, &built)?;
        self.answered_elsewhere(id, &built)?;
        let admin = caller.is_operator();
        let state = match existing.state {
            RegistrationState::Approved => {
                self.fleet.replace(built.runtime.clone()).await.map_err(Refusal::Fleet)?;
                self.serve_simulator(&built).await;
                RegistrationState::Approved
            }
            _ if admin => {
                self.run(built).await?;
                RegistrationState::Approved
            }
            _ => RegistrationState::Pending,
        };
        let registration = Registration { state, reason: None, body, updated_at: now_ms(), ..existing };
        self.keep(caller, "adapters.update", registration).await
    }

    /// An admin approves a pending registration: its adapter runs now.
    pub async fn approve(&self, caller: &Caller, id: &str) -> Result<Registration, Refusal> {
        caller.need(crate::config::Role::Admin)?;
        let _changing = self.changing.lock().await;
        let existing = self.pending(id).await?;
        let (_, built) = self.builder.build(id, &existing.body).map_err(Refusal::Invalid)?;
        self.answered_elsewhere(id, &built)?;
        self.run(built).await?;
        let registration = Registration { state: RegistrationState::Approved, updated_at: now_ms(), ..existing };
        self.keep(caller, "adapters.approve", registration).await
    }

    /// An admin rejects a pending registration, saying why; its owner may register it again.
    pub async fn reject(&self, caller: &Caller, id: &str, reason: String) -> Result<Registration, Refusal> {
        caller.need(crate::config::Role::Admin)?;
        let _changing = self.changing.lock().await;
        let existing = self.pending(id).await?;
        let registration =
            Registration { state: RegistrationState::Rejected, reason: Some(reason), updated_at: now_ms(), ..existing };
        self.keep(caller, "adapters.reject", registration).await
    }

    /// Removes a registered adapter: its registration goes, and a running one is removed from
    /// the bus (what is queued for it becomes its dead letters). `None` when `id` is not a
    /// registration (a configured adapter is removed by the fleet alone).
    pub async fn remove(&self, caller: &Caller, id: &str) -> Result<Option<Registration>, Refusal> {
        let _changing = self.changing.lock().await;
        let Some(existing) = self.get(id).await? else { return Ok(None) };
        may_change(caller, &existing)?;
        if existing.state == RegistrationState::Approved && self.fleet.adapters().current().get(id).is_some() {
            self.fleet.remove(id, caller.name()).await.map_err(Refusal::Fleet)?;
        }
        self.store.remove_registration(id).await?;
        self.record(caller, "adapters.remove", &existing);
        Ok(Some(existing))
    }

    /// Whether the caller may act on adapter `id` (test it, say): an operator of `role`, or the
    /// member who registered it.
    pub async fn may_act(&self, caller: &Caller, id: &str, role: crate::config::Role) -> Result<(), Refusal> {
        if caller.is_operator() {
            return Ok(caller.need(role)?);
        }
        match self.get(id).await? {
            Some(registration) if registration.owner == caller.name() => Ok(()),
            _ => Err(Refusal::Denied(Denied::new(
                format!("act on adapter {id}"),
                format!("only an operator, or the member who registered `{id}`, acts on it"),
            ))),
        }
    }

    /// The registration, if the caller may change it.
    async fn owned(&self, caller: &Caller, id: &str) -> Result<Registration, Refusal> {
        let Some(existing) = self.get(id).await? else {
            return Err(if self.configured.contains(id) {
                Refusal::State(format!("`{id}` comes from the config file: change it there"))
            } else {
                Refusal::NotFound(id.into())
            });
        };
        may_change(caller, &existing)?;
        Ok(existing)
    }

    async fn pending(&self, id: &str) -> Result<Registration, Refusal> {
        let existing = self.get(id).await?.ok_or_else(|| Refusal::NotFound(id.into()))?;
        if existing.state != RegistrationState::Pending {
            return Err(Refusal::State(format!("adapter `{id}` is {:?}, not pending", existing.state).to_lowercase()));
        }
        Ok(existing)
    }

    /// A service answers from one adapter only.
    fn answered_elsewhere(&self, id: &str, built: &Built) -> Result<(), Refusal> {
        let roster = self.fleet.adapters().current();
        let problems: Vec<ConfigProblem> = built
            .runtime
            .services
            .iter()
            .filter_map(|service| {
                let (other, _) = roster.answering(service).filter(|(other, _)| other.id != id)?;
                Some(ConfigProblem::new(
                    "services",
                    format!("`{service}` is answered by adapter `{}` already", other.id),
                ))
            })
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(Refusal::Invalid(problems)) }
    }

    /// Adds the adapter to the running bus (and, in sandbox mode, serves its peer's simulator).
    async fn run(&self, built: Built) -> Result<(), Refusal> {
        self.fleet.add(built.runtime.clone()).await.map_err(Refusal::Fleet)?;
        self.serve_simulator(&built).await;
        Ok(())
    }

    async fn serve_simulator(&self, built: &Built) {
        let Some((simulator, settings)) = &built.sandbox else { return };
        match simulator.serve(settings).await {
            Ok(addr) => events::simulator_serving(&built.runtime.id, addr),
            // Served already (by an earlier version of the registration), or the address is taken.
            Err(e) => events::simulator_not_served(&built.runtime.id, &e),
        }
    }

    async fn keep(&self, caller: &Caller, action: &str, registration: Registration) -> Result<Registration, Refusal> {
        self.store.put_registration(registration.clone()).await?;
        self.record(caller, action, &registration);
        Ok(registration)
    }

    /// The change in the message log: who, which adapter, where it stands, and the digest of
    /// the registration (its secrets stay out of the log).
    fn record(&self, caller: &Caller, action: &str, registration: &Registration) {
        let detail = json!({
            "adapter": registration.id,
            "owner": registration.owner,
            "state": registration.state,
            "reason": registration.reason,
            "digest": crate::envelope::sha256_hex(registration.body.to_string()),
        });
        self.log.operator_action("adapter.change", caller.name(), action, detail);
        events::registration_changed(action, &registration.id, caller.name());
    }
}

/// A registration as shown: its secrets replaced by `********`.
pub fn without_secrets(body: &Value) -> Value {
    match body {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let shown = match value {
                        Value::String(_) if is_secret_key(key) => Value::String("********".into()),
                        other => without_secrets(other),
                    };
                    (key.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_secrets).collect()),
        other => other.clone(),
    }
}
