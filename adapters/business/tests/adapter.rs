//! The real adapter against the real simulator on 127.0.0.1:0.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lgsp_bus::{Adapter, ServiceRequest};
use lgsp_business::client::RENEW_BEFORE;
use lgsp_business::{Behaviour, BusinessAdapter};
use serde_json::json;

#[tokio::test]
async fn the_enterprise_is_found_with_one_login() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.services(), [SERVICE]);

    let reply = lookup(&adapter, ENTERPRISE).await;

    assert_eq!(reply, expected_reply("enterprise_active"));
    assert_eq!(reply["business"]["legal_status"], "active");
    assert_eq!(reply["business"]["registered_office"]["province_code"], "01");
    assert_eq!(
        reply["business"]["legal_representatives"],
        json!([{"full_name": "Phạm Minh Phát", "position": "Giám đốc"}])
    );
    assert_eq!(calls(&sim), [call(ENTERPRISE, true, 200)]);
    assert_eq!((sim.logins(), sim.refreshes()), (1, 0));
}

#[tokio::test]
async fn a_branch_names_its_parent() {
    let sim = start_sim().await;
    let reply = lookup(&adapter(&sim), BRANCH).await;
    assert_eq!(reply, expected_reply("branch"));
    assert_eq!(reply["business"]["parent_mst"], ENTERPRISE);
    assert_eq!(reply["business"]["registered_office"]["province_code"], "42");
    assert_eq!(calls(&sim), [call(BRANCH, true, 200)]);
}

#[tokio::test]
async fn a_dissolved_enterprise_is_found_as_dissolved() {
    let sim = start_sim().await;
    let reply = lookup(&adapter(&sim), DISSOLVED).await;
    assert_eq!(reply, expected_reply("dissolved"));
    assert_eq!(reply["business"]["legal_status"], "dissolved");
    assert!(reply["business"].get("parent_mst").is_none());
}

#[tokio::test]
async fn an_unknown_code_is_not_found_and_not_an_error() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(lookup(&adapter, UNKNOWN).await, json!({"result": "not_found"}));
    assert_eq!(lookup(&adapter, "0101234567-002").await, json!({"result": "not_found"}));
    assert_eq!(calls(&sim), [call(UNKNOWN, true, 404), call("0101234567-002", true, 404)]);
}

#[tokio::test]
async fn one_token_serves_many_lookups_even_at_once() {
    let sim = start_sim().await;
    let adapter = Arc::new(adapter(&sim));
    let lookups: Vec<_> = (0..8)
        .map(|i| {
            let adapter = adapter.clone();
            let mst = [ENTERPRISE, BRANCH, DISSOLVED, UNKNOWN][i % 4];
            tokio::spawn(async move { lookup(&adapter, mst).await })
        })
        .collect();
    for lookup in lookups {
        lookup.await.unwrap();
    }
    assert_eq!(sim.calls().len(), 8);
    assert!(sim.calls().iter().all(|c| c.token_fresh));
    assert_eq!((sim.logins(), sim.refreshes()), (1, 0), "concurrent lookups wait for one login");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_lookup() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    // Tokens that live less than the adapter's margin are renewed before every lookup.
    let short = Duration::from_secs(10);
    assert!(short < RENEW_BEFORE);
    sim.set_behaviour(Behaviour { token_ttl: Some(short), ..Behaviour::default() });

    for _ in 0..3 {
        lookup(&adapter, ENTERPRISE).await;
    }

    assert_eq!((sim.logins(), sim.refreshes()), (1, 2));
    assert!(sim.calls().iter().all(|c| c.token_fresh), "no lookup was sent with an old token: {:?}", sim.calls());
}

#[tokio::test]
async fn a_refused_refresh_token_means_a_new_login() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    sim.set_behaviour(Behaviour { token_ttl: Some(Duration::from_secs(10)), ..Behaviour::default() });
    lookup(&adapter, ENTERPRISE).await;

    // Both the token and the refresh token expire at the registry.
    sim.advance_clock(sim.options().refresh_ttl + Duration::from_secs(1));
    lookup(&adapter, BRANCH).await;

    assert_eq!((sim.logins(), sim.refreshes()), (2, 0));
    assert_eq!(calls(&sim), [call(ENTERPRISE, true, 200), call(BRANCH, true, 200)]);
}

#[tokio::test]
async fn a_401_renews_the_token_once_by_refresh() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    lookup(&adapter, ENTERPRISE).await;

    // The registry's clock passes the token's expiry while the adapter still counts it valid.
    sim.advance_clock(sim.options().token_ttl + Duration::from_secs(1));
    lookup(&adapter, ENTERPRISE).await;

    assert_eq!(calls(&sim), [call(ENTERPRISE, true, 200), call(ENTERPRISE, false, 401), call(ENTERPRISE, true, 200)]);
    assert_eq!((sim.logins(), sim.refreshes()), (1, 1));
}

