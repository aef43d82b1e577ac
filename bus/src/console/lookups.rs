//! The lookups page, for auditors: who looked up whose personal data, for which dossier, which
//! fields they asked for and which the answer held, how it ended, and when; a citizen's history
//! found by their CCCD, a dossier's by its code. What the page shows is what the API's
//! `GET /v1/lookups` answers an auditor, asked through the same function (the same role check:
//! every other role is refused, as the API refuses it).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::page::{self, Notice, field, vietnam_at};
use super::session::Operator;
use crate::http::reports::{Lookup, LookupQuery, find_lookups};

/// Lookups shown at most: the newest that match.
pub const SHOWN: u32 = 200;

/// What to look for, as the form sends it.
#[derive(Deserialize, Default)]
pub struct LookupForm {
    /// Whose data: a CCCD (or an MST).
    subject: Option<String>,
    /// The dossier the lookups were made for.
    dossier: Option<String>,
}

/// `GET /console/lookups?subject=…&dossier=…`: the search form and the newest lookups that match.
pub async fn search(
    State(console): State<ConsoleState>,
    Operator(operator): Operator,
    query: Result<Query<LookupForm>, QueryRejection>,
) -> Response {
    const TITLE: &str = "Tra cứu dữ liệu cá nhân";
    let form = query.map(|Query(form)| form).unwrap_or_default();
    let (subject, dossier) = (field(&form.subject), field(&form.dossier));
    // One more than shown: whether there are more.
    let query = LookupQuery { dossier_code: dossier.clone(), subject: subject.clone(), limit: Some(SHOWN + 1) };
    let found = match find_lookups(&console.app, &operator, query).await {
        Ok(found) => found.lookups,
        Err(problem) => {
            // Not an auditor: the refusal only, not even the form.
            let (why, refused) = page::refusal(&problem);
            let body = html! { (Notice::show(&Some(Notice::Refused(why)))) };
            let mut response = page::frame(&operator, TITLE, body);
            *response.status_mut() = problem.kind.status();
            response.extensions_mut().insert(refused);
            return response;
        }
    };
    let body = html! {
        p.note {
            "Mỗi lần một thành viên hỏi dữ liệu cá nhân qua nền tảng (đối chiếu công dân, tra cứu doanh nghiệp, giấy tờ đã có) "
            "đều được ghi lại trước khi câu trả lời rời khỏi nền tảng. Trang này dành cho cán bộ kiểm toán: số định danh "
            "được hiện đầy đủ để đối chiếu yêu cầu của công dân; không sao chép ra ngoài."
        }
        form.search method="get" action="/console/lookups" {
            label { "Số định danh của công dân (CCCD) hoặc mã số thuế"
                input #subject name="subject" type="text" inputmode="numeric" autocomplete="off" value=(subject.as_deref().unwrap_or("")) placeholder="001203000001";
            }
            label { "Mã hồ sơ" input #dossier name="dossier" type="text" value=(dossier.as_deref().unwrap_or("")) placeholder="000.00.01.H42-261120-0001"; }
            button type="submit" { "Tìm" }
        }
        (results(&found, subject.as_deref(), dossier.as_deref()))
    };
    page::frame(&operator, TITLE, body)
}

fn results(found: &[Lookup], subject: Option<&str>, dossier: Option<&str>) -> Markup {
    let shown = &found[..found.len().min(SHOWN as usize)];
    let whose = match (subject, dossier) {
        (Some(subject), Some(dossier)) => format!(" về {subject} cho hồ sơ {dossier}"),
        (Some(subject), None) => format!(" về {subject}"),
        (None, Some(dossier)) => format!(" cho hồ sơ {dossier}"),
        (None, None) => String::new(),
    };
    html! {
        section {
            @if found.is_empty() {
                p.count { "Không có lượt tra cứu nào" (whose) "." }
            } @else if found.len() > SHOWN as usize {
                p.count { "Chỉ hiện " (SHOWN) " lượt tra cứu mới nhất" (whose) "; hãy tìm theo số định danh hoặc mã hồ sơ để xem các lượt cũ hơn." }
            } @else {
                p.count { (found.len()) " lượt tra cứu" (whose) ", mới nhất trước." }
            }
            @if !shown.is_empty() {
                table.lookups {
                    thead { tr {
                        th { "Lúc" } th { "Thành viên hỏi" } th { "Dịch vụ" } th { "Mã hồ sơ" } th { "Dữ liệu của" }
                        th { "Trường hỏi" } th { "Trường trả về" } th { "Kết quả" }
                    } }
                    tbody {
                        @for lookup in shown {
                            tr data-lookup=(lookup.id) data-outcome=(lookup.outcome) {
                                td { (vietnam_at(&lookup.at)) }
                                td { (lookup.member) }
                                td { (lookup.service) }
                                td.id { a href={ "/console/lookups?dossier=" (encoded(&lookup.dossier_code)) } { (lookup.dossier_code) } }
                                // In full, on this page only. The API answers `GET /v1/lookups` in
                                // full to the same people (auditors: `may_read_lookups`, checked
                                // above), whose work is to answer a citizen who asks who looked at
                                // their data, and to tell two citizens apart for certain, which a
                                // masked number cannot. Everywhere else (messages, dead letters,
                                // errors, logs), which viewers and operators read, it stays masked.
                                // The page is never cached (`no-store`) and its address, which
                                // holds the number searched, goes to no other site
                                // (`Referrer-Policy: same-origin`); the message log's
                                // `request.refused` entries keep a path, never a query.
                                td.id.subject-full { a href={ "/console/lookups?subject=" (encoded(&lookup.subject)) } { (lookup.subject) } }
                                td { (fields(&lookup.fields)) }
                                td { (fields(&lookup.returned)) }
                                td { (outcome_word(&lookup.outcome)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn fields(list: &[String]) -> Markup {
    html! {
        @if list.is_empty() { span.none { "không" } }
        @else { @for field in list { span.field { (field) } " " } }
    }
}

/// How a lookup ended, in words: the reply's result, or why there was none.
fn outcome_word(outcome: &str) -> String {
    let word = match outcome {
        "match" => "khớp",
        "mismatch" => "không khớp",
        "not_found" => "không tìm thấy",
        "found" => "tìm thấy",
        "answered" => "đã trả lời",
        "refused" => "bị từ chối",
        "unavailable" => "hệ thống nguồn không trả lời",
        "timeout" => "quá thời gian chờ",
        "paused" => "bộ kết nối tạm dừng",
        "invalid_reply" => "câu trả lời không hợp lệ (không chuyển đi)",
        other => return other.to_string(),
    };
    format!("{word} ({outcome})")
}
