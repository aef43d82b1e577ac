//! How callers prove who they are: `POST /oauth2/token` (OAuth2 client credentials, RFC 6749
//! §4.4) issues tokens, `GET /.well-known/jwks.json` publishes the key they are signed with, and
//! every handler that needs a caller takes a [`Caller`], read from the `Authorization` header or
//! the TLS client certificate.

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::evidence::{Asker, Refused};
use super::problem::Problem;
use crate::auth::{Caller, Issued};
use crate::events;
use crate::listener::Peer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token)).routes(routes!(jwks))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, Problem> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let certificate = parts.extensions.get::<ConnectInfo<Peer>>().and_then(|peer| peer.0.certificate.clone());
        let caller = app.auth.authenticate(bearer, certificate.as_deref()).map_err(|error| {
            events::caller_refused(parts.uri.path(), &error);
            Problem::unauthenticated(&error)
        })?;
        Asker::proved(parts, caller.name());
        Ok(caller)
    }
}

/// A token request (RFC 6749 §4.4.2), its client authenticating in the body or with Basic.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`.
    #[schema(value_type = GrantType)]
    grant_type: Option<String>,
    /// A member's id or an operator's name (or in the `Authorization: Basic` header).
    client_id: Option<String>,
    /// Its secret or password.
    client_secret: Option<String>,
}

/// The only grant: client credentials (RFC 6749 §4.4).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // the request's one value, for the API document; the form is read as text
enum GrantType {
    ClientCredentials,
}

/// A refusal of the token endpoint, as OAuth2 says it (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client` or `unsupported_grant_type`.
    error: &'static str,
    error_description: String,
}

/// A token, valid `expires_in` seconds.
#[derive(Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenAnswer {
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    expires_in: u64,
}

/// A token for a member or an operator (OAuth2 client credentials).
///
/// Form-encoded `grant_type=client_credentials`, `client_id`, `client_secret`, or the client in
/// `Authorization: Basic`. The token is a JWT signed by the bus (EdDSA), valid a few minutes.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = TokenAnswer,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Not a client-credentials request", body = OAuthError),
        (status = 401, description = "No such client, or the wrong secret", body = OAuthError,
            headers(("WWW-Authenticate" = String, description = "Basic realm=\"lgsp\", when the client used Basic"))),
    )
)]
async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let request = match form {
        Ok(Form(request)) => request,
        Err(rejection) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", rejection.body_text(), false),
    };
    if request.grant_type.as_deref() != Some("client_credentials") {
        let described = format!("grant_type must be client_credentials, not {:?}", request.grant_type);
        let error = if request.grant_type.is_none() { "invalid_request" } else { "unsupported_grant_type" };
        return oauth_error(StatusCode::BAD_REQUEST, error, described, false);
    }
    let basic = basic_credentials(&headers);
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, request.client_id, request.client_secret) {
        (Some(credentials), None, None) => credentials,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            let described = "the client is in the Authorization header and the body: give it once".to_string();
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", described, true);
        }
        (None, _, _) => {
            let described = "client_id and client_secret are required (or Authorization: Basic)".to_string();
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", described, false);
        }
    };
    let Some(kind) = super::check_secret(&app, &client_id, secret).await else {
        events::token_refused(&client_id);
        let described = format!("no client `{client_id}` with that secret");
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", described, used_basic);
    };
    let Issued { access_token, token_type, expires_in } = app.auth.tokens.issue(&client_id, kind);
    events::token_issued(&client_id);
    let body = TokenAnswer { access_token, token_type, expires_in };
    ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
}

/// `Authorization: Basic base64(client_id:client_secret)`, each part form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape =
        |part: &str| url::form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn oauth_error(status: StatusCode, error: &'static str, description: String, basic: bool) -> Response {
    let refused = Refused::new(error, description.clone());
    let mut response = (status, Json(OAuthError { error, error_description: description })).into_response();
    response.extensions_mut().insert(refused);
    if basic && status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"lgsp\""));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The public keys the bus's tokens are verified with (RFC 7517).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    responses((status = 200, description = "`{keys: [{kty: OKP, crv: Ed25519, kid, x}]}`", body = Object))
)]
async fn jwks(State(app): State<AppState>) -> Json<Value> {
    Json(app.auth.tokens.jwks())
}
