//! The real adapter against the real simulator on 127.0.0.1:0, over HTTP and TLS: each auth type,
//! the mapping, each outcome class, services, and the settings' problems.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lgsp_bus::config::Config;
use lgsp_bus::simulator::free_port;
use lgsp_bus::testing::tls::{PrivateCa, listener};
use lgsp_bus::{Adapter, AdapterKind, BuildContext, Outcome, ServiceRequest};
use lgsp_http::auth::sign;
use lgsp_http::sim::{AuthCheck, CallKind};
use lgsp_http::{Behaviour, HttpKind, check_mapping, sample_envelope};
use serde_json::{Value, json};

fn with_auth(settings: &toml::Table, key: &str, value: &str) -> toml::Table {
    let mut settings = settings.clone();
    settings.get_mut("auth").unwrap().as_table_mut().unwrap().insert(key.into(), value.into());
    settings
}

fn request(service: &str, body: Value) -> ServiceRequest {
    ServiceRequest {
        request_id: "019a9e4c-0000-7000-8000-000000000001".into(),
        service: service.into(),
        member: "onestop.hatinh".into(),
        body,
    }
}

// ---- auth ----------------------------------------------------------------------------------

#[tokio::test]
async fn bearer_a_delivery_carries_the_token_the_headers_and_the_envelope_as_it_is() {
    let peer = Peer::start(&format!("path = \"/lgsp/dossiers\"\n{}", bearer())).await;
    let delivery = submitted();

    assert_eq!(peer.adapter().deliver(std::slice::from_ref(&delivery)).await, [Outcome::Delivered]);

    let calls = peer.sim.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let id = delivery.envelope.id.to_string();
    assert_eq!(
        (call.kind, call.method.as_str(), call.path.as_str(), call.auth, call.status),
        (CallKind::Delivery, "POST", "/land/lgsp/dossiers", AuthCheck::Ok, 200)
    );
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(call.header("idempotency-key"), Some(id.as_str()));
    assert_eq!(call.header("x-lgsp-message-id"), Some(id.as_str()));
    assert_eq!(call.header("x-lgsp-message-type"), Some(SUBMITTED));
    assert_eq!(call.header("authorization"), None, "the simulator never records a credential");
    assert_eq!(call.body, serde_json::to_value(&*delivery.envelope).unwrap());
    assert_eq!(peer.sim.received(), [id]);
}

#[tokio::test]
async fn bearer_a_wrong_token_is_refused_with_the_answer() {
    let peer = Peer::start(&bearer()).await;
    let outcomes = adapter(&with_auth(&peer.settings, "token", "not-the-token")).deliver(&[submitted()]).await;

    let failure = permanent(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("http:401"));
    assert!(failure.reason.contains("HTTP 401 Unauthorized"), "{}", failure.reason);
    assert!(failure.peer_answer.as_deref().unwrap().starts_with("HTTP 401"), "{failure:?}");
    assert!(!failure.reason.contains("not-the-token"));
    assert_eq!(peer.sim.calls()[0].auth, AuthCheck::Wrong);
    assert!(peer.sim.received().is_empty());
}

