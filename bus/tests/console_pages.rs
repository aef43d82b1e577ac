//! The console's messages and dead-letters pages, over real HTTP with a session cookie: a
//! search by dossier finds its messages and no other; a message's page shows its path (each
//! adapter's delivery, its dead letter, and for auditors only its message-log entries); a viewer
//! sees no replay button and a replay posted as a viewer is refused and changes nothing; an
//! operator replays one dead letter, and replays or purges every one ticked at once, the page
//! saying how many of how many were done and which were not. Citizen IDs stay masked.

mod common;

use common::console::Console;
use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::{Failure, Outcome};
use serde_json::Value;

const OTHER: &str = "000.00.01.H42-261120-0002";
/// The applicant's CCCD in every test envelope (`status_changed`), and how the console shows it.
const CCCD: &str = "001203000001";
const MASKED: &str = "0012******01";

/// The peer refuses `DOSSIER` for good, with an answer naming the applicant, and takes the rest.
fn refuse_the_dossier(bus: &TestBus) {
    bus.adapter.answer(|d| {
        if d.envelope.subject == DOSSIER && !d.stale {
            Outcome::Permanent(
                Failure::new("portal refused: error_code 03")
                    .with_answer(format!("{{\"error_code\":\"03\",\"message\":\"MaDoiTuong {CCCD} thiếu MaTTHC\"}}")),
            )
        } else if d.stale {
            Outcome::Superseded
        } else {
            Outcome::Delivered
        }
    });
}

/// The peer takes everything again.
fn heal(bus: &TestBus) {
    bus.adapter.answer(|d| if d.stale { Outcome::Superseded } else { Outcome::Delivered });
}

/// Posts a message; returns its id.
async fn send(bus: &TestBus, message: &Value) -> String {
    let (status, body) = bus.post(message).await;
    assert_eq!(status, 202, "{body}");
    message["id"].as_str().unwrap().to_string()
}

/// Posts a message the peer refuses and waits until it is archived; returns its id.
async fn dead(bus: &TestBus, message: &Value) -> String {
    let id = send(bus, message).await;
    bus.wait_state(&id, "dead_lettered").await;
    bus.operator.wait_dead_letter(&id, "scripted", "dead").await;
    id
}

async fn with_a_viewer() -> TestBus {
    TestBus::start_with(|_| "[operators.viewer]\nroles = [\"viewer\"]\n".into()).await
}

