//! An agency connects its own system at run time: it registers it over the API, an admin
//! approves it, and it gets its dossiers and answers its lookups through the bus, with no restart;
//! every refusal names what is wrong and changes nothing; a restart keeps every registration.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Harness;
use lgsp_bus::testing::Api;
use lgsp_http::{HttpSim, SimOptions};
use reqwest::Method;
use serde_json::{Value, json};

const AGENCY: &str = "000.00.31.H42";
const ID: &str = "land_thachha";

/// `config/examples/land-registration.json`, pointed at `sim`.
fn registration(sim: &HttpSim) -> Value {
    let text = include_str!("../config/examples/land-registration.json");
    let mut registration: Value = serde_json::from_str(text).unwrap();
    registration["url"] = json!(format!("{}land", sim.url()));
    registration
}

/// The agency's system, as the registration describes it.
async fn agency_system() -> HttpSim {
    system_of(&registration_template()).await
}

/// The system a registration describes (its settings, and its simulator's replies).
async fn system_of(registration: &Value) -> HttpSim {
    let mut settings: toml::Table = toml::Table::try_from(registration).unwrap();
    // The keys the bus owns, not the adapter's.
    for key in ["id", "kind", "subscriptions", "schemas", "delivery"] {
        settings.remove(key);
    }
    let options = SimOptions::from_settings(&settings).unwrap();
    HttpSim::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap()
}

fn registration_template() -> Value {
    serde_json::from_str(include_str!("../config/examples/land-registration.json")).unwrap()
}

/// A message for the commune's agency (a birth registration in Xã Thạch Hà, which the
/// competence rules give it), from the sandbox member.
fn for_the_agency(message_type: &str, dossier: &str, seq: u64) -> Value {
    let mut payload = lgsp_bus::testing::adapter::example(message_type, 0);
    payload["dossier_code"] = json!(dossier);
    payload["agency_code"] = json!(AGENCY);
    payload["procedure_code"] = json!("1.001193");
    if message_type == "dossier.submitted" {
        payload["unit_code"] = json!("18073");
    }
    json!({
        "id": uuid::Uuid::now_v7().to_string(), "type": message_type, "source": "onestop.sandbox",
        "subject": dossier, "seq": seq, "occurred_at": "2026-11-30T09:00:00+07:00", "payload": payload,
    })
}

async fn adapters(api: &Api) -> Value {
    let (status, body) = api.get("/v1/adapters").await;
    assert_eq!(status, 200, "{body}");
    body
}

fn registration_state(adapters: &Value, id: &str) -> Option<String> {
    adapters["registrations"].as_array()?.iter().find(|r| r["id"] == id)?["state"].as_str().map(String::from)
}

/// Waits until the agency's system took the message `id`.
async fn arrives(sim: &HttpSim, id: &str) {
    let taken = sim.wait_until(Duration::from_secs(20), |s| s.received().iter().any(|k| k == id)).await;
    assert!(taken, "{id} never reached the agency's system; it has {:?}", sim.received());
}

/// Waits until the adapter has left the running bus (its leftovers archived, its queues deleted).
async fn removed(bus: &Harness) {
    let fleet = &bus.bus.as_ref().unwrap().fleet;
    let gone = fleet.adapters().wait_until(Duration::from_secs(20), |roster| roster.get(ID).is_none()).await;
    assert!(gone, "{ID} is still on the bus");
}