#[tokio::test]
async fn hmac_signs_the_exact_body_bytes_in_lower_case_hex() {
    let peer = Peer::start(&hmac()).await;
    let adapter = peer.adapter();
    let delivery = submitted();

    assert_eq!(adapter.deliver(std::slice::from_ref(&delivery)).await, [Outcome::Delivered]);

    let call = &peer.sim.calls()[0];
    assert_eq!(call.auth, AuthCheck::Ok);
    let signature = call.header("x-lgsp-signature").unwrap();
    assert_eq!(signature, sign(HMAC_SECRET, &adapter.body(&delivery).unwrap()));
    assert!(signature.strip_prefix("sha256=").unwrap().bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
}

#[tokio::test]
async fn hmac_in_a_header_of_the_agencys_choice_and_a_wrong_key_refused() {
    let peer = Peer::start(&format!("{}header = \"X-Signature\"\n", hmac())).await;
    assert_eq!(peer.adapter().deliver(&[submitted()]).await, [Outcome::Delivered]);
    assert!(peer.sim.calls()[0].header("x-signature").is_some_and(|s| s.starts_with("sha256=")));

    let wrong = adapter(&with_auth(&peer.settings, "secret", "another-key-of-16-chars-or-more"));
    let outcomes = wrong.deliver(&[submitted()]).await;
    assert_eq!(permanent(&outcomes[0]).code.as_deref(), Some("http:401"));
    assert_eq!(peer.sim.calls()[1].auth, AuthCheck::Wrong);
}

#[tokio::test]
async fn oauth2_one_token_serves_many_calls() {
    let peer = Peer::start(&oauth2()).await;
    let adapter = peer.adapter();
    for _ in 0..3 {
        assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);
    }
    assert_eq!(peer.sim.logins(), 1);
    assert!(peer.sim.calls().iter().all(|call| call.auth == AuthCheck::Ok));
}

#[tokio::test]
async fn oauth2_a_refused_token_is_renewed_once_and_the_call_sent_again() {
    let peer = Peer::start(&oauth2()).await;
    let adapter = peer.adapter();
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);

    // The identity server forgot its tokens, then (later) the service's clock passed their expiry.
    peer.sim.revoke_tokens();
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);
    peer.sim.advance_clock(Duration::from_secs(7200));
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);

    assert_eq!(peer.sim.logins(), 3);
    let answered: Vec<(AuthCheck, u16)> = peer.sim.calls().iter().map(|c| (c.auth, c.status)).collect();
    assert_eq!(
        answered,
        [
            (AuthCheck::Ok, 200),
            (AuthCheck::Wrong, 401),
            (AuthCheck::Ok, 200),
            (AuthCheck::Wrong, 401),
            (AuthCheck::Ok, 200)
        ]
    );
    assert_eq!(peer.sim.received().len(), 3);
}

#[tokio::test]
async fn oauth2_a_401_to_a_fresh_token_is_not_renewed_again() {
    let peer = Peer::start(&oauth2()).await;
    peer.sim.set_behaviour(Behaviour { reject_status: Some(401), ..Behaviour::default() });
    let outcomes = peer.adapter().deliver(&[submitted()]).await;
    assert_eq!(permanent(&outcomes[0]).code.as_deref(), Some("http:401"));
    assert_eq!((peer.sim.logins(), peer.sim.calls().len()), (2, 2));
}

#[tokio::test]
async fn oauth2_a_token_about_to_expire_is_renewed_before_the_call() {
    let peer = Peer::start(&oauth2()).await;
    // Less than RENEW_BEFORE (30 s): each call gets a new one, none is refused.
    peer.sim.set_behaviour(Behaviour { token_ttl: Some(Duration::from_secs(10)), ..Behaviour::default() });
    let adapter = peer.adapter();
    for _ in 0..3 {
        assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);
    }
    assert_eq!(peer.sim.logins(), 3);
    assert!(peer.sim.calls().iter().all(|call| call.status == 200));
}

#[tokio::test]
async fn oauth2_a_refused_client_fails_transiently_and_sends_nothing() {
    let peer = Peer::start(&oauth2()).await;
    let outcomes = adapter(&with_auth(&peer.settings, "client_secret", "wrong")).deliver(&[submitted()]).await;
    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("token:401"));
    assert!(failure.reason.contains("token endpoint refused client `lgsp-h42`"), "{}", failure.reason);
    assert!(!failure.reason.contains(CLIENT_SECRET) && !failure.reason.contains("wrong"));
    assert!(peer.sim.calls().is_empty());
}

#[tokio::test]
async fn oauth2_from_an_identity_server_at_a_full_url() {
    let peer = Peer::start(&oauth2()).await;
    let token_url = format!("{}land/oauth2/token", peer.sim.url());
    let adapter = adapter(&with_auth(&peer.settings, "token_url", &token_url));
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);
    assert_eq!(peer.sim.logins(), 1);
}

