//! The message log, for auditors: its entries by message, dossier, actor or subject.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument};
use super::request::ApiQuery;
use crate::audit::{Entry, Search, file};
use crate::auth::Caller;
use crate::config::Role;
use crate::rfc3339_ms;
use crate::schema::Violation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// A message's id.
    pub(crate) message: Option<String>,
    /// A dossier's code.
    pub(crate) dossier: Option<String>,
    /// A member, an operator or an adapter.
    pub(crate) actor: Option<String>,
    /// Whose data (a CCCD, an MST) or a message's subject.
    pub(crate) subject: Option<String>,
    /// `message.accepted`, `message.delivery`, `request.refused`, `lookup`, `operator.action`,
    /// `directory.change`, `log.opened`, `log.gap`.
    pub(crate) kind: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub(crate) from: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub(crate) to: Option<String>,
    /// 1 to 1000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<usize>,
}

/// One entry of the log.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339.
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub message: Option<String>,
    pub dossier: Option<String>,
    pub subject: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Its link in the chain, hex.
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntries {
    pub entries: Vec<AuditEntry>,
}

/// Entries of the message log, newest first (auditors).
///
/// Every given filter must match. `lgsp audit verify` checks the chain; this only reads it.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "reports",
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries, newest first", body = AuditEntries),
        (status = 400, description = "A bad time or limit", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The log is off or cannot be read now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn search(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<AuditQuery>) -> Response {
    match search_log(&app, &caller, query).await {
        Ok(entries) => Json(AuditEntries { entries }).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The entries `query` asks for, if `caller` is an auditor (the console's message page asks
/// here too).
pub(crate) async fn search_log(app: &AppState, caller: &Caller, query: AuditQuery) -> Result<Vec<AuditEntry>, Problem> {
    caller.need(Role::Auditor)?;
    let time = |name: &str, text: &Option<String>| -> Result<Option<i64>, Violation> {
        text.as_deref()
            .map(|text| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
                    .map_err(|_| Violation::new(format!("/{name}"), "must be an RFC 3339 time"))
            })
            .transpose()
    };
    let mut violations = Vec::new();
    let from = time("from", &query.from).unwrap_or_else(|v| {
        violations.push(v);
        None
    });
    let to = time("to", &query.to).unwrap_or_else(|v| {
        violations.push(v);
        None
    });
    if query.limit.is_some_and(|limit| !(1..=1000).contains(&limit)) {
        violations.push(Violation::new("/limit", "must be from 1 to 1000"));
    }
    if !violations.is_empty() {
        return Err(Problem::invalid_query("?subject=001203000001&limit=20", violations));
    }
    let Some(path) = app.log.path().map(ToOwned::to_owned) else {
        return Err(Problem::unavailable("the message log is off on this bus (audit.enabled = false)"));
    };
    let search = Search {
        message: query.message,
        dossier: query.dossier,
        actor: query.actor,
        subject: query.subject,
        kind: query.kind,
        from,
        to,
    };
    let limit = query.limit.unwrap_or(100);
    let found = tokio::task::spawn_blocking(move || file::open(&path)?.search(&search, limit))
        .await
        .map_err(|e| e.to_string())
        .and_then(|found| found.map_err(|e| e.to_string()));
    match found {
        Ok(entries) => Ok(entries.into_iter().map(view).collect()),
        Err(e) => Err(Problem::unavailable(format!("the message log cannot be read now: {e}"))),
    }
}

fn view(entry: Entry) -> AuditEntry {
    AuditEntry {
        seq: entry.seq,
        at: rfc3339_ms(entry.at),
        detail: serde_json::from_str(&entry.detail).unwrap_or(Value::String(entry.detail)),
        kind: entry.kind,
        actor: entry.actor,
        message: entry.message,
        dossier: entry.dossier,
        subject: entry.subject,
        hash: entry.hash,
    }
}
