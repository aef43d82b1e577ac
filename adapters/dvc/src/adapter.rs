//! The `dvc` adapter: keeps the portal's copy of each dossier and its history in step.
//!
//! A batch becomes at most three kinds of calls, in this order: new dossiers (`DongBoHoSoMC`,
//! `isUpdating` False), changed dossiers (`DongBoHoSoMC`, True), then progress steps
//! (`CapNhatTienDoHoSoMC`), so that a dossier's state is at the portal before its history.

use async_trait::async_trait;
use lgsp_bus::{Adapter, Delivery, Failure, Outcome};
use uuid::Uuid;

use crate::client::{CallError, ClientError, PortalAnswer, PortalClient};
use crate::config::DvcConfig;
use crate::events;
use crate::mapping::{self, Call, DossierView, Service, ShipmentView, Verdict};
use lgsp_bus::privacy::redact;

pub const SUBMITTED: &str = "dossier.submitted";
pub const STATUS_CHANGED: &str = "dossier.status_changed";
pub const SHIPMENT_STATUS: &str = "postal.shipment_status";
const ROUTES: [&str; 3] = ["dossier.submitted.#", "dossier.status_changed.#", "postal.shipment_status.#"];

pub struct DvcAdapter {
    client: PortalClient,
    max_batch: usize,
}

/// One item of a call, and the delivery it belongs to.
struct Part {
    /// Index of the delivery in the batch.
    index: usize,
    id: Uuid,
    dossier: String,
    item: serde_json::Value,
}

/// What one delivery sends.
#[derive(Default)]
struct Parts {
    new_state: Option<Part>,
    changed_state: Option<Part>,
    progress: Option<Part>,
}

impl Parts {
    /// The dossier's state it sends, new or changed.
    fn state(&self) -> Option<&Part> {
        self.new_state.as_ref().or(self.changed_state.as_ref())
    }
}

impl DvcAdapter {
    pub fn new(config: &DvcConfig) -> Result<DvcAdapter, ClientError> {
        Ok(DvcAdapter { client: PortalClient::new(config)?, max_batch: config.max_batch })
    }

    /// Sends the parts of one service in calls of at most `max_batch` items, noting failures.
    async fn send_all(&self, service: Service, parts: Vec<Part>, batch: &[Delivery], failed: &mut [Option<Outcome>]) {
        let answered = |parts: &[Part], answer: &PortalAnswer| {
            for part in parts {
                batch[part.index].answered(&answer.text);
            }
        };
        for chunk in parts.chunks(self.max_batch) {
            let error = match self.send(service, chunk).await {
                Ok(answer) => {
                    answered(chunk, &answer);
                    continue;
                }
                Err(error) => error,
            };
            if chunk.len() > 1 && error.verdict().is_some_and(Verdict::blames_items) {
                // The portal refuses a whole call for one bad item: resend one by one so that only
                // the bad ones fail.
                events::batch_split(service.name(), chunk.len());
                for part in chunk {
                    match self.send(service, std::slice::from_ref(part)).await {
                        Ok(answer) => answered(std::slice::from_ref(part), &answer),
                        Err(error) => failed[part.index] = Some(outcome(service, part, &error)),
                    }
                }
            } else {
                for part in chunk {
                    failed[part.index] = Some(outcome(service, part, &error));
                }
            }
        }
    }

    /// The portal's copy (`TraCuuHoSo`) of each of `dossiers`, asked once each, all at once.
    async fn portal_copies(&self, mut dossiers: Vec<&str>) -> Copies {
        dossiers.sort_unstable();
        dossiers.dedup();
        let answers = futures::future::join_all(dossiers.iter().map(|code| self.client.lookup_dossier(code))).await;
        dossiers.into_iter().map(String::from).zip(answers).collect()
    }

    async fn send(&self, service: Service, parts: &[Part]) -> Result<PortalAnswer, CallError> {
        let call = Call { service, items: parts.iter().map(|p| p.item.clone()).collect() };
        let ids: Vec<Uuid> = parts.iter().map(|p| p.id).collect();
        let dossiers: Vec<&str> = parts.iter().map(|p| p.dossier.as_str()).collect();
        match self.client.call(&call, &ids).await {
            Ok(answer) => {
                events::call_accepted(service.name(), &dossiers);
                Ok(answer)
            }
            Err(error) => {
                events::call_failed(service.name(), &dossiers, &error);
                Err(error)
            }
        }
    }
}

type Copies = std::collections::HashMap<String, Result<Option<serde_json::Value>, CallError>>;

/// An earlier attempt may have reached the portal (the bus stopped mid-call, or the call timed
/// out): its state is not sent again if the portal's copy already holds it. Its progress step
/// still goes, since the portal's copy does not show its history. When the portal cannot be
/// asked, the delivery waits for a retry, still uncertain.
fn skip_what_the_portal_has(parts: &mut Parts, copies: &Copies) -> Result<(), Outcome> {
    let Some(state) = parts.state() else { return Ok(()) };
    match copies.get(&state.dossier) {
        Some(Ok(Some(copy))) if mapping::portal_holds(copy, &state.item) => {
            events::already_at_portal(&state.id, &state.dossier);
            parts.new_state = None;
            parts.changed_state = None;
            Ok(())
        }
        Some(Err(error)) => {
            let reason = format!(
                "cannot check whether the portal already has dossier {} (an earlier attempt may have reached it): {error}",
                state.dossier
            );
            Err(Outcome::Transient(with_code(Failure::new(reason), error).uncertain()))
        }
        _ => Ok(()),
    }
}

