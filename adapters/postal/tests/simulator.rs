//! The simulator speaks the postal service's contract: raw HTTP against it, as another client would.

mod common;

use common::*;
use lgsp_postal::{PostalSim, mapping};
use reqwest::Method;
use serde_json::{Value, json};

struct PostOffice {
    sim: PostalSim,
    http: reqwest::Client,
}

/// An answer: the status and the body as JSON (or as a string if it is not).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl PostOffice {
    async fn start() -> PostOffice {
        PostOffice { sim: start_sim().await, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.url().as_str().trim_end_matches('/'), path)
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    async fn token_with(&self, key: &str, secret: &str, grant: &str) -> Answer {
        let request = self.http.post(self.url("/token")).basic_auth(key, Some(secret)).body(grant.to_string());
        Self::answer(request.send().await.unwrap()).await
    }

    async fn token(&self) -> String {
        let options = self.sim.options();
        let answer =
            self.token_with(&options.consumer_key, &options.consumer_secret, "grant_type=client_credentials").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["access_token"].as_str().unwrap().to_string()
    }

    async fn call(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::answer(request.send().await.unwrap()).await
    }

    async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::answer(request.send().await.unwrap()).await
    }
}

fn order(number: &str) -> Value {
    let mut order = fixture("pickup.out.json");
    order["orderNumber"] = number.into();
    order
}

fn coded(answer: &Answer) -> (u16, &str) {
    (answer.status, answer.body["code"].as_str().unwrap_or("(no code)"))
}

#[tokio::test]
async fn a_token_is_issued_for_the_consumer_key_and_secret_only() {
    let office = PostOffice::start().await;
    let grant = "grant_type=client_credentials";
    let refused = office.token_with("lgsp", "wrong", grant).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (401, Some("invalid_client")));
    let bad_grant = office.token_with("lgsp", "sandbox", "grant_type=password").await;
    assert_eq!((bad_grant.status, bad_grant.body["error"].as_str()), (400, Some("unsupported_grant_type")));

    let issued = office.token_with("lgsp", "sandbox", grant).await;
    assert_eq!(issued.status, 200);
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["expires_in"], 3600);
    assert!(issued.body["access_token"].as_str().unwrap().len() >= 32);
    assert_eq!(office.sim.logins(), 1);
}

#[tokio::test]
async fn orders_need_a_token_every_required_field_and_a_new_number() {
    let office = PostOffice::start().await;
    let unauthorized = office.call("/order/post", None, order("PU-0001")).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.body["fault"]["message"], "Invalid Credentials");
    let token = office.token().await;
    let token = Some(token.as_str());

    for field in mapping::wire::order::REQUIRED {
        let mut incomplete = order("PU-0001");
        incomplete[field] = "".into();
        let answer = office.call("/order/post", token, incomplete).await;
        assert_eq!(coded(&answer), (400, "01"), "{field}");
        assert_eq!(answer.body["message"], format!("Thiếu trường {field}"));
    }
    let mut bad_amount = order("PU-0001");
    bad_amount["codAmount"] = "8000".into();
    assert_eq!(coded(&office.call("/order/post", token, bad_amount).await), (400, "01"));
    let mut other_customer = order("PU-0001");
    other_customer["customerCode"] = "SOMEONE_ELSE".into();
    assert_eq!(coded(&office.call("/order/post", token, other_customer).await), (400, "01"));
    assert!(office.sim.orders().is_empty());

    let placed = office.call("/order/post", token, order("PU-0001")).await;
    assert_eq!(coded(&placed), (200, "00"));
    assert_eq!(placed.body["data"], json!({"orderNumber": "PU-0001", "status": 1}));
    let again = office.call("/order/post", token, order("PU-0001")).await;
    assert_eq!(coded(&again), (409, "02"));
    assert!(again.body["message"].as_str().unwrap().contains("already exists"), "{again:?}");
    assert_eq!(office.sim.orders().len(), 1);
    assert_eq!(office.sim.order("PU-0001").unwrap().fields, order("PU-0001"));
}

#[tokio::test]
async fn orders_move_one_step_at_a_time_and_cancel_until_collected() {
    let office = PostOffice::start().await;
    let token = office.token().await;
    let token = Some(token.as_str());
    for number in ["PU-0001", "PU-0002", "PU-0003"] {
        assert_eq!(coded(&office.call("/order/post", token, order(number)).await), (200, "00"));
    }
    let cancel = |number: &str| json!({"customerCode": "LGSP42", "orderNumber": number});

    assert_eq!(coded(&office.call("/order/cancel", token, cancel("PU-9999")).await), (404, "03"));
    assert_eq!(coded(&office.call("/order/cancel", token, cancel("PU-0001")).await), (200, "00"));
    assert_eq!(coded(&office.call("/order/cancel", token, cancel("PU-0001")).await), (409, "05"));
    assert_eq!(office.sim.advance("PU-0001"), None, "a cancelled order moves no further");

    assert_eq!(office.sim.advance("PU-0002"), Some(2));
    assert_eq!(coded(&office.call("/order/cancel", token, cancel("PU-0002")).await), (409, "04"));
    assert_eq!(office.sim.advance_all(), 2);
    assert_eq!(office.sim.deliver_all(), 1);
    assert_eq!(office.sim.advance("PU-0002"), None, "a delivered order moves no further");
    assert_eq!(office.sim.advance("PU-9999"), None);
    let statuses: Vec<u8> = office.sim.orders().iter().map(|o| o.status).collect();
    assert_eq!(statuses, [4, 3, 3]);
}

