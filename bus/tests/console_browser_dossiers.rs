//! The dossier monitoring page in a real browser (headless Chromium over WebDriver:
//! `scripts/chromium/ensure.sh`): an operator opens October 2026, sees its counts and a late
//! dossier with no explanation in the late list, follows that dossier to its message's path,
//! and downloads the late list as an Excel workbook, fetched by the page itself with its session.
//! Screenshots: `target/console-screenshots/dossiers.png` and `late-list.png`.

mod common;

use common::TestBus;
use lgsp_bus::Outcome;
use lgsp_bus::testing::SECRET;
use lgsp_bus::testing::browser::{Browser, Locator};
use serde_json::{Value, json};

const A: &str = "000.00.01.H42";
const B: &str = "000.00.02.H42";
/// In the test catalogue, with 5 working days: received Monday 5 October, due Monday 12.
const RESIDENCE: &str = "1.001234";
const LICENCE: &str = "2.000123";
const IN_TIME: &str = "000.00.01.H42-261001-0001";
const EXPLAINED: &str = "000.00.01.H42-261001-0002";
const UNEXPLAINED: &str = "000.00.01.H42-261001-0003";
const CARRIED: &str = "000.00.02.H42-261001-0001";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn envelope(message_type: &str, code: &str, seq: u64, at: &str, payload: Value) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "type": message_type, "source": "onestop.sandbox", "subject": code,
        "seq": seq, "occurred_at": at, "payload": payload,
    })
}

/// A dossier's state as the one-stop system sends it.
fn dossier(code: &str, agency: &str, procedure: &str, channel: &str, received: &str) -> Value {
    json!({
        "dossier_code": code, "procedure_code": procedure, "agency_code": agency, "channel": channel,
        "received_at": received, "due_at": "2026-09-25T17:00:00+07:00", "unit_code": "18073",
        "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"},
    })
}

/// Sends it; its id.
async fn send(bus: &TestBus, envelope: Value) -> String {
    let (status, body) = bus.post(&envelope).await;
    assert_eq!(status, 202, "{body}");
    envelope["id"].as_str().unwrap().to_string()
}

/// Resolved at `at`, with `late` if it says why it was late.
async fn resolve(bus: &TestBus, mut payload: Value, at: &str, late: Option<Value>) {
    payload["status"] = json!(10);
    payload["completed_at"] = json!(at);
    if let Some(late) = late {
        payload["late"] = late;
    }
    let code = payload["dossier_code"].as_str().unwrap().to_string();
    send(bus, envelope("dossier.status_changed", &code, 2, at, payload)).await;
}

