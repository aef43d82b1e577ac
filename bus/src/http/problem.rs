//! The API's one vocabulary of refusals, answered as `application/problem+json` (RFC 9457).
//!
//! Every refusal is a [`ProblemKind`]: a stable `type` URI for clients to branch on, one status
//! and one title. What was wrong in this request goes in `detail` and, for a document, in
//! `violations` (each a JSON pointer and a reason). Internal details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{AuthError, Denied};
use crate::engine::dead_letters::DeadLetterError;
use crate::ingress::IngressError;
use crate::schema::Violation;
use crate::store::StoreError;

/// Where the `type` URIs live.
pub const TYPE_BASE: &str = "https://lgsp.local/problems/";

macro_rules! problem_kinds {
    ($($(#[$doc:meta])* $kind:ident = ($status:ident, $slug:literal, $title:literal);)*) => {
        /// Every kind of problem the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemKind {
            $($(#[$doc])* $kind,)*
        }

        impl ProblemKind {
            /// Every kind, for the API document and its tests.
            pub const ALL: &[ProblemKind] = &[$(ProblemKind::$kind,)*];

            pub fn status(self) -> StatusCode {
                match self { $(ProblemKind::$kind => StatusCode::$status,)* }
            }

            /// The last segment of its `type` URI; also its label in metrics.
            pub fn slug(self) -> &'static str {
                match self { $(ProblemKind::$kind => $slug,)* }
            }

            /// The same for every occurrence (RFC 9457 §3.1.3); `detail` says what happened.
            pub fn title(self) -> &'static str {
                match self { $(ProblemKind::$kind => $title,)* }
            }
        }
    };
}

problem_kinds! {
    /// 400 `malformed-json`: the body is not JSON.
    MalformedJson = (BAD_REQUEST, "malformed-json", "The body is not JSON");
    /// 400 `unreadable-body`: the body could not be read (the client stopped sending it).
    UnreadableBody = (BAD_REQUEST, "unreadable-body", "Cannot read the request body");
    /// 400 `bad-id`: a path names a message by something that is not a UUID.
    BadId = (BAD_REQUEST, "bad-id", "Not a message id");
    /// 400 `invalid-query`: query parameters missing or malformed, each named.
    InvalidQuery = (BAD_REQUEST, "invalid-query", "The query parameters are not valid");
    /// 401 `unauthenticated`: no credentials, or a client certificate that is no one's here;
    /// with `WWW-Authenticate`.
    Unauthenticated = (UNAUTHORIZED, "unauthenticated", "Who is calling?");
    /// 401 `invalid-token`: expired, not signed by the bus, for another audience, `alg: none`…
    InvalidToken = (UNAUTHORIZED, "invalid-token", "The token is not valid");
    /// 403 `forbidden`: the caller lacks the right `missing_right` names.
    Forbidden = (FORBIDDEN, "forbidden", "Not allowed");
    /// 404 `not-found`: no such message, dossier, dead letter, adapter, schema or service.
    NotFound = (NOT_FOUND, "not-found", "Not found");
    /// 422 `invalid-range`: a period whose end is before its start.
    InvalidRange = (UNPROCESSABLE_ENTITY, "invalid-range", "The period ends before it starts");
    /// 409 `id-reused`: an envelope's id was accepted before with other content.
    IdReused = (CONFLICT, "id-reused", "This id belongs to a different message");
    /// 409 `dead-letter-state`: the dead letter is not in a state for this action.
    DeadLetterState = (CONFLICT, "dead-letter-state", "Not in a state for this");
    /// 413 `too-large`: the body is over the limit the config sets.
    TooLarge = (PAYLOAD_TOO_LARGE, "too-large", "Request too large");
    /// 415 `unsupported-media-type`: the body is not declared as JSON.
    UnsupportedMediaType = (UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Send JSON");
    /// 422 `invalid-message`: the envelope or its payload breaks the schemas; every violation listed.
    InvalidMessage = (UNPROCESSABLE_ENTITY, "invalid-message", "The message is not valid");
    /// 422 `invalid-batch`: a batch that is not a list of envelopes, or too long.
    InvalidBatch = (UNPROCESSABLE_ENTITY, "invalid-batch", "The batch is not valid");
    /// 422 `invalid-request`: a service request that breaks the service's request schema.
    InvalidRequest = (UNPROCESSABLE_ENTITY, "invalid-request", "The request is not valid");
    /// 422 `invalid-body`: a body that does not fit the route (a field missing, unknown or of
    /// the wrong type), each place named.
    InvalidBody = (UNPROCESSABLE_ENTITY, "invalid-body", "The body does not fit this route");
    /// 422 `invalid-member`: a member's id, rights or certificate are not valid; nothing changed.
    InvalidMember = (UNPROCESSABLE_ENTITY, "invalid-member", "The member is not valid");
    /// 409 `member-exists`: a member or operator of that id exists.
    MemberExists = (CONFLICT, "member-exists", "That id is taken");
    /// 409 `adapter-state`: the adapter is not in a state for this (pausing a paused one,
    /// removing one being removed); nothing changed.
    AdapterState = (CONFLICT, "adapter-state", "The adapter is not in a state for this");
    /// 422 `invalid-adapter`: a registration that cannot run (an unknown kind or type, a bad URL,
    /// a mapping that does not compile, a schema that is not one), every problem named; nothing
    /// changed.
    InvalidAdapter = (UNPROCESSABLE_ENTITY, "invalid-adapter", "The adapter registration is not valid");
    /// 409 `adapter-exists`: an adapter of that id exists (or is registered).
    AdapterExists = (CONFLICT, "adapter-exists", "That adapter id is taken");
    /// 409 `right-not-held`: a revoke of a right the member does not hold; nothing changed.
    RightNotHeld = (CONFLICT, "right-not-held", "Nothing to revoke");
    /// 422 `unroutable`: no adapter receives the message, or no agency is competent for it.
    Unroutable = (UNPROCESSABLE_ENTITY, "unroutable", "The message cannot be routed");
    /// 422 `refused-by-registry`: the registry refused the request itself.
    RefusedByRegistry = (UNPROCESSABLE_ENTITY, "refused-by-registry", "The registry refused the request");
    /// 422 `unreadable`: a dead letter that is not an envelope cannot be replayed.
    Unreadable = (UNPROCESSABLE_ENTITY, "unreadable", "Not an envelope: it cannot be replayed");
    /// 502 `registry-unavailable`: the registry failed, or its answer broke the contract.
    RegistryUnavailable = (BAD_GATEWAY, "registry-unavailable", "The registry did not answer");
    /// 503 `unavailable`: the broker or the store cannot take the request now; nothing was
    /// accepted; `Retry-After` says when to try again.
    Unavailable = (SERVICE_UNAVAILABLE, "unavailable", "Temporarily unavailable; nothing was accepted");
    /// 503 `no-adapter`: no configured adapter answers the service.
    NoAdapter = (SERVICE_UNAVAILABLE, "no-adapter", "No adapter answers this service");
    /// 503 `registry-paused`: the registry's circuit breaker is open; `Retry-After` says when.
    RegistryPaused = (SERVICE_UNAVAILABLE, "registry-paused", "The registry is failing; not called");
    /// 504 `timeout`: no answer within the service's timeout; nothing was returned.
    Timeout = (GATEWAY_TIMEOUT, "timeout", "No answer in time");
}

impl ProblemKind {
    /// Its `type` URI.
    pub fn uri(self) -> String {
        format!("{TYPE_BASE}{}", self.slug())
    }
}

/// One refusal, as it is answered.
#[derive(Debug)]
pub struct Problem {
    pub kind: ProblemKind,
    pub detail: Option<String>,
    /// Every violation found, each with a JSON pointer into the request.
    pub violations: Vec<Violation>,
    pub retry_after_seconds: Option<u64>,
    /// For a 403: the right the caller lacks.
    pub missing_right: Option<String>,
    /// For a 401: the `WWW-Authenticate` challenge (RFC 6750).
    pub challenge: Option<String>,
}

impl Problem {
    pub fn new(kind: ProblemKind) -> Self {
        Problem {
            kind,
            detail: None,
            violations: Vec::new(),
            retry_after_seconds: None,
            missing_right: None,
            challenge: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn violations(mut self, violations: Vec<Violation>) -> Self {
        self.violations = violations;
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// Its detail and violations in one line, as the message log keeps a refusal.
    pub fn summary(&self) -> String {
        let violations = self.violations.iter().map(|v| format!("{}: {}", v.pointer, v.reason));
        let mut parts: Vec<String> = self.detail.iter().cloned().chain(violations).collect();
        if let Some(right) = &self.missing_right {
            parts.insert(0, format!("missing right {right}"));
        }
        parts.join("; ")
    }

    /// Nothing of that name: `what` and its name go in the detail.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(ProblemKind::NotFound).detail(detail)
    }

    /// The broker or the store cannot take the request now; nothing was accepted.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Problem::new(ProblemKind::Unavailable).detail(detail).retry_after(5)
    }

    /// A caller who did not prove who they are.
    pub fn unauthenticated(error: &AuthError) -> Self {
        let description = error.to_string().replace(['"', '\\'], "'");
        let (kind, challenge) = match error {
            AuthError::Token(_) => (
                ProblemKind::InvalidToken,
                format!("Bearer realm=\"lgsp\", error=\"invalid_token\", error_description=\"{description}\""),
            ),
            _ => (ProblemKind::Unauthenticated, "Bearer realm=\"lgsp\"".to_string()),
        };
        let mut problem = Problem::new(kind).detail(error.to_string());
        problem.challenge = Some(challenge);
        problem
    }

    /// Query parameters that are not valid, each named.
    pub fn invalid_query(example: &str, violations: Vec<Violation>) -> Self {
        Problem::new(ProblemKind::InvalidQuery).detail(format!("for example {example}")).violations(violations)
    }
}

/// An `application/problem+json` document (RFC 9457), as every refusal is answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// A URI naming the kind of problem, `https://lgsp.local/problems/<slug>`: stable, for
    /// clients to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind's title, the same for every occurrence.
    pub title: &'static str,
    pub status: u16,
    /// What happened in this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every violation found, each with a JSON pointer into the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// For a 403: the right the caller lacks, such as `send dossier.status_changed for 000.00.01.H42`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_right: Option<String>,
}

impl Problem {
    /// The document it is answered as.
    pub fn document(&self) -> ProblemDocument {
        ProblemDocument {
            kind: self.kind.uri(),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            violations: self.violations.clone(),
            missing_right: self.missing_right.clone(),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document().serialize(serializer)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).expect("a problem always serialises");
        let mut response = (self.kind.status(), body).into_response();
        if super::evidence::is_refusal(self.kind.status().as_u16()) {
            response.extensions_mut().insert(super::evidence::Refused::new(self.kind.slug(), self.summary()));
        }
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// A right the caller lacks.
impl From<Denied> for Problem {
    fn from(denied: Denied) -> Self {
        let mut problem = Problem::new(ProblemKind::Forbidden).detail(denied.detail);
        problem.missing_right = Some(denied.right);
        problem
    }
}

/// A refusal at ingress, as a member reads it: nothing was accepted.
impl From<IngressError> for Problem {
    fn from(error: IngressError) -> Self {
        let kind = match &error {
            IngressError::Invalid(_) => ProblemKind::InvalidMessage,
            IngressError::Unroutable { .. } | IngressError::NoCompetentAgency { .. } => ProblemKind::Unroutable,
            IngressError::IdReused(_) => ProblemKind::IdReused,
            IngressError::Unavailable(_) => return Problem::unavailable(error.to_string()),
            IngressError::Forbidden(denied) => return Problem::from(denied.clone()),
        };
        let violations = error.violations();
        Problem::new(kind).detail(format!("{error}; nothing was accepted")).violations(violations)
    }
}

/// The store cannot answer now.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        Problem::unavailable(error.to_string())
    }
}

/// A replay or purge that did not happen.
impl From<DeadLetterError> for Problem {
    fn from(error: DeadLetterError) -> Self {
        let kind = match &error {
            DeadLetterError::NotFound { .. } => ProblemKind::NotFound,
            DeadLetterError::Unreadable { .. } => ProblemKind::Unreadable,
            DeadLetterError::Conflict { .. } => ProblemKind::DeadLetterState,
            DeadLetterError::Store(_) | DeadLetterError::Publish(_) => return Problem::unavailable(error.to_string()),
        };
        Problem::new(kind).detail(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_type_and_an_error_status() {
        let mut slugs: Vec<&str> = ProblemKind::ALL.iter().map(|k| k.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemKind::ALL.len(), "two kinds share a type");
        for kind in ProblemKind::ALL {
            assert!(kind.status().is_client_error() || kind.status().is_server_error(), "{kind:?}");
        }
    }

    #[test]
    fn a_problem_is_problem_json_with_its_retry_after() {
        let problem = Problem::unavailable("the broker is unreachable")
            .violations(vec![Violation::new("/payload", "is required")]);
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(body["type"], "https://lgsp.local/problems/unavailable");
        assert_eq!(body["status"], 503);
        assert_eq!(body["violations"][0]["pointer"], "/payload");
        let response = problem.into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }
}
