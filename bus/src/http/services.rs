//! `POST /v1/services/{service}`: request/reply, such as `citizen.verify`.
//!
//! The request is checked against `schemas/<service>.request.json`, sent through RabbitMQ to the
//! adapter that answers the service, and its reply checked against `<service>.reply.json` before
//! it is passed on. Every lookup is recorded for the audit (who asked, whose data, for which
//! dossier, which parts, when) before its answer leaves the bus. `documents.lookup` is answered
//! by the bus itself, from the documents that passed through it.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::read_json;
use crate::auth::Caller;
use crate::privacy::redact;
use crate::roster::Phase;
use crate::schema::{LookupFacts, ServiceSchema};
use crate::store::LookupRecord;
use crate::transport::{Reply, Request, RequestError};
use crate::{events, now_ms};

/// The service the bus answers itself.
const DOCUMENTS_LOOKUP: &str = "documents.lookup";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(call))
}

/// Ask a service: look a citizen, a business or the papers on file up.
///
/// The request is checked against `schemas/<service>.request.json` (`GET
/// /v1/schemas/<service>.request.json`), answered by the adapter serving it, and its reply
/// checked against `<service>.reply.json`. Every lookup is recorded for the audit (`GET
/// /v1/lookups`) before its answer leaves the bus.
#[utoipa::path(
    post,
    path = "/v1/services/{service}",
    tag = "services",
    params(
        ("service" = String, Path, description = "citizen.verify, business.lookup or documents.lookup"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "the request, valid against schemas/<service>.request.json"),
    responses(
        (status = 200, description = "The reply, valid against schemas/<service>.reply.json", body = Object),
        (status = 400, description = "The body is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "The caller did not prove who they are", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "The member may not ask this service, or not these fields about this dossier (`missing_right` names the right)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such service", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 413, description = "The body is over [http] max_body_bytes", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not JSON", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The request breaks its schema (every violation listed), or the registry refused it", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 502, description = "The registry failed, or its reply broke the service's contract", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker is unreachable, no adapter answers the service, or the registry's circuit breaker is open", body = ProblemDocument,
            content_type = "application/problem+json", headers(("Retry-After" = u64, description = "seconds"))),
        (status = 504, description = "No answer within the service's timeout", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn call(
    State(app): State<AppState>,
    caller: Caller,
    Path(service): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let (outcome, answer) = match check(&app, &service, &headers, body) {
        Err(problem) => ("invalid", Err(problem)),
        Ok((contract, request)) => {
            let facts = contract.lookup_facts(&request);
            let id = uuid::Uuid::now_v7().to_string();
            let member = caller.name().to_string();
            // A refused lookup of personal data is recorded as any other: who tried, about whom.
            let asked = facts.clone();
            let lookup = async {
                match permitted(&app, &caller, &service, &asked).await {
                    Ok(()) => answer(&app, &contract, &service, &member, &id, request).await,
                    Err(problem) => ("forbidden", Err(problem)),
                }
            };
            audited(&app, &contract, &service, &member, &id, facts, lookup).await
        }
    };
    events::lookup_answered(known(&app, &service), outcome, started.elapsed());
    match answer {
        Ok(reply) => Json(reply).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// A bounded label: the service if the bus has its contract.
fn known(app: &AppState, service: &str) -> String {
    let known = app.fleet.adapters().current().contract(&app.catalogue, service).is_some();
    if known { service.to_string() } else { "unknown".into() }
}

/// Whether the caller may ask `service` for the parts `facts` names, about that dossier.
async fn permitted(app: &AppState, caller: &Caller, service: &str, facts: &LookupFacts) -> Result<(), Problem> {
    let procedure = app.store.dossier_brief(&facts.dossier_code).await?.and_then(|brief| brief.procedure_code);
    caller.may_ask(service, &facts.fields, procedure.as_deref())?;
    Ok(())
}

/// Checks what is asked: the service exists and the request is valid against its contract (the
/// catalogue's, or the schemas its agency uploaded).
fn check(
    app: &AppState,
    service: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Arc<ServiceSchema>, Value), Problem> {
    let request = read_json(headers, body)?;
    let roster = app.fleet.adapters().current();
    let Some(contract) = roster.contract(&app.catalogue, service) else {
        let mut known: Vec<String> = app.catalogue.services().map(String::from).chain(roster.services()).collect();
        known.sort();
        known.dedup();
        return Err(Problem::not_found(format!("`{service}` is not a service; known: {}", known.join(", "))));
    };
    app.catalogue.check_request_with(&contract, &request).map_err(|violations| {
        let count = violations.len();
        Problem::new(ProblemKind::InvalidRequest)
            .detail(format!("{count} violation{}; nothing was asked", if count == 1 { "" } else { "s" }))
            .violations(violations)
    })?;
    Ok((contract, request))
}

/// Runs the lookup, then records it with its outcome: nothing leaves the bus unrecorded.
async fn audited(
    app: &AppState,
    contract: &ServiceSchema,
    service: &str,
    member: &str,
    id: &str,
    facts: LookupFacts,
    lookup: impl Future<Output = (&'static str, Result<Value, Problem>)>,
) -> (&'static str, Result<Value, Problem>) {
    let record = |outcome: &str, returned: Vec<String>| LookupRecord {
        id: id.to_string(),
        at: now_ms(),
        member: member.to_string(),
        service: service.to_string(),
        dossier_code: facts.dossier_code.clone(),
        subject: facts.subject.clone(),
        fields: facts.fields.clone(),
        returned,
        outcome: outcome.to_string(),
    };
    let (outcome, answer) = lookup.await;
    let returned = answer.as_ref().map(|reply| contract.returned_fields(reply)).unwrap_or_default();
    let record = record(outcome, returned);
    app.log.lookup(&record);
    if let Err(e) = app.store.record_lookup(record).await {
        events::lookup_unrecorded(service, &e);
        return ("unrecorded", Err(Problem::unavailable("the lookup could not be recorded for the audit; ask again")));
    }
    events::lookup(service, member, id, &facts.dossier_code, &facts.subject, outcome);
    (outcome, answer)
}

/// The lookup itself: the outcome word for the audit and metrics, and the answer.
async fn answer(
    app: &AppState,
    contract: &ServiceSchema,
    service: &str,
    member: &str,
    id: &str,
    request: Value,
) -> (&'static str, Result<Value, Problem>) {
    if service == DOCUMENTS_LOOKUP {
        return documents(app, &request).await;
    }
    let timeout = match app.fleet.adapters().current().answering(service) {
        Some((runtime, Phase::Running)) => runtime.requests.timeout,
        // Its requests would only wait out their timeout: the caller hears at once.
        Some((runtime, _)) => {
            let why = format!("`{service}` is answered by adapter {}, which an operator paused", runtime.id);
            return ("unavailable", Err(Problem::unavailable(why)));
        }
        None => {
            return (
                "unavailable",
                Err(Problem::new(ProblemKind::NoAdapter)
                    .detail(format!("no configured adapter answers `{service}` (see [adapters] in the config)"))),
            );
        }
    };
    let request =
        Request { request_id: id.to_string(), service: service.to_string(), member: member.to_string(), body: request };
    let body = serde_json::to_vec(&request).expect("a request always serialises");
    let reply = match app.broker.request(service, &body, timeout).await {
        Ok(reply) => reply,
        Err(RequestError::Timeout(after)) => {
            return (
                "timeout",
                Err(Problem::new(ProblemKind::Timeout)
                    .detail(format!("`{service}` gave no answer within {after:?}; nothing was returned"))),
            );
        }
        Err(RequestError::Unavailable(e)) => return ("unavailable", Err(Problem::unavailable(e))),
    };
    match serde_json::from_slice::<Reply>(&reply) {
        Ok(Reply::Reply(value)) => match app.catalogue.check_reply_with(contract, &value) {
            Ok(()) => (result_word(&value), Ok(value)),
            Err(violations) => {
                events::reply_broke_contract(service, &violations);
                ("invalid_reply", Err(peer_failed(service, "its reply broke the service's contract and was withheld")))
            }
        },
        Ok(Reply::Refused { reason, .. }) => {
            ("refused", Err(Problem::new(ProblemKind::RefusedByRegistry).detail(redact(&reason))))
        }
        Ok(Reply::Unavailable { reason, .. }) => ("unavailable", Err(peer_failed(service, &redact(&reason)))),
        Ok(Reply::Paused { reason, retry_in_secs }) => (
            "paused",
            Err(Problem::new(ProblemKind::RegistryPaused)
                .detail(format!("`{service}`: {reason}"))
                .retry_after(retry_in_secs)),
        ),
        Err(e) => ("invalid_reply", Err(peer_failed(service, &format!("unreadable reply: {e}")))),
    }
}

fn peer_failed(service: &str, reason: &str) -> Problem {
    Problem::new(ProblemKind::RegistryUnavailable).detail(format!("`{service}`: {reason}"))
}

/// The reply's `result` (match, mismatch, not_found, found) as a bounded word.
fn result_word(reply: &Value) -> &'static str {
    match reply.get("result").and_then(Value::as_str) {
        Some("match") => "match",
        Some("mismatch") => "mismatch",
        Some("not_found") => "not_found",
        Some("found") => "found",
        _ => "answered",
    }
}

/// `documents.lookup`: the valid documents on file for a holder, from the bus's own index.
async fn documents(app: &AppState, request: &Value) -> (&'static str, Result<Value, Problem>) {
    let holder = &request["holder"];
    let types: Vec<String> =
        request["types"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(String::from)).collect();
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date().to_string();
    let valid_on = request["valid_on"].as_str().map(String::from).unwrap_or(today);
    let found = app
        .store
        .documents(
            holder["kind"].as_str().unwrap_or_default(),
            holder["id"].as_str().unwrap_or_default(),
            &types,
            &valid_on,
        )
        .await;
    match found {
        Ok(documents) => {
            let word = if documents.is_empty() { "not_found" } else { "found" };
            (word, Ok(json!({ "documents": documents })))
        }
        Err(e) => ("unavailable", Err(e.into())),
    }
}
