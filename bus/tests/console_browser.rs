//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver, both
//! from the OS packages: `scripts/chromium/ensure.sh`). An operator signs in through the form,
//! sees the overview, and watches an adapter paused and resumed change on the page without a
//! reload; a wrong password is refused on the page. An operator finds a dossier's message and
//! follows its path, and replays a dead letter from the dead-letters page. Screenshots of each
//! page are saved under `target/console-screenshots/` for a person to look at.

mod common;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::testing::SECRET;
use lgsp_bus::testing::browser::{Browser, Locator};
use lgsp_bus::{Failure, Outcome};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_operator_signs_in_and_watches_an_adapter_change_without_reloading() {
    let bus = TestBus::start().await;
    bus.adapter.answer(|_| Outcome::Delivered);
    let base = bus.api.base.clone();
    let browser = Browser::start().await;

    // A wrong password: refused on the page, still on the sign-in form.
    browser.sign_in(&base, "operator", "not the password").await;
    browser.shows("//p[@role='alert'][contains(., 'Sai tên đăng nhập hoặc mật khẩu.')]").await;
    browser.screenshot("sign-in-refused").await;

    // Some traffic for the charts.
    for seq in 1..=5 {
        let envelope = status_changed(DOSSIER, seq, 4);
        assert_eq!(bus.post(&envelope).await.0, 202);
        bus.wait_state(envelope["id"].as_str().unwrap(), "delivered").await;
    }

    // Signed in: the overview, every adapter on it, and the charts.
    browser.sign_in(&base, "operator", SECRET).await;
    browser.shows("//h1[. = 'Tổng quan']").await;
    let running = "//tr[@data-adapter='scripted']/td[. = 'đang chạy']";
    browser.shows(running).await;
    browser.shows("//figure[@data-delivered='5']").await;
    browser.screenshot("overview").await;

    // Paused and resumed elsewhere (the API): the page follows, never reloaded.
    let marker = "window.__notReloaded = true; return true;";
    browser.client.execute(marker, vec![]).await.unwrap();
    assert_eq!(bus.operator.call(Method::POST, "/v1/adapters/scripted/pause").await.0, 200);
    browser.shows("//tr[@data-adapter='scripted']/td[. = 'tạm dừng']").await;
    browser.screenshot("overview-paused").await;
    assert_eq!(bus.operator.call(Method::POST, "/v1/adapters/scripted/resume").await.0, 200);
    browser.shows(running).await;
    let same_page = browser.client.execute("return window.__notReloaded === true;", vec![]).await.unwrap();
    assert_eq!(same_page, json!(true), "the page changed by itself, it was not reloaded");

    // Signing out returns to the form.
    browser.client.find(Locator::Css("form.signout button")).await.unwrap().click().await.unwrap();
    browser.shows("//p[@role='alert'][contains(., 'Đã đăng xuất.')]").await;
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}

