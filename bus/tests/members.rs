//! Members and rights changed at run time by an admin: effective at the next call, refused when
//! they name what the bus does not know, and every change on the record.

mod common;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::testing::Api;
use serde_json::{Value, json};

async fn admin(bus: &TestBus) -> Api {
    bus.api.as_("admin").await
}

async fn send(api: &Api, path: &str, body: &Value) -> (u16, Value) {
    let response = api.http.post(format!("{}{path}", api.base)).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn from(member: &str, seq: u64) -> Value {
    let mut message = status_changed(DOSSIER, seq, 2);
    message["source"] = json!(member);
    message
}

#[tokio::test]
async fn a_member_added_at_run_time_gets_exactly_what_is_granted_and_loses_what_is_revoked() {
    let bus = TestBus::start().await;
    let admin = admin(&bus).await;
    let (status, added) =
        send(&admin, "/v1/members", &json!({"id": "onestop.hatinh", "name": "Một cửa Hà Tĩnh"})).await;
    assert_eq!(status, 201, "{added}");
    let secret = added["client_secret"].as_str().unwrap().to_string();
    assert_eq!(added["member"]["has_secret"], true);
    assert!(added["member"].get("secret_hash").is_none(), "the hash never leaves the bus");

    let member = bus.api.as_with("onestop.hatinh", &secret).await.unwrap();
    let (status, problem) = member.post(&from("onestop.hatinh", 1)).await;
    assert_eq!(status, 403, "nothing granted yet: {problem}");

    let right = json!({"send": {"types": ["dossier.status_changed"], "agencies": ["000.00.01.H42"]}});
    let (status, granted) = send(&admin, "/v1/members/onestop.hatinh/grant", &right).await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(member.post(&from("onestop.hatinh", 2)).await.0, 202, "granted: takes effect at the next call");

    let (status, _) = send(&admin, "/v1/members/onestop.hatinh/revoke", &right).await;
    assert_eq!(status, 200);
    let (status, problem) = member.post(&from("onestop.hatinh", 3)).await;
    assert_eq!(
        (status, problem["missing_right"].as_str()),
        (403, Some("send dossier.status_changed for 000.00.01.H42"))
    );
    let (status, problem) = send(&admin, "/v1/members/onestop.hatinh/revoke", &right).await;
    assert_eq!((status, problem["type"].as_str()), (409, Some("https://lgsp.local/problems/right-not-held")));

    // A member reads its own entry, not another's.
    assert_eq!(member.get("/v1/members/onestop.hatinh").await.0, 200);
    assert_eq!(member.get("/v1/members/onestop.sandbox").await.0, 403);

    // A new secret: the old one is refused from now on.
    let (status, rotated) = send(&admin, "/v1/members/onestop.hatinh/rotate-secret", &json!(null)).await;
    assert_eq!(status, 200, "{rotated}");
    assert!(bus.api.as_with("onestop.hatinh", &secret).await.is_none());
    bus.api.as_with("onestop.hatinh", rotated["client_secret"].as_str().unwrap()).await.unwrap();

    // Removed: its token stops working at once.
    assert_eq!(admin.call(reqwest::Method::DELETE, "/v1/members/onestop.hatinh").await.0, 200);
    let (status, problem) = member.get("/v1/members/onestop.hatinh").await;
    assert_eq!(status, 401, "{problem}");

    let mut bus = bus;
    let log = bus.bus.as_ref().unwrap().log.path().unwrap().to_path_buf();
    bus.halt().await;
    let search = lgsp_bus::audit::Search { kind: Some("directory.change".into()), ..Default::default() };
    let changes = lgsp_bus::audit::file::open(&log).unwrap().search(&search, 100).unwrap();
    let actions: Vec<String> = changes
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e.actor, "admin");
            serde_json::from_str::<Value>(&e.detail).unwrap()["action"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(actions, ["members.add", "members.grant", "members.revoke", "members.rotate-secret", "members.remove"]);
    bus.stop().await;
}

#[tokio::test]
async fn only_admins_change_members_and_rights_must_name_what_the_bus_knows() {
    let bus = TestBus::start().await;
    let new = json!({"id": "onestop.kyanh", "name": "Kỳ Anh"});
    for who in [&bus.api, &bus.operator] {
        let (status, problem) = send(who, "/v1/members", &new).await;
        assert_eq!((status, problem["missing_right"].as_str()), (403, Some("role admin")), "{}", who.who);
    }
    assert_eq!(bus.operator.get("/v1/members").await.0, 403);

    let admin = admin(&bus).await;
    let typo = json!({"service": {"service": "citizen.verify", "fields": ["adress"]}});
    let (status, problem) = send(&admin, "/v1/members/onestop.thachha/grant", &typo).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["violations"][0]["pointer"], "/rights/services/1/fields");
    let (_, thachha) = admin.get("/v1/members/onestop.thachha").await;
    assert_eq!(thachha["rights"]["services"].as_array().unwrap().len(), 1, "nothing changed");

    let (status, problem) = send(&admin, "/v1/members", &json!({"id": "Onestop KyAnh", "name": "x"})).await;
    assert_eq!((status, problem["violations"][0]["pointer"].as_str()), (422, Some("/id")));
    let (status, problem) =
        send(&admin, "/v1/members", &json!({"id": "onestop.kyanh", "name": "x", "secret": "x"})).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (422, Some("https://lgsp.local/problems/invalid-body")),
        "{problem}"
    );
    let (status, _) = send(&admin, "/v1/members", &json!({"id": "onestop.thachha", "name": "again"})).await;
    assert_eq!(status, 409);
    bus.stop().await;
}
