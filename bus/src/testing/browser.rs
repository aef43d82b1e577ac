//! The console in a real browser, for tests: headless Chromium driven over WebDriver
//! (chromedriver, both from the OS packages: `scripts/chromium/ensure.sh`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

pub use fantoccini::Locator;
use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Chromium, headless, and the chromedriver that drives it (stopped with it).
pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session through it.
    pub async fn start() -> Browser {
        let port = crate::simulator::free_port().unwrap();
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
    pub async fn screenshot(&self, name: &str) {
        let folder = target_dir().join("console-screenshots");
        std::fs::create_dir_all(&folder).unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(folder.join(format!("{name}.png")), png).unwrap();
    }

    /// Signs in to the console at `base` through its form.
    pub async fn sign_in(&self, base: &str, name: &str, password: &str) {
        self.client.goto(&format!("{base}/console")).await.unwrap();
        self.client.find(Locator::Id("name")).await.unwrap().send_keys(name).await.unwrap();
        self.client.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
        self.client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    }

    /// Waits until the page holds an element at `xpath` (the page changing by itself).
    pub async fn shows(&self, xpath: &str) {
        let found = self.client.wait().at_most(Duration::from_secs(20)).for_element(Locator::XPath(xpath)).await;
        let page = self.client.source().await.unwrap_or_default();
        assert!(found.is_ok(), "the page never showed {xpath}: {page}");
    }
}

/// Where screenshots go: the build's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
