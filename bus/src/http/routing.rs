//! `GET /v1/routing`: the competence tables in use, and why an edit of them was refused;
//! `GET /v1/routing/decision`: where a dossier of a procedure and unit would go, and why.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument};
use super::request::ApiQuery;
use crate::auth::Caller;
use crate::competence::Routes;
use crate::rfc3339_ms;
use crate::schema::Violation;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tables)).routes(routes!(decision))
}

fn rfc3339(at: SystemTime) -> String {
    rfc3339_ms(at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

fn no_tables() -> Problem {
    Problem::not_found("this bus has no [routing] tables: dossiers go to every subscribed adapter")
}

/// The competence tables in use.
#[derive(Serialize, ToSchema)]
pub struct RoutingTables {
    /// A digest of both files: which version decided a dossier's routing.
    pub version: String,
    /// RFC 3339.
    pub loaded_at: String,
    pub provinces: usize,
    pub communes: usize,
    pub districts: usize,
    pub rules: usize,
    /// The agencies some rule names.
    pub agencies: Vec<String>,
    /// The last edit of the files that did not check out, until they do again.
    pub refused: Option<RefusedEdit>,
}

#[derive(Serialize, ToSchema)]
pub struct RefusedEdit {
    /// RFC 3339.
    pub at: String,
    pub problems: Vec<TableProblem>,
}

#[derive(Serialize, ToSchema)]
pub struct TableProblem {
    pub key: String,
    pub reason: String,
}

/// The competence tables in use, and why an edit of them was refused.
#[utoipa::path(
    get,
    path = "/v1/routing",
    tag = "routing",
    responses(
        (status = 200, description = "The tables in use", body = RoutingTables),
        (status = 404, description = "This bus has no [routing] tables", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn tables(State(app): State<AppState>, _caller: Caller) -> Response {
    match routing_tables(&app) {
        Ok(tables) => Json(tables).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The tables in use, for any caller who proved who they are (the console's routing page asks
/// here too).
pub(crate) fn routing_tables(app: &AppState) -> Result<RoutingTables, Problem> {
    let Some(state) = app.ingress.routes.as_ref().map(Routes::state) else {
        return Err(no_tables());
    };
    let units = state.current.units();
    let mut agencies: Vec<String> = state.current.agencies().map(String::from).collect();
    agencies.sort_unstable();
    agencies.dedup();
    let refused = state.refused.map(|refusal| RefusedEdit {
        at: rfc3339(refusal.at),
        problems: refusal
            .problems
            .iter()
            .map(|p| TableProblem { key: p.key.clone(), reason: p.reason.clone() })
            .collect(),
    });
    Ok(RoutingTables {
        version: state.current.version.clone(),
        loaded_at: rfc3339(state.loaded_at),
        provinces: units.provinces.len(),
        communes: units.communes.len(),
        districts: units.districts.len(),
        rules: state.current.rule_count(),
        agencies,
        refused,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Question {
    /// A procedure code, such as 1.001234.
    #[param(required = true)]
    procedure: Option<String>,
    /// A unit code: a province, a commune, or a district from before July 2025.
    #[param(required = true)]
    unit: Option<String>,
}

/// Where a dossier would go, and why.
#[derive(Serialize, ToSchema)]
pub struct RoutingDecision {
    /// Whether some agency is competent.
    pub routed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub reason: String,
    /// The tables' version that decided.
    pub version: String,
}

/// Where a dossier of a procedure and unit would go, and why: the decision ingress would make.
#[utoipa::path(
    get,
    path = "/v1/routing/decision",
    tag = "routing",
    params(Question),
    responses(
        (status = 200, description = "The decision, or why there is none", body = RoutingDecision),
        (status = 400, description = "A procedure or a unit missing", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "This bus has no [routing] tables", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn decision(State(app): State<AppState>, _caller: Caller, ApiQuery(question): ApiQuery<Question>) -> Response {
    match routing_decision(&app, question.procedure.as_deref(), question.unit.as_deref()) {
        Ok(decision) => Json(decision).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// Where a dossier of `procedure` in `unit` would go, and why, for any caller who proved who
/// they are (the console's routing page asks here too).
pub(crate) fn routing_decision(
    app: &AppState,
    procedure: Option<&str>,
    unit: Option<&str>,
) -> Result<RoutingDecision, Problem> {
    let Some(tables) = app.ingress.routes.as_ref().map(Routes::current) else {
        return Err(no_tables());
    };
    let (Some(procedure), Some(unit)) = (procedure, unit) else {
        let missing = [("procedure", procedure), ("unit", unit)]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| Violation::new(format!("/{name}"), "is required"))
            .collect();
        return Err(Problem::invalid_query("?procedure=1.001234&unit=18073", missing));
    };
    let version = tables.version.clone();
    Ok(match tables.decide(procedure, unit) {
        Ok(decision) => {
            RoutingDecision { routed: true, agency: Some(decision.agency), reason: decision.reason, version }
        }
        Err(why) => RoutingDecision { routed: false, agency: None, reason: why.to_string(), version },
    })
}