/// Over real TLS with a private CA: the service asks for a client certificate from the
/// platform's CA.
async fn mtls_peer(files: &std::path::Path) -> (Peer, PrivateCa) {
    let (ca, platform) = (PrivateCa::new("land CA"), PrivateCa::new("platform CA"));
    let client = platform.client("lgsp.hatinh", false);
    let write = |name: &str, content: &str| {
        let path = files.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    };
    let settings = format!(
        "ca_file = {:?}\nclient_cert = {:?}\nclient_key = {:?}\n[auth]\ntype = \"mtls\"\n\
         [services.\"land.parcel_lookup\"]\npath = \"/parcels\"\n\
         [simulator.replies.\"land.parcel_lookup\"]\nfound = false\n",
        write("ca.pem", &ca.pem()),
        write("client.pem", &client.cert_pem),
        write("client.key", &client.key_pem),
    );
    (Peer::serve(&settings, listener(&ca, Some(&platform)).await).await, ca)
}

#[tokio::test]
async fn mtls_the_client_certificate_is_presented_and_required() {
    let files = tempfile::tempdir().unwrap();
    let (peer, _ca) = mtls_peer(files.path()).await;
    assert!(peer.settings["url"].as_str().unwrap().starts_with("https://"));
    let identified = peer.adapter();

    assert_eq!(identified.deliver(&[submitted()]).await, [Outcome::Delivered]);
    let reply = identified.call(&request("land.parcel_lookup", json!({"parcel": "12/345"}))).await.unwrap();
    assert_eq!(reply, json!({"found": false}));
    assert_eq!(peer.sim.calls()[0].auth, AuthCheck::Unchecked, "checked by the TLS listener");

    // Without the certificate (auth none, on loopback) the handshake is refused.
    let mut anonymous = peer.settings.clone();
    anonymous.remove("auth");
    anonymous.remove("client_cert");
    anonymous.remove("client_key");
    let outcomes = adapter(&anonymous).deliver(&[submitted()]).await;
    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("unreachable"));
    assert!(failure.reason.contains("CertificateRequired"), "{}", failure.reason);
    assert_eq!(peer.sim.calls().len(), 2, "nothing more reached the service");
}

#[tokio::test]
async fn none_on_loopback_only() {
    let peer = Peer::start("").await;
    assert_eq!(peer.adapter().deliver(&[submitted()]).await, [Outcome::Delivered]);
    assert_eq!(peer.sim.calls()[0].auth, AuthCheck::Unchecked);

    let beyond: toml::Table = "url = \"https://dat-dai.hatinh.example\"".parse().unwrap();
    let problems = HttpKind.build(ID, &beyond, &BuildContext::ephemeral(ID)).err().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "auth.type");
    assert!(problems[0].reason.contains("type = \"bearer\", \"oauth2\", \"mtls\" or \"hmac\""), "{}", problems[0]);
}

// ---- mapping -------------------------------------------------------------------------------

#[tokio::test]
async fn the_example_mapping_is_applied_field_by_field() {
    let mapping = example_mapping();
    let peer = Peer::start(&format!("mapping = '''{mapping}'''\n{}", bearer())).await;
    let delivery = submitted();

    assert_eq!(peer.adapter().deliver(std::slice::from_ref(&delivery)).await, [Outcome::Delivered]);

    let payload = example(SUBMITTED, 0);
    let expected = json!({
        "maHoSo": payload["dossier_code"],
        "maThuTuc": payload["procedure_code"],
        "loaiThongDiep": SUBMITTED,
        "trangThai": payload["status"],
        "ngayTiepNhan": payload["received_at"],
        "hanXuLy": payload["due_at"],
        "nguoiNop": {
            "loai": payload["applicant"]["kind"],
            "soGiayTo": payload["applicant"]["id"],
            "hoTen": payload["applicant"]["name"],
        },
        "giayTo": payload["documents"].as_array().unwrap().iter().map(|d| d["code"].clone()).collect::<Vec<_>>(),
        "maThongDiep": delivery.envelope.id.to_string(),
    });
    let call = &peer.sim.calls()[0];
    assert_eq!(call.body, expected);
    assert_eq!(call.header("idempotency-key"), Some(delivery.envelope.id.to_string().as_str()));
}

