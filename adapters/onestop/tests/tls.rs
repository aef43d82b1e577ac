//! Over real TLS: the simulator serves a certificate from a private CA, which the adapter trusts
//! only through `ca_file`.

mod common;

use common::*;
use lgsp_bus::{Adapter, Outcome};
use lgsp_onestop::{OnestopSim, SimOptions};

/// A simulator behind TLS, and the PEM of the CA that signed its certificate.
async fn tls_sim() -> (OnestopSim, String) {
    let (listener, ca_pem) = lgsp_bus::testing::tls::private_ca_listener().await;
    (OnestopSim::serve_on(listener, "https", SimOptions::default()).unwrap(), ca_pem)
}

#[tokio::test]
async fn the_adapter_trusts_a_private_ca_through_ca_file() {
    let (sim, ca_pem) = tls_sim().await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca_pem).unwrap();
    let mut settings = settings(&sim);
    assert!(sim.url().as_str().starts_with("https://127.0.0.1:"));
    settings.insert("ca_file".into(), ca_file.path().to_str().unwrap().into());
    let adapter = adapter_with(&settings);

    let submitted = fixture("submitted_annotated");
    assert_eq!(adapter.deliver(std::slice::from_ref(&submitted)).await, [Outcome::Delivered]);
    assert_eq!(sim.messages().iter().map(|m| m.id.clone()).collect::<Vec<_>>(), [id(&submitted)]);
    assert_eq!(sim.tokens_issued(), 1, "the token came over TLS too");
}

#[tokio::test]
async fn without_ca_file_the_private_certificate_is_refused() {
    let (sim, _) = tls_sim().await;
    let outcomes = adapter(&sim).deliver(&[fixture("submitted_plain")]).await;
    let failure = transient(&outcomes[0]);
    assert!(failure.reason.contains("certificate"), "{failure:?}");
    assert!(sim.calls().is_empty() && sim.tokens_issued() == 0);
}
