//! Ingress: how a message becomes accepted, whoever sends it — a member over HTTP, or an
//! adapter through its outbox.
//!
//! A message is checked against its schemas, routed (to the agency competent for a submitted
//! dossier; the others follow their dossier), annotated (the routing decision, and for a
//! submitted dossier the papers already on file), published and confirmed by the broker, and
//! recorded. Only then is it accepted. A known id is answered as known and not published again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::MessageLog;
use crate::auth::{Caller, Denied};
use crate::competence::Routes;
use crate::envelope::Envelope;
use crate::procedures::Procedures;
use crate::roster::{Adapters, Roster};
use crate::routing::{matches, routing_key};
use crate::schema::{Catalogue, Violation};
use crate::store::{Accepted, DossierBrief, Store};
use crate::transport::{Broker, PublishError, Target, headers};
use crate::{events, now_ms};

/// Why a message was not accepted. The HTTP API answers each as a problem, the outbox as a
/// refusal; nothing of it was published or recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    /// The envelope or its payload breaks the schemas.
    #[error("{} violation{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Invalid(Vec<Violation>),
    /// No adapter's routes match its routing key.
    #[error("no adapter's routes match `{routing_key}`")]
    Unroutable { message_type: String, routing_key: String },
    /// No competence rule covers the dossier's procedure in its unit.
    #[error("{reason}")]
    NoCompetentAgency { procedure: String, unit: String, reason: String },
    /// The id was accepted before, with other content.
    #[error(
        "id {0} belongs to a different message: an envelope's id is its idempotency key, send a new id for a new message"
    )]
    IdReused(Uuid),
    /// The broker or the store cannot take it now.
    #[error("{0}")]
    Unavailable(String),
    /// The member may not send it.
    #[error("{0}")]
    Forbidden(Denied),
}

impl IngressError {
    /// What in the envelope is to blame, each with its JSON pointer.
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            IngressError::Invalid(violations) => violations.clone(),
            IngressError::Unroutable { message_type, .. } => {
                vec![Violation::new("/type", format!("no adapter consumes `{message_type}`"))]
            }
            IngressError::NoCompetentAgency { procedure, unit, .. } => vec![
                Violation::new(
                    "/payload/procedure_code",
                    format!("no competence rule for procedure {procedure} in unit {unit}"),
                ),
                Violation::new(
                    "/payload/unit_code",
                    format!("unit {unit} (see the unit catalogue and the competence rules)"),
                ),
            ],
            IngressError::IdReused(_) | IngressError::Unavailable(_) | IngressError::Forbidden(_) => Vec::new(),
        }
    }
}

impl From<crate::store::StoreError> for IngressError {
    fn from(error: crate::store::StoreError) -> Self {
        IngressError::Unavailable(error.to_string())
    }
}

/// What became of a submitted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// New, and confirmed by the broker.
    Accepted,
    /// Already held under its id: nothing was published again (a re-polled event, say). A
    /// resubmission must be the same message: the same id with other content is refused (409).
    Known,
}

/// Where an adapter's outbox submits (the ingress, or a test's stand-in).
#[async_trait]
pub trait Submit: Send + Sync + 'static {
    async fn submit(&self, source: &str, envelope: Value) -> Result<Submitted, IngressError>;
}