#[tokio::test]
async fn the_mapping_sees_the_annotations() {
    let mapping = r#"{"coQuan": {{ annotations.routing.agency | tojson }}, "ma": {{ envelope.subject | tojson }}}"#;
    let peer = Peer::start(&format!("mapping = '{mapping}'\n")).await;
    let mut delivery = submitted();
    delivery.annotations = Arc::new(json!({"routing": {"agency": "000.00.31.H42", "reason": "rules"}}));

    assert_eq!(peer.adapter().deliver(&[delivery]).await, [Outcome::Delivered]);
    assert_eq!(peer.sim.calls()[0].body, json!({"coQuan": "000.00.31.H42", "ma": "000.00.01.H42-261120-0001"}));
}

#[tokio::test]
async fn a_message_the_mapping_cannot_map_is_refused_before_sending() {
    let mapping = "{\n  \"soThua\": {{ envelope.payload.parcel.number | tojson }}\n}";
    let peer = Peer::start(&format!("mapping = '''{mapping}'''\n")).await;

    let outcomes = peer.adapter().deliver(&[submitted()]).await;

    let failure = permanent(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("mapping"));
    assert!(failure.reason.contains("the mapping failed: line 2: undefined value"), "{}", failure.reason);
    assert!(failure.reason.contains("envelope.payload.parcel"), "{}", failure.reason);
    assert!(!failure.reason.contains("001203000001"), "{}", failure.reason);
    assert!(peer.sim.calls().is_empty(), "never sent");
}

#[test]
fn the_example_mapping_renders_every_schema_example_of_its_routes() {
    let mapping = example_mapping();
    let mut samples = Vec::new();
    for message_type in [SUBMITTED, STATUS_CHANGED] {
        let examples =
            lgsp_bus::testing::adapter::catalogue().document(&format!("{message_type}.json")).unwrap()["examples"]
                .as_array()
                .unwrap()
                .clone();
        samples.extend(examples.into_iter().map(|payload| sample_envelope(message_type, payload)));
    }
    assert!(samples.len() >= 2);
    assert_eq!(check_mapping(&mapping, &samples), Ok(()));
    // An empty payload is what the schemas refuse and the mapping too.
    let problems = check_mapping(&mapping, &[sample_envelope(SUBMITTED, json!({}))]).unwrap_err();
    assert!(problems[0].reason.starts_with("sample 1 (dossier.submitted): line 2: undefined value"), "{}", problems[0]);
}

// ---- outcomes ------------------------------------------------------------------------------

#[tokio::test]
async fn each_status_class_is_an_outcome_with_its_code() {
    let peer = Peer::start(&bearer()).await;
    let adapter = peer.adapter();
    for (status, permanent_expected) in [(400, true), (404, true), (409, true), (422, true), (403, true)] {
        peer.sim.set_behaviour(Behaviour { reject_status: Some(status), ..Behaviour::default() });
        let outcomes = adapter.deliver(&[submitted()]).await;
        let failure = if permanent_expected { permanent(&outcomes[0]) } else { transient(&outcomes[0]) };
        assert_eq!(failure.code, Some(format!("http:{status}")));
        assert!(failure.reason.contains("rejected by the simulator"), "{}", failure.reason);
        assert!(failure.peer_answer.as_deref().unwrap().starts_with(&format!("HTTP {status}")));
    }
    for status in [408, 425, 429] {
        peer.sim.set_behaviour(Behaviour { reject_status: Some(status), ..Behaviour::default() });
        let outcomes = adapter.deliver(&[submitted()]).await;
        assert_eq!(transient(&outcomes[0]).code, Some(format!("http:{status}")));
    }
    peer.sim.set_behaviour(Behaviour { down: true, ..Behaviour::default() });
    let outcomes = adapter.deliver(&[submitted()]).await;
    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("http:503"));
    assert!(failure.reason.contains("the service is down (simulated)"), "{}", failure.reason);
    assert!(!failure.uncertain);

    peer.sim.set_behaviour(Behaviour { error_rate: 1.0, ..Behaviour::default() });
    let outcomes = adapter.deliver(&[submitted()]).await;
    assert_eq!(transient(&outcomes[0]).code.as_deref(), Some("http:500"));
    assert!(peer.sim.received().is_empty());
}

