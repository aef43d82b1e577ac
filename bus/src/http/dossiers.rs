//! `GET /v1/dossiers/{code}`: a dossier's latest known status, as the national portal asks.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::problem::Problem;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/dossiers/{code}", get(dossier))
}

/// Statuses after which a dossier is no longer waiting on the agency: not accepted (3),
/// withdrawn (7), stopped (8), resolved (9), result returned (10).
const CLOSED: [i64; 5] = [3, 7, 8, 9, 10];

async fn dossier(State(app): State<AppState>, Path(code): Path<String>) -> Response {
    let dossier = match app.store.dossier(code).await {
        Ok(Some(dossier)) => dossier,
        Ok(None) => {
            return Problem::not_found("no message about this dossier has reached the bus").into_response();
        }
        Err(e) => return Problem::from(e).into_response(),
    };
    let parse = |text: &Option<String>| text.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let due = parse(&dossier.due_at);
    let closed = dossier.status.is_some_and(|s| CLOSED.contains(&s));
    // Late: resolved after its due date, or still open past it.
    let finished_at = if closed { parse(&dossier.completed_at) } else { Some(OffsetDateTime::now_utc()) };
    let late = matches!((due, finished_at), (Some(due), Some(at)) if at > due);
    let reuse = match app.store.reuse(&dossier.dossier_code).await {
        Ok(reuse) => reuse,
        Err(e) => return Problem::from(e).into_response(),
    };
    let mut body = serde_json::to_value(&dossier).expect("serialisable");
    // Which papers its procedure needs were already on file when it was received.
    body["documents_reuse"] = serde_json::to_value(&reuse).expect("serialisable");
    body["updated_at"] = json!(crate::http::operations::rfc3339_ms(dossier.updated_at));
    body["late"] = json!(late);
    Json(body).into_response()
}