#[tokio::test]
async fn an_agency_registers_its_system_and_it_works_at_once_and_after_a_restart() {
    let mut bus = Harness::start().await;
    let sim = agency_system().await;
    let commune = bus.api.as_("onestop.thachha").await;
    let admin = bus.api.as_("admin").await;
    let before = adapters(&bus.operator).await;

    // Refused, each naming what is wrong, and nothing changes.
    let mut elsewhere = registration(&sim);
    elsewhere["subscriptions"][0]["agencies"] = json!(["000.00.01.H42"]);
    let (status, problem) = commune.send(Method::POST, "/v1/adapters", &elsewhere).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["missing_right"], "receive dossier.submitted of 000.00.01.H42", "{problem}");

    let mut invalid = registration(&sim);
    invalid["url"] = json!("http://192.0.2.10/land");
    invalid["subscriptions"][0]["types"] = json!(["dossier.submited"]);
    invalid["mapping"] = json!("{ \"maHoSo\": {{ envelope.payload.dossier_code | tojson }");
    invalid["schemas"]["land.parcel_lookup"]["reply"] = json!({"type": "strin"});
    let (status, problem) = commune.send(Method::POST, "/v1/adapters", &invalid).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("https://lgsp.local/problems/invalid-adapter")),
        "{problem}"
    );
    let pointers: Vec<&str> =
        problem["violations"].as_array().unwrap().iter().filter_map(|v| v["pointer"].as_str()).collect();
    for expected in ["/subscriptions/0/types", "/url", "/mapping"] {
        assert!(pointers.contains(&expected), "{expected} not named: {problem:#}");
    }
    let mut not_a_schema = registration(&sim);
    not_a_schema["schemas"]["land.parcel_lookup"]["reply"] = json!({"type": "strin"});
    let (status, problem) = commune.send(Method::POST, "/v1/adapters", &not_a_schema).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["violations"][0]["pointer"], "/schemas/land.parcel_lookup/reply", "{problem}");
    assert_eq!(adapters(&bus.operator).await, before, "a refusal changes nothing");

    // A member's registration waits for an admin.
    let (status, pending) = commune.send(Method::POST, "/v1/adapters", &registration(&sim)).await;
    assert_eq!((status, pending["state"].as_str()), (201, Some("pending")), "{pending}");
    assert_eq!(pending["owner"], "onestop.thachha");
    let (status, _) = bus.operator.get(&format!("/v1/adapters/{ID}")).await;
    assert_eq!(status, 404, "a pending registration does not run");
    let (status, problem) = commune.call(Method::POST, &format!("/v1/adapters/{ID}/approve")).await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("role admin")), "{problem}");

    let (status, approved) = admin.call(Method::POST, &format!("/v1/adapters/{ID}/approve")).await;
    assert_eq!((status, approved["state"].as_str()), (200, Some("approved")), "{approved}");
    let (_, running) = bus.operator.get(&format!("/v1/adapters/{ID}")).await;
    assert_eq!(running["state"], "running", "{running}");

    // Its first dossier arrives, in its own shape, field by field.
    let submitted = for_the_agency("dossier.submitted", "000.00.31.H42-261130-0001", 1);
    let id = submitted["id"].as_str().unwrap().to_string();
    assert_eq!(bus.api.post(&submitted).await.0, 202);
    arrives(&sim, &id).await;
    let call = sim.calls().into_iter().find(|c| c.header("idempotency-key") == Some(id.as_str())).unwrap();
    let body = &call.body;
    let payload = &submitted["payload"];
    assert_eq!(body["maHoSo"], payload["dossier_code"]);
    assert_eq!(body["maThuTuc"], payload["procedure_code"]);
    assert_eq!(body["loaiThongDiep"], "dossier.submitted");
    assert_eq!(body["nguoiNop"]["soGiayTo"], payload["applicant"]["id"]);
    assert_eq!(body["maThongDiep"], id.as_str());

    // Its lookup is answered through the bus, the reply checked against its uploaded schema.
    let ask = json!({"commune_code": "18073", "sheet": "12", "number": "345"});
    let (status, reply) = bus.ask("land.parcel_lookup", "onestop.sandbox", &ask).await;
    assert_eq!((status, reply["found"].as_bool()), (200, Some(true)), "{reply}");
    let (status, problem) = bus.ask("land.parcel_lookup", "onestop.sandbox", &json!({"sheet": 12})).await;
    assert_eq!(status, 422, "the request is checked against the agency's schema: {problem}");

    // Changed live: from now on only its submitted dossiers.
    let mut narrower = registration(&sim);
    narrower["subscriptions"][0]["types"] = json!(["dossier.submitted"]);
    let (status, changed) = commune.send(Method::PUT, &format!("/v1/adapters/{ID}"), &narrower).await;
    assert_eq!((status, changed["state"].as_str()), (200, Some("approved")), "{changed}");
    let status_change = for_the_agency("dossier.status_changed", "000.00.31.H42-261130-0001", 2);
    let second = for_the_agency("dossier.submitted", "000.00.31.H42-261130-0002", 1);
    assert_eq!(bus.api.post(&status_change).await.0, 202);
    assert_eq!(bus.api.post(&second).await.0, 202);
    arrives(&sim, second["id"].as_str().unwrap()).await;
    let view = bus.api.wait_state(status_change["id"].as_str().unwrap(), "delivered").await;
    let reached: Vec<&str> =
        view["deliveries"].as_array().unwrap().iter().filter_map(|d| d["adapter"].as_str()).collect();
    assert!(!reached.contains(&ID), "a status change is no longer routed to it: {view}");
    assert!(!sim.received().contains(&status_change["id"].as_str().unwrap().to_string()));

    // Another member may not change it.
    let (status, problem) =
        bus.api.as_("onestop.province").await.send(Method::PUT, &format!("/v1/adapters/{ID}"), &narrower).await;
    assert_eq!(status, 403, "{problem}");

    // A restart keeps it: registered, running, and still subscribed as changed.
    bus.restart().await;
    let listed = adapters(&bus.operator).await;
    assert_eq!(registration_state(&listed, ID).as_deref(), Some("approved"), "{listed}");
    assert_eq!(listed["registrations"][0]["registration"]["subscriptions"][0]["types"], json!(["dossier.submitted"]));
    let third = for_the_agency("dossier.submitted", "000.00.31.H42-261130-0003", 1);
    assert_eq!(bus.api.post(&third).await.0, 202);
    arrives(&sim, third["id"].as_str().unwrap()).await;

    // Its owner removes it; its queue goes with it.
    let (status, _) = bus.api.as_("onestop.thachha").await.call(Method::DELETE, &format!("/v1/adapters/{ID}")).await;
    assert_eq!(status, 202);
    removed(&bus).await;
    assert!(adapters(&bus.operator).await["registrations"].as_array().unwrap().is_empty());
    bus.stop().await;
}

