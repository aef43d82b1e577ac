//! The simulator's own contract, spoken to over HTTP as a one-stop system's clients would, and
//! its control routes (`/_sim/...`), as sandbox users drive them.

mod common;

use common::*;
use lgsp_onestop::{Behaviour, OnestopSim};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ask_token(sim: &OnestopSim, form: &str) -> reqwest::Response {
    let url = format!("{}{}", sim.url().as_str().trim_end_matches('/'), sim.options().token_endpoint);
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap()
}

async fn token(sim: &OnestopSim) -> String {
    let response = ask_token(sim, "grant_type=client_credentials&client_id=lgsp&client_secret=sandbox").await;
    let (_, body) = json_of(response).await;
    body["access_token"].as_str().unwrap().to_string()
}

async fn post_message(sim: &OnestopSim, token: Option<&str>, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let url = format!("{}{}", sim.url().as_str().trim_end_matches('/'), sim.options().messages_endpoint);
    let mut request = http().post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    json_of(request.send().await.unwrap()).await
}

fn body() -> Value {
    expected_body("submitted_annotated")
}

fn control(sim: &OnestopSim, path: &str) -> String {
    format!("{}_sim/{path}", sim.url())
}

#[tokio::test]
async fn the_token_endpoint_follows_oauth2_client_credentials() {
    let sim = start_sim().await;

    let response = ask_token(&sim, "grant_type=client_credentials&client_id=lgsp&client_secret=sandbox").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, answer) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["access_token"].as_str().unwrap().len(), 40);

    let cases = [
        ("grant_type=password&client_id=lgsp&client_secret=sandbox", 400, "unsupported_grant_type"),
        ("client_id=lgsp&client_secret=sandbox", 400, "invalid_request"),
        ("grant_type=client_credentials&client_id=lgsp&client_secret=wrong", 401, "invalid_client"),
        ("grant_type=client_credentials&client_id=other&client_secret=sandbox", 401, "invalid_client"),
    ];
    for (form, expected_status, expected_error) in cases {
        let (status, answer) = json_of(ask_token(&sim, form).await).await;
        assert_eq!((status.as_u16(), answer["error"].as_str().unwrap()), (expected_status, expected_error), "{form}");
    }
    let url = format!("{}oauth2/token", sim.url());
    let (status, answer) =
        json_of(http().post(url).json(&json!({"grant_type": "client_credentials"})).send().await.unwrap()).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert_eq!(sim.tokens_issued(), 1);
}

#[tokio::test]
async fn the_messages_endpoint_checks_token_shape_and_key_and_deduplicates() {
    let sim = start_sim().await;
    let token = token(&sim).await;
    let id = body()["id"].as_str().unwrap().to_string();

    let (status, answer) = post_message(&sim, None, Some(&id), &body()).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let (status, _) = post_message(&sim, Some("made-up"), Some(&id), &body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut no_annotations = body();
    no_annotations.as_object_mut().unwrap().remove("annotations");
    let (status, answer) = post_message(&sim, Some(&token), Some(&id), &no_annotations).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["message"], "Thiếu trường `annotations`");

    let (status, answer) = post_message(&sim, Some(&token), None, &body()).await;
    assert_eq!((status, answer["message"].as_str()), (StatusCode::BAD_REQUEST, Some("Thiếu header Idempotency-Key")));
    let (status, _) = post_message(&sim, Some(&token), Some("019a9e4c-0000-7000-8000-000000000000"), &body()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the key must be the message's id");
    assert!(sim.messages().is_empty());

    let (status, answer) = post_message(&sim, Some(&token), Some(&id), &body()).await;
    assert_eq!((status, answer["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    let (status, answer) = post_message(&sim, Some(&token), Some(&id), &body()).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("duplicate")));

    assert_eq!(sim.messages().len(), 1);
    let statuses: Vec<u16> = sim.calls().iter().map(|call| call.status).collect();
    assert_eq!(statuses, [401, 401, 400, 400, 400, 200, 409]);
}

#[tokio::test]
async fn control_routes_show_what_was_received_and_set_the_behaviour() {
    let sim = start_sim().await;
    let token = token(&sim).await;
    let id = body()["id"].as_str().unwrap().to_string();
    let code = body()["subject"].as_str().unwrap().to_string();

    let (status, _) = json_of(http().get(control(&sim, &format!("dossiers/{code}"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    post_message(&sim, Some(&token), Some(&id), &body()).await;
    assert!(sim.wait_until(PATIENCE, |state| state.dossier(&code).is_some()).await);

    let (status, dossier) = json_of(http().get(control(&sim, &format!("dossiers/{code}"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dossier["messages"][0]["annotations"], body()["annotations"]);
    assert_eq!(dossier["state"]["dossier_code"], code.as_str());
    assert_eq!(dossier["seq"], 0);
    let (_, messages) = json_of(http().get(control(&sim, "messages")).send().await.unwrap()).await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(messages[0]["type"], "dossier.submitted");

    let refuse = json!({"refuse_dossiers": {"000.00.01.H42-261120-0002": "Sai mã thủ tục"}, "latency_ms": 1});
    let response = http().put(control(&sim, "behaviour")).json(&refuse).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.behaviour().refuse_dossiers["000.00.01.H42-261120-0002"], "Sai mã thủ tục");
    let (_, behaviour) = json_of(http().get(control(&sim, "behaviour")).send().await.unwrap()).await;
    assert_eq!(behaviour["latency_ms"], 1);
    let mut refused = body();
    refused["id"] = "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e99".into();
    refused["subject"] = "000.00.01.H42-261120-0002".into();
    refused["payload"]["dossier_code"] = "000.00.01.H42-261120-0002".into();
    let (status, answer) =
        post_message(&sim, Some(&token), Some("019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e99"), &refused).await;
    assert_eq!((status, answer["message"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("Sai mã thủ tục")));

    let down = http().put(control(&sim, "behaviour")).json(&json!({"down": true})).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::NO_CONTENT);
    let (status, _) = post_message(&sim, Some(&token), Some(&id), &body()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let bad = http().put(control(&sim, "behaviour")).json(&json!({"error_rate": 2})).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Revoked tokens are refused; a reset forgets everything and behaves again.
    assert_eq!(http().post(control(&sim, "revoke")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    sim.set_behaviour(Behaviour::default());
    let (status, _) = post_message(&sim, Some(&token), Some(&id), &body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(http().post(control(&sim, "reset")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert!(sim.messages().is_empty() && sim.calls().is_empty() && sim.tokens_issued() == 0);
    assert_eq!(sim.behaviour(), Behaviour::default());
}
