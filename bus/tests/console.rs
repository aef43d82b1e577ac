//! The console's sign-in, over real HTTP: an operator's name and password give a session cookie
//! that is `HttpOnly` and `SameSite=Strict`; a wrong password, a member, or a form posted from
//! another site are refused, each saying why, and get no session; the overview shows the bus's
//! health and its adapters; signing out ends the page's access.

mod common;

use common::TestBus;
use lgsp_bus::Outcome;
use lgsp_bus::console::session::COOKIE;
use lgsp_bus::testing::SECRET;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

/// A browser-like client that does not follow redirects, so that each answer can be read.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// Posts the sign-in form as the console's own page would (its origin).
async fn sign_in(bus: &TestBus, name: &str, password: &str) -> reqwest::Response {
    let base = &bus.api.base;
    let form = [("name", name), ("password", password)];
    browser().post(format!("{base}/console/sign-in")).header("origin", base).form(&form).send().await.unwrap()
}

/// Reads the event stream until an event holding `text`; returns that event.
async fn next_event_with(stream: &mut reqwest::Response, text: &str) -> String {
    let mut received = String::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let chunk = stream.chunk().await.unwrap().expect("the stream stays open");
            received.push_str(&String::from_utf8_lossy(&chunk));
            while let Some((event, rest)) = received.split_once("\n\n") {
                if event.contains(text) {
                    return event.to_string();
                }
                received = rest.to_string();
            }
        }
    });
    found.await.unwrap_or_else(|_| panic!("no event with {text:?} within 20 s"))
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let set = headers.get(SET_COOKIE)?.to_str().ok()?.to_string();
    set.starts_with(&format!("{COOKIE}=")).then_some(set)
}

