//! Reports for the province: document reuse, and the audit of lookups.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument, ProblemKind};
use super::request::ApiQuery;
use crate::auth::Caller;
use crate::rfc3339_ms;
use crate::schema::Violation;
use crate::store::ReuseCount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reuse)).routes(routes!(lookups))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Period {
    /// The first day, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    from: Option<String>,
    /// The last day, YYYY-MM-DD, not before `from`.
    #[param(required = true, format = Date)]
    to: Option<String>,
}

/// How often papers already on file were offered again, over a period.
#[derive(Serialize, ToSchema)]
pub struct ReuseReport {
    pub from: String,
    pub to: String,
    /// Dossiers received in the period.
    pub dossiers: u64,
    /// Those with at least one paper their procedure needs already on file.
    pub with_reusable_documents: u64,
    /// `with_reusable_documents / dossiers`; 0 without dossiers.
    pub rate: f64,
    pub by_procedure: Vec<ProcedureReuse>,
}

#[derive(Serialize, ToSchema)]
pub struct ProcedureReuse {
    pub procedure_code: Option<String>,
    pub dossiers: u64,
    pub with_reusable_documents: u64,
    pub rate: f64,
}

impl From<&ReuseCount> for ProcedureReuse {
    fn from(count: &ReuseCount) -> Self {
        let rate = if count.dossiers == 0 { 0.0 } else { count.with_reusable_documents as f64 / count.dossiers as f64 };
        ProcedureReuse {
            procedure_code: count.procedure_code.clone(),
            dossiers: count.dossiers,
            with_reusable_documents: count.with_reusable_documents,
            rate,
        }
    }
}

/// Document reuse over a period.
///
/// Dossiers received in the period (dates, both included), how many had at least one paper
/// already on file, and the rate; per procedure.
#[utoipa::path(
    get,
    path = "/v1/reports/reuse",
    tag = "reports",
    params(Period),
    responses(
        (status = 200, description = "The counts and rates", body = ReuseReport),
        (status = 400, description = "A date missing or not YYYY-MM-DD", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`to` is before `from`", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn reuse(State(app): State<AppState>, caller: Caller, ApiQuery(period): ApiQuery<Period>) -> Response {
    if let Err(denied) = caller.may_read_reports() {
        return Problem::from(denied).into_response();
    }
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
    if !violations.is_empty() {
        return Problem::invalid_query("?from=2026-11-01&to=2026-11-30", violations).into_response();
    }
    if from > to {
        let reversed = vec![Violation::new("/to", format!("{to} is before from, {from}"))];
        return Problem::new(ProblemKind::InvalidRange).violations(reversed).into_response();
    }
    let counts = match app.store.reuse_report(&from, &to).await {
        Ok(counts) => counts,
        Err(e) => return Problem::from(e).into_response(),
    };
    let total = ProcedureReuse::from(&counts[0]);
    Json(ReuseReport {
        from,
        to,
        dossiers: total.dossiers,
        with_reusable_documents: total.with_reusable_documents,
        rate: total.rate,
        by_procedure: counts[1..].iter().map(ProcedureReuse::from).collect(),
    })
    .into_response()
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub(crate) struct LookupQuery {
    /// The dossier the lookups were for.
    pub(crate) dossier_code: Option<String>,
    /// Whose data: a CCCD or an MST.
    pub(crate) subject: Option<String>,
    /// At most this many, newest first (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<u32>,
}

/// The lookups recorded, newest first.
#[derive(Serialize, ToSchema)]
pub struct Lookups {
    pub lookups: Vec<Lookup>,
}

/// One lookup of a registry or of the papers on file: who asked, whose data, for which dossier,
/// which parts, and how it ended.
#[derive(Serialize, ToSchema)]
pub struct Lookup {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub member: String,
    pub service: String,
    pub dossier_code: String,
    pub subject: String,
    /// The parts asked for.
    pub fields: Vec<String>,
    /// The parts the answer held.
    pub returned: Vec<String>,
    /// The reply's result (match, mismatch, not_found, found, answered), or refused,
    /// unavailable, timeout, paused, invalid_reply.
    pub outcome: String,
}

/// The audit of lookups.
///
/// For a dossier, or of one citizen's or business's data, or both; without either, the latest.
#[utoipa::path(
    get,
    path = "/v1/lookups",
    tag = "reports",
    params(LookupQuery),
    responses(
        (status = 200, description = "The lookups, newest first", body = Lookups),
        (status = 400, description = "A limit that is not 1 to 1000", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn lookups(State(app): State<AppState>, caller: Caller, ApiQuery(query): ApiQuery<LookupQuery>) -> Response {
    match find_lookups(&app, &caller, query).await {
        Ok(found) => Json(found).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The lookups `query` asks for, as far as `caller` may read them: every one for an auditor (or
/// a member granted all), a member's own otherwise (the console's lookups page asks here too).
pub(crate) async fn find_lookups(app: &AppState, caller: &Caller, query: LookupQuery) -> Result<Lookups, Problem> {
    let member = caller.may_read_lookups()?;
    if query.limit.is_some_and(|limit| !(1..=1000).contains(&limit)) {
        let violations = vec![Violation::new("/limit", "must be from 1 to 1000")];
        return Err(Problem::invalid_query("?dossier_code=000.00.01.H42-261120-0001&limit=20", violations));
    }
    let limit = query.limit.unwrap_or(100);
    let found =
        app.store.lookups(query.dossier_code.as_deref(), query.subject.as_deref(), member.as_deref(), limit).await?;
    let lookups = found
        .into_iter()
        .map(|l| Lookup {
            id: l.id,
            at: rfc3339_ms(l.at),
            member: l.member,
            service: l.service,
            dossier_code: l.dossier_code,
            subject: l.subject,
            fields: l.fields,
            returned: l.returned,
            outcome: l.outcome,
        })
        .collect();
    Ok(Lookups { lookups })
}
