//! The simulator speaks the portal's contract: raw HTTP against it, as another client would.

mod common;

use std::time::Duration;

use common::*;
use lgsp_bus::Adapter;
use lgsp_dvc::{PortalSim, SimOptions};
use serde_json::{Value, json};

struct Portal {
    sim: PortalSim,
    http: reqwest::Client,
}

impl Portal {
    async fn start(options: SimOptions) -> Portal {
        let sim = PortalSim::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap();
        Portal { sim, http: reqwest::Client::new() }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}{path}", self.sim.url().as_str().trim_end_matches('/'));
        let response = self.http.post(url).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn login(&self) -> String {
        let options = self.sim.options();
        let (status, answer) =
            self.post("/auth", json!({"username": options.username, "password": options.password})).await;
        assert_eq!((status, answer["error_code"].as_str()), (200, Some("00")), "{answer}");
        answer["session"].as_str().unwrap().to_string()
    }

    async fn call(&self, session: &str, service: &str, extra: Value) -> Value {
        let mut body = json!({"session": session, "madonvi": UNIT, "service": service});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, answer) = self.post("/integration", body).await;
        assert_eq!(status, 200, "the portal answers refusals with HTTP 200: {answer}");
        answer
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}_sim/{path}", self.sim.url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn item() -> Value {
    json!({
        "MaHoSo": "000.00.01.H42-261120-0001", "MaTTHC": "1.001234", "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1", "MaDoiTuong": "001203000001", "NgayTiepNhan": "20261120083000",
        "NgayHenTra": "20261127170000", "TrangThaiHoSo": "1", "DonViXuLy": "000.00.01.H42",
        "TaiLieuNop": [], "DanhSachLePhi": [], "DanhSachHoSoBoSung": [], "DanhSachGiayToKetQua": []
    })
}

fn step() -> Value {
    json!({
        "MaHoSo": "000.00.01.H42-261120-0001", "NguoiXuLy": "Lê Thị Hoa", "ThoiDiemXuLy": "20261121090000",
        "PhongBanXuLy": "Phòng Cảnh sát quản lý hành chính", "NoiDungXuLy": "Thẩm định hồ sơ", "TrangThai": "4"
    })
}

fn sync(items: Vec<Value>) -> Value {
    json!({"isUpdating": "False", "data": items})
}

#[tokio::test]
async fn a_login_issues_a_session_and_wrong_credentials_get_01() {
    let portal = Portal::start(SimOptions::default()).await;
    portal.login().await;
    let (status, answer) = portal.post("/auth", json!({"username": "lgsp", "password": "guess"})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["error_code"], "01");
    assert!(answer.get("session").is_none());
}

#[tokio::test]
async fn an_unknown_or_expired_session_gets_02() {
    let portal = Portal::start(SimOptions { session_ttl: Duration::from_secs(60), ..SimOptions::default() }).await;
    assert_eq!(portal.call("made-up", "DongBoHoSoMC", sync(vec![item()])).await["error_code"], "02");

    let session = portal.login().await;
    assert_eq!(portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await["error_code"], "00");
    portal.sim.advance_clock(Duration::from_secs(61));
    assert_eq!(portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await["error_code"], "02");
}

#[tokio::test]
async fn a_batch_with_one_invalid_item_is_refused_whole_naming_the_dossier_and_field() {
    let portal = Portal::start(SimOptions::default()).await;
    let session = portal.login().await;
    let other = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut item = item();
        item["MaHoSo"] = "000.00.01.H42-261120-0009".into();
        f(item.as_object_mut().unwrap());
        item
    };
    let cases: [(Value, &str); 4] = [
        (other(&|i| drop(i.remove("MaTTHC"))), "Hồ sơ 000.00.01.H42-261120-0009: thiếu trường MaTTHC"),
        (
            other(&|i| drop(i.insert("NgayHenTra".into(), "2026-11-27".into()))),
            "Hồ sơ 000.00.01.H42-261120-0009: trường NgayHenTra không đúng định dạng yyyyMMddHHmmss",
        ),
        (
            other(&|i| drop(i.insert("NgayTiepNhan".into(), "20260230083000".into()))),
            "Hồ sơ 000.00.01.H42-261120-0009: trường NgayTiepNhan không đúng định dạng yyyyMMddHHmmss",
        ),
        (
            other(&|i| drop(i.insert("TrangThaiHoSo".into(), "0".into()))),
            "Hồ sơ 000.00.01.H42-261120-0009: trường TrangThaiHoSo không hợp lệ (\"0\")",
        ),
    ];
    for (bad, expected) in cases {
        let answer = portal.call(&session, "DongBoHoSoMC", sync(vec![item(), bad])).await;
        assert_eq!(answer["error_code"], "03");
        assert_eq!(answer["message"], expected);
    }
    assert!(portal.sim.calls().is_empty(), "the valid item of each refused batch was not kept either");
    assert!(portal.sim.dossier("000.00.01.H42-261120-0001").is_none());
}

