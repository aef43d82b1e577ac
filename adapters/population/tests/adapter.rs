//! The real adapter against the real simulator on 127.0.0.1:0.

mod common;

use std::collections::BTreeSet;

use common::*;
use lgsp_bus::{Adapter, ServiceRequest};
use lgsp_population::{Behaviour, PopulationAdapter, SimOptions};
use serde_json::{Value, json};

#[tokio::test]
async fn the_three_sandbox_outcomes() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);

    let matched = checked(adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &["permanent_address"])).await);
    assert_eq!(
        matched,
        json!({"result": "match", "citizen": {"permanent_address": {
            "province_code": "01", "commune_code": "00070", "detail": "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội"
        }}})
    );

    let all = ["gender", "permanent_address", "mother"];
    let mismatched = checked(adapter.call(&verify(BINH, "Trần Thị Bình", "1998-02-07", &all)).await);
    assert_eq!(mismatched, json!({"result": "mismatch", "mismatched": ["date_of_birth"]}));

    let nobody = checked(adapter.call(&verify(NOBODY, "Lê Văn Cư", "2000-03-04", &all)).await);
    assert_eq!(nobody, json!({"result": "not_found"}));

    // The registry was told who asked and for which dossier; it recorded the CCCD masked.
    let calls = sim.calls();
    let seen: Vec<(&str, &str, &str, &str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c.cccd.as_str(),
                c.dossier_code.as_str(),
                c.ma_can_bo.as_str(),
                c.ma_dvc.as_str(),
                c.ma_tich_hop.as_str(),
                c.answer,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("0012******01", DOSSIER, MEMBER, MA_DVC, MA_TICH_HOP, "found"),
            ("0421******02", DOSSIER, MEMBER, MA_DVC, MA_TICH_HOP, "found"),
            ("0793******99", DOSSIER, MEMBER, MA_DVC, MA_TICH_HOP, "not_found"),
        ]
    );
    let request_ids: BTreeSet<&str> = calls.iter().map(|c| c.ma_yeu_cau.as_str()).collect();
    assert_eq!(request_ids.len(), 3, "a fresh MaYeuCau per lookup");
}

#[tokio::test]
async fn a_match_carries_exactly_the_fields_asked_for() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);

    let bare = checked(adapter.call(&verify(AN, "nguyễn  văn AN", "2003-01-15", &[])).await);
    assert_eq!(bare, json!({"result": "match"}));

    let some = checked(adapter.call(&verify(BINH, "Trần Thị Bình", "1998-07-02", &["spouse", "old_id_number"])).await);
    assert_eq!(
        some,
        json!({"result": "match", "citizen": {
            "spouse": {"full_name": "Phạm Văn Cường", "cccd": "042095000789"},
            "old_id_number": "183456789"
        }})
    );

    // Everything: what the record holds, and nothing it does not (An has no old ID, no spouse).
    let every = [
        "gender",
        "ethnicity",
        "religion",
        "nationality",
        "marital_status",
        "blood_type",
        "place_of_birth",
        "hometown",
        "permanent_address",
        "current_address",
        "old_id_number",
        "household_book_number",
        "father",
        "mother",
        "spouse",
        "head_of_household",
    ];
    let full = checked(adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &every)).await);
    let keys: BTreeSet<&str> = full["citizen"].as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = every.iter().copied().filter(|f| !["old_id_number", "spouse"].contains(f)).collect();
    assert_eq!(keys, expected);
    assert_eq!(full["citizen"]["gender"], "male");
    assert_eq!(
        full["citizen"]["head_of_household"],
        json!({"full_name": "Nguyễn Văn Hùng", "cccd": "001075000123", "relationship": "Con"})
    );

    // A mismatch carries nothing of the record, whatever was asked.
    let wrong = checked(adapter.call(&verify(AN, "Nguyễn Văn Ân", "2003-01-16", &every)).await);
    assert_eq!(wrong, json!({"result": "mismatch", "mismatched": ["full_name", "date_of_birth"]}));
}

