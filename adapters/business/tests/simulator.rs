//! The simulator speaks the registry's contract: raw HTTP against it, as another client would.

mod common;

use std::time::Duration;

use common::*;
use lgsp_business::mapping::token_expiry;
use lgsp_business::{BusinessSim, SimOptions};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

struct Registry {
    sim: BusinessSim,
    http: reqwest::Client,
}

/// An answer: status, `WWW-Authenticate`, and the body as JSON (or as a string if it is not).
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: Value,
}

impl Registry {
    async fn start(options: SimOptions) -> Registry {
        Registry { sim: start_sim_with(options).await, http: reqwest::Client::new() }
    }

    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let url = format!("{}{}", self.sim.url().as_str().trim_end_matches('/'), path);
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        Answer { status, challenge, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    async fn login(&self) -> Value {
        let options = self.sim.options();
        let body = json!({"username": options.username, "password": options.password});
        let answer = self.send(Method::POST, "/api/token", None, Some(body)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    async fn refresh(&self, refresh_token: &Value) -> Answer {
        self.send(Method::POST, "/api/token/refresh", None, Some(json!({"refreshToken": refresh_token}))).await
    }

    async fn lookup(&self, token: &str, mst: &str) -> Answer {
        self.send(Method::GET, &format!("/api/doanhnghiep/{mst}"), Some(token), None).await
    }
}

fn token(tokens: &Value) -> &str {
    tokens["token"].as_str().unwrap()
}

#[tokio::test]
async fn a_login_issues_a_token_a_refresh_token_and_its_expiry() {
    let registry = Registry::start(SimOptions::default()).await;
    let before = OffsetDateTime::now_utc();
    let tokens = registry.login().await;

    assert!(token(&tokens).len() >= 32 && tokens["refreshToken"].as_str().unwrap().len() >= 32, "{tokens}");
    let expiry_text = tokens["expiryDate"].as_str().unwrap();
    assert!(expiry_text.ends_with("+07:00"), "{expiry_text}");
    let expiry = token_expiry(&tokens["expiryDate"]).unwrap();
    let ttl = registry.sim.options().token_ttl;
    assert!(expiry >= before + ttl - Duration::from_secs(1) && expiry <= OffsetDateTime::now_utc() + ttl);

    let wrong = registry.send(Method::POST, "/api/token", None, Some(json!({"username": "lgsp", "password": "guess"})));
    let wrong = wrong.await;
    assert_eq!((wrong.status, &wrong.body), (401, &json!({"message": "Sai tên đăng nhập hoặc mật khẩu"})));
    let garbled = registry.send(Method::POST, "/api/token", None, None).await;
    assert_eq!(garbled.status, 400);
    assert!(garbled.body["message"].as_str().unwrap().contains("JSON"), "{}", garbled.body);
    assert_eq!(registry.sim.logins(), 1);
}

#[tokio::test]
async fn lookups_need_a_known_unexpired_token() {
    let registry = Registry::start(SimOptions { token_ttl: Duration::from_secs(60), ..SimOptions::default() }).await;
    let missing = registry.send(Method::GET, &format!("/api/doanhnghiep/{ENTERPRISE}"), None, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
    assert_eq!(missing.body, json!({"message": "Token không hợp lệ hoặc đã hết hạn"}));
    assert_eq!(registry.lookup("made-up", ENTERPRISE).await.status, 401);

    let tokens = registry.login().await;
    assert_eq!(registry.lookup(token(&tokens), ENTERPRISE).await.status, 200);
    registry.sim.advance_clock(Duration::from_secs(61));
    assert_eq!(registry.lookup(token(&tokens), ENTERPRISE).await.status, 401);

    let fresh: Vec<bool> = registry.sim.calls().iter().map(|c| c.token_fresh).collect();
    assert_eq!(fresh, [false, false, true, false], "every lookup is recorded, refused or not");
}

#[tokio::test]
async fn a_refresh_token_works_once_and_only_until_it_expires() {
    let registry = Registry::start(SimOptions::default()).await;
    let tokens = registry.login().await;

    let renewed = registry.refresh(&tokens["refreshToken"]).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_ne!(token(&renewed.body), token(&tokens));
    assert_eq!(registry.lookup(token(&renewed.body), ENTERPRISE).await.status, 200);

    let reused = registry.refresh(&tokens["refreshToken"]).await;
    assert_eq!((reused.status, &reused.body["message"]), (401, &json!("Refresh token không hợp lệ hoặc đã hết hạn")));

    registry.sim.advance_clock(registry.sim.options().refresh_ttl + Duration::from_secs(1));
    assert_eq!(registry.refresh(&renewed.body["refreshToken"]).await.status, 401);
    assert_eq!((registry.sim.logins(), registry.sim.refreshes()), (1, 1));
}

#[tokio::test]
async fn lookups_answer_from_the_sandbox_and_check_the_code() {
    let registry = Registry::start(SimOptions::default()).await;
    let tokens = registry.login().await;

    let found = registry.lookup(token(&tokens), ENTERPRISE).await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["maSoDoanhNghiep"], ENTERPRISE);
    assert_eq!(found.body["tenTiengViet"], "Công ty TNHH Minh Phát");
    assert_eq!(found.body["tinhTrangPhapLy"][0]["tenTinhTrang"], "Đang hoạt động");
    assert_eq!(found.body["nganhNgheKinhDoanh"][0], json!({"maNganh": "4649", "laNganhChinh": true}));
    let branch = registry.lookup(token(&tokens), BRANCH).await;
    assert_eq!(branch.body["diaChiTruSo"][0]["maTinhThanh"], "42");
    let dissolved = registry.lookup(token(&tokens), DISSOLVED).await;
    assert_eq!(dissolved.body["tinhTrangPhapLy"][2]["tenTinhTrang"], "Đã giải thể");

    let unknown = registry.lookup(token(&tokens), UNKNOWN).await;
    assert_eq!(
        (unknown.status, &unknown.body),
        (404, &json!({"message": "Không tìm thấy doanh nghiệp có mã số 0101234568"}))
    );
    for malformed in ["010123456", "0101234567-1", "0101234567001", "abcdefghij"] {
        let answer = registry.lookup(token(&tokens), malformed).await;
        assert_eq!(answer.status, 400, "{malformed}");
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("Mã số doanh nghiệp `{malformed}` không hợp lệ")), "{message}");
    }
    let statuses: Vec<u16> = registry.sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [200, 200, 200, 404, 400, 400, 400, 400]);
}

