//! The conformance suite: what every adapter kind must do, checked the same way for all. An
//! adapter is done when it passes it. Each kind runs it with one call from its own
//! `tests/conformance.rs`, in a test binary of its own (the suite reads what the adapter logs),
//! against the real broker:
//!
//! 1. its example config builds through the real config parse, and a bad key is reported with
//!    its path;
//! 2. its simulator serves on loopback, and refuses another address;
//! 3. its traffic goes through: each message delivered (in order, as the peer's record shows) or
//!    each request answered with a reply its schema accepts;
//! 4. a batch gets one outcome per delivery, in order;
//! 5. a peer that is down, or unreachable, is a transient failure (deliveries) or `Unavailable`
//!    (services);
//! 6. its peer over real TLS with a private CA is trusted through `ca_file`, and an unknown
//!    certificate is refused;
//! 7. through a whole bus on the real broker, a stream of messages (or requests) loses nothing
//!    across a broker reconnect;
//! 8. no CCCD, phone number or secret appears in any line it or the bus logged meanwhile.
//!
//! A simulator takes part through its contract: `PUT /_sim/behaviour {"down": true}` and, for a
//! kind that consumes messages, `GET /_sim/received` (`{"received": [key, …]}`, what the peer
//! took, in order).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::front::BrokerFront;
use super::tls::{self, PrivateCa};
use super::{Api, amqp_url, delete_namespace, logs, unique_namespace};
use crate::adapter::{Adapter, AdapterKind, BuildContext, Delivery, Outcome, ServiceError, ServiceRequest, Simulator};
use crate::config::{Config, env_var_for, remove_path, secret_values, set_path};
use crate::envelope::Envelope;
use crate::registry;
use crate::server;
use crate::simulator::{SimListener, SimulatorError, free_port};

/// What the suite needs of an adapter kind besides the kind itself.
pub struct Subject {
    pub kind: Arc<dyn AdapterKind>,
    /// The kind's example config (`include_str!("../example.toml")`): `[adapters.<id>]` tables
    /// of this kind; the suite runs the first.
    pub example: &'static str,
    /// Where the kind's crate logs, such as `lgsp_dvc`.
    pub log_target: &'static str,
    /// Personal data the peer holds about the traffic and answers with (a representative's
    /// CCCD, say), besides what the traffic itself carries: never to be logged either.
    pub peer_personal_data: &'static [&'static str],
    pub traffic: Traffic,
}