#[tokio::test]
async fn the_tracking_feed_pages_by_last_id() {
    let office = PostOffice::start().await;
    let token = office.token().await;
    let token = Some(token.as_str());
    for number in ["PU-0001", "PU-0002"] {
        office.call("/order/post", token, order(number)).await;
    }
    office.sim.advance("PU-0002");
    let page = |last_id: Value, size: Value| json!({"customerCode": "LGSP42", "lastId": last_id, "pagesize": size});

    let first = office.call("/order/tracking", token, page(0.into(), 2.into())).await;
    assert_eq!(coded(&first), (200, "00"));
    let items = first.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let item = &items[1];
    assert_eq!((&item["id"], &item["orderNumber"], &item["status"]), (&json!(2), &json!("PU-0002"), &json!(1)));
    assert_eq!(item["statusName"], "Đăng ký sử dụng dịch vụ");
    let time = item["time"].as_str().unwrap();
    assert!(mapping::parse_time(time).is_some() && time.len() == 19, "{time}");

    let rest = office.call("/order/tracking", token, page(2.into(), 2.into())).await;
    let ids: Vec<u64> = rest.body["data"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [3]);
    let end = office.call("/order/tracking", token, page(3.into(), 2.into())).await;
    assert_eq!(end.body["data"], json!([]));

    assert_eq!(coded(&office.call("/order/tracking", token, page(0.into(), 0.into())).await), (400, "01"));
    assert_eq!(coded(&office.call("/order/tracking", token, page(0.into(), 1001.into())).await), (400, "01"));
    assert_eq!(coded(&office.call("/order/tracking", token, page((-1).into(), 2.into())).await), (400, "01"));
    assert_eq!(office.call("/order/tracking", None, page(0.into(), 2.into())).await.status, 401);
}

#[tokio::test]
async fn the_control_routes_drive_the_simulator_over_http() {
    let office = PostOffice::start().await;
    let token = office.token().await;
    office.call("/order/post", Some(&token), order("PU-0001")).await;

    let moved = office.control(Method::POST, "/_sim/orders/PU-0001/advance", None).await;
    assert_eq!((moved.status, &moved.body), (200, &json!({"status": 2})));
    assert_eq!(office.control(Method::POST, "/_sim/orders/PU-9999/advance", None).await.status, 404);
    assert_eq!(office.control(Method::POST, "/_sim/deliver", None).await.body, json!({"moved": 1}));
    assert_eq!(office.control(Method::POST, "/_sim/orders/PU-0001/advance", None).await.status, 409);
    assert_eq!(office.control(Method::POST, "/_sim/advance", None).await.body, json!({"moved": 0}));
    assert_eq!(office.control(Method::GET, "/_sim/orders/PU-0001", None).await.body["status"], 3);
    assert_eq!(office.control(Method::GET, "/_sim/orders", None).await.body.as_array().unwrap().len(), 1);
    assert_eq!(office.control(Method::GET, "/_sim/tracking", None).await.body.as_array().unwrap().len(), 3);
    assert_eq!(office.control(Method::GET, "/_sim/calls", None).await.body[0]["endpoint"], "order");

    let webhook = json!({"url": "http://127.0.0.1:9/v1/adapters/postal/webhook", "secret": "s"});
    assert_eq!(office.control(Method::PUT, "/_sim/webhook", Some(webhook)).await.status, 204);
    assert_eq!(office.control(Method::DELETE, "/_sim/webhook", None).await.status, 204);

    let down = office.control(Method::PUT, "/_sim/behaviour", Some(json!({"down": true}))).await;
    assert_eq!(down.status, 204);
    assert_eq!(office.control(Method::GET, "/_sim/behaviour", None).await.body["down"], true);
    assert_eq!(office.call("/order/post", Some(&token), order("PU-0002")).await.status, 503);
    let bad = office.control(Method::PUT, "/_sim/behaviour", Some(json!({"error_rate": 2}))).await;
    assert_eq!(bad.status, 400);

    assert_eq!(office.control(Method::POST, "/_sim/revoke", None).await.status, 204);
    assert_eq!(office.control(Method::POST, "/_sim/reset", None).await.status, 204);
    assert!(office.sim.orders().is_empty() && office.sim.tracking().is_empty());
    assert_eq!(office.call("/order/post", Some(&token), order("PU-0002")).await.status, 401, "tokens are forgotten");
}
