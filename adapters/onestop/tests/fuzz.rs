//! What an agency's one-stop system answers: its token endpoint's answers and its refusals,
//! fed generated text. Nothing may panic.

use lgsp_bus::client_credentials::read_token;
use lgsp_bus::testing::fuzz::{any_json, any_text, mutated};
use lgsp_onestop::mapping::explanation;
use proptest::prelude::*;
use serde_json::json;

proptest! {
    #[test]
    fn any_token_answer_is_read_or_refused(text in any_text()) {
        let _ = read_token(&text);
        let _ = explanation(&text);
    }

    #[test]
    fn a_token_answer_with_a_part_replaced_is_read_or_refused(value in prop_oneof![any_json(), mutated(json!({"access_token": "abc", "token_type": "Bearer", "expires_in": 300}))]) {
        let _ = read_token(&value.to_string());
        let _ = explanation(&value.to_string());
    }
}
