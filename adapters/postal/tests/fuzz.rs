//! What the postal service sends: webhook bodies and their signatures, and tracking items, fed
//! generated input. Nothing may panic, and nothing unsigned is taken.

use std::path::Path;

use lgsp_bus::testing::fuzz::{any_json, any_text, mutated};
use lgsp_postal::mapping::{parse_time, tracking_item};
use lgsp_postal::signature::{sign, verify};
use proptest::prelude::*;
use serde_json::Value;

fn item() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tracking_item.in.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

proptest! {
    #[test]
    fn any_tracking_item_is_read_or_refused(value in prop_oneof![any_json(), mutated(item())]) {
        let _ = tracking_item(&value);
    }

    #[test]
    fn a_body_is_taken_only_with_its_own_signature(body in prop::collection::vec(any::<u8>(), 0..512), header in any_text()) {
        prop_assert!(verify("webhook secret", &body, Some(&header)).is_err());
        prop_assert!(verify("webhook secret", &body, Some(&sign("webhook secret", &body))).is_ok());
        prop_assert!(verify("another secret", &body, Some(&sign("webhook secret", &body))).is_err());
    }

    #[test]
    fn any_time_is_read_or_refused(text in any_text()) {
        let _ = parse_time(&text);
    }
}
