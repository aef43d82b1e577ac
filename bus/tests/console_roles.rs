//! Who sees what in the console, over real HTTP with a session cookie: every page for every role
//! (its status, and the menu's links, each present only for the roles its page opens); a lookup
//! made through the bus shown to an auditor with its fields, the subject in full, and refused to
//! every other role; the routing question answered as `GET /v1/routing/decision` answers it; an
//! admin granting a right on a member's page, which the API then shows, and a viewer's or another
//! site's post refused, changing nothing.

mod common;

use common::console::Console;
use common::tables::tables;
use common::{DOSSIER, TestBus};
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["viewer", "operator", "admin", "auditor"];

/// A bus with an operator of each role (the common config has all but the viewer) and
/// competence tables.
async fn start() -> TestBus {
    TestBus::start_with(|dir| format!("[operators.viewer]\nroles = [\"viewer\"]\n{}", tables(dir))).await
}

/// The page's menu.
fn nav(page: &str) -> &str {
    let start = page.find("<nav>").unwrap_or_else(|| panic!("a menu: {page}"));
    let end = page[start..].find("</nav>").expect("the menu ends") + start;
    &page[start..end]
}

/// The first table row whose `attribute` is `value`.
fn row<'a>(page: &'a str, attribute: &str, value: &str) -> &'a str {
    let marker = format!(" {attribute}=\"{value}\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no row with{marker}: {page}"));
    let start = page[..at].rfind("<tr").expect("in a row");
    let end = page[at..].find("</tr>").expect("the row ends") + at;
    &page[start..end]
}

/// Who may open a page.
#[derive(Clone, Copy)]
enum Who {
    Everyone,
    Admins,
    Auditors,
}

impl Who {
    fn may(self, role: &str) -> bool {
        match self {
            Who::Everyone => true,
            Who::Admins => role == "admin",
            Who::Auditors => role == "auditor",
        }
    }
}

#[tokio::test]
async fn each_role_opens_only_its_pages_and_its_menu_shows_only_those() {
    let bus = start().await;
    // Every page of the console: who may open it (and so see its link).
    let pages = [
        ("/console", Who::Everyone),
        ("/console/dossiers", Who::Everyone),
        ("/console/adapters", Who::Everyone),
        ("/console/messages", Who::Everyone),
        ("/console/dead-letters", Who::Everyone),
        ("/console/routing", Who::Everyone),
        ("/console/members", Who::Admins),
        ("/console/lookups", Who::Auditors),
    ];
    for role in ROLES {
        let console = Console::sign_in(&bus, role).await;
        for (path, who) in &pages {
            let allowed = who.may(role);
            let (status, page) = console.get(path).await;
            let expected = if allowed { 200 } else { 403 };
            assert_eq!(status, expected, "{role} opens {path}: {page}");
            if !allowed {
                assert!(page.contains("thiếu quyền: role"), "{role} is told why at {path}: {page}");
            }
            // Whatever page it is, the menu is the role's.
            let menu = nav(&page);
            for (link, opens) in &pages {
                let shown = menu.contains(&format!("href=\"{link}\""));
                assert_eq!(shown, opens.may(role), "{role} on {path}: the link to {link}: {menu}");
            }
        }
        // The labels of the links that are not everyone's.
        let (_, page) = console.get("/console").await;
        assert_eq!(nav(&page).contains("Tra cứu dữ liệu cá nhân"), role == "auditor", "{role}");
        assert_eq!(nav(&page).contains("Thành viên"), role == "admin", "{role}");
        assert!(nav(&page).contains("Định tuyến"), "{role}");
        // A member's page, as the list.
        let (status, _) = console.get("/console/members/onestop.thachha").await;
        assert_eq!(status, if role == "admin" { 200 } else { 403 }, "{role}");
    }
    // Buttons by role: a viewer sees no pause on the adapters page, an operator does.
    let (_, page) = Console::sign_in(&bus, "viewer").await.get("/console/adapters").await;
    assert!(!page.contains("data-action"), "{page}");
    let (_, page) = Console::sign_in(&bus, "operator").await.get("/console/adapters").await;
    assert!(page.contains("data-action=\"pause\""), "{page}");
    bus.stop().await;
}

