//! The dead-letter archive for operators: `GET /v1/dead-letters` (filtered list),
//! `GET /v1/dead-letters/{id}` (everything about one message, its envelope included),
//! `POST /v1/dead-letters/{id}/replay` and `DELETE /v1/dead-letters/{id}` (purge). The last
//! three take `?adapter=` to name one adapter's row when several gave the message up.
//!
//! Listing and reading need an operator (any role); replaying and purging the `operator` role,
//! and are logged with who did them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::ApiQuery;
use crate::auth::Caller;
use crate::config::Role;
use crate::engine::dead_letters::{self, DeadLetterError};
use crate::rfc3339_ms;
use crate::routing::takes_type;
use crate::schema::Violation;
use crate::store::{DeadLetterFilter, DeadLetterState, DeadLetterView};

/// Rows listed when the caller does not say, and at most.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show, purge)).routes(routes!(replay))
}

/// The list's filters, as text: each is checked, and every bad one named.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this adapter's.
    #[param(min_length = 1)]
    pub(crate) adapter: Option<String>,
    /// Only of this message type.
    #[serde(rename = "type")]
    #[param(rename = "type", min_length = 1)]
    pub(crate) message_type: Option<String>,
    /// Dead-lettered at or after (RFC 3339).
    #[param(format = DateTime)]
    pub(crate) since: Option<String>,
    /// Dead-lettered before (RFC 3339); at or before `since`, nothing is listed.
    #[param(format = DateTime)]
    pub(crate) until: Option<String>,
    /// `dead` (waiting for an operator; the default), `replaying`, `replayed`, `purged` or `all`.
    #[param(inline, value_type = Option<ListedState>)]
    pub(crate) state: Option<String>,
    /// At most this many, newest first (1 to 1000; 100 when absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<String>,
}

/// Which dead letters to list.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // the filter's values, for the API document; the query is read as text
enum ListedState {
    Dead,
    Replaying,
    Replayed,
    Purged,
    All,
}

/// Dead letters, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeadLetters {
    pub dead_letters: Vec<DeadLetterSummary>,
    /// How many match the filters, beyond the `limit` listed.
    pub total: u64,
}