#[tokio::test]
async fn a_leader_reads_the_month_follows_a_late_dossier_and_downloads_the_late_list() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);
    let in_time = dossier(IN_TIME, A, RESIDENCE, "online", "2026-10-05T08:00:00+07:00");
    let explained = dossier(EXPLAINED, A, RESIDENCE, "post", "2026-10-05T09:00:00+07:00");
    let unexplained = dossier(UNEXPLAINED, A, RESIDENCE, "counter", "2026-10-01T08:00:00+07:00");
    let carried = dossier(CARRIED, B, LICENCE, "counter", "2026-09-20T08:00:00+07:00");
    let mut unexplained_id = String::new();
    for d in [&in_time, &explained, &unexplained, &carried] {
        let (code, received) = (d["dossier_code"].as_str().unwrap(), d["received_at"].as_str().unwrap());
        let id = send(&bus, envelope("dossier.submitted", code, 1, received, d.clone())).await;
        if code == UNEXPLAINED {
            unexplained_id = id;
        }
    }
    resolve(&bus, in_time, "2026-10-09T15:00:00+07:00", None).await;
    let why = json!({"reason": "Chờ xác minh nơi cư trú", "apology_issued_at": "2026-10-13T16:30:00+07:00", "apology_reference": "12/TXL"});
    resolve(&bus, explained, "2026-10-14T10:00:00+07:00", Some(why)).await;
    bus.wait_state(&unexplained_id, "delivered").await;

    let base = bus.api.base.clone();
    let browser = Browser::start().await;
    browser.client.set_window_size(1280, 900).await.unwrap();
    browser.sign_in(&base, "operator", SECRET).await;
    browser.shows("//h1[. = 'Tổng quan']").await;

    // From the menu to this month's page, then October's.
    browser.client.find(Locator::XPath("//nav/a[. = 'Hồ sơ']")).await.unwrap().click().await.unwrap();
    browser.shows("//h1[. = 'Theo dõi hồ sơ']").await;
    browser.client.goto(&format!("{base}/console/dossiers?month=2026-10")).await.unwrap();
    browser.shows("//h2[contains(., 'Toàn tỉnh, tháng 10/2026')]").await;
    // 1 of 2 resolved in time: 50 %, short of the 90 % target.
    browser.shows("//li[@data-indicator='in-time'][@data-met='no']/strong[. = '50%']").await;
    browser.shows(&format!("//tr[@data-group='{A}']/td[@data-field='solved_in_time'][contains(., '(50%)')]")).await;
    // Tall enough for the summary, the table per agency and the late list's start.
    browser.client.set_window_size(1280, 1400).await.unwrap();
    browser.screenshot("dossiers").await;
    // On a phone: the indicators two by two.
    browser.client.set_window_size(390, 844).await.unwrap();
    let summary = browser.client.find(Locator::Css("section.dossier-summary")).await.unwrap();
    browser
        .client
        .execute("arguments[0].scrollIntoView();", vec![serde_json::to_value(&summary).unwrap()])
        .await
        .unwrap();
    browser.screenshot("dossiers-phone").await;
    browser.client.set_window_size(1280, 900).await.unwrap();

    // The late list: the unexplained dossier marked, the explained one not.
    let row = |code: &str| format!("//section[contains(@class, 'dossier-late')]//tr[@data-late='{code}']");
    browser
        .shows(&format!(
            "{}[contains(@class, 'unexplained')]/td[@data-field='reason'][. = 'Chưa có lý do']",
            row(UNEXPLAINED)
        ))
        .await;
    browser.shows(&format!("{}[not(contains(@class, 'unexplained'))]/td[@data-apology='yes']", row(EXPLAINED))).await;
    browser.shows(&format!("{}/td[@data-apology='no']", row(CARRIED))).await;
    let late = browser.client.find(Locator::Css("section.dossier-late")).await.unwrap();
    browser.client.execute("arguments[0].scrollIntoView();", vec![serde_json::to_value(&late).unwrap()]).await.unwrap();
    browser.screenshot("late-list").await;

    // The late list as an Excel workbook, fetched by the page with its session.
    let link = browser.client.find(Locator::Css("a[data-download='late-xlsx']")).await.unwrap();
    let href = link.attr("href").await.unwrap().expect("a link to the file");
    assert_eq!(href, "/console/dossiers/late.xlsx?month=2026-10");
    let fetched = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer().then(b => done({
                 status: r.status,
                 type: r.headers.get('content-type'),
                 disposition: r.headers.get('content-disposition'),
                 first: String.fromCharCode(...new Uint8Array(b.slice(0, 4))),
                 size: b.byteLength,
             }))).catch(e => done({ error: String(e) }));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["type"], XLSX, "{fetched}");
    assert_eq!(fetched["disposition"], "attachment; filename=\"ho-so-tre-han-2026-10.xlsx\"", "{fetched}");
    assert_eq!(fetched["first"], "PK\u{3}\u{4}", "a zip archive: {fetched}");

    // The unexplained dossier, followed to its message's path.
    browser.client.find(Locator::XPath(&format!("{}//a", row(UNEXPLAINED)))).await.unwrap().click().await.unwrap();
    browser.shows("//h1[. = 'Thông điệp']").await;
    browser.shows("//p[contains(@class, 'count')][contains(., 'Tìm thấy 1 thông điệp')]").await;
    let message = format!("//tr[@data-message='{unexplained_id}']");
    browser.shows(&format!("{message}/td[. = 'dossier.submitted']")).await;
    browser.client.find(Locator::XPath(&format!("{message}//a"))).await.unwrap().click().await.unwrap();
    browser.shows("//h1[. = 'Đường đi của thông điệp']").await;
    browser.shows(&format!("//dd[. = '{UNEXPLAINED}']")).await;
    browser.shows("//tr[@data-delivery='scripted']/td[. = 'đã chuyển']").await;
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}
