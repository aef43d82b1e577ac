//! The overview: is the bus well (broker, store, message log), and how is each adapter doing
//! (its state, its peer's breaker, its queue, its deliveries and failures, its last error).

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

use super::ConsoleState;
use super::page;
use super::session::Operator;
use crate::audit::LogHealth;
use crate::roster::Phase;

pub async fn overview(State(console): State<ConsoleState>, Operator(operator): Operator) -> Response {
    let body = html! {
        div #live data-live="/console/live" data-event="overview" { (live(&console).await) }
        script src="/console/static/console.js" {}
    };
    page::frame(&operator, "Tổng quan", body)
}

/// The parts of the overview that change: sent again by [`stream`] every few seconds.
pub async fn live(console: &ConsoleState) -> Markup {
    let app = &console.app;
    let broker = app.broker.is_connected();
    let store = app.store.ping().await.is_ok();
    let log = app.log.health();
    let roster = app.fleet.adapters().current();
    let queued: Vec<&str> = roster.adapters().filter(|r| !r.routes.is_empty()).map(|r| r.id.as_str()).collect();
    let mut depths = app.broker.queue_depths(&queued).await.unwrap_or_default();
    html! {
        section.health {
            h2 { "Tình trạng hệ thống" }
            ul {
                (health("Máy chủ thông điệp (RabbitMQ)", broker, if broker { "hoạt động" } else { "mất kết nối" }))
                (health("Kho dữ liệu", store, if store { "hoạt động" } else { "không truy cập được" }))
                (health("Nhật ký thông điệp", matches!(log, LogHealth::Ok | LogHealth::Off), log_word(log)))
            }
        }
        section.adapters {
            h2 { "Bộ kết nối" }
            table {
                thead { tr {
                    th { "Bộ kết nối" } th { "Trạng thái" } th { "Bộ ngắt mạch" } th { "Hàng đợi" }
                    th { "Đã chuyển / phút" } th { "Lỗi / phút" } th { "Lỗi gần nhất" }
                } }
                tbody {
                    @for runtime in roster.adapters() {
                        @let id = runtime.id.as_str();
                        @let activity = roster.activity(id).map(|a| a.view());
                        @let breaker = runtime.guard.status();
                        tr data-adapter=(id) {
                            td { (id) }
                            td { (roster.phase(id).map_or("-", phase_word)) }
                            td.(breaker.state) { (breaker_word(breaker.state)) }
                            td { (depths.remove(id).map_or("-".to_string(), |d| d.messages.to_string())) }
                            td { (activity.as_ref().map_or(0, |a| a.delivered_per_minute)) }
                            td { (activity.as_ref().map_or(0, |a| a.failed_per_minute)) }
                            td.error { (activity.and_then(|a| a.last_error).map_or(String::new(), |e| format!("{}: {}", e.at, e.error))) }
                        }
                    }
                }
            }
            p.updated { "Cập nhật lúc " (vietnam_time()) }
        }
        (console.pulse.charts(&roster, crate::now_ms()))
    }
}

/// How often the live parts are sent again.
const EVERY: Duration = Duration::from_secs(2);

/// `GET /console/live`: the overview's live parts as server-sent events (`overview`), every
/// `EVERY`.
pub async fn stream(State(console): State<ConsoleState>, Operator(operator): Operator) -> Response {
    super::live::stream(console, &operator, "overview", EVERY, |console| async move { live(&console).await })
}

/// Now, as people in Vietnam read the time (UTC+7): `20:10:48 30/11/2026`.
fn vietnam_time() -> String {
    page::vietnam_time(crate::now_ms())
}

fn health(what: &str, up: bool, word: &str) -> Markup {
    html! { li.(if up { "up" } else { "down" }) { span { (what) } ": " strong { (word) } } }
}

fn log_word(health: LogHealth) -> &'static str {
    match health {
        LogHealth::Ok => "ghi đầy đủ",
        LogHealth::Behind => "ghi chậm",
        LogHealth::Failing => "không ghi được",
        LogHealth::Off => "tắt",
    }
}

pub(super) fn phase_word(phase: Phase) -> &'static str {
    match phase {
        Phase::Adding => "đang thêm",
        Phase::Running => "đang chạy",
        Phase::Paused => "tạm dừng",
        Phase::Removing => "đang gỡ",
    }
}

fn breaker_word(state: &str) -> &'static str {
    match state {
        "closed" => "bình thường",
        "open" => "đối tác lỗi: tạm ngừng gọi",
        "probing" => "đang thử lại",
        _ => "-",
    }
}