#[tokio::test]
async fn an_admin_rejects_a_registration_with_a_reason_and_the_agency_registers_again() {
    let bus = Harness::start().await;
    let sim = agency_system().await;
    let commune = bus.api.as_("onestop.thachha").await;
    let admin = bus.api.as_("admin").await;
    assert_eq!(commune.send(Method::POST, "/v1/adapters", &registration(&sim)).await.0, 201);

    let (status, problem) =
        admin.send(Method::POST, &format!("/v1/adapters/{ID}/reject"), &json!({"reason": " "})).await;
    assert_eq!(status, 422, "a rejection says why: {problem}");
    let reason = "use the agency's HTTPS endpoint, not a test server";
    let (status, rejected) =
        admin.send(Method::POST, &format!("/v1/adapters/{ID}/reject"), &json!({"reason": reason})).await;
    assert_eq!(
        (status, rejected["state"].as_str(), rejected["reason"].as_str()),
        (200, Some("rejected"), Some(reason))
    );
    let (status, _) = admin.call(Method::POST, &format!("/v1/adapters/{ID}/approve")).await;
    assert_eq!(status, 409, "only a pending registration is approved");

    // Registered again by its owner: pending again.
    let (status, again) = commune.send(Method::POST, "/v1/adapters", &registration(&sim)).await;
    assert_eq!((status, again["state"].as_str()), (201, Some("pending")), "{again}");
    let (status, _) = admin.call(Method::POST, "/v1/adapters/land_thachha/approve").await;
    assert_eq!(status, 200);
    // The id is taken now.
    let (status, problem) = admin.send(Method::POST, "/v1/adapters", &registration(&sim)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("https://lgsp.local/problems/adapter-exists")),
        "{problem}"
    );
    assert_eq!(admin.call(Method::DELETE, &format!("/v1/adapters/{ID}")).await.0, 202);
    removed(&bus).await;
    bus.stop().await;
}

