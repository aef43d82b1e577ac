//! The bus's parsers of outside input, fed generated input: envelopes and batches as members
//! send them, service requests, tokens, rights changes, and message-log exports. None may
//! panic; none may take what is not valid. `PROPTEST_CASES` sets the cases per property.

use std::io::BufReader;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lgsp_bus::audit::file::verify_export;
use lgsp_bus::auth::grants::{RightsChange, unknown_in};
use lgsp_bus::auth::keys::SigningKey;
use lgsp_bus::auth::tokens::Tokens;
use lgsp_bus::config::Rights;
use lgsp_bus::schema::Catalogue;
use lgsp_bus::testing::fuzz::{any_json, any_text, edited, mutated};
use proptest::prelude::*;
use serde_json::{Value, json};

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| Catalogue::embedded().unwrap());
static KEY: LazyLock<SigningKey> = LazyLock::new(SigningKey::generate);
static TOKENS: LazyLock<Tokens> = LazyLock::new(|| Tokens::new(&KEY, Duration::from_secs(300)));

/// A valid envelope of each type, from the schemas' own examples.
fn examples() -> Vec<Value> {
    CATALOGUE
        .message_types()
        .map(|message_type| {
            let payload = CATALOGUE.document(&format!("{message_type}.json")).unwrap()["examples"][0].clone();
            json!({
                "id": "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11", "type": message_type, "source": "onestop.sandbox",
                "subject": payload["dossier_code"], "seq": 1, "occurred_at": "2026-11-30T09:00:00+07:00",
                "payload": payload,
            })
        })
        .collect()
}

fn any_envelope() -> impl Strategy<Value = Value> {
    let mutated_examples: Vec<_> = examples().into_iter().map(mutated).collect();
    prop_oneof![any_json().boxed(), proptest::strategy::Union::new(mutated_examples).boxed()]
}

proptest! {
    #[test]
    fn an_envelope_is_checked_never_panicking(value in any_envelope()) {
        if let Ok(envelope) = CATALOGUE.check_envelope(value.clone()) {
            // What passes is an envelope whose subject and type are what was sent.
            prop_assert_eq!(Some(envelope.message_type.as_str()), value["type"].as_str());
        }
    }

    #[test]
    fn a_body_of_any_bytes_is_refused_or_checked(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            let _ = CATALOGUE.check_envelope(value);
        }
    }

    #[test]
    fn a_service_request_is_checked_never_panicking(index in 0..3usize, request in any_json(), pick in any::<bool>()) {
        let services: Vec<&str> = CATALOGUE.services().collect();
        let service = services[index % services.len()];
        let example = CATALOGUE.document(&format!("{service}.request.json")).unwrap()["examples"][0].clone();
        let request = if pick { request } else { example };
        if let Some(Ok(())) = CATALOGUE.check_request(service, &request) {
            let _ = CATALOGUE.service(service).unwrap().lookup_facts(&request);
        }
    }

    #[test]
    fn text_is_never_a_token(text in any_text()) {
        prop_assert!(TOKENS.verify(&text).is_err());
    }

    #[test]
    fn a_token_shaped_forgery_is_never_a_token(header in any_json(), claims in any_json(), signature in prop::collection::vec(any::<u8>(), 0..96)) {
        let part = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let token = format!("{}.{}.{}", part(header.to_string().as_bytes()), part(claims.to_string().as_bytes()), part(&signature));
        prop_assert!(TOKENS.verify(&token).is_err());
    }

    #[test]
    fn a_rights_change_is_read_and_checked_never_panicking(value in any_json()) {
        if let Ok(change) = serde_json::from_value::<RightsChange>(value) {
            let granted = change.granted(&Rights::default());
            let _ = change.revoked(&granted);
            let _ = unknown_in(&granted, &CATALOGUE, &[]);
            let _ = granted.problems();
        }
    }

    #[test]
    fn an_export_of_any_lines_is_refused_or_checked(lines in prop::collection::vec(any_text(), 0..8), header in edited(HEADER.to_string())) {
        let text = std::iter::once(header).chain(lines).collect::<Vec<_>>().join("\n");
        let _ = verify_export(BufReader::new(text.as_bytes()), "export", &[KEY.public()]);
    }
}

const HEADER: &str = r#"{"format":"lgsp-audit/1","anchor_seq":0,"anchor_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
