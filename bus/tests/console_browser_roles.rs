//! The console's roles in a real browser (headless Chromium over WebDriver: see
//! `console_browser.rs`): a viewer, an operator, an admin and an auditor sign in in turn, each
//! sees only the menu and the buttons their roles allow, and uses the page that is theirs: the
//! viewer asks which agency is competent, the admin grants a member a right, the auditor finds a
//! citizen's lookups. Screenshots go to `target/console-screenshots/` (`members`, `lookups`,
//! `routing`).

mod common;

use common::{DOSSIER, TestBus, status_changed};
use lgsp_bus::testing::SECRET;
use lgsp_bus::testing::browser::{Browser, Locator};
use lgsp_bus::{Failure, Outcome};
use serde_json::json;

const CITIZEN: &str = "001203000001";
const MEMBER: &str = "onestop.thachha";

/// A bus with an operator of each role and competence tables.
async fn start() -> TestBus {
    TestBus::start_with(|dir| {
        let units = "[provinces.42]\nname = \"Hà Tĩnh\"\n[communes.18073]\nname = \"Xã Thạch Hà\"\nprovince = \"42\"\n";
        let rules = "[[rule]]\nprocedure = \"1.001234\"\nunit = \"42\"\nagency = \"000.00.01.H42\"\n";
        std::fs::write(dir.join("units.toml"), units).unwrap();
        std::fs::write(dir.join("routing.toml"), rules).unwrap();
        format!(
            "[operators.viewer]\nroles = [\"viewer\"]\n[routing]\nunits = \"{}\"\nrules = \"{}\"\n",
            dir.join("units.toml").display(),
            dir.join("routing.toml").display()
        )
    })
    .await
}

/// What a role's menu and pages show.
struct Sees {
    role: &'static str,
    members: bool,
    lookups: bool,
    /// Pause, replay and purge.
    operates: bool,
}

const EVERYONE: [&str; 6] = ["Tổng quan", "Hồ sơ", "Bộ kết nối", "Thông điệp", "Thư chết", "Định tuyến"];

