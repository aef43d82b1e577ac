//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver, both
//! from the OS packages: `scripts/chromium/ensure.sh`). An operator signs in through the form,
//! sees the overview, and watches an adapter paused and resumed change on the page without a
//! reload; a wrong password is refused on the page. Screenshots of each page are saved under
//! `target/console-screenshots/` for a person to look at.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::TestBus;
use fantoccini::{Client, ClientBuilder, Locator};
use lgsp_bus::Outcome;
use lgsp_bus::testing::SECRET;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Chromium, headless, and the chromedriver that drives it (stopped with it).
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    async fn start() -> Browser {
        let port = lgsp_bus::simulator::free_port().unwrap();
        let mut driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed (scripts/chromium/ensure.sh)");
        // It says when it listens.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("started successfully") {
                    return;
                }
            }
            panic!("chromedriver ended before it listened");
        });
        started.await.expect("chromedriver started within 30 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let options = json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser { client, _driver: driver }
    }

    /// Saves what the page shows as `target/console-screenshots/<name>.png`.
    async fn screenshot(&self, name: &str) {
        let folder = target_dir().join("console-screenshots");
        std::fs::create_dir_all(&folder).unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(folder.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, base: &str, name: &str, password: &str) {
        self.client.goto(&format!("{base}/console")).await.unwrap();
        self.client.find(Locator::Id("name")).await.unwrap().send_keys(name).await.unwrap();
        self.client.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
        self.client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    }

    /// Waits until the page holds an element at `xpath` (the page changing by itself).
    async fn shows(&self, xpath: &str) {
        let found = self.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::XPath(xpath)).await;
        let page = self.client.source().await.unwrap_or_default();
        assert!(found.is_ok(), "the page never showed {xpath}: {page}");
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

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