#[tokio::test]
async fn an_operator_follows_a_dossiers_message_and_replays_a_dead_letter_from_the_page() {
    const OTHER: &str = "000.00.01.H42-261120-0002";
    let bus = TestBus::start().await;
    // The peer refuses the other dossier, for now.
    bus.adapter.answer(|d| {
        if d.stale {
            Outcome::Superseded
        } else if d.envelope.subject == OTHER {
            Outcome::Permanent(Failure::new("portal refused: error_code 03"))
        } else {
            Outcome::Delivered
        }
    });
    let (delivered, refused) = (status_changed(DOSSIER, 1, 4), status_changed(OTHER, 1, 4));
    for message in [&delivered, &refused] {
        assert_eq!(bus.post(message).await.0, 202);
    }
    let id = |message: &serde_json::Value| message["id"].as_str().unwrap().to_string();
    let (delivered, refused) = (id(&delivered), id(&refused));
    bus.wait_state(&delivered, "delivered").await;
    bus.operator.wait_dead_letter(&refused, "scripted", "dead").await;
    let base = bus.api.base.clone();
    let browser = Browser::start().await;
    let click = |xpath: String| {
        let client = browser.client.clone();
        async move { client.find(Locator::XPath(&xpath)).await.unwrap().click().await.unwrap() }
    };
    browser.sign_in(&base, "operator", SECRET).await;
    browser.shows("//h1[. = 'Tổng quan']").await;

    // The messages page, from the menu: the dossier's message is found, and only it.
    click("//nav/a[. = 'Thông điệp']".into()).await;
    browser.shows("//h1[. = 'Thông điệp']").await;
    browser.client.find(Locator::Id("dossier")).await.unwrap().send_keys(DOSSIER).await.unwrap();
    click("//form[contains(@class, 'search')]//button[@type = 'submit']".into()).await;
    browser.shows("//p[contains(@class, 'count')][contains(., 'Tìm thấy 1 thông điệp')]").await;
    browser.shows(&format!("//tr[@data-message='{delivered}']")).await;
    let page = browser.client.source().await.unwrap();
    assert!(!page.contains(&refused), "the other dossier's message is not listed");
    browser.screenshot("messages").await;

    // Its path: accepted, then delivered to the adapter.
    click(format!("//tr[@data-message='{delivered}']//a")).await;
    browser.shows("//h1[. = 'Đường đi của thông điệp']").await;
    browser.shows("//tr[@data-delivery='scripted']/td[. = 'đã chuyển']").await;
    browser.screenshot("message-path").await;

    // The peer healed, the other dossier's dead letter is replayed from the dead-letters page.
    bus.adapter.answer(|d| if d.stale { Outcome::Superseded } else { Outcome::Delivered });
    click("//nav/a[. = 'Thư chết']".into()).await;
    browser.shows(&format!("//tr[@data-dead-letter='{refused}']/td[. = 'chờ xử lý']")).await;
    browser.screenshot("dead-letters").await;
    click(format!("//tr[@data-dead-letter='{refused}']//button[@data-action='replay']")).await;
    browser.shows("//p[@role='status'][contains(., 'Đã chuyển lại')]").await;
    browser.screenshot("dead-letter-replayed").await;
    // Once the bus has delivered it, its path says so.
    bus.wait_state(&refused, "delivered").await;
    click("//a[. = 'Xem đường đi của thông điệp']".into()).await;
    browser.shows("//tr[@data-delivery='scripted']/td[. = 'đã chuyển']").await;
    browser.shows("//tr[@data-dead-letter='scripted']/td[. = 'đã chuyển lại']").await;
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}

#[tokio::test]
async fn an_operator_watches_a_peer_go_down_and_come_back_without_reloading() {
    // The breaker opens after two failures and probes again within 400 ms.
    let bus = TestBus::start_with(|_| {
        "[adapters.scripted.breaker]\nfailures = 2\nopen_for = \"200ms\"\nmax_open_for = \"400ms\"\n".into()
    })
    .await;
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    bus.adapter.answer({
        let down = down.clone();
        move |_| {
            if down.load(std::sync::atomic::Ordering::SeqCst) {
                Outcome::Transient(Failure::new("connection refused").with_code("unreachable"))
            } else {
                Outcome::Delivered
            }
        }
    });
    let base = bus.api.base.clone();
    let browser = Browser::start().await;
    browser.sign_in(&base, "operator", SECRET).await;
    // The third column is the peer's circuit breaker.
    let breaker = |word: &str| format!("//tr[@data-adapter='scripted']/td[3][contains(., '{word}')]");
    browser.shows(&breaker("bình thường")).await;
    browser.client.execute("window.__notReloaded = true; return true;", vec![]).await.unwrap();

    // The peer goes down while dossiers flow: the page shows the breaker open (or probing) and
    // the peer's error, by itself.
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    let messages: Vec<serde_json::Value> =
        (1..=4).map(|n| status_changed(&lgsp_bus::testing::dossier(n), 1, 4)).collect();
    for message in &messages {
        assert_eq!(bus.post(message).await.0, 202);
    }
    browser.shows("//tr[@data-adapter='scripted']/td[contains(@class, 'open') or contains(@class, 'probing')]").await;
    browser.shows("//tr[@data-adapter='scripted']/td[@class='error'][contains(., 'connection refused')]").await;
    browser.screenshot("overview-peer-down").await;

    // It comes back: the next dossier is delivered and the breaker closes on the page. (Those
    // sent during the outage may have spent their attempts on its probes: dead letters.)
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    let after = status_changed(&lgsp_bus::testing::dossier(5), 1, 4);
    assert_eq!(bus.post(&after).await.0, 202);
    bus.wait_state(after["id"].as_str().unwrap(), "delivered").await;
    browser.shows(&breaker("bình thường")).await;
    browser.screenshot("overview-peer-back").await;
    let same_page = browser.client.execute("return window.__notReloaded === true;", vec![]).await.unwrap();
    assert_eq!(same_page, json!(true), "the page changed by itself, it was not reloaded");
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}
