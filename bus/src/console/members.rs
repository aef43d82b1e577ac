//! The members page: every member (an agency's system) with how it proves who it is and what it
//! may do: the message types it may send and for which agencies, the services and fields it may
//! ask for, and what it may read; one member's page, where an admin grants or revokes one right.
//!
//! Who may look is who may ask the API's `GET /v1/members`: admins. The page asks through the
//! API's own functions (the same role check), and a change is the API's own
//! (`POST /v1/members/{id}/grant|revoke`: the same checks against the catalogue, the same
//! `directory.change` record in the message log, with the admin's name). A member's secret is
//! never shown, nor its hash: only whether it has one.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::page::{self, Notice, field};
use super::session::{Operator, same_origin};
use crate::auth::Caller;
use crate::auth::grants::RightsChange;
use crate::config::{ANY, CertificateBinding, MessageRight, ReadRights, Rights, Role, Scope, ServiceRight};
use crate::http::evidence::Refused;
use crate::http::members::{MemberView, change_member_rights, list_members, show_member};
use crate::http::problem::Problem;

/// `GET /console/members`: every member, its authentication and its rights.
pub async fn list(State(console): State<ConsoleState>, Operator(operator): Operator) -> Response {
    match list_members(&console.app, &operator) {
        Ok(found) => {
            let body = html! {
                section {
                    @if found.members.is_empty() {
                        p.count { "Chưa có thành viên nào." }
                    } @else {
                        p.count { (found.members.len()) " thành viên kết nối." }
                        table.members {
                            thead { tr {
                                th { "Mã" } th { "Tên" } th { "Xác thực" } th { "Gửi thông điệp (loại → cơ quan)" }
                                th { "Dịch vụ được hỏi (trường)" } th { "Quyền đọc" } th {}
                            } }
                            tbody {
                                @for member in &found.members {
                                    tr data-member=(member.id) {
                                        td.id { a href={ "/console/members/" (member.id) } { (member.id) } }
                                        td { (member.name) }
                                        td { (authentication(member)) }
                                        td { (send_rights(&member.rights.send)) }
                                        td { (service_rights(&member.rights.services)) }
                                        td { (read_rights(&member.rights.read)) }
                                        td { a href={ "/console/members/" (member.id) } { "Chi tiết" } }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            page::frame(&operator, "Thành viên và quyền", body)
        }
        Err(problem) => refused_page(&operator, "Thành viên và quyền", &problem),
    }
}

/// `GET /console/members/{id}`: one member, and for an admin the form that changes its rights.
pub async fn show(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    Path(id): Path<String>,
) -> Response {
    render(&console, &operator, &id, None)
}

/// One member's page under `notice`, answered with `status`; the refusal when the operator may
/// not see it (its status wins: a refused page is never a 200).
fn render(console: &ConsoleState, operator: &Caller, id: &str, notice: Option<(StatusCode, Notice)>) -> Response {
    let member = match show_member(&console.app, operator, id) {
        Ok(member) => member,
        Err(problem) => return refused_page(operator, "Thành viên", &problem),
    };
    let (status, notice) = notice.map_or((StatusCode::OK, None), |(status, notice)| (status, Some(notice)));
    // Shown to admins only; the bus checks again whatever the page showed.
    let admin = operator.need(Role::Admin).is_ok();
    let body = html! {
        (Notice::show(&notice))
        p { a href="/console/members" { "← Danh sách thành viên" } }
        section.member data-member=(member.id) {
            h2 { (member.name) }
            dl {
                dt { "Mã thành viên" } dd.id { (member.id) }
                dt { "Tên" } dd { (member.name) }
                dt { "Xác thực" } dd { (authentication(&member)) }
            }
        }
        (rights(&member.rights))
        @if admin { (change_form(console, &member.id)) }
    };
    let mut response = page::frame(operator, &format!("Thành viên {}", member.id), body);
    *response.status_mut() = status;
    response
}

/// The page saying why the operator may not see it, with the bus's status.
fn refused_page(operator: &Caller, title: &str, problem: &Problem) -> Response {
    let (why, refused) = page::refusal(problem);
    let body = html! { (Notice::show(&Some(Notice::Refused(why)))) };
    let mut response = page::frame(operator, title, body);
    *response.status_mut() = problem.kind.status();
    response.extensions_mut().insert(refused);
    response
}

/// How the member proves who it is: a client secret (never shown), a client certificate, both,
/// or neither yet.
fn authentication(member: &MemberView) -> Markup {
    html! {
        ul.auth {
            @if member.has_secret { li data-auth="secret" { "Mật khẩu ứng dụng (client secret, lưu dạng băm, không hiển thị)" } }
            @match &member.certificate {
                Some(CertificateBinding::Pin { spki_sha256 }) => li data-auth="pin" {
                    "Chứng thư số, ghim khóa công khai (SHA-256): " span.id { (spki_sha256) }
                },
                Some(CertificateBinding::Names { subject, issuer }) => li data-auth="names" {
                    "Chứng thư số: chủ thể " span.id { (subject) } ", cấp bởi " span.id { (issuer) }
                },
                None => {},
            }
            @if !member.has_secret && member.certificate.is_none() {
                li data-auth="none" { "Chưa có cách xác thực: quản trị cần cấp mật khẩu ứng dụng hoặc chứng thư số." }
            }
        }
    }
}

/// `*` as people read it.
fn any(list: &[String], every: &'static str) -> String {
    if list.iter().any(|item| item == ANY) { every.to_string() } else { list.join(", ") }
}

fn send_rights(rights: &[MessageRight]) -> Markup {
    message_rights("send", rights)
}

fn message_rights(kind: &str, rights: &[MessageRight]) -> Markup {
    html! {
        @if rights.is_empty() { span.none { "không" } }
        @else {
            ul.rights {
                @for right in rights {
                    li data-right=(kind) {
                        (any(&right.types, "mọi loại")) " → " (any(&right.agencies, "mọi cơ quan"))
                    }
                }
            }
        }
    }
}

fn service_rights(rights: &[ServiceRight]) -> Markup {
    html! {
        @if rights.is_empty() { span.none { "không" } }
        @else {
            ul.rights {
                @for right in rights {
                    li data-right="service" data-service=(right.service) {
                        (if right.service == ANY { "mọi dịch vụ".to_string() } else { right.service.clone() })
                        ": "
                        @if right.fields.is_empty() { "chỉ đối chiếu, không trường nào" }
                        @else { (any(&right.fields, "mọi trường")) }
                        @if !right.procedures.is_empty() { " (chỉ cho hồ sơ thủ tục " (right.procedures.join(", ")) ")" }
                    }
                }
            }
        }
    }
}

fn scope_word(scope: Scope) -> &'static str {
    match scope {
        Scope::None => "không",
        Scope::Own => "của mình",
        Scope::All => "tất cả",
    }
}

fn read_rights(read: &ReadRights) -> Markup {
    html! {
        ul.rights {
            li data-right="read-messages" { "Thông điệp: " (scope_word(read.messages)) }
            li data-right="read-dossiers" {
                "Hồ sơ của cơ quan: "
                @if read.dossiers.is_empty() { "không" } @else { (any(&read.dossiers, "mọi cơ quan")) }
            }
            li data-right="read-lookups" { "Nhật ký tra cứu: " (scope_word(read.lookups)) }
            li data-right="read-reports" { "Báo cáo của tỉnh: " (if read.reports { "có" } else { "không" }) }
        }
    }
}

/// Every right of one member, by kind.
fn rights(rights: &Rights) -> Markup {
    html! {
        section.rights {
            h2 { "Quyền" }
            dl {
                dt { "Gửi thông điệp (loại → cơ quan)" } dd { (send_rights(&rights.send)) }
                @if !rights.receive.is_empty() {
                    dt { "Bộ kết nối của mình nhận (loại → cơ quan)" } dd { (message_rights("receive", &rights.receive)) }
                }
                @if !rights.offer.is_empty() {
                    dt { "Dịch vụ bộ kết nối của mình trả lời" } dd { (any(&rights.offer, "mọi dịch vụ")) }
                }
                dt { "Dịch vụ được hỏi (trường)" } dd { (service_rights(&rights.services)) }
                dt { "Quyền đọc" } dd { (read_rights(&rights.read)) }
            }
        }
    }
}

/// The admin's form: grant or revoke one right, of one of three kinds.
fn change_form(console: &ConsoleState, id: &str) -> Markup {
    let app = &console.app;
    let types: Vec<&str> = app.catalogue.message_types().collect();
    let mut services: Vec<String> = app.catalogue.services().map(String::from).collect();
    services.extend(app.fleet.adapters().current().services());
    services.sort_unstable();
    services.dedup();
    let action = format!("/console/members/{id}/rights");
    let buttons = html! {
        button type="submit" name="action" value="grant" data-action="grant" { "Cấp" }
        button.secondary type="submit" name="action" value="revoke" data-action="revoke" { "Thu hồi" }
    };
    html! {
        section.change-rights {
            h2 { "Cấp hoặc thu hồi một quyền" }
            p.note { "Thay đổi có hiệu lực từ lần gọi tiếp theo của thành viên và được ghi vào nhật ký thông điệp cùng tên người thực hiện." }
            datalist #message-types { option value="*" {} @for t in &types { option value=(t) {} } }
            form.search.right method="post" action=(action) data-kind="send" {
                input type="hidden" name="kind" value="send";
                strong { "Gửi thông điệp" }
                label { "Loại (cách nhau bởi dấu phẩy; * là mọi loại)" input #send-types name="types" type="text" list="message-types" required; }
                label { "Cơ quan (mã, cách nhau bởi dấu phẩy; * là mọi cơ quan)" input #send-agencies name="agencies" type="text" required placeholder="000.00.31.H42"; }
                (buttons)
            }
            form.search.right method="post" action=(action) data-kind="service" {
                input type="hidden" name="kind" value="service";
                strong { "Hỏi dịch vụ" }
                label { "Dịch vụ"
                    select #service name="service" required {
                        @for s in &services { option value=(s) { (s) } }
                        option value="*" { "* (mọi dịch vụ)" }
                    }
                }
                label { "Trường (cách nhau bởi dấu phẩy; trống: chỉ đối chiếu; khi thu hồi, trống là cả dịch vụ)" input #service-fields name="fields" type="text"; }
                label { "Chỉ cho thủ tục (mã, không bắt buộc)" input #service-procedures name="procedures" type="text"; }
                (buttons)
            }
            form.search.right method="post" action=(action) data-kind="read" {
                input type="hidden" name="kind" value="read";
                strong { "Quyền đọc" }
                label { "Quyền"
                    select #read name="read" required {
                        option value="messages-own" { "Thông điệp của mình" }
                        option value="messages-all" { "Mọi thông điệp" }
                        option value="lookups-own" { "Nhật ký tra cứu của mình" }
                        option value="lookups-all" { "Mọi nhật ký tra cứu" }
                        option value="dossiers" { "Hồ sơ của các cơ quan (nhập mã)" }
                        option value="reports" { "Báo cáo của tỉnh" }
                    }
                }
                label { "Cơ quan (chỉ với hồ sơ)" input #read-agencies name="agencies" type="text" placeholder="000.00.31.H42"; }
                (buttons)
            }
        }
    }
}

/// One right, as the form sends it.
#[derive(Deserialize, Default)]
pub struct RightForm {
    action: Option<String>,
    kind: Option<String>,
    types: Option<String>,
    agencies: Option<String>,
    service: Option<String>,
    fields: Option<String>,
    procedures: Option<String>,
    read: Option<String>,
}

/// A form's list: items separated by commas or spaces.
fn list_of(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(String::from)
        .collect()
}

/// Whether the form grants (or revokes), and the change it names; why not, in words.
fn asked(form: &RightForm) -> Result<(bool, RightsChange), String> {
    let grant = match form.action.as_deref() {
        Some("grant") => true,
        Some("revoke") => false,
        _ => return Err("hãy chọn cấp hoặc thu hồi.".into()),
    };
    let change = match form.kind.as_deref() {
        Some("send") => {
            let (types, agencies) = (list_of(&form.types), list_of(&form.agencies));
            if types.is_empty() || agencies.is_empty() {
                return Err("quyền gửi cần ít nhất một loại thông điệp và một cơ quan (hoặc *).".into());
            }
            RightsChange { send: Some(MessageRight { types, agencies }), ..Default::default() }
        }
        Some("service") => {
            let Some(service) = field(&form.service) else { return Err("hãy chọn một dịch vụ.".into()) };
            let right = ServiceRight { service, fields: list_of(&form.fields), procedures: list_of(&form.procedures) };
            RightsChange { service: Some(right), ..Default::default() }
        }
        Some("read") => {
            let mut read = ReadRights::default();
            match form.read.as_deref() {
                Some("messages-own") => read.messages = Scope::Own,
                Some("messages-all") => read.messages = Scope::All,
                Some("lookups-own") => read.lookups = Scope::Own,
                Some("lookups-all") => read.lookups = Scope::All,
                Some("reports") => read.reports = true,
                Some("dossiers") => {
                    read.dossiers = list_of(&form.agencies);
                    if read.dossiers.is_empty() {
                        return Err("quyền đọc hồ sơ cần ít nhất một mã cơ quan (hoặc *).".into());
                    }
                }
                _ => return Err("hãy chọn một quyền đọc.".into()),
            }
            RightsChange { read: Some(read), ..Default::default() }
        }
        _ => return Err("hãy chọn loại quyền: gửi, dịch vụ hoặc đọc.".into()),
    };
    Ok((grant, change))
}

/// `POST /console/members/{id}/rights`: grant or revoke the one right the form names.
pub async fn change(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<RightForm>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return page::refused("Yêu cầu không đến từ bảng điều khiển.");
    }
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let (grant, change) = match asked(&form) {
        Ok(asked) => asked,
        Err(why) => return render(&console, &operator, &id, Some((StatusCode::BAD_REQUEST, Notice::Refused(why)))),
    };
    let (status, notice, refused) = match change_member_rights(&console.app, &operator, &id, &change, grant).await {
        Ok(_) => {
            let done = if grant { "Đã cấp" } else { "Đã thu hồi" };
            (StatusCode::OK, Notice::Done(format!("{done} quyền cho {id}: có hiệu lực từ lần gọi tiếp theo.")), None)
        }
        Err(problem) => {
            let (why, refused) = refusal(&problem);
            (problem.kind.status(), Notice::Refused(why), Some(refused))
        }
    };
    let mut response = render(&console, &operator, &id, Some((status, notice)));
    if let Some(refused) = refused {
        response.extensions_mut().insert(refused);
    }
    response
}

/// Why the bus refused a change, with each right it could not take.
fn refusal(problem: &Problem) -> (String, Refused) {
    let (mut why, refused) = page::refusal(problem);
    for violation in &problem.violations {
        why.push_str(&format!("; {}", violation.reason));
    }
    (why, refused)
}
