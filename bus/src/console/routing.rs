//! The routing page: the competence tables in use (their version, when they were loaded, how
//! many rules and units, the agencies the rules name, the unit catalogue, and why the last edit
//! was refused, if it was), and the question "which agency is competent for this procedure in
//! this unit?", answered as ingress would route a dossier: the agency and the trail of why, or
//! why none is. Every role may look, as every caller may ask the API's `GET /v1/routing` and
//! `GET /v1/routing/decision`, whose functions the page calls.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::page::{self, field, vietnam_at};
use super::session::Operator;
use crate::competence::Units;
use crate::http::routing::{RoutingDecision, RoutingTables, routing_decision, routing_tables};

/// The question, as the form sends it.
#[derive(Deserialize, Default)]
pub struct Question {
    procedure: Option<String>,
    unit: Option<String>,
}

/// `GET /console/routing?procedure=…&unit=…`: the tables, the question and its answer.
pub async fn page(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<Question>, QueryRejection>,
) -> Response {
    let app = &console.app;
    let question = query.map(|Query(q)| q).unwrap_or_default();
    let (procedure, unit) = (field(&question.procedure), field(&question.unit));
    let tables = routing_tables(app);
    let units = app.ingress.routes.as_ref().map(|routes| routes.current());
    let asked = procedure.is_some() || unit.is_some();
    let answer = match (&tables, asked) {
        (Ok(_), true) => Some(routing_decision(app, procedure.as_deref(), unit.as_deref())),
        _ => None,
    };
    let status = match &answer {
        Some(Err(problem)) => problem.kind.status(),
        _ => StatusCode::OK,
    };
    let procedure_name = procedure.as_deref().and_then(|code| app.ingress.procedures.get(code)).map(|p| p.name.clone());
    let body = html! {
        @match &tables {
            Err(_) => p.notice role="alert" {
                "Bus này không dùng bảng thẩm quyền ([routing] trong tệp cấu hình): hồ sơ được chuyển đến mọi bộ kết nối đăng ký nhận loại thông điệp đó."
            },
            Ok(tables) => {
                section.question {
                    h2 { "Cơ quan nào có thẩm quyền?" }
                    form.search method="get" action="/console/routing" {
                        label { "Mã thủ tục hành chính" input #procedure name="procedure" type="text" value=(procedure.as_deref().unwrap_or("")) placeholder="1.001234" required; }
                        label { "Mã đơn vị hành chính (tỉnh, xã, hoặc huyện cũ)" input #unit name="unit" type="text" list="units" value=(unit.as_deref().unwrap_or("")) placeholder="18073" required; }
                        button type="submit" { "Hỏi" }
                    }
                    @if let Some(units) = &units { (unit_list(units.units())) }
                    @match &answer {
                        None => {},
                        Some(Err(problem)) => p.notice role="alert" {
                            "Chưa hỏi được: "
                            @if problem.violations.is_empty() { (page::refusal(problem).0) }
                            @else { "hãy nhập cả mã thủ tục và mã đơn vị." }
                        },
                        Some(Ok(decision)) => (decided(decision, procedure.as_deref(), procedure_name.as_deref(), unit.as_deref())),
                    }
                }
                (tables_section(tables))
                @if let Some(units) = &units { (units_section(units.units())) }
            },
        }
    };
    let mut response = page::frame(&operator, "Định tuyến theo thẩm quyền", body);
    *response.status_mut() = status;
    response
}

/// The answer: the agency and why, or why none is competent.
fn decided(decision: &RoutingDecision, procedure: Option<&str>, name: Option<&str>, unit: Option<&str>) -> Markup {
    let procedure = match (procedure, name) {
        (Some(code), Some(name)) => format!("{code} ({name})"),
        (Some(code), None) => code.to_string(),
        _ => String::new(),
    };
    let unit = unit.unwrap_or("");
    html! {
        @match &decision.agency {
            Some(agency) if decision.routed => div.done.decision role="status" data-routed="true" data-agency=(agency) {
                p { "Thủ tục " (procedure) " tại đơn vị " (unit) ": cơ quan có thẩm quyền là " strong.agency { (agency) } "." }
                p.reason { "Căn cứ: " (decision.reason) }
                p.note { "Theo bảng thẩm quyền phiên bản " span.id { (decision.version) } "." }
            },
            _ => div.notice.decision role="alert" data-routed="false" {
                p { "Không có cơ quan nào có thẩm quyền với thủ tục " (procedure) " tại đơn vị " (unit) ": hồ sơ như vậy sẽ bị từ chối khi gửi đến." }
                p.reason { "Lý do: " (decision.reason) }
                p.note { "Theo bảng thẩm quyền phiên bản " span.id { (decision.version) } "." }
            },
        }
    }
}

/// What the form suggests for a unit: every unit of the catalogue.
fn unit_list(units: &Units) -> Markup {
    html! {
        datalist #units {
            @for (code, province) in &units.provinces { option value=(code) { (province.name) } }
            @for (code, commune) in &units.communes { option value=(code) { (commune.name) } }
            @for (code, district) in &units.districts { option value=(code) { (district.name) " (cũ)" } }
        }
    }
}

fn tables_section(tables: &RoutingTables) -> Markup {
    html! {
        section.tables {
            h2 { "Bảng thẩm quyền đang dùng" }
            dl {
                dt { "Phiên bản" } dd.id data-version=(tables.version) { (tables.version) }
                dt { "Nạp lúc" } dd { (vietnam_at(&tables.loaded_at)) }
                dt { "Số quy tắc" } dd data-rules=(tables.rules) { (tables.rules) }
                dt { "Đơn vị" } dd { (tables.provinces) " tỉnh, " (tables.communes) " xã, " (tables.districts) " huyện cũ (trước 1/7/2025)" }
                dt { "Cơ quan có thẩm quyền" } dd {
                    @if tables.agencies.is_empty() { "-" }
                    @for agency in &tables.agencies { span.agency data-agency=(agency) { (agency) } " " }
                }
            }
            @if let Some(refused) = &tables.refused {
                div.notice.refused-edit role="alert" {
                    p { "Lần sửa bảng lúc " (vietnam_at(&refused.at)) " bị từ chối; bảng cũ vẫn được dùng cho đến khi sửa đúng:" }
                    ul { @for problem in &refused.problems { li { span.id { (problem.key) } ": " (problem.reason) } } }
                }
            }
        }
    }
}

fn units_section(units: &Units) -> Markup {
    html! {
        section.units {
            h2 { "Danh mục đơn vị hành chính" }
            details {
                summary { (units.provinces.len() + units.communes.len() + units.districts.len()) " đơn vị" }
                table {
                    thead { tr { th { "Mã" } th { "Tên" } th { "Loại" } th { "Thuộc / nay là" } } }
                    tbody {
                        @for (code, province) in &units.provinces {
                            tr data-unit=(code) { td.id { (code) } td { (province.name) } td { "tỉnh" } td { "-" } }
                        }
                        @for (code, commune) in &units.communes {
                            tr data-unit=(code) { td.id { (code) } td { (commune.name) } td { "xã" } td { "tỉnh " (commune.province) } }
                        }
                        @for (code, district) in &units.districts {
                            tr data-unit=(code) { td.id { (code) } td { (district.name) } td { "huyện cũ" } td { "nay là " (district.now) } }
                        }
                    }
                }
            }
        }
    }
}
