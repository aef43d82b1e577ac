//! The national portal's answers, fed generated text: anything, and real answers with a part
//! replaced. Nothing may panic.

use lgsp_bus::testing::fuzz::{any_json, any_text, mutated};
use lgsp_dvc::client::read_answer;
use lgsp_dvc::mapping::parse_portal_time;
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #[test]
    fn any_answer_is_read_or_refused(text in any_text(), status in 100u16..600) {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        let _ = read_answer(status, &text);
    }

    #[test]
    fn an_answer_with_a_part_replaced_is_read_or_refused(value in prop_oneof![any_json(), mutated(json!({"error_code": "00", "message": "Thành công", "data": []}))]) {
        let _ = read_answer(reqwest::StatusCode::OK, &value.to_string());
    }

    #[test]
    fn any_time_is_read_or_refused(text in any_text()) {
        let _ = parse_portal_time(&text);
    }
}