/// The archived messages.
///
/// Filtered by adapter, type, time and state; without `state`, those waiting for an operator.
#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    tag = "dead letters",
    params(ListQuery),
    responses(
        (status = 200, description = "The dead letters, newest first", body = DeadLetters),
        (status = 400, description = "Every filter that is not valid, named", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn list(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<ListQuery>) -> Response {
    match find_dead_letters(&app, &caller, query).await {
        Ok(found) => Json(found).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The dead letters `query` asks for (the console's list asks here too).
pub(crate) async fn find_dead_letters(
    app: &AppState,
    caller: &Caller,
    query: ListQuery,
) -> Result<DeadLetters, Problem> {
    caller.need(Role::Viewer)?;
    let filter = match filter(query) {
        Ok(filter) => filter,
        Err(violations) => {
            let example = "?adapter=dvc&type=dossier.status_changed&since=2026-11-20T00:00:00+07:00&state=dead";
            return Err(Problem::invalid_query(example, violations));
        }
    };
    let (rows, total) = app.store.dead_letters(&filter).await?;
    Ok(DeadLetters { dead_letters: rows.iter().map(summary).collect(), total })
}

/// The filter a query asks for, or every violation in it (a pointer naming the field each).
/// Without `state`, the list shows those waiting for an operator (`dead`); `all` shows every one.
fn filter(query: ListQuery) -> Result<DeadLetterFilter, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut time = |name: &str, value: Option<String>| {
        let text = value?;
        match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(at) => Some((at.unix_timestamp_nanos() / 1_000_000) as i64),
            Err(_) => {
                let reason = format!("`{text}` is not an RFC 3339 time, such as 2026-11-20T09:00:00+07:00");
                violations.push(Violation::new(format!("/{name}"), reason));
                None
            }
        }
    };
    let since = time("since", query.since);
    let until = time("until", query.until);
    let state = match query.state.as_deref() {
        None => Some(DeadLetterState::Dead),
        Some("all") => None,
        Some(word) => DeadLetterState::parse(word).or_else(|| {
            let reason = format!("`{word}` is not dead, replaying, replayed, purged or all");
            violations.push(Violation::new("/state", reason));
            None
        }),
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).unwrap_or_else(|| {
            violations.push(Violation::new("/limit", format!("`{text}` is not a number from 1 to {MAX_LIMIT}")));
            DEFAULT_LIMIT
        }),
    };
    for (name, value) in [("adapter", &query.adapter), ("type", &query.message_type)] {
        if value.as_deref() == Some("") {
            violations.push(Violation::new(format!("/{name}"), "is empty; leave it out to list them all"));
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(DeadLetterFilter { adapter: query.adapter, message_type: query.message_type, since, until, state, limit })
}

/// One archived message: what it was, and its history.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterSummary {
    pub id: String,
    /// The adapter that gave it up.
    pub adapter: String,
    /// Its type, subject, source and seq, when it was an envelope.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
    pub subject: Option<String>,
    pub source: Option<String>,
    pub seq: Option<u64>,
    pub attempts: u32,
    /// RFC 3339.
    pub first_failed_at: Option<String>,
    pub last_failed_at: Option<String>,
    pub dead_at: String,
    /// Why, personal data masked.
    pub last_error: Option<String>,
    /// The peer's answer to the last attempt.
    pub peer_answer: Option<String>,
    /// `dead`, `replaying`, `replayed` or `purged`.
    #[schema(value_type = String)]
    pub state: DeadLetterState,
    pub replays: u32,
    pub replayed_at: Option<String>,
    /// Where the last replay went, when to another adapter than the one that gave it up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_to: Option<String>,
    pub purged_at: Option<String>,
}

fn summary(row: &DeadLetterView) -> DeadLetterSummary {
    let r = &row.record;
    let time = |ms: Option<i64>| ms.map(rfc3339_ms);
    DeadLetterSummary {
        id: r.message_id.clone(),
        adapter: r.adapter.clone(),
        message_type: r.message_type.clone(),
        subject: r.subject.clone(),
        source: r.source.clone(),
        seq: r.seq,
        attempts: r.attempts,
        first_failed_at: time(r.first_failed_at),
        last_failed_at: time(r.last_failed_at),
        dead_at: rfc3339_ms(r.dead_at),
        last_error: r.last_error.clone(),
        peer_answer: r.peer_answer.clone(),
        state: row.state,
        replays: row.replays,
        replayed_at: time(row.replayed_at),
        replayed_to: row.replayed_to.clone(),
        purged_at: time(row.purged_at),
    }
}

/// One archived message with what a replay would carry.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterDetail {
    #[serde(flatten)]
    pub summary: DeadLetterSummary,
    /// The envelope, when it was one.
    #[schema(value_type = Option<Object>)]
    pub envelope: Option<Value>,
    /// The body as text, when it was not an envelope.
    pub body: Option<String>,
    /// RFC 3339.
    pub accepted_at: Option<String>,
    /// What the bus added at ingress (routing, documents on file).
    #[schema(value_type = Option<Object>)]
    pub annotations: Option<Value>,
}

fn detail(row: &DeadLetterView) -> DeadLetterDetail {
    let r = &row.record;
    DeadLetterDetail {
        summary: summary(row),
        envelope: row.readable().then(|| serde_json::from_str::<Value>(&r.body).ok()).flatten(),
        body: (!row.readable()).then(|| r.body.clone()),
        accepted_at: r.accepted_at.map(rfc3339_ms),
        annotations: r.annotations.as_deref().and_then(|a| serde_json::from_str(a).ok()),
    }
}

/// Every adapter's row of one archived message.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterRows {
    pub id: String,
    pub dead_letters: Vec<DeadLetterDetail>,
}

/// What a replay or a purge did.
#[derive(Serialize, ToSchema)]
pub struct Acted {
    pub id: String,
    /// The adapters whose rows were replayed (a replay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<Vec<String>>,
    /// The adapters whose rows were purged (a purge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purged: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Which {
    /// One adapter's row, when several adapters gave the message up.
    #[param(min_length = 1)]
    adapter: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplayQuery {
    /// One adapter's row, when several adapters gave the message up.
    #[param(min_length = 1)]
    adapter: Option<String>,
    /// Another adapter to deliver it to (one that takes its type), instead of the one that gave
    /// it up: a removed adapter's dead letters go to the system that replaces it.
    #[param(min_length = 1)]
    to: Option<String>,
}

/// The rows of one message, of one adapter if the caller named it; a problem when none.
async fn rows(app: &AppState, id: &str, adapter: Option<&str>) -> Result<Vec<DeadLetterView>, Problem> {
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Err(Problem::new(ProblemKind::BadId).detail(format!("`{id}` is not a UUID")));
    };
    let id = id.to_string();
    let mut rows = app.store.dead_letters_of(&id).await?;
    rows.retain(|row| adapter.is_none_or(|a| row.record.adapter == a));
    if rows.is_empty() {
        let whose = adapter.map(|a| format!(" for adapter {a}")).unwrap_or_default();
        return Err(Problem::not_found(format!("no dead letter {id}{whose} is archived")));
    }
    Ok(rows)
}

/// One archived message: each adapter's row, with the envelope a replay would carry.
#[utoipa::path(
    get,
    path = "/v1/dead-letters/{id}",
    tag = "dead letters",
    params(("id" = uuid::Uuid, Path, description = "the message's id"), Which),
    responses(
        (status = 200, description = "Its rows", body = DeadLetterRows),
        (status = 400, description = "Not a UUID", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(which): ApiQuery<Which>,
) -> Response {
    match dead_letter_rows(&app, &caller, &id, which.adapter.as_deref()).await {
        Ok(rows) => Json(rows).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Every adapter's row of message `id`, or `adapter`'s (the console's dead-letter page asks
/// here too).
pub(crate) async fn dead_letter_rows(
    app: &AppState,
    caller: &Caller,
    id: &str,
    adapter: Option<&str>,
) -> Result<DeadLetterRows, Problem> {
    caller.need(Role::Viewer)?;
    let rows = rows(app, id, adapter).await?;
    let id = rows[0].record.message_id.clone();
    Ok(DeadLetterRows { id, dead_letters: rows.iter().map(detail).collect() })
}

#[derive(Clone)]
pub(crate) enum Action {
    /// To the adapter that gave it up, or to this one.
    Replay(Option<String>),
    Purge,
}

/// Hands an archived message back to its adapter, as any message.
///
/// Answered once the broker confirmed the copy; the engine then delivers it (deduplicated by
/// id, superseded if a newer state was delivered meanwhile).
#[utoipa::path(
    post,
    path = "/v1/dead-letters/{id}/replay",
    tag = "dead letters",
    params(
        ("id" = uuid::Uuid, Path, description = "the message's id"),
        ReplayQuery,
    ),
    responses(
        (status = 202, description = "Replayed: the broker confirmed the copy", body = Acted),
        (status = 400, description = "Not a UUID", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Replayed or purged already, or its delivery not recorded dead", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "Not an envelope: it can only be purged", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The broker or the store cannot take it now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn replay(app: State<AppState>, caller: Caller, id: Path<String>, query: ApiQuery<ReplayQuery>) -> Response {
    let ApiQuery(ReplayQuery { adapter, to }) = query;
    act(app, caller, id, ApiQuery(Which { adapter }), Action::Replay(to)).await
}

/// Gives up on an archived message: it stays in the archive, purged, for the audit.
#[utoipa::path(
    delete,
    path = "/v1/dead-letters/{id}",
    tag = "dead letters",
    params(
        ("id" = uuid::Uuid, Path, description = "the message's id"),
        Which,
    ),
    responses(
        (status = 200, description = "Purged", body = Acted),
        (status = 400, description = "Not a UUID", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting for an operator (`dead`)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot take it now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn purge(app: State<AppState>, caller: Caller, id: Path<String>, which: ApiQuery<Which>) -> Response {
    act(app, caller, id, which, Action::Purge).await
}

/// Whether adapter `to` can take a replay of `row`: on the bus, routed to, and taking its type.
fn replayable_to(app: &AppState, row: &DeadLetterView, to: &str) -> Result<(), &'static str> {
    let roster = app.fleet.adapters().current();
    let (Some(runtime), Some(phase)) = (roster.get(to), roster.phase(to)) else {
        return Err("that adapter is not on this bus (GET /v1/adapters lists them)");
    };
    if !phase.routed() {
        return Err("that adapter is being added or removed");
    }
    let message_type = row.record.message_type.as_deref().unwrap_or_default();
    if to != row.record.adapter
        && !runtime.routes.iter().any(|route| takes_type(route, message_type, &app.ingress.province))
    {
        return Err("that adapter does not take messages of this type");
    }
    Ok(())
}

/// Replays or purges the message's rows: the adapter's named, or else every row the action
/// applies to (a replay: `dead` or `replaying`; a purge: `dead`).
async fn act(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(which): ApiQuery<Which>,
    action: Action,
) -> Response {
    let replay = matches!(action, Action::Replay(_));
    match act_on(&app, &caller, &id, which.adapter.as_deref(), action).await {
        Ok(acted) if replay => (StatusCode::ACCEPTED, Json(acted)).into_response(),
        Ok(acted) => Json(acted).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Replays or purges message `id`'s rows: `adapter`'s, or else every row the action applies to
/// (the console's buttons ask here too).
pub(crate) async fn act_on(
    app: &AppState,
    caller: &Caller,
    id: &str,
    adapter: Option<&str>,
    action: Action,
) -> Result<Acted, Problem> {
    caller.need(Role::Operator)?;
    let rows = rows(app, id, adapter).await?;
    let id = rows[0].record.message_id.clone();
    let applies = |row: &&DeadLetterView| match action {
        Action::Replay(_) => matches!(row.state, DeadLetterState::Dead | DeadLetterState::Replaying),
        Action::Purge => row.state == DeadLetterState::Dead,
    };
    // Named, the adapter's row is acted on whatever its state, so that the refusal says why.
    let targets: Vec<&DeadLetterView> = rows.iter().filter(|row| adapter.is_some() || applies(row)).collect();
    if targets.is_empty() {
        let states: Vec<String> = rows.iter().map(|r| format!("{}: {}", r.record.adapter, r.state.as_str())).collect();
        let detail = format!("{id} has nothing to do ({}); GET /v1/messages/{id} says where it is", states.join(", "));
        return Err(Problem::new(ProblemKind::DeadLetterState).detail(detail));
    }
    let operator = caller.name().to_string();
    let mut done = Vec::new();
    for row in targets {
        let adapter = row.record.adapter.as_str();
        let outcome = match &action {
            Action::Replay(to) => {
                let to = to.as_deref().unwrap_or(adapter);
                match replayable_to(app, row, to) {
                    Ok(()) => dead_letters::replay(&app.broker, &app.store, &id, (adapter, to), &operator).await,
                    Err(reason) => Err(DeadLetterError::Conflict {
                        id: id.clone(),
                        adapter: to.into(),
                        state: row.state.as_str(),
                        reason,
                    }),
                }
            }
            Action::Purge => dead_letters::purge(&app.store, &id, adapter, &operator).await,
        };
        let (verb, to) = match &action {
            Action::Replay(to) => ("dead_letters.replay", to.as_deref()),
            Action::Purge => ("dead_letters.purge", None),
        };
        let result = if outcome.is_ok() { "done" } else { "refused" };
        let detail = serde_json::json!({ "message": id, "adapter": adapter, "to": to, "result": result });
        app.log.operator_action("operator.action", &operator, verb, detail);
        if let Err(e) = outcome {
            let mut problem = Problem::from(e);
            if !done.is_empty() {
                let detail = problem.detail.take().unwrap_or_default();
                problem = problem.detail(format!("{detail} (done already for: {})", done.join(", ")));
            }
            return Err(problem);
        }
        done.push(adapter.to_string());
    }
    Ok(match action {
        Action::Replay(_) => Acted { id, replayed: Some(done), purged: None },
        Action::Purge => Acted { id, replayed: None, purged: Some(done) },
    })
}