/// Who is submitting.
#[derive(Debug, Clone, Copy)]
pub enum Sender<'a> {
    /// A member over HTTP: the envelope's `source` must be the member, and its rights must
    /// cover the message's type and agency.
    Member(&'a Caller),
    /// An adapter through its outbox: the envelope's `source` is the adapter's id.
    Adapter(&'a str),
    /// The bus itself (its monthly report): the envelope's `source` is [`BUS_SOURCE`].
    Bus,
}

/// The `source` of the messages the bus sends itself: no adapter can have it (adapter ids have
/// no dot), and only the bus may send the types that are the bus's own (`x-lgsp-sender`).
pub const BUS_SOURCE: &str = "lgsp.bus";

pub struct Ingress {
    pub catalogue: Arc<Catalogue>,
    pub broker: Broker,
    pub store: Store,
    /// The adapters, and the routing-key patterns each receives.
    pub adapters: Adapters,
    /// Held (shared) by every `accept` from choosing its messages' adapters to recording them;
    /// taken alone by [`Ingress::routing_barrier`], so that a change of the adapters is seen
    /// by every message accepted after it, and by none accepted before.
    routing: tokio::sync::RwLock<()>,
    /// The province this bus serves: the second word of every routing key.
    pub province: String,
    pub procedures: Arc<Procedures>,
    /// The competence tables, when configured.
    pub routes: Option<Routes>,
    /// Submissions of one id are handled one at a time (striped, so different ids rarely wait).
    id_locks: Vec<tokio::sync::Mutex<()>>,
    /// Where every accepted message, delivery outcome and refusal is recorded as evidence.
    pub log: MessageLog,
}

/// The adapters whose routes match `routing_key`.
fn receivers(roster: &Roster, routing_key: &str) -> Vec<String> {
    roster
        .receivers()
        .filter(|(_, routes)| routes.iter().any(|route| matches(route, routing_key)))
        .map(|(adapter, _)| adapter.to_string())
        .collect()
}

/// A message that passed every check, ready to publish.
pub struct Prepared {
    envelope: Arc<Envelope>,
    /// The canonical JSON that is published, and its digest.
    body: Vec<u8>,
    digest: String,
    routing_key: String,
    /// The adapters whose routes match: chosen by `accept`, under its routing lock.
    adapters: Vec<String>,
    /// The routing decision, and for a submitted dossier the papers already on file.
    annotations: Value,
    competent_agency: Option<String>,
}

impl Ingress {
    /// Stripes of the id locks: enough that concurrent submissions seldom share one.
    const ID_LOCK_STRIPES: usize = 4096;

    pub fn new(
        catalogue: Arc<Catalogue>,
        broker: Broker,
        store: Store,
        adapters: Adapters,
        province: String,
        procedures: Arc<Procedures>,
        routes: Option<Routes>,
    ) -> Ingress {
        let id_locks = (0..Self::ID_LOCK_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect();
        Ingress {
            catalogue,
            broker,
            store,
            adapters,
            routing: tokio::sync::RwLock::new(()),
            province,
            procedures,
            routes,
            id_locks,
            log: MessageLog::off(),
        }
    }

    /// Records what it accepts in `log`.
    pub fn logging_to(self, log: MessageLog) -> Ingress {
        Ingress { log, ..self }
    }

    /// Checks one envelope, routes and annotates it.
    pub async fn prepare(&self, mut value: Value, sender: Sender<'_>) -> Result<Prepared, IngressError> {
        let source = match sender {
            Sender::Adapter(id) => Some(id),
            Sender::Bus => Some(BUS_SOURCE),
            Sender::Member(_) => None,
        };
        if let Some(source) = source
            && let Some(envelope) = value.as_object_mut()
        {
            envelope.insert("source".into(), Value::String(source.to_string()));
        }
        let envelope = self.catalogue.check_envelope(value).map_err(IngressError::Invalid)?;
        if self.catalogue.is_bus_only(&envelope.message_type) && !matches!(sender, Sender::Bus) {
            let detail =
                format!("{} is sent by the bus itself, never by a member or an adapter", envelope.message_type);
            return Err(IngressError::Forbidden(Denied::new(format!("send {}", envelope.message_type), detail)));
        }
        let brief = match envelope.message_type.as_str() {
            "dossier.submitted" => None,
            _ => {
                let dossier = envelope.payload.get("dossier_code").and_then(Value::as_str).unwrap_or(&envelope.subject);
                self.store.dossier_brief(dossier).await?
            }
        };
        if let Sender::Member(caller) = sender {
            // The agency the member speaks for: the message's own, else its dossier's.
            let agency = envelope.payload.get("agency_code").and_then(Value::as_str);
            let agency = agency.or(brief.as_ref().and_then(|b| b.competent_agency.as_deref()));
            caller.may_send(&envelope.source, &envelope.message_type, agency).map_err(IngressError::Forbidden)?;
        }
        let (agency, routing) = self.route(&envelope, brief.as_ref())?;
        let routing_key = routing_key(&envelope.message_type, &self.province, agency.as_deref());
        let mut annotations = json!({ "routing": routing });
        if envelope.message_type == "dossier.submitted" {
            annotations["documents_reuse"] = self.documents_reuse(&envelope).await?;
        }
        if let Some(status) = brief.and_then(|b| b.status) {
            // Where the dossier stands, for peers whose records of a step need it.
            annotations["dossier"] = json!({ "status": status });
        }
        let competent_agency = (envelope.message_type == "dossier.submitted").then(|| agency.clone()).flatten();
        let (body, digest) = envelope.encode();
        Ok(Prepared {
            envelope: Arc::new(envelope),
            body,
            digest,
            routing_key,
            adapters: Vec::new(),
            annotations,
            competent_agency,
        })
    }

    /// The agency a message goes to, and why. A submitted dossier goes to the agency competent
    /// for its procedure in its unit; every other message about a dossier follows it there.
    fn route(
        &self,
        envelope: &Envelope,
        brief: Option<&DossierBrief>,
    ) -> Result<(Option<String>, Value), IngressError> {
        let payload = &envelope.payload;
        let text = |key: &str| payload.get(key).and_then(Value::as_str);
        if envelope.message_type == "dossier.submitted"
            && let Some(routes) = &self.routes
        {
            let tables = routes.current();
            let procedure = text("procedure_code").unwrap_or_default();
            let unit = text("unit_code").unwrap_or(&self.province);
            return match tables.decide(procedure, unit) {
                Ok(decision) => Ok((
                    Some(decision.agency.clone()),
                    json!({"agency": decision.agency, "reason": decision.reason, "tables": tables.version}),
                )),
                Err(why) => Err(IngressError::NoCompetentAgency {
                    procedure: procedure.to_string(),
                    unit: unit.to_string(),
                    reason: why.to_string(),
                }),
            };
        }
        let dossier = text("dossier_code").unwrap_or(&envelope.subject);
        let known = brief.and_then(|b| b.competent_agency.as_ref());
        Ok(match (known, text("agency_code")) {
            (Some(agency), _) => {
                let reason = format!("follows dossier {dossier}, routed to {agency}");
                (Some(agency.clone()), json!({"agency": agency, "reason": reason}))
            }
            (None, Some(agency)) => {
                (Some(agency.to_string()), json!({"agency": agency, "reason": "the message's agency_code"}))
            }
            (None, None) => (None, json!({"agency": null, "reason": "no agency known: routed to the province"})),
        })
    }

    /// The papers a submitted dossier's procedure needs, and those already on file for its
    /// applicant, valid on the day it was received.
    async fn documents_reuse(&self, envelope: &Envelope) -> Result<Value, IngressError> {
        let payload = &envelope.payload;
        let procedure = payload["procedure_code"].as_str().unwrap_or_default();
        let required = self.procedures.requires(procedure).to_vec();
        let received_on = payload["received_at"].as_str().and_then(|t| t.get(..10)).unwrap_or_default();
        let applicant = &payload["applicant"];
        let reusable = self
            .store
            .reusable(
                applicant["kind"].as_str().unwrap_or_default(),
                applicant["id"].as_str().unwrap_or_default(),
                &required,
                received_on,
            )
            .await?;
        Ok(json!({"required": required, "reusable": reusable}))
    }

    /// Accepts prepared messages: each new id is published (confirms awaited together) and all
    /// are recorded in one write; a known id is `Known` and is not published again. One result
    /// per message, in order.
    /// Waits until every `accept` under way has recorded its messages: one that starts after
    /// sees the adapters as they are now.
    pub async fn routing_barrier(&self) {
        drop(self.routing.write().await);
    }

    pub async fn accept(&self, mut prepared: Vec<Prepared>) -> Vec<Result<(Submitted, Uuid), IngressError>> {
        // The adapters as they are now, held until the messages are recorded (see `routing`).
        let _routing = self.routing.read().await;
        let roster = self.adapters.current();
        for item in &mut prepared {
            item.adapters = receivers(&roster, &item.routing_key);
        }
        // One submission of an id at a time: a concurrent retry waits, then finds it known.
        // Stripes are locked in ascending order so two batches never wait on each other in a cycle.
        let mut stripes: Vec<usize> = prepared.iter().map(|p| stripe(p.envelope.id, self.id_locks.len())).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for index in stripes {
            guards.push(self.id_locks[index].lock().await);
        }

        let ids: Vec<Uuid> = prepared.iter().map(|p| p.envelope.id).collect();
        let known = match self.store.known_digests(&ids).await {
            Ok(known) => known,
            Err(e) => {
                let why = e.to_string();
                return prepared.iter().map(|_| Err(IngressError::Unavailable(why.clone()))).collect();
            }
        };
        let mut results = Vec::with_capacity(prepared.len());
        // The same id twice in one batch: the second is a retry of the first (or a conflict).
        let mut seen: HashMap<Uuid, &str> = HashMap::new();
        let mut new = Vec::new();
        for (index, (item, stored)) in prepared.iter().zip(known).enumerate() {
            let id = item.envelope.id;
            let known = seen.get(&id).map(|digest| digest.to_string()).or(stored);
            results.push(match known {
                Some(digest) if digest == item.digest => Ok((Submitted::Known, id)),
                Some(_) => Err(IngressError::IdReused(id)),
                // A type the store indexes for itself (a result's documents) is worth keeping
                // even when no adapter receives it; anything else nobody receives is refused.
                None if item.adapters.is_empty() && !Store::indexes(&item.envelope.message_type) => {
                    Err(IngressError::Unroutable {
                        message_type: item.envelope.message_type.clone(),
                        routing_key: item.routing_key.clone(),
                    })
                }
                None => {
                    new.push(index);
                    Ok((Submitted::Accepted, id))
                }
            });
            seen.entry(id).or_insert(&item.digest);
        }

        let accepted_at = now_ms();
        // Only messages some adapter receives go to the broker; the store's commit below is the
        // durable record of the others (indexed types only, see `prepare`).
        let published = futures::future::join_all(new.iter().map(|&index| {
            let item = &prepared[index];
            async move { if item.adapters.is_empty() { Ok(()) } else { self.publish(item, accepted_at).await } }
        }))
        .await;
        let mut records = Vec::new();
        for (&index, outcome) in new.iter().zip(published) {
            match outcome {
                Ok(()) => {
                    let item = &prepared[index];
                    self.log.accepted(&item.envelope, &item.digest, &item.routing_key);
                    records.push(Accepted {
                        envelope: item.envelope.clone(),
                        digest: item.digest.clone(),
                        routing_key: item.routing_key.clone(),
                        accepted_at,
                        adapters: item.adapters.clone(),
                        routing: item.annotations["routing"].clone(),
                        competent_agency: item.competent_agency.clone(),
                        documents_reuse: item.annotations.get("documents_reuse").cloned(),
                    });
                }
                Err(error) => results[index] = Err(error),
            }
        }
        let envelopes: Vec<Arc<Envelope>> = records.iter().map(|r| r.envelope.clone()).collect();
        if let Err(e) = self.store.record_accepted(records).await {
            // The broker has them and consumers deduplicate, so the caller's retry is harmless.
            events::published_not_recorded(envelopes.len(), &e);
            for &index in &new {
                if results[index].is_ok() {
                    let why = "the message could not be recorded; send it again".to_string();
                    results[index] = Err(IngressError::Unavailable(why));
                }
            }
            return results;
        }
        for envelope in &envelopes {
            events::message_accepted(envelope);
        }
        results
    }

    async fn publish(&self, item: &Prepared, accepted_at: i64) -> Result<(), IngressError> {
        let mut table = FieldTable::default();
        table.insert(headers::ACCEPTED_AT.into(), AMQPValue::LongLongInt(accepted_at));
        table.insert(headers::ANNOTATIONS.into(), AMQPValue::LongString(item.annotations.to_string().into()));
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(item.envelope.id.to_string().into())
            .with_type(item.envelope.message_type.as_str().into())
            .with_timestamp((accepted_at / 1000) as u64)
            .with_headers(table);
        self.broker.publish(Target::Exchange(&item.routing_key), &item.body, properties).await.map_err(|e| match e {
            PublishError::Unroutable(_) => IngressError::Unroutable {
                message_type: item.envelope.message_type.clone(),
                routing_key: item.routing_key.clone(),
            },
            e => IngressError::Unavailable(e.to_string()),
        })
    }
}

/// The outboxes of adapters submit here.
#[async_trait]
impl Submit for Ingress {
    async fn submit(&self, source: &str, envelope: Value) -> Result<Submitted, IngressError> {
        let prepared = self.prepare(envelope, Sender::Adapter(source)).await?;
        let (submitted, _) = self.accept(vec![prepared]).await.remove(0)?;
        Ok(submitted)
    }
}

fn stripe(id: Uuid, stripes: usize) -> usize {
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    (hasher.finish() % stripes as u64) as usize
}
