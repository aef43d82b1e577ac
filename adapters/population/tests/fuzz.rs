//! The registry's SOAP answers (and, for the simulator, requests), fed generated text: any
//! text, and real answers and faults with their text edited. Nothing may panic, and a DOCTYPE
//! is never read.

use lgsp_bus::testing::fuzz::{any_text, edited};
use lgsp_population::mapping::{answer_envelope, fault_envelope, judge, read_answer, read_request};
use proptest::prelude::*;

fn valid() -> impl Strategy<Value = String> {
    prop_oneof![Just(answer_envelope(&[])), Just(fault_envelope("soap:Client", "bad input"))]
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused(text in any_text(), status in 100u16..600) {
        let _ = read_answer(&text);
        let _ = judge(status, &text);
        let _ = read_request(&text);
    }

    #[test]
    fn an_edited_answer_is_read_or_refused(text in valid().prop_flat_map(edited)) {
        let _ = read_answer(&text);
        let _ = judge(200, &text);
    }

    #[test]
    fn a_doctype_is_never_read(text in valid().prop_flat_map(edited)) {
        let with_doctype = format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{text}");
        prop_assert!(read_answer(&with_doctype).is_err());
    }
}