#[tokio::test]
async fn each_role_sees_only_its_menu_and_buttons_and_uses_its_own_page() {
    let bus = start().await;
    // A dead letter, for the replay button, and a lookup, for the auditor.
    bus.adapter.answer(|d| {
        if d.stale { Outcome::Superseded } else { Outcome::Permanent(Failure::new("portal refused: error_code 03")) }
    });
    let message = status_changed(DOSSIER, 1, 4);
    assert_eq!(bus.post(&message).await.0, 202);
    let dead = message["id"].as_str().unwrap().to_string();
    bus.operator.wait_dead_letter(&dead, "scripted", "dead").await;
    bus.adapter.answer_requests(|_| {
        let address = json!({"province_code": "42", "detail": "Xã Thạch Hà, Hà Tĩnh"});
        Ok(json!({"result": "match", "citizen": {"permanent_address": address}}))
    });
    let asker = bus.api.as_(MEMBER).await.http;
    let verify = json!({"cccd": CITIZEN, "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                        "dossier_code": DOSSIER, "fields": ["permanent_address"]});
    let asked = asker.post(format!("{}/v1/services/citizen.verify", bus.api.base)).json(&verify).send().await.unwrap();
    assert_eq!(asked.status(), 200);

    let base = bus.api.base.clone();
    let browser = Browser::start().await;
    let client = browser.client.clone();
    let click = |xpath: String| {
        let client = client.clone();
        async move { client.find(Locator::XPath(&xpath)).await.unwrap().click().await.unwrap() }
    };
    let count = |xpath: &'static str| {
        let client = client.clone();
        async move { client.find_all(Locator::XPath(xpath)).await.unwrap().len() }
    };
    let type_into = |id: &'static str, text: &'static str| {
        let client = client.clone();
        async move { client.find(Locator::Id(id)).await.unwrap().send_keys(text).await.unwrap() }
    };
    let roles = [
        Sees { role: "viewer", members: false, lookups: false, operates: false },
        Sees { role: "operator", members: false, lookups: false, operates: true },
        Sees { role: "admin", members: true, lookups: false, operates: false },
        Sees { role: "auditor", members: false, lookups: true, operates: false },
    ];
    for sees in &roles {
        let role = sees.role;
        browser.sign_in(&base, role, SECRET).await;
        browser.shows("//h1[. = 'Tổng quan']").await;
        // The page is whole once its heading is there: what is absent now is absent.
        for link in EVERYONE {
            assert_eq!(count_links(&browser, link).await, 1, "{role}: {link}");
        }
        assert_eq!(count_links(&browser, "Thành viên").await, usize::from(sees.members), "{role}");
        assert_eq!(count_links(&browser, "Tra cứu dữ liệu cá nhân").await, usize::from(sees.lookups), "{role}");

        // Pause on the adapters page, replay and purge on the dead letters': for operators.
        click("//nav/a[. = 'Bộ kết nối']".into()).await;
        browser.shows("//h1[. = 'Bộ kết nối']").await;
        assert_eq!(count("//button[@data-action = 'pause']").await, usize::from(sees.operates), "{role}: pause");
        click("//nav/a[. = 'Thư chết']".into()).await;
        browser.shows(&format!("//tr[@data-dead-letter='{dead}']")).await;
        for action in ["replay", "purge", "replay-all"] {
            let shown = client.find_all(Locator::XPath(&format!("//button[@data-action = '{action}']"))).await.unwrap();
            assert_eq!(shown.len(), usize::from(sees.operates), "{role}: {action}");
        }

        match role {
            "viewer" => {
                // Which agency is competent: asked on the routing page.
                click("//nav/a[. = 'Định tuyến']".into()).await;
                browser.shows("//h1[. = 'Định tuyến theo thẩm quyền']").await;
                type_into("procedure", "1.001234").await;
                type_into("unit", "18073").await;
                click("//section[contains(@class, 'question')]//button[@type = 'submit']".into()).await;
                browser.shows("//div[@data-routed = 'true'][@data-agency = '000.00.01.H42']").await;
                browser.screenshot("routing").await;
                // Typed in, the lookups page is refused all the same.
                client.goto(&format!("{base}/console/lookups?subject={CITIZEN}")).await.unwrap();
                browser.shows("//p[@role = 'alert'][contains(., 'thiếu quyền: role auditor')]").await;
                assert!(!client.source().await.unwrap().contains(CITIZEN), "nothing of the lookups shown");
            }
            "admin" => {
                // A right granted on the member's page, and shown there at once.
                click("//nav/a[. = 'Thành viên']".into()).await;
                browser.shows(&format!("//tr[@data-member = '{MEMBER}']")).await;
                click(format!("//tr[@data-member = '{MEMBER}']//a[. = 'Chi tiết']")).await;
                browser.shows("//form[@data-kind = 'send']").await;
                type_into("send-types", "dossier.submitted").await;
                type_into("send-agencies", "000.00.01.H42").await;
                click("//form[@data-kind = 'send']//button[@data-action = 'grant']".into()).await;
                browser.shows("//p[@role = 'status'][contains(., 'Đã cấp quyền')]").await;
                browser.shows("//li[@data-right = 'send'][. = 'dossier.submitted → 000.00.01.H42']").await;
                browser.screenshot("members").await;
            }
            "auditor" => {
                // A citizen's lookups, found by their CCCD.
                click("//nav/a[. = 'Tra cứu dữ liệu cá nhân']".into()).await;
                browser.shows("//h1[. = 'Tra cứu dữ liệu cá nhân']").await;
                type_into("subject", CITIZEN).await;
                click("//form[contains(@class, 'search')]//button[@type = 'submit']".into()).await;
                browser.shows(&format!("//tr[@data-outcome = 'match']/td[. = '{MEMBER}']")).await;
                browser.shows(&format!("//tr[@data-outcome = 'match']/td/a[. = '{CITIZEN}']")).await;
                browser.screenshot("lookups").await;
            }
            _ => {}
        }
        click("//form[contains(@class, 'signout')]//button".into()).await;
        browser.shows("//p[@role = 'alert'][contains(., 'Đã đăng xuất.')]").await;
    }

    // The admin's grant is the API's.
    let (_, member) = bus.api.as_("admin").await.get(&format!("/v1/members/{MEMBER}")).await;
    let granted = json!({"types": ["dossier.submitted"], "agencies": ["000.00.01.H42"]});
    assert!(member["rights"]["send"].as_array().unwrap().contains(&granted), "{member}");
    browser.client.clone().close().await.unwrap();
    bus.stop().await;
}

/// How many links of the menu say `text`.
async fn count_links(browser: &Browser, text: &str) -> usize {
    browser.client.find_all(Locator::XPath(&format!("//nav/a[. = '{text}']"))).await.unwrap().len()
}
