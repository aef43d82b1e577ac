//! The dead-letter archive for operators: `GET /v1/dead-letters` (filtered list),
//! `GET /v1/dead-letters/{id}` (everything about one message, its envelope included),
//! `POST /v1/dead-letters/{id}/replay` and `DELETE /v1/dead-letters/{id}` (purge). The last
//! three take `?adapter=` to name one adapter's row when several gave the message up.
//!
//! Replays and purges are logged with the operator the caller names in `X-Lgsp-Operator`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::operations::rfc3339_ms;
use super::problem::{Problem, ProblemKind};
use super::request::ApiQuery;
use crate::engine::dead_letters::{self, DeadLetterError};
use crate::schema::Violation;
use crate::store::{DeadLetterFilter, DeadLetterState, DeadLetterView};

/// Rows listed when the caller does not say, and at most.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// Who asked, for the log (until operators authenticate).
const OPERATOR: &str = "x-lgsp-operator";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dead-letters", get(list))
        .route("/v1/dead-letters/{id}", get(show).delete(purge))
        .route("/v1/dead-letters/{id}/replay", post(replay))
}

/// The list's filters, as text: each is checked, and every bad one named.
#[derive(Deserialize)]
struct ListQuery {
    adapter: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    state: Option<String>,
    limit: Option<String>,
}

async fn list(State(app): State<AppState>, ApiQuery(query): ApiQuery<ListQuery>) -> Response {
    let filter = match filter(query) {
        Ok(filter) => filter,
        Err(violations) => {
            let example = "?adapter=dvc&type=dossier.status_changed&since=2026-11-20T00:00:00+07:00&state=dead";
            return Problem::invalid_query(example, violations).into_response();
        }
    };
    match app.store.dead_letters(&filter).await {
        Ok((rows, total)) => {
            let rows: Vec<Value> = rows.iter().map(summary).collect();
            Json(json!({"dead_letters": rows, "total": total})).into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
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
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        violations.push(Violation::new("/until", "must be after since"));
    }
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

/// One archived message as listed.
fn summary(row: &DeadLetterView) -> Value {
    let r = &row.record;
    let time = |ms: Option<i64>| ms.map(rfc3339_ms);
    json!({
        "id": r.message_id,
        "adapter": r.adapter,
        "type": r.message_type,
        "subject": r.subject,
        "source": r.source,
        "seq": r.seq,
        "attempts": r.attempts,
        "first_failed_at": time(r.first_failed_at),
        "last_failed_at": time(r.last_failed_at),
        "dead_at": rfc3339_ms(r.dead_at),
        "last_error": r.last_error,
        "peer_answer": r.peer_answer,
        "state": row.state,
        "replays": row.replays,
        "replayed_at": time(row.replayed_at),
        "purged_at": time(row.purged_at),
    })
}

/// One archived message with what a replay would carry: the envelope (or, for a body that was
/// not one, the body as text), when it was accepted, and its annotations.
fn detail(row: &DeadLetterView) -> Value {
    let r = &row.record;
    let mut view = summary(row);
    let envelope = row.readable().then(|| serde_json::from_str::<Value>(&r.body).ok()).flatten();
    view["envelope"] = envelope.unwrap_or(Value::Null);
    view["body"] = if row.readable() { Value::Null } else { Value::String(r.body.clone()) };
    view["accepted_at"] = json!(r.accepted_at.map(rfc3339_ms));
    view["annotations"] = r.annotations.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or(Value::Null);
    view
}

#[derive(Deserialize)]
struct Which {
    adapter: Option<String>,
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

async fn show(State(app): State<AppState>, Path(id): Path<String>, ApiQuery(which): ApiQuery<Which>) -> Response {
    match rows(&app, &id, which.adapter.as_deref()).await {
        Ok(rows) => {
            let id = rows[0].record.message_id.clone();
            Json(json!({"id": id, "dead_letters": rows.iter().map(detail).collect::<Vec<_>>()})).into_response()
        }
        Err(problem) => problem.into_response(),
    }
}

#[derive(Clone, Copy)]
enum Action {
    Replay,
    Purge,
}

async fn replay(app: State<AppState>, id: Path<String>, which: ApiQuery<Which>, headers: HeaderMap) -> Response {
    act(app, id, which, headers, Action::Replay).await
}

async fn purge(app: State<AppState>, id: Path<String>, which: ApiQuery<Which>, headers: HeaderMap) -> Response {
    act(app, id, which, headers, Action::Purge).await
}

/// Replays or purges the message's rows: the adapter's named, or else every row the action
/// applies to (a replay: `dead` or `replaying`; a purge: `dead`).
async fn act(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(which): ApiQuery<Which>,
    headers: HeaderMap,
    action: Action,
) -> Response {
    let rows = match rows(&app, &id, which.adapter.as_deref()).await {
        Ok(rows) => rows,
        Err(problem) => return problem.into_response(),
    };
    let id = rows[0].record.message_id.clone();
    let applies = |row: &&DeadLetterView| match action {
        Action::Replay => matches!(row.state, DeadLetterState::Dead | DeadLetterState::Replaying),
        Action::Purge => row.state == DeadLetterState::Dead,
    };
    // Named, the adapter's row is acted on whatever its state, so that the refusal says why.
    let targets: Vec<&DeadLetterView> = rows.iter().filter(|row| which.adapter.is_some() || applies(row)).collect();
    if targets.is_empty() {
        let states: Vec<String> = rows.iter().map(|r| format!("{}: {}", r.record.adapter, r.state.as_str())).collect();
        let detail = format!("{id} has nothing to do ({}); GET /v1/messages/{id} says where it is", states.join(", "));
        return Problem::new(ProblemKind::DeadLetterState).detail(detail).into_response();
    }
    let operator = operator(&headers);
    let mut done = Vec::new();
    for row in targets {
        let adapter = row.record.adapter.as_str();
        let outcome = match action {
            Action::Replay if !app.adapters.contains_key(adapter) => Err(DeadLetterError::Conflict {
                id: id.clone(),
                adapter: adapter.into(),
                state: row.state.as_str(),
                reason: "that adapter is not configured on this bus",
            }),
            Action::Replay => dead_letters::replay(&app.broker, &app.store, &id, adapter, &operator).await,
            Action::Purge => dead_letters::purge(&app.store, &id, adapter, &operator).await,
        };
        if let Err(e) = outcome {
            let mut problem = Problem::from(e);
            if !done.is_empty() {
                let detail = problem.detail.take().unwrap_or_default();
                problem = problem.detail(format!("{detail} (done already for: {})", done.join(", ")));
            }
            return problem.into_response();
        }
        done.push(adapter.to_string());
    }
    match action {
        Action::Replay => (StatusCode::ACCEPTED, Json(json!({"id": id, "replayed": done}))).into_response(),
        Action::Purge => Json(json!({"id": id, "purged": done})).into_response(),
    }
}

fn operator(headers: &HeaderMap) -> String {
    let named = headers.get(OPERATOR).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty());
    named.unwrap_or("unnamed").chars().take(64).collect()
}
