//! The console's dossier monitoring page, over real HTTP with a session cookie: October 2026's
//! dossiers sent through a real bus (as `reports.rs` sends them) show on the page with the
//! counts the API gives (the province's and each agency's share resolved in time, against the
//! plans' targets), the late list names the late dossiers with their explanation and apology,
//! the unexplained ones marked, each linked to its messages; a month that is not one is refused
//! with 400; the report and the late list download as the API's own XLSX and CSV.

mod common;

use common::console::Console;
use common::october::*;
use reqwest::header::LOCATION;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The HTML from `start` to the end of the element it opens (`</tag>`), for looking inside one
/// row.
fn element<'a>(page: &'a str, start: &str, tag: &str) -> &'a str {
    let from = page.find(start).unwrap_or_else(|| panic!("{start} not on the page: {page}"));
    let rest = &page[from..];
    let end = rest.find(&format!("</{tag}>")).unwrap_or_else(|| panic!("{start} never closes"));
    &rest[..end]
}

/// The text of the cell `field` in `row`, its tags removed.
fn cell(row: &str, field: &str) -> String {
    let open = format!("data-field=\"{field}\"");
    let td = element(row, &open, "td");
    let mut text = String::new();
    let mut in_tag = true; // the rest of the opening tag
    for c in td.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_string()
}

