//! What an agency writes (its mapping) and what its service answers, fed generated input:
//! templates of any text and the example's with edits, envelopes of any shape, answers of any
//! bytes. Nothing may panic, and a signature holds for its own body only.

use lgsp_bus::testing::adapter::example;
use lgsp_bus::testing::fuzz::{any_json, any_text, edited, mutated};
use lgsp_http::auth::{sign, verify};
use lgsp_http::client::{explanation, read_answer_code};
use lgsp_http::mapping::Mapping;
use lgsp_http::{check_mapping, sample_envelope};
use proptest::prelude::*;
use serde_json::{Value, json};

fn example_mapping() -> String {
    let example: toml::Table = include_str!("../example.toml").parse().unwrap();
    example["adapters"]["land"]["mapping"].as_str().unwrap().to_string()
}

fn envelope() -> Value {
    sample_envelope("dossier.submitted", example("dossier.submitted", 0))
}

proptest! {
    #[test]
    fn any_template_compiles_or_is_refused_and_renders_or_fails(
        template in prop_oneof![any_text(), edited(example_mapping())],
        envelope in prop_oneof![any_json(), mutated(envelope())],
    ) {
        if let Ok(mapping) = Mapping::compile(&template) {
            let _ = mapping.render(&envelope, &json!({}));
        }
        let _ = check_mapping(&template, &[envelope]);
    }

    #[test]
    fn the_example_mapping_maps_any_envelope_or_fails(
        envelope in prop_oneof![any_json(), mutated(envelope())],
        annotations in any_json(),
    ) {
        let mapping = Mapping::compile(&example_mapping()).unwrap();
        if let Ok(body) = mapping.render(&envelope, &annotations) {
            // Whatever it maps is JSON, by construction.
            prop_assert!(serde_json::to_vec(&body).is_ok());
        }
    }

    #[test]
    fn any_answer_yields_a_code_or_none(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            any_json().prop_map(|v| v.to_string().into_bytes()),
            mutated(json!({"code": "0", "result": {"code": 0}})).prop_map(|v| v.to_string().into_bytes()),
        ],
        pointer in prop_oneof![Just("/code".to_string()), Just("/result/code".to_string()), any_text()],
    ) {
        let _ = read_answer_code(&body, &pointer);
        let _ = explanation(&body);
    }

    #[test]
    fn a_body_is_taken_only_with_its_own_signature(
        body in prop::collection::vec(any::<u8>(), 0..512),
        header in any_text(),
    ) {
        let secret = "hmac-key-shared-with-the-land-office";
        prop_assert!(verify(secret, &body, Some(&header)).is_err());
        prop_assert!(verify(secret, &body, Some(&sign(secret, &body))).is_ok());
        prop_assert!(verify("another key of sixteen chars", &body, Some(&sign(secret, &body))).is_err());
    }
}