/// Reads a delivery and maps what it must send; a payload the adapter cannot read is refused.
fn parts(index: usize, delivery: &Delivery) -> Result<Parts, Failure> {
    let envelope = &delivery.envelope;
    let refused = |reason: String| Failure::new(redact(&reason));
    let updating = match envelope.message_type.as_str() {
        SUBMITTED => false,
        STATUS_CHANGED => true,
        // A shipment's move is history: sent even when a newer one overtook it.
        SHIPMENT_STATUS => {
            let shipment: ShipmentView = envelope.payload_as().map_err(|e| {
                refused(format!(
                    "message {} ({}): payload does not fit the dvc view of a shipment: {e}",
                    envelope.id, envelope.subject
                ))
            })?;
            let status = delivery.annotations["dossier"]["status"].as_u64().and_then(|s| u8::try_from(s).ok());
            let item = mapping::shipment_progress_item(&shipment, status)
                .map_err(|e| refused(format!("dossier {}: {e}", shipment.dossier_code)))?;
            let progress = Part { index, id: envelope.id, dossier: shipment.dossier_code.clone(), item };
            return Ok(Parts { progress: Some(progress), ..Parts::default() });
        }
        other => {
            return Err(Failure::new(format!(
                "message {} is a {other}; the dvc adapter takes {SUBMITTED}, {STATUS_CHANGED} and {SHIPMENT_STATUS} only",
                envelope.id
            )));
        }
    };
    let dossier: DossierView = envelope.payload_as().map_err(|e| {
        refused(format!(
            "message {} ({}): payload does not fit the dvc view of {}: {e}",
            envelope.id, envelope.subject, envelope.message_type
        ))
    })?;
    let part = |item| Part { index, id: envelope.id, dossier: dossier.dossier_code.clone(), item };
    let mapping_failed = |e: mapping::MappingError| refused(format!("dossier {}: {e}", dossier.dossier_code));

    let mut parts = Parts::default();
    // A stale state would overwrite newer state at the portal; its history entry carries its
    // own time, so it still goes.
    if !delivery.stale {
        let state = part(mapping::sync_item(&dossier).map_err(mapping_failed)?);
        if updating {
            parts.changed_state = Some(state);
        } else {
            parts.new_state = Some(state);
        }
    }
    if let Some(step) = &dossier.progress {
        parts.progress = Some(part(mapping::progress_item(&dossier, step).map_err(mapping_failed)?));
    }
    Ok(parts)
}

/// The outcome of one item the portal did not take.
fn outcome(service: Service, part: &Part, error: &CallError) -> Outcome {
    let reason = match error {
        CallError::Refused { verdict: Verdict::RefusedData, .. } => format!("portal refused {}: {error}", part.dossier),
        CallError::Refused { verdict: Verdict::UnknownDossier, .. } => {
            format!("portal does not know dossier {} yet: {error}", part.dossier)
        }
        _ => format!("{} of {} failed: {error}", service.name(), part.dossier),
    };
    let failure = with_code(Failure::new(reason), error);
    if error.is_transient() { Outcome::Transient(failure) } else { Outcome::Permanent(failure) }
}

/// The failure with the portal's answer, its code, and whether the portal may have taken it.
fn with_code(mut failure: Failure, error: &CallError) -> Failure {
    if let Some(answer) = error.peer_answer() {
        failure = failure.with_answer(answer);
    }
    if matches!(error, CallError::TimedOut(_)) {
        failure = failure.uncertain();
    }
    failure.with_code(error.code())
}

#[async_trait]
impl Adapter for DvcAdapter {
    fn routes(&self) -> Vec<String> {
        ROUTES.iter().map(|r| r.to_string()).collect()
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let mut failed: Vec<Option<Outcome>> = vec![None; batch.len()];
        let (mut new, mut changed, mut progress) = (Vec::new(), Vec::new(), Vec::new());
        let mapped: Vec<Result<Parts, Failure>> =
            batch.iter().enumerate().map(|(index, delivery)| parts(index, delivery)).collect();
        // Only a state can be checked at the portal: asked for uncertain deliveries that carry one.
        let in_doubt = batch.iter().zip(&mapped).filter(|(delivery, _)| delivery.uncertain);
        let copies = self
            .portal_copies(
                in_doubt.filter_map(|(_, parts)| Some(parts.as_ref().ok()?.state()?.dossier.as_str())).collect(),
            )
            .await;
        for ((index, delivery), parts) in batch.iter().enumerate().zip(mapped) {
            match parts {
                Ok(mut parts) => {
                    if delivery.uncertain
                        && let Err(outcome) = skip_what_the_portal_has(&mut parts, &copies)
                    {
                        failed[index] = Some(outcome);
                        continue;
                    }
                    new.extend(parts.new_state);
                    changed.extend(parts.changed_state);
                    progress.extend(parts.progress);
                }
                Err(failure) => failed[index] = Some(Outcome::Permanent(failure)),
            }
        }
        self.send_all(Service::SyncDossiers { updating: false }, new, batch, &mut failed).await;
        self.send_all(Service::SyncDossiers { updating: true }, changed, batch, &mut failed).await;
        // A message whose state did not go is retried whole; sending its step now would only
        // duplicate the history entry at the portal.
        progress.retain(|part| failed[part.index].is_none());
        self.send_all(Service::UpdateProgress, progress, batch, &mut failed).await;

        batch
            .iter()
            .zip(failed)
            .map(|(delivery, failure)| {
                // A stale state was not sent; a shipment's move is history and went anyway.
                let state_skipped = delivery.stale && delivery.envelope.message_type != SHIPMENT_STATUS;
                failure.unwrap_or(if state_skipped { Outcome::Superseded } else { Outcome::Delivered })
            })
            .collect()
    }
}