fn opening_tag<'a>(page: &'a str, start: &str) -> &'a str {
    let from = page.find(start).unwrap_or_else(|| panic!("{start} not on the page: {page}"));
    let before = page[..from].rfind('<').unwrap();
    let end = from + page[from..].find('>').unwrap();
    &page[before..=end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_page_shows_the_months_counts_against_the_targets_and_its_late_list() {
    let bus = october().await;
    let console = Console::sign_in(&bus, "viewer").await;
    let (status, page) = console.get("/console/dossiers?month=2026-10").await;
    assert_eq!(status, 200, "a viewer reads the reports: {page}");
    assert!(page.contains("<h1>Theo dõi hồ sơ</h1>") && page.contains("href=\"/console/dossiers\">Hồ sơ</a>"));
    assert!(page.contains("Toàn tỉnh, tháng 10/2026"), "{page}");

    // The province: 2 of 3 resolved in time, below the 90 % target; 1 of 3 early, below 60 %;
    // 1 of 6 received through the post, below 20 %; 1 of 2 fees paid online, below 60 %.
    let indicator = |key: &str| {
        let li = element(&page, &format!("data-indicator=\"{key}\""), "li");
        (opening_tag(&page, &format!("data-indicator=\"{key}\"")).to_string(), li.to_string())
    };
    let (tag, in_time) = indicator("in-time");
    assert!(tag.contains("data-met=\"no\"") && in_time.contains("66,67%") && in_time.contains("≥ 90%"), "{in_time}");
    assert!(in_time.contains("2 / 3 hồ sơ") && in_time.contains("chưa đạt"), "{in_time}");
    let (tag, early) = indicator("early");
    assert!(tag.contains("data-met=\"no\"") && early.contains("33,33%"), "{early}");
    let (tag, postal) = indicator("postal");
    assert!(tag.contains("data-met=\"no\"") && postal.contains("16,67%"), "{postal}");
    let (tag, payment) = indicator("online-payment");
    assert!(tag.contains("data-met=\"no\"") && payment.contains("50%"), "{payment}");
    let (_, received) = indicator("received");
    assert!(received.contains("<strong class=\"value\">6</strong>"), "{received}");
    assert!(received.contains("Trực tiếp 2 · trực tuyến 3 · bưu chính 1") && received.contains("chuyển sang: 1"));
    let (tag, pending_late) = indicator("pending-late");
    assert!(tag.contains("data-met=\"none\"") && pending_late.contains(">2</strong>"), "{pending_late}");

    // Per agency, as `GET /v1/reports/monthly` counts them.
    let a = element(&page, &format!("data-group=\"{A}\""), "tr");
    assert_eq!(cell(a, "new_reception"), "5");
    assert_eq!(cell(a, "solved_in_time"), "2 (66,67%)");
    assert_eq!(
        (cell(a, "solved_late"), cell(a, "total_pending"), cell(a, "pending_late")),
        ("1".into(), "2".into(), "1".into())
    );
    // A: 1 of 5 through the post is the 20 % target, met (at least); its in-time share is not.
    assert_eq!(cell(a, "postal_percent"), "20%");
    assert!(opening_tag(a, "data-field=\"postal_percent\"").contains("class=\"num\""), "{a}");
    assert!(opening_tag(a, "data-field=\"solved_in_time\"").contains("unmet"), "{a}");
    assert!(a.contains("<svg class=\"bar\"") && a.contains("<rect class=\"in-time\""), "{a}");
    let b = element(&page, &format!("data-group=\"{B}\""), "tr");
    assert_eq!((cell(b, "new_reception"), cell(b, "pre_existing")), ("1".into(), "1".into()));
    assert_eq!(cell(b, "solved_in_time"), "0 (-)", "nothing resolved: no share, and no verdict");
    let province = element(&page, "data-province", "tr");
    assert!(province.contains("Toàn tỉnh"), "{province}");
    assert_eq!((cell(province, "solved_in_time"), cell(province, "pending_late")), ("2 (66,67%)".into(), "2".into()));

    // The late list: A-5 and B-1 still open past their dates, A-3 resolved two working days
    // late, explained and apologised for; the two without an apology are marked.
    let late = element(&page, "<section class=\"dossier-late\"", "section");
    let codes: Vec<&str> = late.split("data-late=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect();
    assert_eq!(codes, [A5, A3, B1], "by agency, then due date: {late}");
    assert!(late.contains("data-missing=\"2\""), "{late}");
    let row = |code: &str| element(late, &format!("data-late=\"{code}\""), "tr").to_string();
    let (a3, a5, b1) = (row(A3), row(A5), row(B1));
    assert_eq!(cell(&a3, "reason"), "Chờ xác minh nơi cư trú");
    assert!(a3.contains("data-apology=\"yes\"") && a3.contains("Số 12/TXL"), "{a3}");
    assert!(a3.contains("Đã giải quyết lúc 10:00:00 14/10/2026") && a3.contains("17:00:00 12/10/2026"), "{a3}");
    assert_eq!(cell(&a3, "working_days_late"), "2");
    assert!(!opening_tag(late, &format!("data-late=\"{A3}\"")).contains("unexplained"), "{a3}");
    assert_eq!((cell(&a5, "reason"), cell(&a5, "working_days_late")), ("Chưa có lý do".into(), "16".into()));
    assert!(a5.contains("data-apology=\"no\"") && a5.contains("Chưa giải quyết"), "{a5}");
    assert!(opening_tag(late, &format!("data-late=\"{A5}\"")).contains("class=\"unexplained\""), "{a5}");
    assert_eq!((cell(&b1, "reason"), cell(&b1, "working_days_late")), ("Chờ ý kiến Sở Tài chính".into(), "25".into()));
    assert!(opening_tag(late, &format!("data-late=\"{B1}\"")).contains("class=\"unexplained\""), "no apology: {b1}");
    assert!(!page.contains("042198000002") && !page.contains("Trần Thị Bình"), "no applicant is named");

    // A late dossier's link leads to its messages.
    let link = format!("/console/messages?dossier={A5}");
    assert!(a5.contains(&format!("href=\"{link}\"")), "{a5}");
    let (status, messages) = console.get(&link).await;
    assert_eq!(status, 200);
    assert!(messages.contains("Tìm thấy 1 thông điệp") && messages.contains("dossier.submitted"), "{messages}");

    // One agency; per procedure, named from the catalogue.
    let (_, only_b) = console.get(&format!("/console/dossiers?month=2026-10&agency={B}")).await;
    assert!(only_b.contains(&format!("Cơ quan {B}, tháng 10/2026")), "{only_b}");
    assert!(only_b.contains(&format!("data-group=\"{B}\"")) && !only_b.contains(&format!("data-group=\"{A}\"")));
    let (_, per_procedure) = console.get("/console/dossiers?month=2026-10&by=procedure").await;
    let residence = element(&per_procedure, &format!("data-group=\"{RESIDENCE}\""), "tr");
    assert!(residence.contains("Đăng ký thường trú"), "{residence}");
    assert_eq!(cell(residence, "solved_in_time"), "2 (66,67%)");
    // The month's neighbours keep the grouping.
    assert!(per_procedure.contains("href=\"/console/dossiers?month=2026-09&amp;by=procedure\""), "{per_procedure}");

    // No month: this one, in Vietnam's time.
    let vietnam = time::UtcOffset::from_hms(7, 0, 0).unwrap();
    let month = || {
        let today = time::OffsetDateTime::now_utc().to_offset(vietnam).date();
        format!("{}-{:02}", today.year(), u8::from(today.month()))
    };
    let before = month();
    let (status, now) = console.get("/console/dossiers").await;
    let after = month();
    assert_eq!(status, 200);
    assert!(
        now.contains(&format!("value=\"{before}\"")) || now.contains(&format!("value=\"{after}\"")),
        "{before}: {now}"
    );
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_that_is_not_one_is_refused_and_the_downloads_are_the_apis_files() {
    let bus = october().await;
    let console = Console::sign_in(&bus, "operator").await;

    // Refused, saying why, with the form to ask again; nothing else breaks.
    for (query, why) in [
        ("month=2026-13", "`2026-13` không phải một tháng"),
        ("month=10-2026", "`10-2026` không phải một tháng"),
        ("month=2026-10&by=district", "`district` không phải cách nhóm"),
    ] {
        let (status, page) = console.get(&format!("/console/dossiers?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(page.contains(why) && page.contains("role=\"alert\""), "{query}: {page}");
        assert!(page.contains("action=\"/console/dossiers\"") && !page.contains("data-indicator"), "{page}");
        let (status, _) = console.get(&format!("/console/dossiers/report.xlsx?{query}")).await;
        assert_eq!(status, 400, "no file for {query}");
    }
    let (status, _) = console.get("/console/dossiers?month=2026-10").await;
    assert_eq!(status, 200, "the page still answers");
    assert_eq!(console.get("/console/dossiers/report.pdf?month=2026-10").await.0, 404);

    // The page links to each file.
    let (_, page) = console.get(&format!("/console/dossiers?month=2026-10&agency={A}")).await;
    for file in ["report.xlsx", "report.csv", "late.xlsx", "late.csv"] {
        let href = format!("href=\"/console/dossiers/{file}?month=2026-10&amp;agency={A}\"");
        assert!(page.contains(&href), "{href}: {page}");
    }

    // The report: an Excel workbook (a zip archive), and the CSV the API gives, byte for byte.
    let xlsx = console.download("/console/dossiers/report.xlsx?month=2026-10", XLSX, "bao-cao-2026-10.xlsx").await;
    assert_eq!(&xlsx[..4], b"PK\x03\x04", "an XLSX file is a zip archive");
    let csv = console.download("/console/dossiers/report.csv?month=2026-10", "text/csv", "bao-cao-2026-10.csv").await;
    let text = String::from_utf8(csv.clone()).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header = lines.next().unwrap();
    assert!(
        header
            .starts_with("AgencyCode,Month,Year,NewReception,PreExisting,TotalSolved,SolvedInTime,SolvedInTimePercent"),
        "{header}"
    );
    assert!(lines.next().unwrap().starts_with(&format!("{A},10,2026,5,0,3,2,66.67,1,33.33,2,1,50.00")), "{text}");
    let api = bus.api.http.get(format!("{}/v1/reports/monthly?month=2026-10&format=csv", bus.api.base)).send().await;
    assert_eq!(api.unwrap().bytes().await.unwrap().to_vec(), csv, "the API's file");
    let per_procedure = console
        .download("/console/dossiers/report.csv?month=2026-10&by=procedure", "text/csv", "bao-cao-2026-10.csv")
        .await;
    assert!(
        String::from_utf8(per_procedure)
            .unwrap()
            .trim_start_matches('\u{feff}')
            .starts_with("ProcedureCode,Month,Year,")
    );

    // The late list, both ways; one agency's only.
    let xlsx = console.download("/console/dossiers/late.xlsx?month=2026-10", XLSX, "ho-so-tre-han-2026-10.xlsx").await;
    assert_eq!(&xlsx[..4], b"PK\x03\x04");
    let late =
        console.download("/console/dossiers/late.csv?month=2026-10", "text/csv", "ho-so-tre-han-2026-10.csv").await;
    let late = String::from_utf8(late).unwrap();
    assert!(late.trim_start_matches('\u{feff}').starts_with("DossierCode,AgencyCode,ProcedureCode,"), "{late}");
    assert!(late.contains(&format!("{A3},{A},{RESIDENCE},Đăng ký thường trú,18073,")), "{late}");
    assert!(late.contains("Chờ xác minh nơi cư trú,yes,") && late.contains("Chờ ý kiến Sở Tài chính,no"), "{late}");
    let only_b = format!("/console/dossiers/late.csv?month=2026-10&agency={B}");
    let only_b = String::from_utf8(console.download(&only_b, "text/csv", "ho-so-tre-han-2026-10.csv").await).unwrap();
    assert_eq!((only_b.lines().count(), only_b.contains(B1), only_b.contains(A5)), (2, true, false), "{only_b}");

    // Not signed in: the sign-in page, not the file.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = anonymous.get(format!("{}/console/dossiers/late.xlsx?month=2026-10", bus.api.base)).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/console/sign-in");
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_the_dossiers_without_a_reload() {
    let bus = october().await;
    let console = Console::sign_in(&bus, "viewer").await;
    let (_, page) = console.get("/console/dossiers?month=2026-10").await;
    assert!(page.contains("data-live=\"/console/dossiers/live?month=2026-10\""), "{page}");
    let mut live =
        Events { response: console.fetch("/console/dossiers/live?month=2026-10").await, buffer: String::new() };
    assert_eq!(live.response.headers()["content-type"], "text/event-stream");
    let first = live.next().await;
    assert!(first.starts_with("event: dossiers"), "{first}");
    assert!(still_open_late(&first).contains(&A5), "{first}");

    // Agency A's overdue dossier is resolved: a later event no longer lists it as open.
    let overdue = Dossier {
        code: A5,
        agency: A,
        procedure: RESIDENCE,
        channel: "counter",
        received: "2026-10-01T08:00:00+07:00",
        due: "2026-10-08T17:00:00+07:00",
        fee: false,
    };
    change(&bus, &overdue, 10, "2026-10-20T10:00:00+07:00", serde_json::json!({})).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    while still_open_late(&tokio::time::timeout_at(deadline, live.next()).await.expect("an event within 40 s"))
        .contains(&A5)
    {}
    bus.stop().await;
}

/// The dossiers the late list in an event shows as still open.
fn still_open_late(event: &str) -> Vec<&'static str> {
    let codes = [A1, A2, A3, A4, A5, A6, B1, B2, B3];
    let open_rows = event.split("<tr").filter(|row| row.contains("Chưa giải quyết"));
    open_rows.filter_map(|row| codes.iter().find(|code| row.contains(*code)).copied()).collect()
}

/// A stream of server-sent events, read one whole event at a time.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn next(&mut self) -> String {
        loop {
            if let Some((event, rest)) = self.buffer.split_once("\n\n") {
                let event = event.to_string();
                self.buffer = rest.to_string();
                return event;
            }
            let chunk = self.response.chunk().await.unwrap().expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
