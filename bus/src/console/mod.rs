//! The control room: a web console served by the bus at `/console`, for provincial IT, in
//! Vietnamese, server-rendered (maud: the pages are Rust, checked when the bus is built, and
//! every value is HTML-escaped). Operators sign in with their name and password and see what
//! their roles open. Not part of the API document: the console is for people, the API for
//! systems, and a session cookie is never accepted by the API (so no other site's page can
//! borrow it there).

mod adapters;
mod dead_letters;
mod messages;
mod overview;
mod page;
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
    /// Live overview streams open now (at most `overview::MAX_STREAMS`).
    streams: Arc<Semaphore>,
}

pub fn router(app: AppState, secure: bool) -> Router {
    Router::new()
        .route("/console", get(overview::overview))
        .route("/console/live", get(overview::stream))
        .route("/console/adapters", get(adapters::page))
        .route("/console/adapters/{id}/{action}", post(adapters::act))
        .route("/console/messages", get(messages::search))
        .route("/console/messages/{id}", get(messages::path))
        .route("/console/dead-letters", get(dead_letters::list))
        .route(
            "/console/dead-letters/bulk",
            post(dead_letters::bulk).layer(DefaultBodyLimit::max(dead_letters::BULK_BYTES)),
        )
        .route("/console/dead-letters/{id}", get(dead_letters::show))
        .route("/console/dead-letters/{id}/{action}", post(dead_letters::act))
        .route("/console/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/static/console.css", get(stylesheet))
        .route("/console/static/console.js", get(script))
        .with_state(ConsoleState { app, secure, streams: Arc::new(Semaphore::new(overview::MAX_STREAMS)) })
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("console.css"))
}

async fn script() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("console.js"))
}