/// What the kind's peer takes when it is well.
pub enum Traffic {
    /// The kind consumes messages. `make(n)` is the n-th of a stream of different messages a
    /// member sends (a fresh id at each call), each of which its peer takes; `peer_key` names a
    /// message as the simulator's `GET /_sim/received` lists it.
    Messages { make: fn(usize) -> Value, peer_key: fn(&Value) -> String },
    /// The kind answers `service`; `make(n)` is the n-th request, one its peer answers.
    Requests { service: &'static str, make: fn(usize) -> Value },
}

/// Messages or requests in the stream across a broker reconnect.
const STREAM: usize = 30;
/// A member the suite's bus knows, for the requests it sends.
const MEMBER: &str = "conformance.member";

/// Runs the whole suite; panics with what does not conform.
pub async fn run(subject: Subject) {
    let logs = logs::capture(&format!("lgsp_bus=debug,{}=trace", subject.log_target));
    let suite = Suite::new(subject);
    suite.bad_keys_are_reported_with_their_path();
    let peer = suite.simulator_serves_on_loopback_only().await;
    suite.traffic_goes_through(&peer).await;
    suite.a_batch_gets_one_outcome_per_delivery_in_order(&peer).await;
    suite.a_peer_that_is_down_fails_transiently(&peer).await;
    suite.an_unreachable_peer_fails_transiently().await;
    suite.a_private_ca_is_trusted_through_ca_file_only().await;
    suite.a_peer_asking_for_a_client_certificate_gets_the_configured_one().await;
    suite.nothing_is_lost_across_a_broker_reconnect().await;
    suite.no_personal_data_or_secret_is_logged(&logs.text());
}

struct Suite {
    subject: Subject,
    simulator: Arc<dyn Simulator>,
    /// The example's first adapter of the kind.
    id: String,
    /// Its settings, secrets replaced by values of the suite's own.
    settings: toml::Table,
    /// Those values: they must never be logged.
    secrets: Vec<String>,
    /// The example's `routes` (the bus's key), for a kind that has none of its own.
    routes: Option<Vec<String>>,
    /// The path of its `url`, kept wherever the suite points it.
    path: String,
    http: reqwest::Client,
}

/// A simulator the suite started.
struct Peer {
    settings: toml::Table,
    base: String,
}

impl Suite {
    /// Builds the example through the real config parse, as `lgsp check-config --sandbox` does.
    fn new(subject: Subject) -> Suite {
        let name = subject.kind.name();
        let simulator = subject.kind.simulator().unwrap_or_else(|| panic!("the {name} kind ships no simulator"));
        let config = Config::from_toml(subject.example, Vec::new())
            .unwrap_or_else(|problems| panic!("the {name} example does not parse: {problems:#?}"));
        let built = registry::build(&config, std::slice::from_ref(&subject.kind), true, None)
            .unwrap_or_else(|problems| panic!("the {name} example does not build: {problems:#?}"));
        assert!(!built.is_empty(), "the {name} example has no [adapters.<id>] of kind {name}");
        let (id, section) = config.adapters.iter().next().expect("built from one at least");

        let mut settings = section.settings.clone();
        let mut secrets = Vec::new();
        for (path, _) in secret_values(&simulator.sandbox_settings()) {
            let secret = format!("conformance-{}-{}", path.replace('.', "-"), uuid::Uuid::new_v4().simple());
            set_path(&mut settings, &path, secret.clone().into());
            secrets.push(secret);
        }
        let url = settings.get("url").and_then(toml::Value::as_str).and_then(|url| url::Url::parse(url).ok());
        let path = url.unwrap_or_else(|| panic!("the {name} example's adapter has no url")).path().to_string();
        let routes = section.routes.clone();
        Suite { subject, simulator, id: id.clone(), settings, routes, secrets, path, http: reqwest::Client::new() }
    }

    fn name(&self) -> &'static str {
        self.subject.kind.name()
    }

    /// The settings, with the peer at `origin` (such as `http://127.0.0.1:9101`).
    fn at(&self, origin: &str) -> toml::Table {
        let mut settings = self.settings.clone();
        settings.insert("url".into(), format!("{origin}{}", self.path).into());
        settings
    }

    fn adapter(&self, settings: &toml::Table) -> Arc<dyn Adapter> {
        let context = BuildContext::ephemeral(&self.id);
        self.subject
            .kind
            .build(&self.id, settings, &context)
            .unwrap_or_else(|problems| panic!("{} does not build with {settings:?}: {problems:#?}", self.name()))
    }

    fn bad_keys_are_reported_with_their_path(&self) {
        let mut file: toml::Table = self.subject.example.parse().expect("the example is TOML");
        let adapter = file["adapters"][self.id.as_str()].as_table_mut().expect("a table");
        adapter.insert("no_such_setting".into(), true.into());
        let config = Config::from_toml(&toml::to_string(&file).expect("TOML"), Vec::new()).expect("parses");
        let problems = registry::build(&config, std::slice::from_ref(&self.subject.kind), true, None)
            .err()
            .unwrap_or_else(|| panic!("{}: an unknown key was taken", self.name()));
        let key = format!("adapters.{}.no_such_setting", self.id);
        assert!(problems.iter().any(|p| p.key == key), "{}: {key} not reported: {problems:#?}", self.name());
    }

    async fn simulator_serves_on_loopback_only(&self) -> Peer {
        let port = free_port().expect("a free port");
        let settings = self.at(&format!("http://127.0.0.1:{port}"));
        let addr = self.simulator.serve(&settings).await.expect("the simulator serves on loopback");
        assert_eq!(addr.port(), port, "{}: the simulator serves where the settings point", self.name());

        let elsewhere = self.at(&format!("http://192.0.2.1:{port}"));
        match self.simulator.serve(&elsewhere).await {
            Err(SimulatorError::NotLoopback(_)) => {}
            other => panic!("{}: a simulator must refuse a non-loopback address, got {other:?}", self.name()),
        }
        Peer { settings, base: format!("http://127.0.0.1:{port}") }
    }

