//! The simulator as an agency's system sending to a real bus on the real broker: a dossier comes
//! in through the bus and the adapter, then the system moves it on, returns its result and asks
//! the post to carry it; each message valid, each accepted, its seq rising per dossier.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lgsp_bus::config::Config;
use lgsp_bus::schema::Catalogue;
use lgsp_bus::server::{self, RunningBus};
use lgsp_bus::testing::{Api, SECRET, amqp_url, delete_namespace, unique_namespace, with_test_secrets};
use lgsp_bus::{Adapter, AdapterKind, Outcome};
use lgsp_onestop::{OnestopKind, OnestopSim, SenderError};
use serde_json::{Value, json};
use url::Url;

const ADAPTER: &str = "onestop_sotuphap";
const MEMBER: &str = "onestop.sotuphap";
const TIERS: [Duration; 1] = [Duration::from_millis(100)];

/// A bus on its own namespace of the shared broker (or on `amqp`), its own store and an
/// ephemeral port, delivering to `sim` through a `onestop` adapter.
async fn start_bus(sim: &OnestopSim, amqp: &str, namespace: &str, dir: &tempfile::TempDir) -> RunningBus {
    let text = format!(
        r#"
        [http]
        listen = "127.0.0.1:0"
        [amqp]
        url = "{amqp}"
        namespace = "{namespace}"
        [store]
        url = "sqlite://{store}"
        [members."dvc.portal"]
        name = "National public-service portal (test)"
        rights = {{ send = [{{ types = ["dossier.submitted"], agencies = ["*"] }}], read = {{ dossiers = ["*"] }} }}
        [members."{MEMBER}"]
        name = "One-stop system of the Department of Justice (test)"
        rights = {{ send = [{{ types = ["*"], agencies = ["{AGENCY}"] }}], read = {{ dossiers = ["{AGENCY}"] }} }}
        [adapters.{ADAPTER}]
        kind = "onestop"
        url = "{url}"
        agencies = ["{AGENCY}"]
        token_endpoint = "/oauth2/token"
        client_id = "lgsp"
        # This bus routes every message with the `_` agency; the system takes them all, its own
        # messages included, so that the test sees what the bus accepted.
        routes = ["dossier.#", "postal.#", "payment.#"]
        [adapters.{ADAPTER}.delivery]
        max_attempts = 3
        retry_tiers = ["100ms"]
        timeout = "5s"
        "#,
        store = dir.path().join("lgsp.db").display(),
        url = sim.url(),
    );
    let secret = format!("LGSP__ADAPTERS__{}__CLIENT_SECRET", ADAPTER.to_uppercase());
    let mut config = Config::from_toml(&text, vec![(secret, sim.options().client_secret.clone())]).unwrap();
    with_test_secrets(&mut config);
    let kinds: Vec<Arc<dyn AdapterKind>> = vec![Arc::new(OnestopKind)];
    server::start(config, &kinds, false).await.unwrap()
}

fn bus_url(bus: &RunningBus) -> Url {
    Url::parse(&format!("http://{}", bus.http_addr)).unwrap()
}

/// The envelope is what the bus's schemas require.
fn assert_valid(envelope: &Value) {
    static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    let catalogue = CATALOGUE.get_or_init(|| Catalogue::embedded().unwrap());
    if let Err(violations) = catalogue.check_envelope(envelope.clone()) {
        panic!("not valid: {violations:#?}\n{envelope:#}");
    }
}

