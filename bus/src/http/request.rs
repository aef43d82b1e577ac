//! How the API reads a request: a JSON body, and query parameters. Whatever is wrong with either
//! is answered as a problem, never as axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::{Problem, ProblemKind};
use crate::schema::Violation;

/// Checks the media type and parses the body.
pub fn read_json(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, Problem> {
    if !is_json(headers) {
        return Err(Problem::new(ProblemKind::UnsupportedMediaType).detail("Content-Type must be application/json"));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(ProblemKind::TooLarge).detail(rejection.body_text()),
        _ => Problem::new(ProblemKind::UnreadableBody).detail(rejection.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|e| Problem::new(ProblemKind::MalformedJson).detail(e.to_string()))
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Query parameters read into `T`; a query that does not fit is a 400 `invalid-query` problem.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(ApiQuery(query)),
            Err(rejection) => Err(Problem::new(ProblemKind::InvalidQuery).detail(rejection.body_text())),
        }
    }
}

/// A JSON body read into `T`: a body that is not JSON is a 400, one that does not fit `T` a
/// 422 `invalid-body` naming where (never axum's plain-text rejection).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let value = read_json(&headers, Bytes::from_request(request, state).await)?;
        fitted(value).map(ApiJson)
    }
}

/// A JSON body that may be left out: `None` when the request has no body.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state).await;
        if body.as_ref().is_ok_and(|b| b.is_empty()) {
            return Ok(OptionalJson(None));
        }
        fitted(read_json(&headers, body)?).map(|t| OptionalJson(Some(t)))
    }
}

/// `value` read into `T`, or a 422 `invalid-body` naming where it does not fit.
fn fitted<T: DeserializeOwned>(value: Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        use serde_path_to_error::Segment;
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Seq { index } => Some(format!("/{index}")),
                Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
                Segment::Enum { variant } => Some(format!("/{variant}")),
                Segment::Unknown => None,
            })
            .collect();
        Problem::new(ProblemKind::InvalidBody).violations(vec![Violation::new(pointer, e.inner().to_string())])
    })
}