    async fn traffic_goes_through(&self, peer: &Peer) {
        let adapter = self.adapter(&peer.settings);
        match &self.subject.traffic {
            Traffic::Messages { make, peer_key } => {
                let envelopes: Vec<Value> = (0..3).map(make).collect();
                let deliveries: Vec<Delivery> = envelopes.iter().map(delivery).collect();
                let outcomes = deliver(&*adapter, &deliveries).await;
                assert_eq!(outcomes, vec![Outcome::Delivered; 3], "{}: a well peer takes the traffic", self.name());
                for delivery in &deliveries {
                    assert!(
                        delivery.answer.digest().is_some(),
                        "{}: the peer's answer to a delivered message is noted (Delivery::answered) for the message log",
                        self.name()
                    );
                }
                let keys: Vec<String> = envelopes.iter().map(peer_key).collect();
                let received = self.received(peer).await;
                assert!(
                    received.ends_with(&keys),
                    "{}: the peer took {received:?}, not {keys:?} in order",
                    self.name()
                );
            }
            Traffic::Requests { service, make } => {
                for n in 0..3 {
                    let reply = adapter.call(&request(service, make(n))).await;
                    let reply = reply.unwrap_or_else(|e| panic!("{}: request {n} unanswered: {e:?}", self.name()));
                    if let Err(violations) = super::adapter::catalogue().check_reply(service, &reply) {
                        panic!("{}: its reply breaks {service}'s schema: {violations:#?}", self.name());
                    }
                }
            }
        }
    }

    async fn a_batch_gets_one_outcome_per_delivery_in_order(&self, peer: &Peer) {
        let Traffic::Messages { make, peer_key } = &self.subject.traffic else { return };
        let adapter = self.adapter(&peer.settings);
        // The middle one carries a payload the adapter cannot map: refused on its own.
        let (first, last) = (make(10), make(12));
        let mut broken = make(11);
        broken["payload"] = json!({});
        let batch = vec![delivery(&first), delivery(&broken), delivery(&last)];
        let outcomes = deliver(&*adapter, &batch).await;
        assert!(
            matches!(outcomes.as_slice(), [Outcome::Delivered, Outcome::Permanent(_), Outcome::Delivered]),
            "{}: one outcome per delivery, in order: {outcomes:#?}",
            self.name()
        );
        let received = self.received(peer).await;
        assert!(received.ends_with(&[peer_key(&first), peer_key(&last)]), "{}: {received:?}", self.name());
    }

    async fn a_peer_that_is_down_fails_transiently(&self, peer: &Peer) {
        self.set_down(peer, true).await;
        let failures = self.failures(&peer.settings).await;
        self.set_down(peer, false).await;
        for reason in failures {
            assert!(!reason.is_empty(), "{}: a failure says why", self.name());
        }
    }

    async fn an_unreachable_peer_fails_transiently(&self) {
        let port = free_port().expect("a free port");
        self.failures(&self.at(&format!("http://127.0.0.1:{port}"))).await;
    }

    async fn a_private_ca_is_trusted_through_ca_file_only(&self) {
        let ca = PrivateCa::new("peer CA");
        let settings = self.serve_tls(tls::listener(&ca, None).await).await;
        for reason in self.failures(&settings).await {
            assert!(reason.contains("certificate"), "{}: an unknown certificate is refused: {reason}", self.name());
        }
        let files = tempfile::tempdir().expect("a temporary folder");
        let trusted = with_files(&settings, files.path(), &[("ca_file", ca.pem())]);
        self.goes_through(&trusted, "trusted through ca_file").await;
    }