#[tokio::test]
async fn a_call_unanswered_in_time_is_transient_and_uncertain() {
    let peer = Peer::start("timeout = \"300ms\"\n").await;
    peer.sim.set_behaviour(Behaviour { timeout_rate: 1.0, ..Behaviour::default() });

    let outcomes = peer.adapter().deliver(&[submitted()]).await;

    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("timeout"));
    assert!(failure.uncertain, "the service may have taken it");
    assert!(failure.reason.contains("no answer from the land service"), "{}", failure.reason);
    assert!(peer.sim.wait_until(PATIENCE, |state| state.withheld == 1).await);
}

#[tokio::test]
async fn an_unreachable_service_is_transient_and_certain() {
    let settings: toml::Table = format!("url = \"http://127.0.0.1:{}/land\"", free_port().unwrap()).parse().unwrap();
    let delivery = submitted();
    let outcomes = adapter(&settings).deliver(std::slice::from_ref(&delivery)).await;
    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("unreachable"));
    assert!(!failure.uncertain, "nothing was sent");
    // Reasons are masked: an id whose last group is twelve digits reads like a CCCD.
    let prefix = lgsp_bus::privacy::redact(&format!("message {} (dossier.submitted): ", delivery.envelope.id));
    assert!(failure.reason.starts_with(&prefix), "{}", failure.reason);
    assert!(failure.reason.contains("cannot connect to the land service at 127.0.0.1"), "{}", failure.reason);
}

#[tokio::test]
async fn answer_codes_say_whether_the_service_took_it() {
    let peer = Peer::start("answer_code = \"/result/code\"\nsuccess_codes = [\"0\", \"00\"]\n").await;
    let adapter = peer.adapter();
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);

    peer.sim.set_behaviour(Behaviour { answer_code: Some("00".into()), ..Behaviour::default() });
    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);

    peer.sim.set_behaviour(Behaviour { answer_code: Some("E42".into()), ..Behaviour::default() });
    let outcomes = adapter.deliver(&[submitted()]).await;
    let failure = permanent(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("answer:E42"));
    assert!(failure.reason.contains("with answer code E42: refused by the simulator"), "{}", failure.reason);
    assert!(failure.peer_answer.as_deref().unwrap().contains("\"E42\""), "{failure:?}");
    assert_eq!(peer.sim.received().len(), 2, "the simulator did not take the refused one either");
}

#[tokio::test]
async fn a_2xx_without_the_promised_code_is_retried_as_uncertain() {
    let peer = Peer::start("").await;
    let outcomes = peer.adapter_with("answer_code", "/status").deliver(&[submitted()]).await;
    let failure = transient(&outcomes[0]);
    assert_eq!(failure.code.as_deref(), Some("unreadable"));
    assert!(failure.uncertain);
    assert!(failure.reason.contains("without a code at /status"), "{}", failure.reason);
}

#[tokio::test]
async fn a_stale_state_is_superseded_and_not_sent() {
    let peer = Peer::start("").await;
    let mut stale = submitted();
    stale.stale = true;
    assert_eq!(peer.adapter().deliver(&[stale, submitted()]).await, [Outcome::Superseded, Outcome::Delivered]);
    assert_eq!(peer.sim.calls().len(), 1);
}