#[tokio::test]
async fn a_cccd_is_masked_in_every_failure_reason() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = PopulationAdapter::new(&config(&settings)).unwrap();
    let ask = || verify(AN, "Nguyễn Văn An", "2003-01-15", &["gender"]);

    // The registry refuses and names the CCCD (a Client fault): the caller's problem.
    sim.set_behaviour(Behaviour { refuse: true, ..Behaviour::default() });
    let failure = refused(adapter.call(&ask()).await);
    assert_eq!(
        failure.reason,
        format!(
            "population registry refused the lookup for {DOSSIER}: soap:Client: \
             Yêu cầu tra cứu công dân 0012******01 bị từ chối (mô phỏng)"
        )
    );
    assert!(failure.peer_answer.as_deref().is_some_and(|a| a.starts_with("HTTP 500") && a.contains("0012******01")));
    assert_no_cccd(&failure, AN);

    // The registry fails and names the CCCD (a Server fault): unavailable.
    sim.set_behaviour(Behaviour { fault: true, ..Behaviour::default() });
    let failure = unavailable(adapter.call(&ask()).await);
    assert!(failure.reason.contains("soap:Server: Lỗi hệ thống (mô phỏng) khi tra cứu 0012******01"), "{failure:?}");
    assert_no_cccd(&failure, AN);

    // A CCCD from no province: the registry's own check, echoing it.
    sim.set_behaviour(Behaviour::default());
    let unknown_province = "000203000001";
    let failure = refused(adapter.call(&verify(unknown_province, "Nguyễn Văn An", "2003-01-15", &[])).await);
    assert!(failure.reason.contains("SoDinhDanh 0002******01: mã tỉnh"), "{failure:?}");
    assert_no_cccd(&failure, unknown_province);

    for (behaviour, expected) in [
        (Behaviour { down: true, ..Behaviour::default() }, "HTTP 503 Service Unavailable"),
        (Behaviour { error_rate: 1.0, ..Behaviour::default() }, "HTTP 500 Internal Server Error"),
        (Behaviour { timeout_rate: 1.0, ..Behaviour::default() }, "no answer from the population registry"),
    ] {
        sim.set_behaviour(behaviour.clone());
        let failure = unavailable(adapter.call(&ask()).await);
        assert!(failure.reason.contains(expected), "{behaviour:?}: {failure:?}");
        assert_no_cccd(&failure, AN);
    }
}

#[tokio::test]
async fn a_registry_slower_than_the_timeout_is_unavailable_and_then_recovers() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("timeout".into(), "300ms".into());
    let adapter = PopulationAdapter::new(&config(&settings)).unwrap();
    let ask = verify(AN, "Nguyễn Văn An", "2003-01-15", &[]);

    sim.set_behaviour(Behaviour { timeout_rate: 1.0, ..Behaviour::default() });
    let failure = unavailable(adapter.call(&ask).await);
    assert_eq!(
        failure.reason,
        format!("lookup for {DOSSIER} failed: no answer from the population registry at 127.0.0.1 within 300ms")
    );
    assert!(sim.calls().is_empty(), "the registry never read it");

    sim.set_behaviour(Behaviour::default());
    assert_eq!(checked(adapter.call(&ask).await), json!({"result": "match"}));
}

#[tokio::test]
async fn a_registry_that_is_down_is_unavailable() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    sim.set_behaviour(Behaviour { down: true, ..Behaviour::default() });
    let failure = unavailable(adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &[])).await);
    assert_eq!(
        failure.reason,
        format!("population registry answered HTTP 503 Service Unavailable to the lookup for {DOSSIER}")
    );
    assert_eq!(failure.peer_answer.as_deref(), Some("HTTP 503: registry is down (simulated)"));
}

#[tokio::test]
async fn a_hundred_concurrent_lookups_are_each_answered_rightly() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    // Distinct dossiers and a mix of outcomes, each with the reply it must get.
    let cases: Vec<(ServiceRequest, Value)> = (0..100)
        .map(|i| {
            let dossier = format!("000.00.01.H42-261120-{:04}", i + 1);
            match i % 5 {
                0 => (
                    verify_for(&dossier, AN, "Nguyễn Văn An", "2003-01-15", &["gender"]),
                    json!({"result": "match", "citizen": {"gender": "male"}}),
                ),
                1 => (
                    verify_for(&dossier, BINH, "Trần Thị Bình", "1998-07-02", &["gender", "blood_type"]),
                    json!({"result": "match", "citizen": {"gender": "female", "blood_type": "A"}}),
                ),
                2 => (
                    verify_for(&dossier, AN, "Nguyễn Văn An", &format!("2003-02-{:02}", i % 28 + 1), &["gender"]),
                    json!({"result": "mismatch", "mismatched": ["date_of_birth"]}),
                ),
                3 => (
                    verify_for(&dossier, BINH, &format!("Trần Thị Bình {i}"), "1998-07-02", &[]),
                    json!({"result": "mismatch", "mismatched": ["full_name"]}),
                ),
                _ => (
                    verify_for(&dossier, &format!("0793000001{:02}", i), "Lê Văn Cư", "2000-03-04", &[]),
                    json!({"result": "not_found"}),
                ),
            }
        })
        .collect();

    let replies = futures::future::join_all(cases.iter().map(|(request, _)| adapter.call(request))).await;

    for ((request, expected), reply) in cases.iter().zip(replies) {
        assert_eq!(&checked(reply), expected, "{}", request.body);
    }
    let calls = sim.calls();
    assert_eq!(calls.len(), 100);
    let dossiers: BTreeSet<&str> = calls.iter().map(|c| c.dossier_code.as_str()).collect();
    assert_eq!(dossiers.len(), 100, "each lookup reached the registry once");
    let request_ids: BTreeSet<&str> = calls.iter().map(|c| c.ma_yeu_cau.as_str()).collect();
    assert_eq!(request_ids.len(), 100);
}

