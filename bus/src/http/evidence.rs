//! Refusals are evidence: every 401, 403 and 422 the API answers goes to the message log with
//! who asked (or `anonymous`, and from where), what, and why.

use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::audit::Refusal;
use crate::listener::Peer;

/// Who the caller proved to be, once it did: set by the `Caller` extractor, read after the
/// handler answered.
#[derive(Clone, Default)]
pub(super) struct Asker(Arc<OnceLock<String>>);

impl Asker {
    pub(super) fn proved(parts: &Parts, name: &str) {
        if let Some(asker) = parts.extensions.get::<Asker>() {
            let _ = asker.0.set(name.to_string());
        }
    }
}

/// What a refusal said, attached to its response.
#[derive(Clone, Debug)]
pub struct Refused {
    /// The problem's type (`forbidden`, `invalid-message`…) or the OAuth2 error.
    pub problem: &'static str,
    pub detail: String,
}

/// Longest detail kept with a refusal: enough to say why.
const MAX_DETAIL: usize = 1000;

impl Refused {
    pub fn new(problem: &'static str, detail: String) -> Refused {
        Refused { problem, detail: crate::shortened(detail, MAX_DETAIL) }
    }
}

/// Whether a status is one the log keeps.
pub(super) fn is_refusal(status: u16) -> bool {
    matches!(status, 401 | 403 | 422)
}

pub(super) async fn record_refusals(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let asker = Asker::default();
    request.extensions_mut().insert(asker.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0.addr.ip().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if is_refusal(status) {
        let refused = response.extensions().get::<Refused>();
        app.log.refused(Refusal {
            actor: asker.0.get().map_or("anonymous", String::as_str),
            status,
            method: method.as_str(),
            path: &path,
            problem: refused.map_or("unknown", |r| r.problem),
            detail: refused.map_or("", |r| r.detail.as_str()),
            peer,
            message: None,
        });
    }
    response
}