#[tokio::test]
async fn an_agency_tests_its_system_through_the_bus_and_sees_how_it_is_doing() {
    let bus = Harness::start().await;
    let sim = agency_system().await;
    let commune = bus.api.as_("onestop.thachha").await;
    let admin = bus.api.as_("admin").await;
    assert_eq!(commune.send(Method::POST, "/v1/adapters", &registration(&sim)).await.0, 201);
    assert_eq!(admin.call(Method::POST, &format!("/v1/adapters/{ID}/approve")).await.0, 200);
    let test = format!("/v1/adapters/{ID}/test");

    // Its owner tests it with no body: the first type it takes, the schema's example, once.
    let (status, tried) = commune.call(Method::POST, &test).await;
    assert_eq!((status, tried["outcome"].as_str()), (200, Some("delivered")), "{tried}");
    assert_eq!(tried["type"], "dossier.submitted");
    let first = tried["message_id"].as_str().unwrap().to_string();
    assert!(sim.received().contains(&first), "the test reached the agency's system: {:?}", sim.received());
    let answer: Value = serde_json::from_str(tried["peer_answer"].as_str().unwrap()).unwrap();
    assert_eq!(answer["received"], first.as_str(), "the peer's own answer comes back: {tried}");
    let call = sim.calls().into_iter().find(|c| c.header("idempotency-key") == Some(first.as_str())).unwrap();
    assert_eq!(call.body["loaiThongDiep"], "dossier.submitted", "through its mapping: {:?}", call.body);

    // A peer that refuses: the failure and the peer's words, tried once and not dead-lettered.
    sim.set_behaviour(lgsp_http::Behaviour { reject_status: Some(422), ..Default::default() });
    let status_change = json!({"type": "dossier.status_changed"});
    let (status, failed) = bus.operator.send(Method::POST, &test, &status_change).await;
    assert_eq!((status, failed["outcome"].as_str()), (200, Some("failed")), "{failed}");
    assert_eq!(failed["permanent"], true, "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("422"), "{failed}");
    assert!(failed["peer_answer"].as_str().is_some_and(|a| !a.is_empty()), "{failed}");
    let failed_id = failed["message_id"].as_str().unwrap();
    let (_, dead) = bus.operator.get(&format!("/v1/dead-letters?adapter={ID}&state=all")).await;
    assert!(dead["dead_letters"].as_array().unwrap().is_empty(), "a test is never archived: {dead}");
    sim.set_behaviour(lgsp_http::Behaviour::default());

    // What the adapter has been doing, and its queue as the broker counts it.
    let (_, shown) = bus.operator.get(&format!("/v1/adapters/{ID}")).await;
    let activity = &shown["activity"];
    assert_eq!((activity["delivered"].as_u64(), activity["failed"].as_u64()), (Some(1), Some(1)), "{shown}");
    assert_eq!((activity["delivered_per_minute"].as_u64(), activity["failed_per_minute"].as_u64()), (Some(1), Some(1)));
    assert_eq!(activity["last_error"]["message_id"], failed_id, "{shown}");
    assert_eq!(shown["queue"]["messages"], 0, "{shown}");
    assert!(shown["queue"]["consumers"].as_u64() >= Some(1), "{shown}");
    assert_eq!(bus.operator.call(Method::POST, &format!("/v1/adapters/{ID}/pause")).await.0, 200);
    let waiting = for_the_agency("dossier.submitted", "000.00.31.H42-261130-0009", 1);
    assert_eq!(bus.api.post(&waiting).await.0, 202);
    let (_, listed) = bus.operator.get("/v1/adapters").await;
    let paused = listed["adapters"].as_array().unwrap().iter().find(|a| a["id"] == ID).unwrap();
    assert_eq!((paused["queue"]["messages"].as_u64(), paused["queue"]["consumers"].as_u64()), (Some(1), Some(0)));

    // Refused, each saying why, and nothing sent.
    let calls = sim.calls().len();
    let (status, problem) = commune.call(Method::POST, &test).await;
    assert_eq!((status, problem["type"].as_str()), (409, Some("https://lgsp.local/problems/adapter-state")));
    assert_eq!(bus.operator.call(Method::POST, &format!("/v1/adapters/{ID}/resume")).await.0, 200);
    arrives(&sim, waiting["id"].as_str().unwrap()).await;
    let calls = calls + 1;
    let (status, problem) = commune.send(Method::POST, &test, &json!({"type": "payment.status"})).await;
    assert_eq!((status, problem["violations"][0]["pointer"].as_str()), (422, Some("/type")), "{problem}");
    let bad_payload = json!({"type": "dossier.submitted", "payload": {"dossier_code": 7}});
    let (status, problem) = commune.send(Method::POST, &test, &bad_payload).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["violations"].as_array().unwrap().iter().any(|v| v["pointer"] == "/payload/dossier_code"));
    let (status, problem) = bus.api.as_("onestop.province").await.call(Method::POST, &test).await;
    assert_eq!(status, 403, "only an operator or its owner tests it: {problem}");
    let (status, _) = bus.api.as_("onestop.province").await.call(Method::POST, "/v1/adapters/dvc/test").await;
    assert_eq!(status, 403);
    assert_eq!(sim.calls().len(), calls, "no refused test reached the peer");
    bus.stop().await;
}

/// The `n`-th of a province's agencies: departments and communes.
fn agency(n: usize) -> String {
    format!("000.{:02}.{:02}.H42", n / 100, n % 100)
}