#[tokio::test]
async fn put_to_the_configured_path() {
    let peer = Peer::start("method = \"PUT\"\npath = \"/hoso\"\n").await;
    assert_eq!(peer.adapter().deliver(&[submitted()]).await, [Outcome::Delivered]);
    let call = &peer.sim.calls()[0];
    assert_eq!((call.method.as_str(), call.path.as_str()), ("PUT", "/land/hoso"));
}

// ---- services ------------------------------------------------------------------------------

const SERVICES: &str = r#"
[services."land.parcel_lookup"]
path = "/lgsp/parcels/lookup"
[services."land.owner_lookup"]
path = "/lgsp/owners/lookup"
[simulator.replies."land.parcel_lookup"]
found = true
parcel = { sheet = "12", number = "345", area_m2 = 182.5 }
"#;

#[tokio::test]
async fn a_service_call_is_answered_with_the_same_auth() {
    let peer = Peer::start(&format!("{}{SERVICES}", hmac())).await;
    let adapter = peer.adapter();
    assert_eq!(adapter.services(), ["land.owner_lookup", "land.parcel_lookup"]);
    assert!(adapter.routes().is_empty(), "the bus's routes key decides");
    assert_eq!(adapter.max_batch(), 1);

    let ask = request("land.parcel_lookup", json!({"commune_code": "18073", "sheet": "12", "number": "345"}));
    let reply = adapter.call(&ask).await.unwrap();

    assert_eq!(reply, json!({"found": true, "parcel": {"sheet": "12", "number": "345", "area_m2": 182.5}}));
    let call = &peer.sim.calls()[0];
    assert_eq!((call.kind, call.service.as_deref()), (CallKind::Service, Some("land.parcel_lookup")));
    assert_eq!(
        (call.method.as_str(), call.path.as_str(), call.auth),
        ("POST", "/land/lgsp/parcels/lookup", AuthCheck::Ok)
    );
    assert_eq!(call.body, ask.body);
    assert_eq!(call.header("x-lgsp-request-id"), Some(ask.request_id.as_str()));
    assert_eq!(call.header("idempotency-key"), Some(ask.request_id.as_str()));
    assert_eq!(call.header("x-lgsp-member"), Some("onestop.hatinh"));
    assert_eq!(call.header("x-lgsp-service"), Some("land.parcel_lookup"));
    assert!(peer.sim.received().is_empty(), "a service call is not a delivery");
}

#[tokio::test]
async fn a_service_refuses_or_is_unavailable() {
    let peer = Peer::start(&format!("{}{SERVICES}", bearer())).await;
    let adapter = peer.adapter();

    // No reply configured: the service answers 404, a refusal of the request.
    let failure = refused(adapter.call(&request("land.owner_lookup", json!({"cccd": "001203000001"}))).await);
    assert_eq!(failure.code.as_deref(), Some("http:404"));
    assert!(!failure.reason.contains("001203000001"), "{}", failure.reason);

    let ask = request("land.parcel_lookup", json!({}));
    peer.sim.set_behaviour(Behaviour { reject_status: Some(422), ..Behaviour::default() });
    assert_eq!(refused(adapter.call(&ask).await).code.as_deref(), Some("http:422"));
    // The bus's credentials or the service's load: nothing the caller can mend.
    for status in [401, 403, 429] {
        peer.sim.set_behaviour(Behaviour { reject_status: Some(status), ..Behaviour::default() });
        assert_eq!(unavailable(adapter.call(&ask).await).code, Some(format!("http:{status}")));
    }
    peer.sim.set_behaviour(Behaviour { down: true, ..Behaviour::default() });
    assert_eq!(unavailable(adapter.call(&ask).await).code.as_deref(), Some("http:503"));

    let failure = unavailable(adapter.call(&request("land.unknown", json!({}))).await);
    assert!(failure.reason.contains("offers: land.owner_lookup, land.parcel_lookup"), "{}", failure.reason);
}