#[tokio::test]
async fn the_system_moves_a_dossier_on_through_the_bus() {
    let sim = start_sim().await;
    let (dir, namespace) = (tempfile::tempdir().unwrap(), unique_namespace());
    let bus = start_bus(&sim, &amqp_url(), &namespace, &dir).await;
    let api = Api::signed_in(&bus.base_url, bus.store.commits(), "dvc.portal").await;
    api.wait_ready(&bus).await;

    // The national portal hands in a dossier; the bus delivers it to the agency's system.
    let payload = example(SUBMITTED, 0);
    let code = payload["dossier_code"].as_str().unwrap().to_string();
    let submitted = json!({
        "id": uuid::Uuid::now_v7(), "type": SUBMITTED, "source": "dvc.portal", "subject": code, "seq": 1,
        "occurred_at": "2026-11-20T08:30:00+07:00", "payload": payload,
    });
    assert_eq!(api.post(&submitted).await.0, 202);
    assert!(sim.wait_until(PATIENCE, |s| s.dossier(&code).is_some_and(|d| d.state.is_some())).await);

    let sender = sim.sender(MEMBER, SECRET, &bus_url(&bus));
    assert_eq!(sender.member(), MEMBER);
    let progress = example("dossier.status_changed", 0)["progress"].clone();
    let document = example("dossier.result_ready", 0)["documents"][0].clone();
    let answers = [
        sender.advance(&code, 2, None).await.unwrap(),
        sender.advance(&code, 4, Some(progress.clone())).await.unwrap(),
        sender.advance(&code, 9, None).await.unwrap(),
        sender.result_ready(&code, vec![document]).await.unwrap(),
        sender.advance(&code, 10, None).await.unwrap(),
        sender.request_delivery(&code, "DL-261120-0001", 20000).await.unwrap(),
    ];

    for (index, answer) in answers.iter().enumerate() {
        assert_eq!((answer.status, answer.attempts), (202, 1), "{:#}", answer.body);
        assert_eq!(answer.body["id"], answer.envelope["id"]);
        assert_valid(&answer.envelope);
        assert_eq!(answer.envelope["source"], MEMBER);
        assert_eq!(answer.envelope["subject"], code.as_str());
        assert_eq!(answer.envelope["seq"], index as u64 + 1, "seq rises per dossier");
    }
    let types: Vec<&str> = answers.iter().map(|a| a.envelope["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "dossier.status_changed",
            "dossier.status_changed",
            "dossier.status_changed",
            "dossier.result_ready",
            "dossier.status_changed",
            "postal.delivery_requested"
        ]
    );
    // Each status change carries the whole dossier as received, moved on.
    let step = &answers[1].envelope["payload"];
    assert_eq!((step["status"].as_u64(), &step["progress"]), (Some(4), &progress));
    assert_eq!(step["applicant"], example(SUBMITTED, 0)["applicant"]);
    assert!(answers[2].envelope["payload"].get("progress").is_none());
    let returned = &answers[4].envelope["payload"];
    assert_eq!(returned["status"], 10);
    assert!(returned["completed_at"].as_str().is_some_and(|t| t.ends_with("+07:00")));
    assert_eq!(returned["results"][0]["name"], "Giấy khai sinh");
    assert_eq!(answers[3].envelope["payload"]["holder"]["id"], "001203000001");
    let order = &answers[5].envelope["payload"];
    assert_eq!(order["sender"]["agency_code"], AGENCY);
    assert_eq!(
        (order["receiver"]["name"].as_str(), order["receiver"]["phone"].as_str()),
        (Some("Nguyễn Văn An"), Some("0912345678"))
    );
    assert_eq!(order["cod_amount"], 20000);

    // The bus delivered all of them back to the system (it takes every type here), in order.
    assert!(sim.wait_until(PATIENCE, |s| s.dossier(&code).is_some_and(|d| d.messages.len() == 7)).await);
    let record = sim.dossier(&code).unwrap();
    let seqs: Vec<u64> = record.messages[1..].iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(record.seq, 6);
    assert!(record.sent.iter().all(|sent| sent.status == 202));
    assert_eq!(record.state.as_ref().unwrap()["status"], 10);
    let (status, dossier) = api.get(&format!("/v1/dossiers/{code}")).await;
    assert_eq!((status, dossier["status"].as_u64()), (200, Some(10)), "{dossier:#}");

    // A dossier the system never received cannot be moved on.
    let unknown = sender.advance("000.00.01.H42-261120-0999", 2, None).await.unwrap_err();
    assert!(matches!(unknown, SenderError::UnknownDossier(ref c) if c == "000.00.01.H42-261120-0999"), "{unknown}");

    bus.shutdown().await;
    delete_namespace(&amqp_url(), &namespace, &[(ADAPTER, &TIERS)]).await;
}

#[tokio::test]
async fn a_bus_that_answers_503_is_tried_again_a_few_times() {
    let sim = start_sim().await;
    // The dossier reaches the system directly, as from the adapter.
    let submitted = fixture("submitted_annotated");
    assert_eq!(adapter(&sim).deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);
    // A bus whose broker is away answers 503 to every message.
    let port = lgsp_bus::simulator::free_port().unwrap();
    let (dir, namespace) = (tempfile::tempdir().unwrap(), unique_namespace());
    let bus = start_bus(&sim, &format!("amqp://127.0.0.1:{port}/%2f"), &namespace, &dir).await;

    let answer = sim.sender(MEMBER, SECRET, &bus_url(&bus)).advance(code(&submitted), 2, None).await.unwrap();

    assert_eq!((answer.status, answer.attempts), (503, 1 + lgsp_onestop::sim::sender::RETRIES_ON_503));
    assert_valid(&answer.envelope);
    let record = sim.dossier(code(&submitted)).unwrap();
    assert_eq!((record.sent.len(), record.sent[0].status, record.sent[0].attempts), (1, 503, 4));
    // Its seq is spent: the next message about the dossier carries the next one.
    assert_eq!(record.seq, 1);
    bus.shutdown().await;

    // And a bus that is not there at all is an error, not an answer.
    let unreachable = sim.sender(MEMBER, SECRET, &Url::parse(&format!("http://127.0.0.1:{port}")).unwrap());
    let error = unreachable.advance(code(&submitted), 4, None).await.unwrap_err();
    assert!(matches!(error, SenderError::Unreachable { .. }), "{error}");
}
