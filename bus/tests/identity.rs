//! Who is calling, proved two ways over real TLS: a client certificate from the province's CA
//! bound to one member, or a token the bus signed. Everything else is refused, each refusal
//! naming why.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestBus;
use lgsp_bus::auth::certificates::ClientCertificate;
use lgsp_bus::auth::keys::SigningKey;
use lgsp_bus::config::Config;
use lgsp_bus::server;
use lgsp_bus::testing::tls::{Issued, PrivateCa};
use lgsp_bus::testing::{amqp_url, unique_namespace, with_test_secrets};
use serde_json::{Value, json};

/// A bus serving HTTPS with a certificate of `ca`, asking callers for one of `clients`; alice
/// is bound to her certificate by its key's pin, bob by subject and issuer.
async fn bus_with_mtls(
    ca: &PrivateCa,
    clients: &PrivateCa,
    alice: &Issued,
    bob: &Issued,
) -> (server::RunningBus, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = ca.server();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let (cert, key, client_ca) = (
        write("server.pem", &server.cert_pem),
        write("server.key", &server.key_pem),
        write("clients.pem", &clients.pem()),
    );
    let alice_pin = ClientCertificate::from_der(&alice.der).unwrap().spki_sha256;
    let bob_names = ClientCertificate::from_der(&bob.der).unwrap();
    let text = format!(
        r#"
        [http]
        listen = "127.0.0.1:0"
        [http.tls]
        cert = "{cert}"
        key = "{key}"
        client_ca = "{client_ca}"
        [amqp]
        url = "{amqp}"
        namespace = "{namespace}"
        [store]
        url = "sqlite://{store}"
        [members."onestop.alice"]
        name = "Alice's one-stop system"
        certificate = {{ spki_sha256 = "{alice_pin}" }}
        [members."onestop.bob"]
        name = "Bob's one-stop system"
        certificate = {{ subject = "{subject}", issuer = "{issuer}" }}
        "#,
        amqp = amqp_url(),
        namespace = unique_namespace(),
        store = dir.path().join("lgsp.db").display(),
        subject = bob_names.subject,
        issuer = bob_names.issuer,
    );
    let path = dir.path().join("lgsp.toml");
    std::fs::write(&path, text).unwrap();
    let mut config = Config::load(&path, Vec::new()).unwrap();
    with_test_secrets(&mut config);
    (server::start(config, &[], false).await.unwrap(), dir)
}

/// A client trusting `ca`, presenting `identity` if given.
fn client(ca: &PrivateCa, identity: Option<&Issued>) -> reqwest::Client {
    let mut builder =
        reqwest::Client::builder().tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()]);
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.identity_pem().as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn get(client: &reqwest::Client, url: String) -> Result<(u16, Value), reqwest::Error> {
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn a_client_certificate_proves_one_member_and_nothing_else_gets_in() {
    let (ca, province) = (PrivateCa::new("server CA"), PrivateCa::new("province CA"));
    let (alice, bob) = (province.client("alice", false), province.client("bob", false));
    let (bus, _dir) = bus_with_mtls(&ca, &province, &alice, &bob).await;
    let base = bus.base_url.clone();
    assert!(base.starts_with("https://"), "{base}");
    let url = |member: &str| format!("{base}/v1/members/{member}");

    // Each certificate is its member: it reads its own entry, not the other's.
    let as_alice = client(&ca, Some(&alice));
    assert_eq!(get(&as_alice, url("onestop.alice")).await.unwrap().0, 200);
    let (status, problem) = get(&as_alice, url("onestop.bob")).await.unwrap();
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("role admin")), "{problem}");
    let as_bob = client(&ca, Some(&bob));
    assert_eq!(get(&as_bob, url("onestop.bob")).await.unwrap().0, 200, "bound by subject and issuer");
    assert_eq!(get(&as_bob, url("onestop.alice")).await.unwrap().0, 403, "another member's certificate");

    // The province's CA signed it, but it is no one's here.
    let stranger = client(&ca, Some(&province.client("mallory", false)));
    let (status, problem) = get(&stranger, url("onestop.alice")).await.unwrap();
    assert_eq!((status, problem["type"].as_str()), (401, Some("https://lgsp.local/problems/unauthenticated")));
    assert!(problem["detail"].as_str().unwrap().contains("not one of this bus's members"), "{problem}");

    // Refused in the handshake: an unknown CA, an expired certificate.
    let elsewhere = PrivateCa::new("someone else's CA");
    for (what, identity) in
        [("an unknown CA", elsewhere.client("alice", false)), ("expired", province.client("alice", true))]
    {
        let refused = get(&client(&ca, Some(&identity)), url("onestop.alice")).await;
        assert!(refused.is_err(), "{what}: {refused:?}");
    }

    // No certificate: a token then, or nothing.
    let (status, problem) = get(&client(&ca, None), url("onestop.alice")).await.unwrap();
    assert_eq!(status, 401, "{problem}");

    // A token and a certificate must name the same member.
    let token = lgsp_bus::testing::token(&client(&ca, None), &base, "onestop.bob", lgsp_bus::testing::SECRET).await;
    let response = as_alice.get(url("onestop.alice")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("onestop.bob"), "{problem}");
    bus.shutdown().await;
}