#[tokio::test]
async fn a_bearer_token_is_sent_when_configured() {
    let sim = start_sim_with(SimOptions { token: Some("s3cret-token".into()), ..SimOptions::default() }).await;
    let ask = verify(AN, "Nguyễn Văn An", "2003-01-15", &[]);

    let without = adapter(&sim);
    let failure = unavailable(without.call(&ask).await);
    assert!(failure.reason.contains("HTTP 401 Unauthorized"), "{failure:?}");

    let mut settings = settings(&sim);
    settings.insert("token".into(), "s3cret-token".into());
    let with = PopulationAdapter::new(&config(&settings)).unwrap();
    assert_eq!(checked(with.call(&ask).await), json!({"result": "match"}));
}

#[tokio::test]
async fn a_wrong_soap_action_is_refused_by_the_registry() {
    let sim = start_sim().await;
    let mut settings = settings(&sim);
    settings.insert("soap_action".into(), "http://tempuri.org/Other".into());
    let adapter = PopulationAdapter::new(&config(&settings)).unwrap();
    let failure = refused(adapter.call(&verify(AN, "Nguyễn Văn An", "2003-01-15", &[])).await);
    assert!(failure.reason.contains("SOAPAction `http://tempuri.org/Other` không được hỗ trợ"), "{failure:?}");
}

#[tokio::test]
async fn requests_the_adapter_cannot_serve() {
    let sim = start_sim().await;
    let adapter = adapter(&sim);
    assert_eq!(adapter.services(), ["citizen.verify"]);

    let mut other = verify(AN, "Nguyễn Văn An", "2003-01-15", &[]);
    other.service = "business.lookup".into();
    assert!(unavailable(adapter.call(&other).await).reason.contains("business.lookup is not served"));

    let mut unreadable = verify(AN, "Nguyễn Văn An", "2003-01-15", &[]);
    unreadable.body["fields"] = json!(["shoe_size"]);
    let failure = refused(adapter.call(&unreadable).await);
    assert!(failure.reason.starts_with("not a citizen.verify request"), "{failure:?}");
    assert_no_cccd(&failure, AN);

    // A name XML cannot carry is refused before anything is sent.
    let control = verify(AN, "Nguyễn\u{7}Văn An", "2003-01-15", &[]);
    let failure = refused(adapter.call(&control).await);
    assert_eq!(
        failure.reason,
        format!("lookup for {DOSSIER} not sent: HoVaTen holds a control character that XML cannot carry")
    );
    assert!(sim.calls().is_empty());
}

#[tokio::test]
async fn hostile_names_travel_escaped_and_compare_as_text() {
    let mut options = SimOptions::default();
    let odd = "Lê \"Bé\" <Tí> & 'Tèo'";
    let mut record = options.citizens[0].clone();
    record.so_dinh_danh = Some("001203000777".into());
    (record.ho, record.chu_dem, record.ten) = (Some("Lê".into()), None, Some("\"Bé\" <Tí> & 'Tèo'".into()));
    options.citizens.push(record);
    let sim = start_sim_with(options).await;
    let adapter = adapter(&sim);

    assert_eq!(
        checked(adapter.call(&verify("001203000777", odd, "2003-01-15", &[])).await),
        json!({"result": "match"})
    );
    let injected = "</HoVaTen><SoDinhDanh>042198000002</SoDinhDanh><HoVaTen>Trần Thị Bình";
    let reply = checked(adapter.call(&verify(AN, injected, "2003-01-15", &[])).await);
    assert_eq!(reply, json!({"result": "mismatch", "mismatched": ["full_name"]}));
    assert_eq!(sim.calls().last().unwrap().cccd, "0012******01", "the lookup stayed about the CCCD asked");
}