#[tokio::test]
async fn a_401_after_the_registry_forgot_every_token_logs_in_again() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    lookup(&adapter, ENTERPRISE).await;

    sim.revoke_tokens();
    assert_eq!(lookup(&adapter, DISSOLVED).await["business"]["legal_status"], "dissolved");

    assert_eq!(calls(&sim), [call(ENTERPRISE, true, 200), call(DISSOLVED, false, 401), call(DISSOLVED, true, 200)]);
    assert_eq!((sim.logins(), sim.refreshes()), (2, 0));
}

#[tokio::test]
async fn a_401_renews_only_once() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    sim.set_behaviour(Behaviour { refuse_tokens: true, ..Behaviour::default() });

    let failure = unavailable(adapter.call(&request(ENTERPRISE)).await);

    assert!(failure.reason.starts_with("business registry lookup of 0101234567 failed: "), "{failure:?}");
    assert!(failure.reason.contains("registry refused a freshly issued token: HTTP 401"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 401")), "{failure:?}");
    assert_eq!(calls(&sim), [call(ENTERPRISE, false, 401), call(ENTERPRISE, false, 401)]);
    assert_eq!((sim.logins(), sim.refreshes()), (1, 1));
}

#[tokio::test]
async fn registry_trouble_is_unavailable_and_the_adapter_recovers() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = BusinessAdapter::new(&config(&settings)).unwrap();
    let cases = [
        (Behaviour { down: true, ..Behaviour::default() }, "registry answered HTTP 503 Service Unavailable"),
        (Behaviour { error_rate: 1.0, ..Behaviour::default() }, "registry answered HTTP 500 Internal Server Error"),
        (Behaviour { rate_limited: true, ..Behaviour::default() }, "registry answered HTTP 429 Too Many Requests"),
        (
            Behaviour { timeout_rate: 1.0, ..Behaviour::default() },
            "no answer from the registry at 127.0.0.1 within 300ms",
        ),
    ];
    for (behaviour, expected) in cases {
        sim.set_behaviour(behaviour.clone());
        let failure = unavailable(adapter.call(&request(ENTERPRISE)).await);
        assert!(failure.reason.contains(expected), "{behaviour:?}: {failure:?}");
        assert!(failure.reason.contains(ENTERPRISE), "{failure:?}");
    }
    assert!(sim.calls().is_empty());

    sim.set_behaviour(Behaviour::default());
    assert_eq!(lookup(&adapter, ENTERPRISE).await, expected_reply("enterprise_active"));

    // Also once the adapter holds a token: the lookup itself fails the same way.
    sim.set_behaviour(Behaviour { error_rate: 1.0, ..Behaviour::default() });
    let failure = unavailable(adapter.call(&request(ENTERPRISE)).await);
    assert!(failure.reason.contains("HTTP 500"), "{failure:?}");
}

#[tokio::test]
async fn a_malformed_code_reaching_the_registry_is_refused_with_its_message() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    // The bus checks codes against the schema; one that slips past reaches the registry as it is.
    let failure = refused(adapter.call(&request("0101234567-01")).await);
    assert!(failure.reason.contains("registry refused the request: HTTP 400 Bad Request"), "{failure:?}");
    assert!(failure.reason.contains("Mã số doanh nghiệp `0101234567-01` không hợp lệ"), "{failure:?}");
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 400 Bad Request: {")), "{failure:?}");

    // A code is one path segment, whatever it holds.
    let failure = refused(adapter.call(&request("../../api/token")).await);
    assert!(failure.reason.contains("`../../api/token` không hợp lệ"), "{failure:?}");
    assert_eq!(calls(&sim), [call("0101234567-01", true, 400), call("../../api/token", true, 400)]);
}

#[tokio::test]
async fn wrong_credentials_are_unavailable_with_a_clear_reason() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("password".into(), "not the password".into());
    let adapter = BusinessAdapter::new(&config(&settings)).unwrap();
    let failure = unavailable(adapter.call(&request(ENTERPRISE)).await);
    assert!(
        failure.reason.contains("registry refused the login of `lgsp`: HTTP 401 Unauthorized: Sai tên đăng nhập"),
        "{failure:?}"
    );
    assert!(!format!("{failure:?}").contains("not the password"));
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn a_bare_404_is_a_wrong_endpoint_not_an_unknown_enterprise() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("lookup_endpoint".into(), "/api/doanh-nghiep".into());
    let adapter = BusinessAdapter::new(&config(&settings)).unwrap();
    let failure = unavailable(adapter.call(&request(ENTERPRISE)).await);
    assert!(
        failure.reason.contains("HTTP 404 Not Found without its JSON answer: is lookup_endpoint right?"),
        "{failure:?}"
    );
}

#[tokio::test]
async fn requests_the_adapter_does_not_answer() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let other = ServiceRequest { service: "citizen.verify".into(), ..request(ENTERPRISE) };
    let failure = unavailable(adapter.call(&other).await);
    assert!(failure.reason.contains("citizen.verify is not served by the business adapter"), "{failure:?}");

    let mut unfit = request(ENTERPRISE);
    unfit.body = json!({"dossier_code": DOSSIER});
    let failure = refused(adapter.call(&unfit).await);
    assert!(failure.reason.contains("missing field `mst`"), "{failure:?}");
    assert!(sim.calls().is_empty());
}