/// A token as its header and claims say, signed with `key` (or not signed at all).
fn forged(header: Value, claims: Value, key: Option<&SigningKey>) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signed = format!("{}.{}", part(&header), part(&claims));
    let signature = key.map(|k| URL_SAFE_NO_PAD.encode(k.sign(signed.as_bytes()))).unwrap_or_default();
    format!("{signed}.{signature}")
}

#[tokio::test]
async fn tokens_not_signed_by_the_bus_for_the_bus_and_in_time_are_refused_each_saying_why() {
    let key = SigningKey::generate();
    let pem = key.to_pem();
    let bus = TestBus::start_with(|dir| {
        let path = dir.join("token-key.pem");
        std::fs::write(&path, &pem).unwrap();
        format!("[auth]\nsigning_key_file = \"{}\"", path.display())
    })
    .await;
    let kid = key.public().id();
    let now = lgsp_bus::now_ms() / 1000;
    let claims = |aud: &str, exp: i64| json!({"iss": "lgsp", "aud": aud, "sub": "onestop.sandbox", "kind": "member", "iat": now - 600, "exp": exp, "jti": "x"});
    let eddsa = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let good = forged(eddsa.clone(), claims("lgsp", now + 60), Some(&key));
    let cases = [
        ("made with the bus's key", good, None),
        ("expired", forged(eddsa.clone(), claims("lgsp", now - 120), Some(&key)), Some("expired")),
        ("for another audience", forged(eddsa.clone(), claims("dvc", now + 60), Some(&key)), Some("audience")),
        (
            "re-signed with another key",
            forged(eddsa.clone(), claims("lgsp", now + 60), Some(&SigningKey::generate())),
            Some("signature"),
        ),
        ("alg none", forged(json!({"alg": "none", "kid": kid}), claims("lgsp", now + 60), None), Some("`none`")),
        ("HS256", forged(json!({"alg": "HS256", "kid": kid}), claims("lgsp", now + 60), None), Some("`HS256`")),
        ("not a token", "abc".to_string(), Some("not a token")),
    ];
    let url = format!("{}/v1/dossiers/000.00.01.H42-261120-0001", bus.api.base);
    for (what, token, refused_for) in cases {
        let response = reqwest::Client::new().get(&url).bearer_auth(&token).send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match refused_for {
            None => assert_eq!(status, 404, "{what}: accepted, and there is no such dossier: {body}"),
            Some(why) => {
                assert_eq!(
                    (status, body["type"].as_str()),
                    (401, Some("https://lgsp.local/problems/invalid-token")),
                    "{what}"
                );
                assert!(body["detail"].as_str().unwrap().contains(why), "{what}: {body}");
                assert!(challenge.is_some_and(|c| c.contains("error=\"invalid_token\"")), "{what}");
            }
        }
    }
    bus.stop().await;
}
