//! Routing by competence: where a dossier goes and why, refused when no agency is competent, and
//! tables that change while the bus runs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::TestBus;
use common::tables::{RULES, tables};
use lgsp_bus::competence::RoutesState;
use serde_json::{Value, json};

/// Đăng ký khai sinh, by the commune of Thạch Hà: added to [`RULES`] while the bus runs.
const BIRTH_RULE: &str = r#"
[[rule]]
procedure = "1.001193"
unit = "18073"
agency = "000.00.31.H42"
"#;

/// As an operator's tool saves it: whole, at once.
fn replace(path: &Path, text: &str) {
    let draft = path.with_extension("draft");
    std::fs::write(&draft, text).unwrap();
    std::fs::rename(draft, path).unwrap();
}

async fn start() -> (TestBus, std::path::PathBuf) {
    let mut rules_path = None;
    let bus = TestBus::start_with(|dir| {
        rules_path = Some(dir.join("routing.toml"));
        format!("{}reload_every = \"50ms\"\n", tables(dir))
    })
    .await;
    (bus, rules_path.unwrap())
}

fn submitted(n: u32, procedure: &str, unit: &str) -> Value {
    let code = lgsp_bus::testing::dossier(n);
    json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": "onestop.thachha", "subject": code,
        "seq": 1, "occurred_at": "2026-11-20T08:30:00+07:00",
        "payload": {
            "dossier_code": code, "procedure_code": procedure, "agency_code": "000.00.31.H42", "unit_code": unit,
            "channel": "online", "received_at": "2026-11-20T08:30:00+07:00", "due_at": "2026-11-27T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"}
        }
    })
}

/// Waits for the bus's tables to reach a state, as the reloader reports it.
async fn wait_tables(bus: &TestBus, what: &str, done: impl Fn(&RoutesState) -> bool) -> RoutesState {
    let mut states = bus.bus.as_ref().unwrap().routes.as_ref().expect("routing tables").subscribe();
    match tokio::time::timeout(Duration::from_secs(10), states.wait_for(|state| done(state))).await {
        Ok(Ok(state)) => state.clone(),
        _ => panic!("the tables never got {what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dossier_goes_to_the_competent_agency_and_says_why() {
    let (bus, _) = start().await;
    // From a commune, and from an old district code still on a paper dossier: same agency.
    for (n, unit) in [(1, "18100"), (2, "436")] {
        let dossier = submitted(n, "1.001234", unit);
        let (status, body) = bus.api.post_from(&dossier).await;
        assert_eq!(status, 202, "{body}");
        let message = bus.wait_state(dossier["id"].as_str().unwrap(), "delivered").await;
        assert_eq!(message["routing"]["agency"], "000.00.01.H42", "{message}");
        let reason = message["routing"]["reason"].as_str().unwrap();
        assert!(reason.contains("Hà Tĩnh (42) is handled by 000.00.01.H42"), "{reason}");
        assert_eq!(message["routing_key"], "dossier.submitted.42.000-00-01-H42", "{message}");
    }
    let (_, message) = bus.get(&format!("/v1/messages/{}", bus.adapter.seen()[1].id)).await;
    assert!(message["routing"]["reason"].as_str().unwrap().starts_with("old district 436"), "{message}");

    // Asked ahead, the same answer.
    let (status, decision) = bus.get("/v1/routing/decision?procedure=1.001234&unit=18073").await;
    assert_eq!((status, &decision["routed"], &decision["agency"]), (200, &json!(true), &json!("000.00.01.H42")));
    let (status, problem) = bus.get("/v1/routing/decision?unit=18073").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["violations"][0]["pointer"], "/procedure", "{problem}");
    bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_change_without_a_restart_and_a_bad_edit_is_refused_keeping_the_old() {
    let (bus, rules) = start().await;
    let (_, tables) = bus.get("/v1/routing").await;
    assert_eq!((tables["rules"].as_u64(), &tables["refused"]), (Some(1), &Value::Null), "{tables}");
    let first = tables["version"].as_str().unwrap().to_string();

    // No rule yet for birth registration: refused, naming what is missing, nothing published.
    let birth = submitted(3, "1.001193", "18073");
    let (status, problem) = bus.api.post_from(&birth).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"].as_str().map(|t| t.ends_with("unroutable")), Some(true), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("no competence rule for procedure 1.001193"), "{problem}");
    let (status, _) = bus.get(&format!("/v1/messages/{}", birth["id"].as_str().unwrap())).await;
    assert_eq!(status, 404);

    // An edit naming a unit the catalogue does not have: refused, the tables in use stay.
    let more_rules = format!("{RULES}{BIRTH_RULE}");
    replace(&rules, &more_rules.replace("unit = \"18073\"", "unit = \"99999\""));
    let refused = wait_tables(&bus, "refused", |state| state.refused.is_some()).await;
    assert_eq!(refused.current.version, first);
    let (_, tables) = bus.get("/v1/routing").await;
    assert_eq!(tables["version"], first.as_str());
    assert_eq!(
        tables["refused"]["problems"][0]["key"].as_str().map(|k| k.ends_with("rule[1].unit")),
        Some(true),
        "{tables}"
    );
    assert_eq!(bus.api.post_from(&birth).await.0, 422);

    // The corrected edit is taken, and the refusal cleared.
    replace(&rules, &more_rules);
    let taken = wait_tables(&bus, "reloaded", |state| state.current.version != first).await;
    assert!(taken.refused.is_none());
    let (status, body) = bus.api.post_from(&birth).await;
    assert_eq!(status, 202, "{body}");
    let message = bus.wait_state(birth["id"].as_str().unwrap(), "delivered").await;
    assert_eq!(message["routing"]["agency"], "000.00.31.H42", "{message}");
    assert_eq!(message["routing"]["tables"], taken.current.version.as_str(), "{message}");
    bus.stop().await;
}
