//! `GET /v1/routing`: the competence tables in use, and why an edit of them was refused;
//! `GET /v1/routing/decision`: where a dossier of a procedure and unit would go, and why.

use std::time::{SystemTime, UNIX_EPOCH};

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
use crate::competence::Routes;
use crate::schema::Violation;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/routing", get(tables)).route("/v1/routing/decision", get(decision))
}

fn rfc3339(at: SystemTime) -> String {
    rfc3339_ms(at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

fn no_tables() -> Response {
    Problem::not_found("this bus has no [routing] tables: dossiers go to every subscribed adapter").into_response()
}

async fn tables(State(app): State<AppState>) -> Response {
    let Some(state) = app.ingress.routes.as_ref().map(Routes::state) else {
        return no_tables();
    };
    let units = state.current.units();
    let mut agencies: Vec<&str> = state.current.agencies().collect();
    agencies.sort_unstable();
    agencies.dedup();
    let refused = state.refused.map(|refusal| {
        json!({
            "at": rfc3339(refusal.at),
            "problems": refusal.problems.iter().map(|p| json!({"key": p.key, "reason": p.reason})).collect::<Vec<_>>(),
        })
    });
    Json(json!({
        "version": state.current.version,
        "loaded_at": rfc3339(state.loaded_at),
        "provinces": units.provinces.len(),
        "communes": units.communes.len(),
        "districts": units.districts.len(),
        "rules": state.current.rule_count(),
        "agencies": agencies,
        "refused": refused,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Question {
    procedure: Option<String>,
    unit: Option<String>,
}

async fn decision(State(app): State<AppState>, ApiQuery(question): ApiQuery<Question>) -> Response {
    let Some(tables) = app.ingress.routes.as_ref().map(Routes::current) else {
        return no_tables();
    };
    let (Some(procedure), Some(unit)) = (&question.procedure, &question.unit) else {
        let missing = [("procedure", &question.procedure), ("unit", &question.unit)]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| Violation::new(format!("/{name}"), "is required"))
            .collect();
        return Problem::invalid_query("?procedure=1.001234&unit=18073", missing).into_response();
    };
    let version = &tables.version;
    Json(match tables.decide(procedure, unit) {
        Ok(decision) => {
            json!({"routed": true, "agency": decision.agency, "reason": decision.reason, "version": version})
        }
        Err(why) => json!({"routed": false, "reason": why.to_string(), "version": version}),
    })
    .into_response()
}