    /// The national platform's security servers ask for mutual TLS: the adapter presents
    /// `client_cert` and `client_key`, and without them the peer refuses it.
    async fn a_peer_asking_for_a_client_certificate_gets_the_configured_one(&self) {
        let (ca, platform) = (PrivateCa::new("peer CA"), PrivateCa::new("platform CA"));
        let settings = self.serve_tls(tls::listener(&ca, Some(&platform)).await).await;
        let files = tempfile::tempdir().expect("a temporary folder");
        let trusted = with_files(&settings, files.path(), &[("ca_file", ca.pem())]);
        self.failures(&trusted).await;
        let client = platform.client("lgsp.hatinh", false);
        let identified =
            with_files(&trusted, files.path(), &[("client_cert", client.cert_pem), ("client_key", client.key_pem)]);
        self.goes_through(&identified, "its client certificate presented").await;
    }

    /// Serves the simulator over TLS on `listener`: the settings that point there.
    async fn serve_tls(&self, listener: SimListener) -> toml::Table {
        let port = axum::serve::Listener::local_addr(&listener).expect("bound").port();
        let settings = self.at(&format!("https://127.0.0.1:{port}"));
        self.serve_on(&settings, listener).await;
        settings
    }

    /// One message delivered, or one request answered, with `settings`.
    async fn goes_through(&self, settings: &toml::Table, how: &str) {
        let adapter = self.adapter(settings);
        match &self.subject.traffic {
            Traffic::Messages { make, .. } => {
                let outcomes = deliver(&*adapter, &[delivery(&make(20))]).await;
                assert_eq!(outcomes, [Outcome::Delivered], "{}: {how}", self.name());
            }
            Traffic::Requests { service, make } => {
                let reply = adapter.call(&request(service, make(20))).await;
                assert!(reply.is_ok(), "{}: {how}: {reply:?}", self.name());
            }
        }
    }

    async fn serve_on(&self, settings: &toml::Table, listener: SimListener) -> SocketAddr {
        self.simulator.serve_on(settings, listener).await.expect("the simulator serves on any listener")
    }

    /// Sends the traffic to a peer that cannot take it: every delivery must fail transiently,
    /// every request be `Unavailable`. The reasons given.
    async fn failures(&self, settings: &toml::Table) -> Vec<String> {
        let adapter = self.adapter(settings);
        match &self.subject.traffic {
            Traffic::Messages { make, .. } => deliver(&*adapter, &[delivery(&make(30)), delivery(&make(31))])
                .await
                .into_iter()
                .map(|outcome| match outcome {
                    Outcome::Transient(failure) => failure.reason,
                    other => panic!("{}: expected a transient failure, got {other:?}", self.name()),
                })
                .collect(),
            Traffic::Requests { service, make } => match adapter.call(&request(service, make(30))).await {
                Err(ServiceError::Unavailable(failure)) => vec![failure.reason],
                other => panic!("{}: expected Unavailable, got {other:?}", self.name()),
            },
        }
    }

    async fn set_down(&self, peer: &Peer, down: bool) {
        let url = format!("{}/_sim/behaviour", peer.base);
        let response = self.http.put(url).json(&json!({ "down": down })).send().await.expect("the simulator answers");
        assert!(response.status().is_success(), "{}: PUT /_sim/behaviour: {}", self.name(), response.status());
    }

    async fn received(&self, peer: &Peer) -> Vec<String> {
        let url = format!("{}/_sim/received", peer.base);
        let body: Value = self.http.get(url).send().await.expect("answers").json().await.expect("JSON");
        let keys = body["received"].as_array().unwrap_or_else(|| panic!("{}: GET /_sim/received: {body}", self.name()));
        keys.iter().filter_map(Value::as_str).map(String::from).collect()
    }

