//! Reports for the province: document reuse, and the audit of lookups.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::operations::rfc3339_ms;
use super::problem::Problem;
use super::request::ApiQuery;
use crate::schema::Violation;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/reports/reuse", get(reuse)).route("/v1/lookups", get(lookups))
}

#[derive(Deserialize)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

/// Dossiers received in a period (dates, both included) that had at least one paper on file.
async fn reuse(State(app): State<AppState>, ApiQuery(period): ApiQuery<Period>) -> Response {
    let mut violations = Vec::new();
    let mut date = |name: &str, value: &Option<String>| match value {
        Some(text) if time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE).is_ok() => {
            text.clone()
        }
        Some(text) => {
            violations.push(Violation::new(format!("/{name}"), format!("`{text}` is not a date YYYY-MM-DD")));
            String::new()
        }
        None => {
            violations.push(Violation::new(format!("/{name}"), "is required: a date YYYY-MM-DD"));
            String::new()
        }
    };
    let (from, to) = (date("from", &period.from), date("to", &period.to));
    if violations.is_empty() && from > to {
        violations.push(Violation::new("/to", "must not be before from"));
    }
    if !violations.is_empty() {
        return Problem::invalid_query("?from=2026-11-01&to=2026-11-30", violations).into_response();
    }
    let counts = match app.store.reuse_report(&from, &to).await {
        Ok(counts) => counts,
        Err(e) => return Problem::from(e).into_response(),
    };
    let rate = |dossiers: u64, reusable: u64| if dossiers == 0 { 0.0 } else { reusable as f64 / dossiers as f64 };
    let total = &counts[0];
    let by_procedure: Vec<_> = counts[1..]
        .iter()
        .map(|c| {
            json!({"procedure_code": c.procedure_code, "dossiers": c.dossiers,
                   "with_reusable_documents": c.with_reusable_documents,
                   "rate": rate(c.dossiers, c.with_reusable_documents)})
        })
        .collect();
    Json(json!({
        "from": from,
        "to": to,
        "dossiers": total.dossiers,
        "with_reusable_documents": total.with_reusable_documents,
        "rate": rate(total.dossiers, total.with_reusable_documents),
        "by_procedure": by_procedure,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct LookupQuery {
    dossier_code: Option<String>,
    subject: Option<String>,
    limit: Option<u32>,
}

/// The audit of lookups: for a dossier, or of one citizen's or business's data.
async fn lookups(State(app): State<AppState>, ApiQuery(query): ApiQuery<LookupQuery>) -> Response {
    if query.dossier_code.is_none() && query.subject.is_none() {
        let missing =
            vec![Violation::new("/dossier_code", "give dossier_code, or subject (a CCCD or an MST), or both")];
        return Problem::invalid_query("?dossier_code=000.00.01.H42-261120-0001", missing).into_response();
    }
    let limit = query.limit.unwrap_or(100).min(1000);
    match app.store.lookups(query.dossier_code.as_deref(), query.subject.as_deref(), limit).await {
        Ok(found) => {
            let lookups: Vec<_> = found
                .into_iter()
                .map(|l| {
                    json!({"id": l.id, "at": rfc3339_ms(l.at), "member": l.member, "service": l.service,
                           "dossier_code": l.dossier_code, "subject": l.subject, "fields": l.fields,
                           "returned": l.returned, "outcome": l.outcome})
                })
                .collect();
            Json(json!({ "lookups": lookups })).into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}
