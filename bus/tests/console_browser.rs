//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver, both
//! from the OS packages: `scripts/chromium/ensure.sh`). An operator signs in through the form,
//! sees the overview, and watches an adapter paused and resumed change on the page without a
//! reload; a wrong password is refused on the page. Screenshots of each page are saved under
//! `target/console-screenshots/` for a person to look at.

mod common;

use common::TestBus;
use lgsp_bus::Outcome;
use lgsp_bus::testing::SECRET;
use lgsp_bus::testing::browser::{Browser, Locator};
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

    // Signed in: the overview, every adapter on it.
    browser.sign_in(&base, "operator", SECRET).await;
    browser.shows("//h1[. = 'Tổng quan']").await;
    let running = "//tr[@data-adapter='scripted']/td[. = 'đang chạy']";
    browser.shows(running).await;
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
