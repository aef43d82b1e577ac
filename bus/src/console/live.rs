//! Pages that update by themselves: the bus renders the changing part of a page again every
//! few seconds and sends it as a server-sent event of escaped HTML; the console's one script
//! (`console.js`) puts it in place of the element marked `data-live`, without a reload. The
//! stream ends (`signed-out`) as soon as the operator may no longer see it. At most
//! `MAX_STREAMS` are open at once, every page's together.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use maud::Markup;

use super::ConsoleState;
use crate::auth::{Caller, PrincipalKind};

/// Live pages open at once, at most: each asks the bus for its figures every few seconds.
pub const MAX_STREAMS: usize = 32;

/// Streams `render(console)` as `event` every `every`, the first at once.
pub fn stream<F, Fut>(
    console: ConsoleState,
    operator: &Caller,
    event: &'static str,
    every: Duration,
    render: F,
) -> Response
where
    F: Fn(ConsoleState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Markup> + Send,
{
    let Ok(slot) = console.streams.clone().try_acquire_owned() else {
        let busy = "Quá nhiều trang tự cập nhật đang mở; hãy đóng bớt.";
        return (StatusCode::SERVICE_UNAVAILABLE, busy).into_response();
    };
    let name = operator.name().to_string();
    let state = (console, name, slot, render, true);
    let events = futures::stream::unfold(state, move |(console, name, slot, render, first)| async move {
        if !first {
            tokio::time::sleep(every).await;
        }
        let still = matches!(console.app.auth.caller(PrincipalKind::Operator, &name), Some(Caller::Operator { .. }));
        let sent = if still {
            Event::default().event(event).data(render(console.clone()).await.into_string())
        } else {
            Event::default().event("signed-out").data("")
        };
        still.then_some((Ok::<_, Infallible>(sent), (console, name, slot, render, false)))
    });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