#[tokio::test]
async fn an_unreachable_service_is_unavailable() {
    let mut settings: toml::Table = SERVICES.parse().unwrap();
    settings.insert("url".into(), format!("http://127.0.0.1:{}/land", free_port().unwrap()).into());
    let failure = unavailable(adapter(&settings).call(&request("land.parcel_lookup", json!({}))).await);
    assert_eq!(failure.code.as_deref(), Some("unreachable"));
}

// ---- settings ------------------------------------------------------------------------------

#[test]
fn bad_settings_are_each_reported_with_their_key() {
    let build = |text: &str| {
        let settings: toml::Table = text.parse().unwrap();
        match HttpKind.build(ID, &settings, &BuildContext::ephemeral(ID)) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.key).collect::<Vec<_>>(),
        }
    };
    let https = "url = \"https://dat-dai.hatinh.example/api\"\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (String::new(), vec!["url"]),
        (format!("{https}no_such_setting = 1"), vec!["no_such_setting"]),
        (format!("{https}[auth]\ntype = \"basic\""), vec!["auth.type"]),
        (format!("{https}[auth]\ntype = \"bearer\"\ntokn = \"x\""), vec!["auth.tokn"]),
        ("url = \"http://10.0.0.5/land\"\n[auth]\ntype = \"bearer\"\ntoken = \"t\"".into(), vec!["url"]),
        (https.into(), vec!["auth.type"]),
        (format!("{https}[auth]\ntype = \"bearer\""), vec!["auth.token"]),
        (format!("{https}[auth]\ntype = \"hmac\"\nsecret = \"short\""), vec!["auth.secret"]),
        (format!("{https}[auth]\ntype = \"oauth2\"\nclient_id = \"c\"\nclient_secret = \"s\""), vec!["auth.token_url"]),
        (format!("{https}[auth]\ntype = \"mtls\""), vec!["auth.type"]),
        (
            format!(
                "{https}client_cert = \"/nonexistent/c.pem\"\nclient_key = \"/nonexistent/c.key\"\n[auth]\ntype = \"mtls\""
            ),
            vec!["client_cert"],
        ),
        (format!("{https}timeout = \"1h\"\n{}", bearer()), vec!["timeout"]),
        (format!("{https}mapping = \"{{{{ envelope.id \"\n{}", bearer()), vec!["mapping"]),
        (format!("{https}method = \"GET\"\n{}", bearer()), vec!["method"]),
        (format!("{https}path = \"dossiers\"\n{}", bearer()), vec!["path"]),
        (format!("{https}answer_code = \"code\"\n{}", bearer()), vec!["answer_code"]),
        (format!("{https}success_codes = [\"0\"]\n{}", bearer()), vec!["success_codes"]),
        (format!("{https}{}[services.\"land.x\"]\n", bearer()), vec!["services.\"land.x\".path"]),
        (
            format!("{https}{}[services.\"land.x\"]\npath = \"/x\"\nmethod = \"GET\"", bearer()),
            vec!["services.\"land.x\".method"],
        ),
        (format!("{https}{}[simulator]\nanswers = 1", bearer()), vec!["simulator.answers"]),
    ];
    for (text, expected) in cases {
        assert_eq!(build(&text), expected, "{text}");
    }
    let valid = format!("{https}{}{SERVICES}", bearer());
    assert!(build(&valid).is_empty());
}

#[test]
fn a_mapping_that_does_not_compile_names_its_line() {
    let text = r#"
        url = "http://127.0.0.1:9106"
        mapping = '''
{
  "a": {{ envelope.id | tojson }},
  "b": {% if %}
}'''
    "#;
    let settings: toml::Table = text.parse().unwrap();
    let problems = HttpKind.build(ID, &settings, &BuildContext::ephemeral(ID)).err().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "mapping");
    assert!(problems[0].reason.starts_with("does not compile: line 3: syntax error"), "{}", problems[0]);
}

