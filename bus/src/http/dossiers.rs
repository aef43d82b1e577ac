//! `GET /v1/dossiers/{code}`: a dossier's latest known status, as the national portal asks.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::problem::{Problem, ProblemDocument};
use crate::auth::Caller;
use crate::monitoring::{CLOSED, due};
use crate::procedures::Procedures;
use crate::rfc3339_ms;
use crate::store::{DossierView, ReuseView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dossier))
}

/// A dossier as the bus knows it from the messages about it.
#[derive(Serialize, ToSchema)]
pub struct Dossier {
    pub dossier_code: String,
    /// The national status code (1–10) of its newest state.
    pub status: Option<i64>,
    /// The `seq` of that state.
    pub seq: Option<u64>,
    pub procedure_code: Option<String>,
    pub agency_code: Option<String>,
    pub received_at: Option<String>,
    pub due_at: Option<String>,
    pub completed_at: Option<String>,
    /// The message that brought its newest state.
    pub message_id: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The agency competent for it (where the bus routed it).
    pub competent_agency: Option<String>,
    /// The latest `payment.status`.
    #[schema(value_type = Option<Object>)]
    pub payment: Option<Value>,
    /// The latest `postal.shipment_status`.
    #[schema(value_type = Option<Object>)]
    pub postal: Option<Value>,
    /// Resolved after its due time, or still open past it: the catalogue's reckoning where it
    /// gives the procedure a processing time, else `due_at` (as the reports count it).
    pub late: bool,
    /// The papers its procedure needs, and those already on file when it was received.
    pub documents_reuse: Option<DocumentsReuse>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentsReuse {
    /// The document types its procedure needs.
    pub required: Vec<String>,
    /// The ones on file when it was received: `{type, number, issuer, dossier_code}`.
    #[schema(value_type = Vec<Object>)]
    pub reusable: Vec<Value>,
}

/// A dossier's latest known status.
#[utoipa::path(
    get,
    path = "/v1/dossiers/{code}",
    tag = "dossiers",
    params(("code" = String, Path, description = "the dossier code, such as 000.00.01.H42-261120-0001")),
    responses(
        (status = 200, description = "Its newest state, whether it is late, its payment, parcel and papers reused", body = Dossier),
        (status = 404, description = "No message about it reached the bus", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The store cannot answer now", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
async fn dossier(State(app): State<AppState>, caller: Caller, Path(code): Path<String>) -> Result<Response, Problem> {
    let Some(dossier) = app.store.dossier(code).await? else {
        return Err(Problem::not_found("no message about this dossier has reached the bus"));
    };
    let agencies: Vec<&str> =
        [&dossier.agency_code, &dossier.competent_agency].into_iter().flatten().map(String::as_str).collect();
    caller.may_read_dossier(&agencies)?;
    let reuse = app.store.reuse(&dossier.dossier_code).await?;
    Ok(Json(view(dossier, reuse, &app.ingress.procedures)).into_response())
}

fn view(dossier: DossierView, reuse: Option<ReuseView>, procedures: &Procedures) -> Dossier {
    let parse = |text: &Option<String>| text.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    // The same reckoning as the reports', so that a dossier is late here when it is there.
    let due =
        due(procedures, dossier.procedure_code.as_deref(), parse(&dossier.received_at), dossier.due_at.as_deref());
    let closed = dossier.status.is_some_and(|s| CLOSED.contains(&s));
    let finished_at = if closed { parse(&dossier.completed_at) } else { Some(OffsetDateTime::now_utc()) };
    Dossier {
        late: matches!((due, finished_at), (Some(due), Some(at)) if at > due),
        dossier_code: dossier.dossier_code,
        status: dossier.status,
        seq: dossier.seq,
        procedure_code: dossier.procedure_code,
        agency_code: dossier.agency_code,
        received_at: dossier.received_at,
        due_at: dossier.due_at,
        completed_at: dossier.completed_at,
        message_id: dossier.message_id,
        updated_at: rfc3339_ms(dossier.updated_at),
        competent_agency: dossier.competent_agency,
        payment: dossier.payment,
        postal: dossier.postal,
        documents_reuse: reuse.map(|r| DocumentsReuse { required: r.required, reusable: r.reusable }),
    }
}