    /// A whole bus with this adapter, its broker behind a front the suite cuts in the middle of a
    /// stream: every message accepted is delivered (or, a state overtaken by a newer one,
    /// superseded) and reached the peer; every request is answered once the broker is back.
    async fn nothing_is_lost_across_a_broker_reconnect(&self) {
        let front = BrokerFront::start(&amqp_url()).await;
        let port = free_port().expect("a free port");
        let peer =
            Peer { settings: self.at(&format!("http://127.0.0.1:{port}")), base: format!("http://127.0.0.1:{port}") };
        self.simulator.serve(&peer.settings).await.expect("the simulator serves");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let namespace = unique_namespace();
        let config = self.bus_config(&peer.settings, front.url(), &namespace, dir.path());
        let bus = server::start(config, std::slice::from_ref(&self.subject.kind), false).await.expect("the bus starts");
        let api = Api::signed_in(&bus.base_url, bus.store.commits(), &self.member()).await;
        api.wait_ready(&bus).await;

        let never = CancellationToken::new();
        let mut accepted = Vec::new();
        for n in 0..STREAM {
            if n == STREAM / 2 {
                let generation = bus.broker.wait_link(&never).await.expect("connected").generation;
                front.cut();
                bus.broker.wait_link_lost(generation, &never).await;
            }
            accepted.push(self.send_until_taken(&api, n).await);
        }
        if let Traffic::Messages { peer_key, .. } = &self.subject.traffic {
            let mut delivered = Vec::new();
            for (id, envelope) in &accepted {
                let path = format!("/v1/messages/{id}");
                let view = api
                    .wait_get(&path, |_, body| {
                        ["delivered", "superseded"].contains(&body["state"].as_str().unwrap_or_default())
                    })
                    .await;
                if view["state"] == "delivered" {
                    delivered.push(peer_key(envelope));
                }
            }
            let received: BTreeSet<String> = self.received(&peer).await.into_iter().collect();
            let lost: Vec<&String> = delivered.iter().filter(|key| !received.contains(*key)).collect();
            assert!(lost.is_empty(), "{}: delivered but not at the peer: {lost:?}", self.name());
        }
        bus.shutdown().await;
        delete_namespace(
            &amqp_url(),
            &namespace,
            &[(self.id.as_str(), &[Duration::from_millis(200), Duration::from_secs(1)])],
        )
        .await;
    }

    /// Sends the n-th message or request until the bus takes it (a 503 while the broker is away is
    /// retried, as a member would); the message's id and the envelope, or the request's id.
    async fn send_until_taken(&self, api: &Api, n: usize) -> (String, Value) {
        let (path, body) = match &self.subject.traffic {
            Traffic::Messages { make, .. } => ("/v1/messages".to_string(), make(100 + n)),
            Traffic::Requests { service, make } => (format!("/v1/services/{service}"), make(100 + n)),
        };
        for _ in 0..600 {
            let response =
                api.http.post(format!("{}{path}", api.base)).json(&body).send().await.expect("the bus answers");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            match status {
                200 | 202 => {
                    let id = answer["id"].as_str().or(body["id"].as_str()).unwrap_or_default().to_string();
                    return (id, body);
                }
                // The broker is away, or a request was caught by the cut: as a member, send again.
                502..=504 => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => panic!("{}: {path} answered {status}: {answer}", self.name()),
            }
        }
        panic!("{}: {path} was never taken after the broker came back", self.name());
    }

    /// The bus's config: this adapter at `peer`, the broker at `amqp`, a store in `dir`, the
    /// members the traffic names; secrets from the environment, as in production.
    fn bus_config(&self, peer: &toml::Table, amqp: &str, namespace: &str, dir: &std::path::Path) -> Config {
        let mut adapter = peer.clone();
        let mut env = Vec::new();
        for (path, _) in secret_values(&self.simulator.sandbox_settings()) {
            if let Some(secret) = remove_path(&mut adapter, &path).and_then(|v| v.as_str().map(String::from)) {
                env.push((env_var_for(&format!("adapters.{}.{path}", self.id)), secret));
            }
        }
        adapter.insert("kind".into(), self.name().into());
        if let Some(routes) = &self.routes {
            adapter.insert("routes".into(), routes.clone().into());
        }
        adapter.insert("delivery".into(), toml::Value::Table(toml::toml! { retry_tiers = ["200ms", "1s"] }));
        // The member the traffic comes from, with every right: the suite checks the adapter, not rights.
        let member = toml::toml! {
            name = "conformance"
            [rights]
            send = [{ types = ["*"], agencies = ["*"] }]
            services = [{ service = "*", fields = ["*"] }]
            read = { messages = "all", dossiers = ["*"] }
        };
        let mut members = toml::Table::new();
        members.insert(self.member(), toml::Value::Table(member));
        let mut adapters = toml::Table::new();
        adapters.insert(self.id.clone(), toml::Value::Table(adapter));
        let store = format!("sqlite://{}", dir.join("lgsp.db").display());
        let mut file = toml::toml! {
            [bus]
            drain_timeout = "5s"
            [http]
            listen = "127.0.0.1:0"
        };
        file.insert("amqp".into(), toml::Value::Table(toml::toml! { connect_timeout = "5s" }));
        file["amqp"].as_table_mut().expect("a table").insert("url".into(), amqp.into());
        file["amqp"].as_table_mut().expect("a table").insert("namespace".into(), namespace.into());
        file.insert("store".into(), toml::Value::Table([("url".to_string(), store.into())].into_iter().collect()));
        file.insert("members".into(), toml::Value::Table(members));
        file.insert("adapters".into(), toml::Value::Table(adapters));
        let mut config = Config::from_toml(&toml::to_string(&file).expect("TOML"), env)
            .unwrap_or_else(|problems| panic!("{}: the suite's bus config: {problems:#?}", self.name()));
        super::with_test_secrets(&mut config);
        config
    }

