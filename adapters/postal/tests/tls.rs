//! Over real TLS: the simulator serves a certificate from a private CA, which the adapter trusts
//! only through `ca_file`.

mod common;

use common::*;
use lgsp_bus::{Adapter, Memory, Outcome};
use lgsp_postal::{PostalSim, SimOptions};

/// A simulator behind TLS, and the PEM of the CA that signed its certificate.
async fn tls_sim() -> (PostalSim, String) {
    let (listener, ca_pem) = lgsp_bus::testing::tls::private_ca_listener().await;
    (PostalSim::serve_on(listener, "https", SimOptions::default()).unwrap(), ca_pem)
}

#[tokio::test]
async fn the_adapter_trusts_a_private_ca_through_ca_file() {
    let (sim, ca_pem) = tls_sim().await;
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca_pem).unwrap();
    let mut settings = settings(&sim);
    assert!(sim.url().as_str().starts_with("https://127.0.0.1:"));
    settings.insert("ca_file".into(), ca_file.path().to_str().unwrap().into());
    let adapter = adapter_with(&settings, Memory::in_memory(ID));

    assert_eq!(adapter.deliver(&[pickup()]).await, [Outcome::Delivered]);
    assert_eq!(sim.orders().len(), 1);
}

#[tokio::test]
async fn without_ca_file_the_private_certificate_is_refused() {
    let (sim, _) = tls_sim().await;
    let adapter = adapter(&sim);
    let failure = transient(&adapter.deliver(&[pickup()]).await[0]).clone();
    assert!(failure.reason.contains("certificate"), "{failure:?}");
    assert_eq!(sim.logins(), 0);
}
