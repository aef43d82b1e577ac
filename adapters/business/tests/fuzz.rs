//! The business registry's answers, fed generated JSON: anything, and real records with a part
//! replaced. Nothing may panic.

use std::path::Path;

use lgsp_bus::testing::fuzz::{any_json, any_text, mutated};
use lgsp_business::mapping::{business, registry_date, token_expiry};
use proptest::prelude::*;
use serde_json::Value;

fn record() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/enterprise_active.in.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

proptest! {
    #[test]
    fn any_record_is_mapped_or_refused(value in prop_oneof![any_json(), mutated(record())], mst in any_text()) {
        let _ = business(&mst, &value);
        let _ = business("0101234567", &value);
        let _ = token_expiry(&value);
    }

    #[test]
    fn any_date_is_read_or_refused(text in any_text()) {
        let _ = registry_date(&text);
    }
}
