//! The control room: a web console served by the bus at `/console`, for provincial IT, in
//! Vietnamese, server-rendered (maud: the pages are Rust, checked when the bus is built, and
//! every value is HTML-escaped). Operators sign in with their name and password and see what
//! their roles open. Not part of the API document: the console is for people, the API for
//! systems, and a session cookie is never accepted by the API (so no other site's page can
//! borrow it there).

mod adapters;
mod dead_letters;
mod dossiers;
mod live;
mod lookups;
mod members;
mod messages;
mod overview;
mod page;
mod pulse;
mod routing;
pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::http::AppState;

/// What the console's handlers share.
#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    /// The bus serves TLS: the session cookie is `Secure`.
    pub secure: bool,
    /// Live pages open now (at most `live::MAX_STREAMS`).
    streams: Arc<Semaphore>,
    /// The overview's charts.
    pulse: Arc<pulse::Pulse>,
}

pub fn router(app: AppState, secure: bool) -> Router {
    Router::new()
        .route("/console", get(overview::overview))
        .route("/console/live", get(overview::stream))
        .route("/console/dossiers/live", get(dossiers::live))
        .route("/console/adapters", get(adapters::page))
        .route("/console/adapters/{id}/{action}", post(adapters::act))
        .route("/console/messages", get(messages::search))
        .route("/console/messages/{id}", get(messages::path))
        .route("/console/dossiers", get(dossiers::page))
        .route("/console/dossiers/{file}", get(dossiers::file))
        .route("/console/dead-letters", get(dead_letters::list))
        .route(
            "/console/dead-letters/bulk",
            post(dead_letters::bulk).layer(DefaultBodyLimit::max(dead_letters::BULK_BYTES)),
        )
        .route("/console/dead-letters/{id}", get(dead_letters::show))
        .route("/console/dead-letters/{id}/{action}", post(dead_letters::act))
        .route("/console/members", get(members::list))
        .route("/console/members/{id}", get(members::show))
        .route("/console/members/{id}/rights", post(members::change))
        .route("/console/lookups", get(lookups::search))
        .route("/console/routing", get(routing::page))
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .with_state(ConsoleState {
            app,
            secure,
            streams: Arc::new(Semaphore::new(live::MAX_STREAMS)),
            pulse: Arc::default(),
        })
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("console.css"))
}

async fn script() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("console.js"))
}
