//! The simulator speaks the registry's contract: raw HTTP against it, as another client would.

mod common;

use std::time::Duration;

use common::*;
use lgsp_bus::Adapter;
use lgsp_population::mapping::{self, Answer, Fault, Lookup};
use lgsp_population::{Behaviour, PopulationSim, SimOptions};
use serde_json::{Value, json};

struct Registry {
    sim: PopulationSim,
    http: reqwest::Client,
}

fn lookup(cccd: &str) -> Lookup {
    Lookup {
        ma_yeu_cau: "019a9e4c-0000-7000-8000-000000000001".into(),
        ma_dvc: MA_DVC.into(),
        ma_tich_hop: MA_TICH_HOP.into(),
        ma_can_bo: MEMBER.into(),
        ma_ho_so: DOSSIER.into(),
        so_dinh_danh: cccd.into(),
        ho_va_ten: "Nguyễn Văn An".into(),
        ngay_thang_nam: "20030115".into(),
    }
}

impl Registry {
    async fn start() -> Registry {
        Registry { sim: start_sim().await, http: reqwest::Client::new() }
    }

    /// Posts `body` as SOAP 1.1 does; the status, the content type and the body.
    async fn post(&self, body: &str) -> (u16, String, String) {
        self.post_with(body, "text/xml; charset=utf-8", "\"TraCuuThongTinCongDan\"").await
    }

