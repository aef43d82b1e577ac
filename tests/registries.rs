//! Registry lookups through the bus: citizen.verify against the population database (SOAP),
//! business.lookup against the business registry, on the default config and a real broker.

mod common;

use common::Harness;
use serde_json::{Value, json};

const MEMBER: &str = "onestop.sandbox";
const DOSSIER: &str = "000.00.01.H42-261120-0001";

fn verify(cccd: &str, name: &str, born: &str, fields: &[&str]) -> Value {
    json!({"cccd": cccd, "full_name": name, "date_of_birth": born, "dossier_code": DOSSIER, "fields": fields})
}

#[tokio::test]
async fn a_citizen_is_verified_and_only_the_fields_asked_for_come_back() {
    let h = Harness::start().await;
    let (status, reply) = h
        .ask("citizen.verify", MEMBER, &verify("001203000001", "Nguyễn Văn An", "2003-01-15", &["permanent_address"]))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"], "match");
    let citizen = reply["citizen"].as_object().unwrap();
    assert_eq!(citizen.keys().collect::<Vec<_>>(), ["permanent_address"], "only what was asked for");
    assert_eq!(citizen["permanent_address"]["province_code"], "01");

    // A wrong date of birth: which field differs, never what the registry holds.
    let (status, reply) =
        h.ask("citizen.verify", MEMBER, &verify("042198000002", "Trần Thị Bình", "1998-02-07", &["gender"])).await;
    assert_eq!((status, reply["result"].as_str()), (200, Some("mismatch")), "{reply}");
    assert_eq!(reply["mismatched"], json!(["date_of_birth"]));
    assert!(!reply.to_string().contains("1998-07-02") && reply.get("citizen").is_none(), "{reply}");

    let (status, reply) = h.ask("citizen.verify", MEMBER, &verify("079300000099", "Lê Văn C", "2000-01-01", &[])).await;
    assert_eq!((status, reply), (200, json!({"result": "not_found"})));

    // The audit: who asked, for which dossier, what was asked and returned, how it ended; its id
    // is the request id (MaYeuCau) the registry logged, so both records can be matched.
    let (_, audit) = h.api.get(&format!("/v1/lookups?dossier_code={DOSSIER}")).await;
    let lookups = audit["lookups"].as_array().unwrap();
    let outcomes: Vec<&str> = lookups.iter().map(|l| l["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["not_found", "mismatch", "match"]);
    let matched = &lookups[2];
    assert_eq!((matched["member"].as_str(), matched["subject"].as_str()), (Some(MEMBER), Some("001203000001")));
    assert_eq!(
        (matched["fields"].clone(), matched["returned"].clone()),
        (json!(["permanent_address"]), json!(["permanent_address"]))
    );
    assert_eq!(lookups[1]["returned"], json!([]), "a mismatch returns nothing");
    let registry_ids: Vec<String> = h.population.calls().iter().map(|c| c.ma_yeu_cau.clone()).collect();
    assert!(lookups.iter().all(|l| registry_ids.contains(&l["id"].as_str().unwrap().to_string())), "{registry_ids:?}");
    assert!(h.population.calls().iter().all(|c| c.ma_can_bo == MEMBER && c.dossier_code == DOSSIER));
    h.stop().await;
}

#[tokio::test]
async fn an_enterprise_and_its_branch_are_looked_up() {
    let h = Harness::start().await;
    let lookup = |mst: &str| json!({"mst": mst, "dossier_code": DOSSIER});
    let (status, reply) = h.ask("business.lookup", MEMBER, &lookup("0101234567")).await;
    assert_eq!(status, 200, "{reply}");
    let business = &reply["business"];
    assert_eq!(
        (business["name"].as_str(), business["legal_status"].as_str()),
        (Some("Công ty TNHH Minh Phát"), Some("active"))
    );
    assert_eq!(business["registered_office"]["province_code"], "01");
    assert_eq!(business["legal_representatives"][0]["full_name"], "Phạm Minh Phát");
    assert!(business["main_business_line"]["code"].is_string());

    let (_, branch) = h.ask("business.lookup", MEMBER, &lookup("0101234567-001")).await;
    assert_eq!(branch["business"]["parent_mst"], "0101234567");
    assert_eq!(branch["business"]["registered_office"]["province_code"], "42");
    assert_eq!(
        h.ask("business.lookup", MEMBER, &lookup("0109999999")).await.1["business"]["legal_status"],
        "dissolved"
    );
    assert_eq!(h.ask("business.lookup", MEMBER, &lookup("0300000001")).await.1, json!({"result": "not_found"}));
    h.stop().await;
}

#[tokio::test]
async fn a_registry_that_fails_refuses_or_hangs_gets_a_clear_answer() {
    let h = Harness::start().await;
    let ask = verify("001203000001", "Nguyễn Văn An", "2003-01-15", &[]);

    h.population.set_behaviour(lgsp_population::Behaviour { refuse: true, ..Default::default() });
    let (status, problem) = h.ask("citizen.verify", MEMBER, &ask).await;
    assert_eq!(status, 422, "a refusal is passed on, not a 500: {problem}");
    assert!(!problem.to_string().contains("001203000001"), "the CCCD is masked: {problem}");

    h.population.set_behaviour(lgsp_population::Behaviour { fault: true, ..Default::default() });
    assert_eq!(h.ask("citizen.verify", MEMBER, &ask).await.0, 502);
    h.population.set_behaviour(lgsp_population::Behaviour { down: true, ..Default::default() });
    assert_eq!(h.ask("citizen.verify", MEMBER, &ask).await.0, 502);

    // The bus waits its configured 2 s, then answers 504; it does not hang for the registry.
    h.population.set_behaviour(lgsp_population::Behaviour { timeout_rate: 1.0, ..Default::default() });
    let started = std::time::Instant::now();
    let (status, problem) = h.ask("citizen.verify", MEMBER, &ask).await;
    assert_eq!(status, 504, "{problem}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    h.population.set_behaviour(lgsp_population::Behaviour::default());
    assert_eq!(h.ask("citizen.verify", MEMBER, &ask).await.0, 200, "recovered");
    h.stop().await;
}

/// A citizen's birth certificate, issued as the result of one dossier, is offered for the next
/// dossier of the same citizen whose procedure needs one (config/procedures.toml).
#[tokio::test]
async fn a_paper_issued_once_is_offered_again_for_the_next_dossier() {
    let h = Harness::start().await;
    let issued = "000.00.01.H42-261124-0001";
    let result = json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.result_ready", "source": MEMBER, "subject": issued,
        "seq": 1, "occurred_at": "2026-11-24T15:30:00+07:00",
        "payload": {
            "dossier_code": issued, "procedure_code": "1.001193", "agency_code": "000.00.01.H42",
            "holder": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"},
            "documents": [{"type": "GKS", "name": "Giấy khai sinh", "number": "45/2026", "issuer": "UBND xã Thạch Hà",
                           "issued_on": "2026-11-24", "file_url": "https://onestop.example/files/45-2026.pdf",
                           "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],
            "completed_at": "2026-11-24T15:30:00+07:00"
        }
    });
    assert_eq!(h.api.post(&result).await.0, 202);

    let next = "000.00.01.H42-261201-0007";
    let submitted = json!({
        "id": uuid::Uuid::now_v7(), "type": "dossier.submitted", "source": MEMBER, "subject": next, "seq": 1,
        "occurred_at": "2026-12-01T08:00:00+07:00",
        "payload": {"dossier_code": next, "procedure_code": "1.001234", "agency_code": "000.00.01.H42",
                    "received_at": "2026-12-01T08:00:00+07:00", "due_at": "2026-12-08T17:00:00+07:00", "channel": "counter",
                    "applicant": {"kind": "citizen", "id": "042198000002", "name": "Trần Thị Bình"}}
    });
    assert_eq!(h.api.post(&submitted).await.0, 202);
    h.api.wait_state(submitted["id"].as_str().unwrap(), "delivered").await;

    let (_, dossier) = h.api.get(&format!("/v1/dossiers/{next}")).await;
    assert_eq!(dossier["documents_reuse"]["required"], json!(["GKS", "XNCT"]));
    assert_eq!(dossier["documents_reuse"]["reusable"][0]["number"], "45/2026");
    let (_, found) = h
        .ask(
            "documents.lookup",
            MEMBER,
            &json!({"holder": {"kind": "citizen", "id": "042198000002"}, "dossier_code": next, "valid_on": "2026-12-01"}),
        )
        .await;
    assert_eq!(found["documents"][0]["dossier_code"], issued);
    let (_, report) = h.api.get("/v1/reports/reuse?from=2026-12-01&to=2026-12-01").await;
    assert_eq!((report["dossiers"].as_u64(), report["rate"].as_f64()), (Some(1), Some(1.0)));
    h.stop().await;
}