#[tokio::test]
async fn two_hundred_agencies_register_their_systems_and_each_gets_its_own_dossiers() {
    const AGENCIES: usize = 200;
    let bus = Harness::start().await;
    let settings = toml::toml! { url = "http://127.0.0.1:1/agencies" };
    let sim = HttpSim::start("127.0.0.1:0".parse().unwrap(), SimOptions::from_settings(&settings).unwrap()).await;
    let sim = sim.unwrap();
    let admin = bus.api.as_("admin").await;
    for n in 0..AGENCIES {
        let registration = json!({
            "id": format!("agency_{n:03}"), "kind": "http", "url": format!("{}agencies", sim.url()),
            "subscriptions": [{"types": ["dossier.status_changed"], "agencies": [agency(n)]}],
        });
        let (status, registered) = admin.send(Method::POST, "/v1/adapters", &registration).await;
        assert_eq!((status, registered["state"].as_str()), (201, Some("approved")), "{registered}");
    }

    // Every one running and consuming its own queue.
    let listed = adapters(&bus.operator).await;
    let agencies: Vec<&Value> = listed["adapters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"].as_str().unwrap().starts_with("agency_"))
        .collect();
    assert_eq!(agencies.len(), AGENCIES);
    for adapter in &agencies {
        assert_eq!(adapter["state"], "running", "{adapter}");
        assert!(adapter["queue"]["consumers"].as_u64() >= Some(1), "{adapter}");
    }

    // One status change for each agency: delivered to its system and the portal, no other.
    let mut sent = Vec::new();
    for n in 0..AGENCIES {
        let dossier = format!("{}-261130-{n:04}", agency(n));
        let mut message = lgsp_bus::testing::status_changed(&dossier, 1, 4);
        message["payload"]["agency_code"] = json!(agency(n));
        assert_eq!(bus.api.post(&message).await.0, 202);
        sent.push((n, message["id"].as_str().unwrap().to_string()));
    }
    let all = sim.wait_until(Duration::from_secs(60), |s| s.received().len() >= AGENCIES).await;
    assert!(all, "the agencies' systems have {} of {AGENCIES}", sim.received().len());
    for (n, id) in &sent {
        let view = bus.api.wait_state(id, "delivered").await;
        let mut reached: Vec<&str> =
            view["deliveries"].as_array().unwrap().iter().filter_map(|d| d["adapter"].as_str()).collect();
        reached.sort();
        assert_eq!(reached, ["agency_".to_string() + &format!("{n:03}"), "dvc".into()], "{view}");
    }
    bus.stop().await;
}

#[tokio::test]
async fn an_agency_service_whose_reply_breaks_its_uploaded_schema_is_not_passed_on() {
    let bus = Harness::start().await;
    let mut wrong = registration_template();
    wrong["simulator"]["replies"]["land.parcel_lookup"]["found"] = json!("yes");
    let sim = system_of(&wrong).await;
    let admin = bus.api.as_("admin").await;
    assert_eq!(admin.send(Method::POST, "/v1/adapters", &registration(&sim)).await.0, 201);

    let ask = json!({"commune_code": "18073", "sheet": "12", "number": "345"});
    let (status, problem) = bus.ask("land.parcel_lookup", "onestop.sandbox", &ask).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (502, Some("https://lgsp.local/problems/registry-unavailable")),
        "{problem}"
    );
    assert!(problem["detail"].as_str().unwrap().contains("broke the service's contract"), "{problem}");
    assert_eq!(sim.calls().len(), 1, "the agency's system was asked once");
    bus.stop().await;
}