fn verify(cccd: &str, dossier: &str) -> Value {
    json!({"cccd": cccd, "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
           "dossier_code": dossier, "fields": ["permanent_address"]})
}

/// Asks `citizen.verify` as `member`.
async fn ask(bus: &TestBus, member: &str, body: &Value) -> Value {
    let http = bus.api.as_(member).await.http;
    let response = http.post(format!("{}/v1/services/citizen.verify", bus.api.base)).json(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_lookup_made_through_the_bus_is_on_the_auditors_page_and_no_one_elses() {
    const CITIZEN: &str = "001203000001";
    const OTHER_CITIZEN: &str = "079300000099";
    const OTHER_DOSSIER: &str = "000.00.01.H42-261120-0002";
    let bus = start().await;
    bus.adapter.answer_requests(|request| {
        let address = json!({"province_code": "42", "detail": "Xã Thạch Hà, Hà Tĩnh"});
        if request.member == "onestop.thachha" {
            Ok(json!({"result": "match", "citizen": {"permanent_address": address}}))
        } else {
            Ok(json!({"result": "not_found"}))
        }
    });
    // Recorded before the answer left: no waiting.
    assert_eq!(ask(&bus, "onestop.thachha", &verify(CITIZEN, DOSSIER)).await["result"], "match");
    assert_eq!(ask(&bus, "onestop.sandbox", &verify(OTHER_CITIZEN, OTHER_DOSSIER)).await["result"], "not_found");

    // The citizen's history: their lookup, not the other citizen's, every part of it.
    let auditor = Console::sign_in(&bus, "auditor").await;
    let (status, page) = auditor.get(&format!("/console/lookups?subject={CITIZEN}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("1 lượt tra cứu về 001203000001"), "{page}");
    assert!(!page.contains(OTHER_CITIZEN) && !page.contains(OTHER_DOSSIER), "{page}");
    let (_, api) = bus.api.as_("auditor").await.get(&format!("/v1/lookups?subject={CITIZEN}")).await;
    let id = api["lookups"][0]["id"].as_str().expect("the API lists it").to_string();
    let lookup = row(&page, "data-lookup", &id);
    for part in ["onestop.thachha", "citizen.verify", DOSSIER, "khớp (match)"] {
        assert!(lookup.contains(part), "{part}: {lookup}");
    }
    // In full here, for auditors; asked for and returned.
    assert!(lookup.contains(&format!(">{CITIZEN}</a>")), "{lookup}");
    assert_eq!(lookup.matches(">permanent_address<").count(), 2, "asked and returned: {lookup}");

    // By dossier: the other one's lookup only; with neither, both, newest first.
    let (_, page) = auditor.get(&format!("/console/lookups?dossier={OTHER_DOSSIER}")).await;
    assert!(page.contains(OTHER_CITIZEN) && !page.contains(&id), "{page}");
    assert!(row(&page, "data-outcome", "not_found").contains("không tìm thấy"), "{page}");
    let (_, page) = auditor.get("/console/lookups").await;
    let (newer, older) = (page.find(OTHER_CITIZEN).expect("listed"), page.find(&id).expect("listed"));
    assert!(newer < older, "newest first: {page}");

    // Every other role: refused, saying why, and shown nothing of it.
    for role in ["viewer", "operator", "admin"] {
        let (status, page) =
            Console::sign_in(&bus, role).await.get(&format!("/console/lookups?subject={CITIZEN}")).await;
        assert_eq!(status, 403, "{role}: {page}");
        assert!(page.contains("thiếu quyền: role auditor"), "{role}: {page}");
        assert!(!page.contains(CITIZEN) && !page.contains(&id) && !page.contains("id=\"subject\""), "{role}: {page}");
    }
    bus.stop().await;
}

#[tokio::test]
async fn the_routing_form_names_the_competent_agency_or_says_why_there_is_none() {
    let bus = start().await;
    let viewer = Console::sign_in(&bus, "viewer").await;
    let (_, tables) = bus.get("/v1/routing").await;
    let version = tables["version"].as_str().unwrap();

    // The tables in use, as the API gives them.
    let (status, page) = viewer.get("/console/routing").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("data-version=\"{version}\"")), "{page}");
    assert!(page.contains("data-rules=\"1\"") && page.contains("data-agency=\"000.00.01.H42\""), "{page}");
    assert!(page.contains("1 tỉnh, 2 xã, 1 huyện cũ"), "{page}");
    assert!(!page.contains("data-routed"), "nothing asked yet: {page}");

    // A commune of the province, and an old district: the province's department, with why.
    for unit in ["18073", "436"] {
        let (status, page) = viewer.get(&format!("/console/routing?procedure=1.001234&unit={unit}")).await;
        assert_eq!(status, 200, "{page}");
        let (_, api) = bus.get(&format!("/v1/routing/decision?procedure=1.001234&unit={unit}")).await;
        assert_eq!(api["agency"], "000.00.01.H42", "{api}");
        assert!(page.contains("data-routed=\"true\" data-agency=\"000.00.01.H42\""), "{page}");
        assert!(page.contains("1.001234 (Đăng ký thường trú)"), "the procedure's name: {page}");
        assert!(page.contains("Hà Tĩnh (42) is handled by 000.00.01.H42"), "why: {page}");
    }

    // A procedure no rule covers, and a unit not in the catalogue: refused, saying why.
    let (status, page) = viewer.get("/console/routing?procedure=1.001193&unit=18073").await;
    assert_eq!(status, 200, "an answer: {page}");
    assert!(page.contains("data-routed=\"false\"") && !page.contains("data-routed=\"true\""), "{page}");
    assert!(page.contains("Không có cơ quan nào có thẩm quyền với thủ tục 1.001193 tại đơn vị 18073"), "{page}");
    assert!(page.contains("no competence rule for procedure 1.001193"), "{page}");
    let (_, page) = viewer.get("/console/routing?procedure=1.001234&unit=99999").await;
    assert!(
        page.contains("data-routed=\"false\"") && page.contains("unit 99999 is not in the unit catalogue"),
        "{page}"
    );

    // Half a question: asked for the rest.
    let (status, page) = viewer.get("/console/routing?procedure=1.001234").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("hãy nhập cả mã thủ tục và mã đơn vị") && !page.contains("data-routed"), "{page}");
    bus.stop().await;
}

/// The member's send rights, as the API shows them.
async fn send_rights(bus: &TestBus, member: &str) -> Value {
    let admin = bus.api.as_("admin").await;
    let (status, view) = admin.get(&format!("/v1/members/{member}")).await;
    assert_eq!(status, 200, "{view}");
    view["rights"]["send"].clone()
}

#[tokio::test]
async fn an_admin_grants_a_right_on_the_members_page_and_a_viewer_cannot() {
    const MEMBER: &str = "onestop.thachha";
    let bus = start().await;
    let path = format!("/console/members/{MEMBER}/rights");
    let grant = [("kind", "send"), ("types", "dossier.submitted"), ("agencies", "000.00.01.H42"), ("action", "grant")];
    let before = send_rights(&bus, MEMBER).await;
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");

    // Every member, how it authenticates and its rights; never a secret's hash.
    let admin = Console::sign_in(&bus, "admin").await;
    let (status, list) = admin.get("/console/members").await;
    assert_eq!(status, 200, "{list}");
    let thachha = row(&list, "data-member", MEMBER);
    assert!(thachha.contains("One-stop system of Thạch Hà commune"), "{thachha}");
    assert!(thachha.contains("data-auth=\"secret\""), "it has a client secret: {thachha}");
    assert!(thachha.contains("dossier.submitted, dossier.status_changed → 000.00.31.H42"), "{thachha}");
    assert!(thachha.contains("citizen.verify: permanent_address"), "{thachha}");
    let sandbox = row(&list, "data-member", "onestop.sandbox");
    assert!(sandbox.contains("mọi loại → mọi cơ quan") && sandbox.contains("Nhật ký tra cứu: tất cả"), "{sandbox}");
    assert!(!list.contains("$argon2") && !list.contains("secret_hash"), "no secret's hash: {list}");
    let (_, shown) = admin.get(&format!("/console/members/{MEMBER}")).await;
    assert!(shown.contains(&format!("action=\"{path}\"")) && shown.contains("data-action=\"grant\""), "{shown}");
    assert!(!shown.contains("$argon2"), "{shown}");

    // A viewer's post: refused, and nothing changes; nor an admin's form from another site.
    let viewer = Console::sign_in(&bus, "viewer").await;
    let (status, page) = viewer.post(&path, &grant).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("thiếu quyền: role admin") && !page.contains("data-action"), "{page}");
    let (status, _) = admin.post_from("https://evil.example", &path, &grant).await;
    assert_eq!(status, 403, "a form posted from another site");
    assert_eq!(send_rights(&bus, MEMBER).await, before, "nothing changed");

    // The admin's grant: the page says so and shows it, and the API has it.
    let (status, page) = admin.post(&path, &grant).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("Đã cấp quyền cho {MEMBER}")), "{page}");
    assert!(page.contains("dossier.submitted → 000.00.01.H42"), "{page}");
    let after = send_rights(&bus, MEMBER).await;
    assert!(
        after.as_array().unwrap().contains(&json!({"types": ["dossier.submitted"], "agencies": ["000.00.01.H42"]})),
        "{after}"
    );

    // What the bus cannot take is refused, saying why, and changes nothing.
    let unknown = [("kind", "service"), ("service", "citizen.teleport"), ("action", "grant")];
    let (status, page) = admin.post(&path, &unknown).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("`citizen.teleport` is not a service"), "{page}");
    let not_held = [("kind", "read"), ("read", "reports"), ("action", "revoke")];
    let (status, page) = admin.post(&path, &not_held).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("Không thực hiện"), "{page}");
    let (status, page) =
        admin.post(&path, &[("kind", "send"), ("types", "dossier.submitted"), ("action", "grant")]).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("ít nhất một loại thông điệp và một cơ quan"), "{page}");
    assert_eq!(send_rights(&bus, MEMBER).await, after);

    // And revoked again from the page.
    let revoke =
        [("kind", "send"), ("types", "dossier.submitted"), ("agencies", "000.00.01.H42"), ("action", "revoke")];
    let (status, page) = admin.post(&path, &revoke).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(send_rights(&bus, MEMBER).await, before);

    // Recorded as the API records a change: who made it, what it was.
    let auditor = bus.api.as_("auditor").await;
    bus.wait_log(&auditor, "/v1/audit?kind=directory.change&actor=admin", |_, log| {
        let actions: Vec<&str> =
            log["entries"].as_array().into_iter().flatten().filter_map(|e| e["detail"]["action"].as_str()).collect();
        actions.contains(&"members.grant") && actions.contains(&"members.revoke")
    })
    .await;
    let (_, log) = auditor.get("/v1/audit?kind=directory.change").await;
    let actors: Vec<&str> = log["entries"].as_array().unwrap().iter().filter_map(|e| e["actor"].as_str()).collect();
    assert!(!actors.contains(&"viewer"), "the viewer changed nothing: {log}");
    bus.stop().await;
}