#[tokio::test]
async fn requests_are_checked_before_items() {
    let portal = Portal::start(SimOptions { units: vec![UNIT.into()], ..SimOptions::default() }).await;
    let session = portal.login().await;
    let answer = portal.call(&session, "DongBoHoSoMC", json!({"isUpdating": true, "data": [item()]})).await;
    assert_eq!(answer["error_code"], "03");
    assert!(answer["message"].as_str().unwrap().contains("isUpdating"));
    assert_eq!(portal.call(&session, "XoaHoSo", json!({})).await["error_code"], "03");

    let (_, answer) = portal
        .post(
            "/integration",
            json!({"session": session, "madonvi": "000.00.00.H22", "service": "DongBoHoSoMC", "isUpdating": "False", "data": [item()]}),
        )
        .await;
    assert_eq!(answer["error_code"], "05", "another province's unit");
}

#[tokio::test]
async fn progress_needs_a_known_dossier_and_its_own_fields() {
    let portal = Portal::start(SimOptions::default()).await;
    let session = portal.login().await;
    let answer = portal.call(&session, "CapNhatTienDoHoSoMC", json!({"data": [step()]})).await;
    assert_eq!(answer["error_code"], "04");
    assert!(answer["message"].as_str().unwrap().contains("000.00.01.H42-261120-0001"));

    assert_eq!(portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await["error_code"], "00");
    let mut incomplete = step();
    incomplete.as_object_mut().unwrap().remove("PhongBanXuLy");
    let answer = portal.call(&session, "CapNhatTienDoHoSoMC", json!({"data": [incomplete]})).await;
    assert_eq!(answer["error_code"], "03");
    assert!(answer["message"].as_str().unwrap().contains("PhongBanXuLy"));

    assert_eq!(portal.call(&session, "CapNhatTienDoHoSoMC", json!({"data": [step()]})).await["error_code"], "00");
    let record = portal.sim.dossier("000.00.01.H42-261120-0001").unwrap();
    assert_eq!(record.progress, [step()]);
}

#[tokio::test]
async fn lookups_answer_from_what_was_synced_and_the_catalogue() {
    let portal = Portal::start(SimOptions::default()).await;
    let session = portal.login().await;
    let lookup = json!({"mahoso": "000.00.01.H42-261120-0001"});
    assert_eq!(portal.call(&session, "TraCuuHoSo", lookup.clone()).await["error_code"], "04");
    portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await;
    let found = portal.call(&session, "TraCuuHoSo", lookup).await;
    assert_eq!((found["error_code"].as_str(), &found["data"]), (Some("00"), &item()));

    let procedure = portal.call(&session, "LayThuTuc", json!({"maTTHC": "1.001234"})).await;
    assert_eq!(procedure["data"]["TenTTHC"], "Đăng ký thường trú");
    assert_eq!(portal.call(&session, "LayThuTuc", json!({"maTTHC": "9.999999"})).await["error_code"], "04");
    assert_eq!(portal.sim.calls().len(), 1, "lookups are not recorded as deliveries");
}

#[tokio::test]
async fn http_control_routes_show_records_and_change_behaviour() {
    let portal = Portal::start(SimOptions::default()).await;
    let session = portal.login().await;
    portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await;

    let (status, calls) = portal.control(reqwest::Method::GET, "calls", None).await;
    assert_eq!((status, calls[0]["service"].as_str()), (200, Some("DongBoHoSoMC")));
    let (status, dossier) = portal.control(reqwest::Method::GET, "dossiers/000.00.01.H42-261120-0001", None).await;
    assert_eq!((status, &dossier["statuses"]), (200, &json!(["1"])));
    assert_eq!(portal.control(reqwest::Method::GET, "dossiers/nothing", None).await.0, 404);

    let down = json!({"down": true});
    assert_eq!(portal.control(reqwest::Method::PUT, "behaviour", Some(down)).await.0, 204);
    assert_eq!(portal.post("/integration", json!({})).await.0, 503);
    assert_eq!(portal.control(reqwest::Method::GET, "behaviour", None).await.1["down"], true);
    let bad = json!({"error_rate": 2});
    assert_eq!(portal.control(reqwest::Method::PUT, "behaviour", Some(bad)).await.0, 400);

    let refuse = json!({"refuse_dossiers": ["000.00.01.H42-261120-0001"]});
    assert_eq!(portal.control(reqwest::Method::PUT, "behaviour", Some(refuse)).await.0, 204);
    let answer = portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await;
    assert_eq!(answer["error_code"], "03");
    assert!(answer["message"].as_str().unwrap().contains("000.00.01.H42-261120-0001"));

    assert_eq!(portal.control(reqwest::Method::POST, "reset", None).await.0, 204);
    assert!(portal.sim.calls().is_empty());
    assert_eq!(portal.call(&session, "DongBoHoSoMC", sync(vec![item()])).await["error_code"], "02", "sessions too");
}

#[tokio::test]
async fn wait_until_wakes_on_the_call_it_waits_for() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    let batch = [delivery(SUBMITTED, example(SUBMITTED, 0))];
    let expected = id(&batch[0]);
    let waiter = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.wait_until(PATIENCE, |s| s.delivered_message_ids().contains(&expected)).await })
    };
    adapter.deliver(&batch).await;
    assert!(waiter.await.unwrap());
    // And a predicate that never holds gives up at its timeout.
    assert!(!sim.wait_until(Duration::from_millis(50), |s| s.calls.len() > 1).await);
}