/// The example as an operator deploys it: the token from the environment; written in the file,
/// the bus refuses it, naming the variable.
#[test]
fn the_example_builds_with_its_secret_from_the_environment_only() {
    let example = include_str!("../example.toml");
    let kinds: Vec<Arc<dyn AdapterKind>> = vec![Arc::new(HttpKind)];
    let env = vec![("LGSP__ADAPTERS__LAND__AUTH__TOKEN".to_string(), TOKEN.to_string())];
    let config = Config::from_toml(example, env).unwrap();
    let built = lgsp_bus::registry::build(&config, &kinds, false, None).unwrap_or_else(|p| panic!("{p:#?}"));
    let runtime = &built[0].runtime;
    assert_eq!(runtime.routes, ["dossier.submitted.*.000-00-31-H42", "dossier.status_changed.*.000-00-31-H42"]);
    assert_eq!(runtime.services, ["land.parcel_lookup"]);

    let problems =
        lgsp_bus::registry::build(&Config::from_toml(example, Vec::new()).unwrap(), &kinds, false, None).err().unwrap();
    assert_eq!(problems[0].key, "adapters.land.auth.token");
    assert!(problems[0].reason.contains("LGSP__ADAPTERS__LAND__AUTH__TOKEN"), "{}", problems[0]);

    let in_file = example.replace("type = \"bearer\"", "type = \"bearer\"\ntoken = \"written down\"");
    let problems = Config::from_toml(&in_file, Vec::new()).unwrap_err();
    assert_eq!(problems[0].key, "adapters.land.auth.token");
    assert!(problems[0].reason.contains("LGSP__ADAPTERS__LAND__AUTH__TOKEN"), "{}", problems[0]);
}

/// `lgsp sandbox`: the example builds without any secret, and its simulator answers the adapter.
#[tokio::test]
async fn the_sandbox_fills_in_the_secrets_and_serves_the_example() {
    let port = free_port().unwrap();
    let example = include_str!("../example.toml").replace("127.0.0.1:9106", &format!("127.0.0.1:{port}"));
    let kinds: Vec<Arc<dyn AdapterKind>> = vec![Arc::new(HttpKind)];
    let config = Config::from_toml(&example, Vec::new()).unwrap();
    let built = lgsp_bus::registry::build(&config, &kinds, true, None).unwrap_or_else(|p| panic!("{p:#?}"));
    let (simulator, settings) = built[0].sandbox.clone().unwrap();
    simulator.serve(&settings).await.unwrap();
    let adapter = &built[0].runtime.adapter;

    assert_eq!(adapter.deliver(&[submitted()]).await, [Outcome::Delivered]);
    let reply = adapter.call(&request("land.parcel_lookup", json!({"number": "345"}))).await.unwrap();
    assert_eq!(reply["parcel"]["land_use"], "ONT");

    let calls: Value = reqwest::get(format!("http://127.0.0.1:{port}/_sim/calls")).await.unwrap().json().await.unwrap();
    assert_eq!(calls[0]["auth"], "ok", "the sandbox's token, on both sides");
    assert_eq!(calls[0]["headers"].get("authorization"), None);
    let received: Value =
        reqwest::get(format!("http://127.0.0.1:{port}/_sim/received")).await.unwrap().json().await.unwrap();
    assert_eq!(received["received"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_simulators_behaviour_is_turned_over_http() {
    let peer = Peer::start("").await;
    let http = reqwest::Client::new();
    let base = peer.sim.url();
    let put = |body: Value| http.put(format!("{base}_sim/behaviour")).json(&body).send();
    assert_eq!(put(json!({"reject_status": 500})).await.unwrap().status(), 400);
    assert_eq!(put(json!({"reject_status": 422})).await.unwrap().status(), 204);
    assert_eq!(permanent(&peer.adapter().deliver(&[submitted()]).await[0]).code.as_deref(), Some("http:422"));
    assert_eq!(http.post(format!("{base}_sim/reset")).send().await.unwrap().status(), 204);
    assert!(peer.sim.calls().is_empty());
    assert_eq!(peer.adapter().deliver(&[submitted()]).await, [Outcome::Delivered]);
}