#[tokio::test]
async fn a_search_by_dossier_finds_its_messages_and_a_message_page_shows_its_path() {
    let bus = TestBus::start().await;
    refuse_the_dossier(&bus);
    let other = send(&bus, &status_changed(OTHER, 1, 4)).await;
    bus.wait_state(&other, "delivered").await;
    let refused = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let operator = Console::sign_in(&bus, "operator").await;

    // By dossier: its message, not the other dossier's.
    let (status, page) = operator.get(&format!("/console/messages?dossier={DOSSIER}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("data-message=\"{refused}\"")), "{page}");
    assert!(!page.contains(&other), "the other dossier's message is not found: {page}");
    assert!(page.contains("Tìm thấy 1 thông điệp"), "{page}");
    assert!(page.contains("scripted: thư chết"), "where it stands: {page}");

    // The other filters narrow it; newest first; a bad id or time is named.
    let (_, page) = operator.get(&format!("/console/messages?dossier={DOSSIER}&type=dossier.submitted")).await;
    assert!(page.contains("Không có thông điệp nào") && !page.contains(&refused), "{page}");
    let (_, page) = operator.get("/console/messages?member=onestop.sandbox").await;
    let (newer, older) = (page.find(&refused).expect("found"), page.find(&other).expect("found"));
    assert!(newer < older, "newest first");
    let (_, page) = operator.get("/console/messages?member=onestop.thachha").await;
    assert!(!page.contains(&refused) && !page.contains(&other), "another member sent neither");
    let (_, page) = operator.get(&format!("/console/messages?id={}", other.to_uppercase())).await;
    assert!(page.contains(&other) && !page.contains(&refused), "by id: {page}");
    let (_, page) = operator.get("/console/messages?from=2999-01-01T00:00").await;
    assert!(page.contains("Không có thông điệp nào"), "{page}");
    let (status, page) = operator.get("/console/messages?id=not-an-id&to=yesterday").await;
    assert_eq!(status, 400);
    assert!(page.contains("không phải mã thông điệp") && page.contains("`yesterday` không phải thời điểm"), "{page}");

    // The delivered message's path: accepted from whom, delivered to the adapter.
    let (status, page) = operator.get(&format!("/console/messages/{other}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("onestop.sandbox") && page.contains(OTHER), "{page}");
    assert!(page.contains("<tr data-delivery=\"scripted\"><td>scripted</td><td>đã chuyển</td><td>1</td>"), "{page}");
    assert!(!page.contains("data-dead-letter"), "it never died: {page}");
    // The message log is for auditors: a note for an operator.
    assert!(page.contains("chỉ dành cho cán bộ kiểm toán") && !page.contains("data-entry"), "{page}");

    // The refused one's: its delivery dead-lettered with why, and its dead letter, linked.
    let (_, page) = operator.get(&format!("/console/messages/{refused}")).await;
    assert!(page.contains("<td>scripted</td><td>thư chết</td>"), "{page}");
    assert!(page.contains("portal refused: error_code 03"), "{page}");
    assert!(page.contains(&format!("href=\"/console/dead-letters/{refused}\"")), "{page}");
    let (status, _) = operator.get(&format!("/console/messages/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(status, 404);

    // An auditor sees its entries in the message log.
    let auditor_api = bus.api.as_("auditor").await;
    bus.wait_log(&auditor_api, &format!("/v1/audit?message={refused}"), |_, log| {
        let kinds: Vec<&str> =
            log["entries"].as_array().into_iter().flatten().filter_map(|e| e["kind"].as_str()).collect();
        kinds.contains(&"message.accepted") && kinds.contains(&"message.delivery")
    })
    .await;
    let auditor = Console::sign_in(&bus, "auditor").await;
    let (status, page) = auditor.get(&format!("/console/messages/{refused}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("data-entry=\"message.accepted\"") && page.contains("data-entry=\"message.delivery\""),
        "{page}"
    );
    assert!(!page.contains("chỉ dành cho cán bộ kiểm toán"), "{page}");
    bus.stop().await;
}

#[tokio::test]
async fn a_viewer_cannot_replay_a_dead_letter_and_an_operator_can() {
    let bus = with_a_viewer().await;
    refuse_the_dossier(&bus);
    let id = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let tried = bus.adapter.seen().len();

    // A viewer sees it, its peer's answer and its envelope, citizen IDs masked; no button.
    let viewer = Console::sign_in(&bus, "viewer").await;
    let (status, list) = viewer.get("/console/dead-letters").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("data-dead-letter=\"{id}\"")), "{list}");
    assert!(!list.contains("data-action"), "no button for a viewer: {list}");
    let (status, shown) = viewer.get(&format!("/console/dead-letters/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown.contains("portal refused: error_code 03") && shown.contains("thiếu MaTTHC"), "{shown}");
    assert!(shown.contains("&quot;dossier_code&quot;: &quot;000.00.01.H42-261120-0001&quot;"), "the envelope: {shown}");
    assert!(shown.contains(MASKED) && !shown.contains(CCCD), "citizen IDs masked: {shown}");
    assert!(!shown.contains("data-action"), "{shown}");

    // Posted anyway: refused, saying why, and nothing changes.
    let (status, page) = viewer.post(&format!("/console/dead-letters/{id}/replay"), &[("adapter", "scripted")]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("thiếu quyền: role operator"), "{page}");
    let row = format!("{id}:scripted");
    let (status, _) = viewer.post("/console/dead-letters/bulk", &[("action", "replay"), ("row", &row)]).await;
    assert_eq!(status, 403);
    let (status, _) = viewer.post(&format!("/console/dead-letters/{id}/purge"), &[]).await;
    assert_eq!(status, 403);
    let (_, rows) = bus.operator.get(&format!("/v1/dead-letters/{id}")).await;
    assert_eq!(rows["dead_letters"][0]["state"], "dead", "{rows}");
    assert_eq!(rows["dead_letters"][0]["replays"], 0);

    // An operator sees the buttons; one posted from another site is refused.
    let operator = Console::sign_in(&bus, "operator").await;
    let (_, list) = operator.get("/console/dead-letters").await;
    assert!(list.contains("data-action=\"replay\"") && list.contains("data-action=\"replay-all\""), "{list}");
    let path = format!("/console/dead-letters/{id}/replay");
    let (status, _) = operator.post_from("https://evil.example", &path, &[("adapter", "scripted")]).await;
    assert_eq!(status, 403, "a form posted from another site");
    assert_eq!(bus.operator.get(&format!("/v1/dead-letters/{id}")).await.1["dead_letters"][0]["state"], "dead");
    assert_eq!(bus.adapter.seen().len(), tried, "nothing was sent again");

    // The operator's replay: the peer healed, it is delivered.
    heal(&bus);
    let (status, page) = operator.post(&path, &[("adapter", "scripted")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("Đã chuyển lại {id} cho scripted")), "{page}");
    let view = bus.wait_state(&id, "delivered").await;
    assert_eq!(view["deliveries"][0]["attempts"], 1, "{view}");
    bus.operator.wait_dead_letter(&id, "scripted", "replayed").await;
    let (_, shown) = operator.get(&format!("/console/dead-letters/{id}")).await;
    assert!(shown.contains("đã chuyển lại") && !shown.contains("data-action=\"replay\""), "{shown}");
    let (_, path_page) = operator.get(&format!("/console/messages/{id}")).await;
    assert!(path_page.contains("<td>scripted</td><td>đã chuyển</td>"), "{path_page}");

    // Again: nothing to do, and the page says so.
    let (status, page) = operator.post(&format!("/console/dead-letters/{id}/replay"), &[]).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("Không thực hiện"), "{page}");

    // The message log has the operator's replay, as the API's would be.
    let auditor = bus.api.as_("auditor").await;
    bus.wait_log(&auditor, "/v1/audit?kind=operator.action&actor=operator", |_, log| {
        log["entries"].as_array().into_iter().flatten().any(|e| {
            e["detail"]["action"] == "dead_letters.replay"
                && e["detail"]["detail"]["message"] == id.as_str()
                && e["detail"]["detail"]["result"] == "done"
        })
    })
    .await;
    bus.stop().await;
}

#[tokio::test]
async fn an_operator_replays_or_purges_every_dead_letter_ticked_and_sees_each_outcome() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Permanent(Failure::new("refused")));
    let first = dead(&bus, &status_changed(DOSSIER, 1, 4)).await;
    let second = dead(&bus, &status_changed(OTHER, 1, 4)).await;
    let third = dead(&bus, &status_changed("000.00.01.H42-261120-0003", 1, 4)).await;
    let operator = Console::sign_in(&bus, "operator").await;
    let (_, list) = operator.get("/console/dead-letters?adapter=scripted&type=dossier.status_changed").await;
    assert!(list.contains("Hiện 3 trên 3 thư chết"), "{list}");

    heal(&bus);
    let rows = |ids: &[&String]| ids.iter().map(|id| format!("{id}:scripted")).collect::<Vec<_>>();
    let replay = rows(&[&first, &second]);
    let form: Vec<(&str, &str)> =
        std::iter::once(("action", "replay")).chain(replay.iter().map(|r| ("row", r.as_str()))).collect();
    let (status, page) = operator.post("/console/dead-letters/bulk", &form).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-done=\"2\" data-total=\"2\""), "{page}");
    assert!(page.contains("Đã chuyển lại 2 trên 2 thư."), "{page}");
    bus.wait_state(&first, "delivered").await;
    bus.wait_state(&second, "delivered").await;

    // A purge of one waiting and one replayed already: one done, the other listed with why.
    let purge = rows(&[&third, &first]);
    let form: Vec<(&str, &str)> =
        std::iter::once(("action", "purge")).chain(purge.iter().map(|r| ("row", r.as_str()))).collect();
    let (status, page) = operator.post("/console/dead-letters/bulk", &form).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-done=\"1\" data-total=\"2\""), "{page}");
    let failed = page.split("data-outcome=\"failed\"").nth(1).expect("a failed row");
    assert!(failed.contains(&first) && failed.contains("không thực hiện"), "{page}");
    let (_, purged) = bus.operator.get(&format!("/v1/dead-letters/{third}")).await;
    assert_eq!(purged["dead_letters"][0]["state"], "purged");
    let (_, list) = operator.get("/console/dead-letters?state=purged").await;
    assert!(list.contains(&third) && !list.contains(&first), "{list}");

    // Nothing ticked, or too many: refused before anything is done.
    let (status, _) = operator.post("/console/dead-letters/bulk", &[("action", "replay")]).await;
    assert_eq!(status, 400);
    let many: Vec<String> = (0..101).map(|_| format!("{}:scripted", uuid::Uuid::now_v7())).collect();
    let form: Vec<(&str, &str)> =
        std::iter::once(("action", "purge")).chain(many.iter().map(|r| ("row", r.as_str()))).collect();
    let (status, page) = operator.post("/console/dead-letters/bulk", &form).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("mỗi lần tối đa 100"), "{page}");
    bus.stop().await;
}