#[tokio::test]
async fn an_operator_signs_in_to_the_console_and_sees_the_bus_and_its_adapters() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);
    let base = bus.api.base.clone();

    // Not signed in: the sign-in page, in Vietnamese.
    let overview = browser().get(format!("{base}/console")).send().await.unwrap();
    assert_eq!(overview.status(), 303);
    assert_eq!(overview.headers()[LOCATION], "/console/sign-in");
    let form = browser().get(format!("{base}/console/sign-in")).send().await.unwrap();
    assert!(form.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let form = form.text().await.unwrap();
    assert!(form.contains("Tên đăng nhập") && form.contains("Mật khẩu"), "{form}");

    // Refused, each saying why, with no session.
    let wrong = sign_in(&bus, "operator", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(session_cookie(wrong.headers()).is_none());
    assert!(wrong.text().await.unwrap().contains("Sai tên đăng nhập hoặc mật khẩu."));
    let member = sign_in(&bus, "onestop.sandbox", SECRET).await;
    assert_eq!(member.status(), 403);
    assert!(session_cookie(member.headers()).is_none());
    assert!(member.text().await.unwrap().contains("không phải cán bộ vận hành"));
    let form = [("name", "operator"), ("password", SECRET)];
    let elsewhere = browser()
        .post(format!("{base}/console/sign-in"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403, "a form posted from another site");
    assert!(session_cookie(elsewhere.headers()).is_none());

    // Signed in: a session cookie no script can read and no other site's page sends.
    let signed_in = sign_in(&bus, "operator", SECRET).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = session_cookie(signed_in.headers()).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP here; Secure under TLS");
    let session = cookie.split(';').next().unwrap().to_string();

    let overview = browser().get(format!("{base}/console")).header("cookie", &session).send().await.unwrap();
    assert_eq!(overview.status(), 200);
    assert_eq!(overview.headers()["cache-control"], "no-store");
    let page = overview.text().await.unwrap();
    assert!(page.contains("Tổng quan") && page.contains("operator"), "{page}");
    assert!(page.contains("data-adapter=\"scripted\""), "every adapter is listed: {page}");
    assert!(page.contains("Máy chủ thông điệp (RabbitMQ)") && page.contains("hoạt động"), "{page}");

    // The live parts come again by themselves: a paused adapter shows as paused, no reload.
    let mut live = browser().get(format!("{base}/console/live")).header("cookie", &session).send().await.unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let running = next_event_with(&mut live, "đang chạy").await;
    assert!(running.starts_with("event: overview"), "{running}");
    assert_eq!(bus.operator.call(reqwest::Method::POST, "/v1/adapters/scripted/pause").await.0, 200);
    next_event_with(&mut live, "tạm dừng").await;
    drop(live);

    // Actions on the adapters page: by role, checked by the bus whatever the page showed.
    let post = |path: &str, origin: &str| {
        let request = browser().post(format!("{base}{path}")).header("cookie", &session).header("origin", origin);
        request.form(&[("reason", "")]).send()
    };
    let resumed = post("/console/adapters/scripted/resume", &base).await.unwrap();
    assert_eq!(resumed.status(), 200);
    assert!(resumed.text().await.unwrap().contains("scripted chạy lại."));
    let approve = post("/console/adapters/nobody/approve", &base).await.unwrap();
    assert_eq!(approve.status(), 403, "an operator is not an admin");
    assert!(approve.text().await.unwrap().contains("thiếu quyền: role admin"));
    let elsewhere = post("/console/adapters/scripted/pause", "https://evil.example").await.unwrap();
    assert_eq!(elsewhere.status(), 403, "a form posted from another site");
    let (_, shown) = bus.operator.get("/v1/adapters/scripted").await;
    assert_eq!(shown["state"], "running", "the refused pause changed nothing");

    // The API does not take the session: it is for the console only.
    let api = browser().get(format!("{base}/v1/adapters")).header("cookie", &session).send().await.unwrap();
    assert_eq!(api.status(), 401, "a cookie is not a credential of the API");

    // Signing out clears the cookie; a tampered session is sent back to sign in.
    let out = browser()
        .post(format!("{base}/console/sign-out"))
        .header("cookie", &session)
        .header("origin", &base)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(session_cookie(out.headers()).unwrap().contains("Max-Age=0"));
    let tampered = format!("{session}x");
    let again = browser().get(format!("{base}/console")).header("cookie", &tampered).send().await.unwrap();
    assert_eq!(again.status(), 303);
    assert!(again.headers()[LOCATION].to_str().unwrap().starts_with("/console/sign-in"));

    // On the message log: the refusals, and who signed in and out.
    let auditor = bus.api.as_("auditor").await;
    bus.wait_log(&auditor, "/v1/audit?kind=request.refused", |_, log| {
        let problems: Vec<&str> =
            log["entries"].as_array().into_iter().flatten().filter_map(|e| e["detail"]["problem"].as_str()).collect();
        problems.iter().filter(|p| **p == "console-sign-in").count() == 2
            && problems.iter().filter(|p| **p == "console-cross-site").count() == 2
    })
    .await;
    bus.wait_log(&auditor, "/v1/audit?kind=operator.action&actor=operator", |_, log| {
        let actions: Vec<&str> =
            log["entries"].as_array().into_iter().flatten().filter_map(|e| e["detail"]["action"].as_str()).collect();
        actions.contains(&"console.sign_in") && actions.contains(&"console.sign_out")
    })
    .await;
    bus.stop().await;
}

#[tokio::test]
async fn the_overviews_charts_count_every_delivery_and_its_latency() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);
    for seq in 1..=3 {
        let envelope = lgsp_bus::testing::status_changed(common::DOSSIER, seq, 4);
        let (status, body) = bus.post(&envelope).await;
        assert_eq!(status, 202, "{body}");
        bus.wait_state(envelope["id"].as_str().unwrap(), "delivered").await;
    }
    let signed_in = sign_in(&bus, "operator", SECRET).await;
    let session = session_cookie(signed_in.headers()).expect("a session cookie");
    let session = session.split(';').next().unwrap().to_string();
    let page = browser().get(format!("{}/console", bus.api.base)).header("cookie", &session).send().await.unwrap();
    let page = page.text().await.unwrap();
    // Three deliveries, each timed from its acceptance; none failed.
    for count in ["data-delivered=\"3\"", "data-failed=\"0\"", "data-timed=\"3\""] {
        assert!(page.contains(count), "{count} missing: {page}");
    }
    assert!(page.contains("<polyline class=\"first\""), "a line is drawn: {page}");
    bus.stop().await;
}