#[tokio::test]
async fn http_control_routes_show_calls_and_change_behaviour() {
    let registry = Registry::start(SimOptions::default()).await;
    let tokens = registry.login().await;
    registry.lookup(token(&tokens), ENTERPRISE).await;

    let calls = registry.send(Method::GET, "/_sim/calls", None, None).await;
    assert_eq!(calls.body[0]["mst"], ENTERPRISE);
    assert_eq!((calls.body[0]["token_fresh"].as_bool(), calls.body[0]["status"].as_u64()), (Some(true), Some(200)));

    let put = |body: Value| registry.send(Method::PUT, "/_sim/behaviour", None, Some(body));
    assert_eq!(put(json!({"down": true})).await.status, 204);
    assert_eq!(registry.lookup(token(&tokens), ENTERPRISE).await.status, 503);
    let behaviour = registry.send(Method::GET, "/_sim/behaviour", None, None).await;
    assert_eq!(behaviour.body["down"], true);
    assert_eq!(put(json!({"error_rate": 2})).await.status, 400);
    assert_eq!(put(json!({"token_ttl": "0s"})).await.status, 400);
    assert_eq!(put(json!({"rate_limited": true})).await.status, 204);
    assert_eq!(registry.lookup(token(&tokens), ENTERPRISE).await.status, 429);

    // Short-lived tokens from now on.
    assert_eq!(put(json!({"token_ttl": "2s"})).await.status, 204);
    let short = registry.login().await;
    let expiry = token_expiry(&short["expiryDate"]).unwrap();
    assert!(expiry <= OffsetDateTime::now_utc() + Duration::from_secs(3), "{short}");

    assert_eq!(registry.send(Method::POST, "/_sim/revoke", None, None).await.status, 204);
    assert_eq!(registry.lookup(token(&short), ENTERPRISE).await.status, 401);
    assert_eq!(registry.refresh(&short["refreshToken"]).await.status, 401);

    assert_eq!(registry.send(Method::POST, "/_sim/reset", None, None).await.status, 204);
    assert!(registry.sim.calls().is_empty());
    assert_eq!((registry.sim.logins(), registry.sim.behaviour()), (0, Default::default()));
}

#[tokio::test]
async fn wait_until_wakes_on_the_call_it_waits_for() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let waiter = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.wait_until(PATIENCE, |s| s.calls.iter().any(|c| c.mst == DISSOLVED)).await })
    };
    lookup(&adapter, DISSOLVED).await;
    assert!(waiter.await.unwrap());
    // And a predicate that never holds gives up at its timeout.
    assert!(!sim.wait_until(Duration::from_millis(50), |s| s.calls.len() > 1).await);
}