/// A commune's new one-stop system joins with a `POST` (a built-in kind, no release), and is
/// changed, paused and resumed while its dossiers keep coming: each arrives once.
#[tokio::test]
async fn a_communes_new_one_stop_system_is_a_post_and_changes_under_traffic_lose_and_repeat_nothing() {
    let bus = Harness::start().await;
    let options = lgsp_onestop::SimOptions {
        client_id: "lgsp-thachha-new".into(),
        client_secret: common::PASSWORD.into(),
        ..Default::default()
    };
    let commune = lgsp_onestop::OnestopSim::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap();
    let registration = |agencies: &[&str]| {
        json!({
            "id": "onestop_thachha_new", "kind": "onestop", "url": commune.url().to_string(), "agencies": agencies,
            "token_endpoint": "/oauth2/token", "client_id": "lgsp-thachha-new", "client_secret": common::PASSWORD,
        })
    };
    let admin = bus.api.as_("admin").await;
    let (status, registered) = admin.send(Method::POST, "/v1/adapters", &registration(&[AGENCY])).await;
    assert_eq!((status, registered["state"].as_str()), (201, Some("approved")), "{registered}");

    // Its dossiers flow while it is changed (another agency bound, then unbound), paused and
    // resumed.
    let flowing = Arc::new(AtomicBool::new(true));
    let traffic = {
        let (api, flowing) = (bus.api.clone(), flowing.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            while flowing.load(Ordering::Relaxed) || sent.len() < 20 {
                let message = for_the_agency("dossier.submitted", &format!("{AGENCY}-261201-{:04}", sent.len()), 1);
                assert_eq!(api.post(&message).await.0, 202);
                sent.push(message["id"].as_str().unwrap().to_string());
            }
            sent
        })
    };
    let path = "/v1/adapters/onestop_thachha_new";
    let wider = registration(&[AGENCY, "000.00.33.H42"]);
    assert_eq!(admin.send(Method::PUT, path, &wider).await.0, 200);
    assert_eq!(bus.operator.call(Method::POST, &format!("{path}/pause")).await.0, 200);
    assert_eq!(bus.operator.call(Method::POST, &format!("{path}/resume")).await.0, 200);
    assert_eq!(admin.send(Method::PUT, path, &registration(&[AGENCY])).await.0, 200);
    flowing.store(false, Ordering::Relaxed);
    let sent = traffic.await.unwrap();

    let all = commune
        .wait_until(Duration::from_secs(30), |s| sent.iter().all(|id| s.messages.iter().any(|m| &m.id == id)))
        .await;
    assert!(all, "every dossier reached the commune ({} sent, {} there)", sent.len(), commune.messages().len());
    let received: Vec<String> = commune.messages().into_iter().map(|m| m.id).collect();
    assert_eq!(received.len(), sent.len(), "nothing else, nothing twice");
    assert_eq!(commune.calls().iter().filter(|c| c.status == 409).count(), 0, "no copy was sent twice");
    bus.stop().await;
}

/// In a real browser: an admin finds a commune's registration waiting on the console's adapters
/// page, approves it, and tests it there; the agency's system answers.
#[tokio::test]
async fn an_admin_approves_a_registration_in_the_console_and_tests_it() {
    use lgsp_bus::testing::browser::{Browser, Locator};
    let bus = Harness::start().await;
    let sim = agency_system().await;
    let commune = bus.api.as_("onestop.thachha").await;
    assert_eq!(commune.send(Method::POST, "/v1/adapters", &registration(&sim)).await.0, 201);

    let browser = Browser::start().await;
    let base = bus.api.base.clone();
    // A viewer sees it waiting, with no button to approve it.
    browser.sign_in(&base, "viewer", lgsp_bus::testing::SECRET).await;
    browser.client.goto(&format!("{base}/console/adapters")).await.unwrap();
    let waiting = format!("//tr[@data-registration='{ID}']/td[. = 'chờ duyệt']");
    browser.shows(&waiting).await;
    assert!(browser.client.find(Locator::Css("button[data-action=approve]")).await.is_err(), "a viewer cannot approve");
    browser.client.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();

    browser.sign_in(&base, "admin", lgsp_bus::testing::SECRET).await;
    browser.client.goto(&format!("{base}/console/adapters")).await.unwrap();
    browser.shows(&waiting).await;
    browser.screenshot("adapters-pending").await;
    let approve = format!("//tr[@data-registration='{ID}']//button[@data-action='approve']");
    browser.client.find(Locator::XPath(&approve)).await.unwrap().click().await.unwrap();
    browser.shows(&format!("//p[@role='status'][contains(., 'Đã duyệt {ID}')]")).await;
    browser.shows(&format!("//tr[@data-adapter='{ID}']/td[. = 'đang chạy']")).await;
    assert_eq!(registration_state(&adapters(&bus.operator).await, ID).as_deref(), Some("approved"));

    // An admin is not an operator: the test button is not theirs. An operator's is.
    assert!(browser.client.find(Locator::Css("button[data-action=test]")).await.is_err());
    browser.client.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
    browser.sign_in(&base, "operator", lgsp_bus::testing::SECRET).await;
    browser.client.goto(&format!("{base}/console/adapters")).await.unwrap();
    let test = format!("//tr[@data-adapter='{ID}']//button[@data-action='test']");
    browser.client.find(Locator::XPath(&test)).await.unwrap().click().await.unwrap();
    browser.shows(&format!("//p[@role='status'][contains(., 'Thử {ID}: đã chuyển')]")).await;
    browser.screenshot("adapters-tested").await;
    assert_eq!(sim.calls().len(), 1, "the test reached the agency's system once");
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}
