//! The adapters page: registrations waiting for an admin (approve, or reject with a reason), and
//! every adapter of the bus (pause, resume, test). Each action is the API's own (the same role
//! checks, the same record in the message log); the page shows only the buttons the operator's
//! roles allow, and the bus checks again.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::Notice;
use super::session::{Operator, same_origin};
use super::{ConsoleState, page};
use crate::auth::Caller;
use crate::config::Role;
use crate::engine::trial::TestRequest;
use crate::http::adapters::{
    approve_registration, pause_adapter, refused, reject_registration, resume_adapter, test_adapter,
};
use crate::http::problem::Problem;
use crate::store::RegistrationState;

pub async fn page(State(console): State<ConsoleState>, Operator(operator): Operator) -> Response {
    render(&console, &operator, None).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    /// Why a registration is rejected.
    #[serde(default)]
    reason: String,
}

/// `POST /console/adapters/{id}/{action}`: approve, reject, pause, resume or test.
pub async fn act(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ bảng điều khiển.");
    }
    let app = &console.app;
    let reason = form.map(|Form(f)| f.reason).unwrap_or_default();
    let outcome: Result<String, Problem> = match action.as_str() {
        "approve" => approve_registration(app, &operator, &id).await.map(|_| format!("Đã duyệt {id}: đang chạy.")),
        "reject" => reject_registration(app, &operator, &id, &reason).await.map(|_| format!("Đã từ chối {id}.")),
        "pause" => pause_adapter(app, &operator, &id).await.map(|_| format!("Đã tạm dừng {id}.")),
        "resume" => resume_adapter(app, &operator, &id).await.map(|_| format!("{id} chạy lại.")),
        "test" => match app.registrar.may_act(&operator, &id, Role::Operator).await.map_err(refused) {
            Ok(()) => test_adapter(app, &operator, &id, TestRequest::default()).await.map(|tried| {
                let outcome = &tried.outcome;
                let answer = outcome.peer_answer.as_deref().unwrap_or("-");
                match outcome.error.as_deref() {
                    Some(error) => format!("Thử {id}: thất bại ({error}). Đối tác trả lời: {answer}"),
                    None => {
                        let word = if outcome.outcome == "delivered" {
                            "đã chuyển"
                        } else {
                            "bỏ qua (đã có bản mới hơn)"
                        };
                        format!("Thử {id}: {word} sau {} ms. Đối tác trả lời: {answer}", tried.took_ms)
                    }
                }
            }),
            Err(problem) => Err(problem),
        },
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let (status, notice, refused) = match outcome {
        Ok(done) => (StatusCode::OK, Notice::Done(done), None),
        Err(problem) => {
            let (why, refused) = page::refusal(&problem);
            (problem.kind.status(), Notice::Refused(why), Some(refused))
        }
    };
    let mut response = render(&console, &operator, Some(notice)).await;
    *response.status_mut() = status;
    if let Some(refused) = refused {
        response.extensions_mut().insert(refused);
    }
    response
}

async fn render(console: &ConsoleState, operator: &Caller, notice: Option<Notice>) -> Response {
    let app = &console.app;
    let registrations = app.registrar.list().await.unwrap_or_default();
    let roster = app.fleet.adapters().current();
    let admin = operator.need(Role::Admin).is_ok();
    let operates = operator.need(Role::Operator).is_ok();
    let body = html! {
        (Notice::show(&notice))
        section {
            h2 { "Đăng ký chờ duyệt và đã xử lý" }
            @if registrations.is_empty() { p { "Chưa có đăng ký nào." } }
            @else {
                table {
                    thead { tr { th { "Mã" } th { "Đơn vị đăng ký" } th { "Trạng thái" } th { "Lý do" } th {} } }
                    tbody {
                        @for registration in &registrations {
                            tr data-registration=(registration.id) {
                                td { (registration.id) }
                                td { (registration.owner) }
                                td { (state_word(registration.state)) }
                                td { (registration.reason.as_deref().unwrap_or("")) }
                                td.actions {
                                    @if admin && registration.state == RegistrationState::Pending {
                                        (button(&registration.id, "approve", "Duyệt"))
                                        form method="post" action={ "/console/adapters/" (registration.id) "/reject" } {
                                            input name="reason" type="text" required placeholder="Lý do từ chối";
                                            button type="submit" { "Từ chối" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Bộ kết nối đang chạy" }
            table {
                thead { tr { th { "Mã" } th { "Tuyến nhận" } th { "Dịch vụ" } th { "Trạng thái" } th {} } }
                tbody {
                    @for runtime in roster.adapters() {
                        @let id = runtime.id.as_str();
                        @let phase = roster.phase(id);
                        tr data-adapter=(id) {
                            td { (id) }
                            td { (runtime.routes.join(", ")) }
                            td { (runtime.services.join(", ")) }
                            td { (phase.map_or("-", super::overview::phase_word)) }
                            td.actions {
                                @if operates {
                                    @if phase == Some(crate::roster::Phase::Running) {
                                        (button(id, "pause", "Tạm dừng"))
                                        @if !runtime.routes.is_empty() { (button(id, "test", "Gửi thử")) }
                                    }
                                    @if phase == Some(crate::roster::Phase::Paused) { (button(id, "resume", "Chạy lại")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page::frame(operator, "Bộ kết nối", body)
}

fn button(id: &str, action: &str, label: &str) -> Markup {
    html! {
        form method="post" action={ "/console/adapters/" (id) "/" (action) } {
            button type="submit" data-action=(action) { (label) }
        }
    }
}

fn state_word(state: RegistrationState) -> &'static str {
    match state {
        RegistrationState::Pending => "chờ duyệt",
        RegistrationState::Approved => "đã duyệt",
        RegistrationState::Rejected => "bị từ chối",
    }
}