    async fn post_with(&self, body: &str, content_type: &str, action: &str) -> (u16, String, String) {
        let response = self
            .http
            .post(self.sim.url())
            .header("content-type", content_type)
            .header("SOAPAction", action)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// The fault a request gets, checking it is one as SOAP 1.1 sends it.
    async fn fault(&self, body: &str) -> Fault {
        let (status, content_type, text) = self.post(body).await;
        assert_eq!((status, content_type.as_str()), (500, "text/xml; charset=utf-8"), "{text}");
        match mapping::read_answer(&text) {
            Ok(Answer::Fault(fault)) => fault,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = self.sim.url().join(&format!("/_sim/{path}")).unwrap();
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_lookup_is_answered_with_the_record_or_an_empty_collection() {
    let registry = Registry::start().await;
    let (status, content_type, text) = registry.post(&mapping::request_envelope(&lookup(AN)).unwrap()).await;
    assert_eq!((status, content_type.as_str()), (200, "text/xml; charset=utf-8"));
    let Ok(Answer::Citizens(found)) = mapping::read_answer(&text) else { panic!("{text}") };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].full_name(), "Nguyễn Văn An");
    assert_eq!(found[0].ngay_sinh.as_deref(), Some("20030115"));
    assert_eq!(found[0].thuong_tru.as_ref().unwrap().ma_tinh_thanh.as_deref(), Some("01"));

    let (status, _, text) = registry.post(&mapping::request_envelope(&lookup(NOBODY)).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(mapping::read_answer(&text), Ok(Answer::Citizens(vec![])));
    assert!(text.contains("<congdanCollection></congdanCollection>"), "{text}");

    let calls = registry.sim.calls();
    let seen: Vec<(&str, &str, &str)> =
        calls.iter().map(|c| (c.cccd.as_str(), c.ma_can_bo.as_str(), c.answer)).collect();
    assert_eq!(seen, [("0012******01", MEMBER, "found"), ("0793******99", MEMBER, "not_found")]);
}

#[tokio::test]
async fn bad_requests_get_a_client_fault_naming_what_is_wrong() {
    let registry = Registry::start().await;
    let cases = [
        (Lookup { ma_ho_so: String::new(), ..lookup(AN) }, "Thiếu MaHoSo"),
        (Lookup { ma_dvc: String::new(), ..lookup(AN) }, "Thiếu MaDVC"),
        (Lookup { ma_tich_hop: String::new(), ..lookup(AN) }, "Thiếu MaTichHop"),
        (Lookup { ma_can_bo: String::new(), ..lookup(AN) }, "Thiếu MaCanBo"),
        (Lookup { ma_yeu_cau: String::new(), ..lookup(AN) }, "Thiếu MaYeuCau"),
        (lookup("00120300000"), "SoDinhDanh phải gồm 12 chữ số"),
        (lookup(""), "SoDinhDanh phải gồm 12 chữ số"),
        (Lookup { ngay_thang_nam: "2003-01-15".into(), ..lookup(AN) }, "NgayThangNam phải có dạng yyyyMMdd"),
    ];
    for (lookup, expected) in cases {
        let fault = registry.fault(&mapping::request_envelope(&lookup).unwrap()).await;
        assert_eq!((fault.code.as_str(), fault.string.as_str()), ("soap:Client", expected));
    }
}

#[tokio::test]
async fn the_registry_refuses_doctypes_and_what_is_not_its_soap() {
    let registry = Registry::start().await;
    let envelope = mapping::request_envelope(&lookup(AN)).unwrap();
    let body = envelope.split_once("?>").unwrap().1;
    let with_doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        body.replace("Nguyễn Văn An", "&xxe;")
    );
    let fault = registry.fault(&with_doctype).await;
    assert_eq!(fault.string, "Yêu cầu chứa DOCTYPE: không được chấp nhận");
    let undeclared = registry.fault(&envelope.replace("Nguyễn Văn An", "&xxe;")).await;
    assert_eq!(undeclared.string, "Yêu cầu tham chiếu thực thể không khai báo &xxe;");

    for (body, expected) in [
        (&envelope[..envelope.len() - 20], "Yêu cầu không hợp lệ: it is not well-formed XML"),
        ("<Envelope/>", "Yêu cầu không hợp lệ: not a SOAP 1.1 Envelope"),
        (&envelope.replace("TraCuuThongTinCongDan", "XoaCongDan"), "unknown operation XoaCongDan"),
    ] {
        let fault = registry.fault(body).await;
        assert!(fault.string.contains(expected), "{body}: {fault:?}");
        assert_eq!(fault.code, "soap:Client");
    }

    let (status, ..) = registry.post_with(&envelope, "application/soap+xml", "").await;
    assert_eq!(status, 415, "SOAP 1.2's content type is not spoken here");
    let (status, _, text) = registry.post_with(&envelope, "text/xml", "\"Other\"").await;
    assert_eq!(status, 500);
    assert!(text.contains("SOAPAction `Other` không được hỗ trợ"), "{text}");
    assert!(registry.sim.calls().is_empty(), "nothing above was a lookup");
}

#[tokio::test]
async fn misbehaviour_is_set_over_http() {
    let registry = Registry::start().await;
    let envelope = mapping::request_envelope(&lookup(AN)).unwrap();
    use reqwest::Method;

    let (status, _) = registry.control(Method::PUT, "behaviour", Some(json!({"down": true}))).await;
    assert_eq!(status, 204);
    assert_eq!(registry.control(Method::GET, "behaviour", None).await.1["down"], true);
    assert_eq!(registry.post(&envelope).await.0, 503);

    registry.control(Method::PUT, "behaviour", Some(json!({"error_rate": 1.0}))).await;
    let (status, content_type, text) = registry.post(&envelope).await;
    assert_eq!(status, 500);
    assert!(!content_type.starts_with("text/xml") && mapping::read_answer(&text).is_err(), "no SOAP: {text}");

    registry.control(Method::PUT, "behaviour", Some(json!({"fault": true}))).await;
    let fault = registry.fault(&envelope).await;
    assert_eq!(fault.code, "soap:Server");
    assert_eq!(fault.string, "Lỗi hệ thống (mô phỏng) khi tra cứu 001203000001");

    registry.control(Method::PUT, "behaviour", Some(json!({"refuse": true}))).await;
    assert_eq!(registry.fault(&envelope).await.code, "soap:Client");

    let (status, _) = registry.control(Method::PUT, "behaviour", Some(json!({"timeout_rate": 2.0}))).await;
    assert_eq!(status, 400);
    let (status, _) = registry.control(Method::PUT, "behaviour", Some(json!({"dwon": true}))).await;
    assert_eq!(status, 422);

    let (status, calls) = registry.control(Method::GET, "calls", None).await;
    assert_eq!(status, 200);
    let answers: Vec<&str> = calls.as_array().unwrap().iter().map(|c| c["answer"].as_str().unwrap()).collect();
    assert_eq!(answers, ["fault", "refused"]);
    assert_eq!(calls[0]["cccd"], "0012******01");
    assert_eq!(calls[0]["dossier_code"], DOSSIER);
    assert_eq!(calls[0]["ma_can_bo"], MEMBER);

    assert_eq!(registry.control(Method::POST, "reset", None).await.0, 204);
    assert!(registry.sim.calls().is_empty());
    assert_eq!(registry.sim.behaviour(), Behaviour::default());
    assert_eq!(registry.post(&envelope).await.0, 200);
}

#[tokio::test]
async fn latency_delays_answers_and_wait_until_sees_the_call() {
    let sim = start_sim_with(SimOptions { path: "/csdl/soap".into(), ..SimOptions::default() }).await;
    assert!(sim.url().as_str().ends_with("/csdl/soap"));
    sim.set_behaviour(Behaviour { latency_ms: 200, ..Behaviour::default() });
    let adapter = adapter(&sim);
    let started = std::time::Instant::now();
    let lookup = tokio::spawn(async move { adapter.call(&verify(BINH, "Trần Thị Bình", "1998-07-02", &[])).await });

    assert!(sim.wait_until(PATIENCE, |state| state.calls.len() == 1).await);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(sim.calls()[0].cccd, "0421******02");
    assert_eq!(checked(lookup.await.unwrap()), json!({"result": "match"}));
    assert!(!sim.wait_until(Duration::from_millis(50), |state| state.calls.len() == 2).await);
}