    /// The member the traffic comes from: the messages' source, or one of the suite's own.
    fn member(&self) -> String {
        match &self.subject.traffic {
            Traffic::Messages { make, .. } => make(0)["source"].as_str().expect("a source").to_string(),
            Traffic::Requests { .. } => MEMBER.to_string(),
        }
    }

    fn no_personal_data_or_secret_is_logged(&self, logged: &str) {
        let samples: Vec<Value> = match &self.subject.traffic {
            Traffic::Messages { make, .. } | Traffic::Requests { make, .. } => (0..3).map(make).collect(),
        };
        let mut personal: BTreeSet<String> =
            self.subject.peer_personal_data.iter().map(|data| data.to_string()).collect();
        for sample in &samples {
            collect_personal_data(sample, &mut personal);
        }
        assert!(
            !personal.is_empty(),
            "{}: the traffic must carry a CCCD or a phone number, so the suite can check it is never logged",
            self.name()
        );
        assert!(!logged.is_empty(), "{}: nothing was logged through {}", self.name(), self.subject.log_target);
        for secret in personal.iter().chain(&self.secrets) {
            if let Some(line) = logged.lines().find(|line| line.contains(secret.as_str())) {
                panic!("{}: `{secret}` is in a log line: {line}", self.name());
            }
        }
    }
}

/// `settings` with each (key, content) written to a file in `folder` and the key set to its path.
fn with_files(settings: &toml::Table, folder: &std::path::Path, files: &[(&str, String)]) -> toml::Table {
    let mut settings = settings.clone();
    for (key, content) in files {
        let path = folder.join(key);
        std::fs::write(&path, content).expect("written");
        settings.insert(key.to_string(), path.to_str().expect("a UTF-8 path").into());
    }
    settings
}

/// Hands deliveries to the adapter as the engine does: at most `max_batch` at a time.
async fn deliver(adapter: &dyn Adapter, deliveries: &[Delivery]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for batch in deliveries.chunks(adapter.max_batch().max(1)) {
        let answered = adapter.deliver(batch).await;
        assert_eq!(answered.len(), batch.len(), "one outcome per delivery");
        outcomes.extend(answered);
    }
    outcomes
}

/// A message as the engine hands it over for the first time, without annotations.
fn delivery(envelope: &Value) -> Delivery {
    let envelope: Envelope = serde_json::from_value(envelope.clone()).expect("the traffic is made of envelopes");
    Delivery::new(Arc::new(envelope))
}

fn request(service: &str, body: Value) -> ServiceRequest {
    ServiceRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        service: service.to_string(),
        member: MEMBER.to_string(),
        body,
    }
}

/// Every CCCD (a run of 12 digits) and phone number in a document.
fn collect_personal_data(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if key == "phone"
                    && let Some(phone) = field.as_str()
                {
                    into.insert(phone.to_string());
                }
                collect_personal_data(field, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_personal_data(item, into)),
        Value::String(text) => {
            for run in text.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() == 12) {
                into.insert(run.to_string());
            }
        }
        _ => {}
    }
}
