//! The one-stop system's contract in one place, and the pure conversions around it: a delivery
//! into the request body, agencies into routes, each answer status into a verdict, the OAuth2
//! token request and answer.
//!
//! No I/O here; `fixtures/` holds deliveries and the bodies they become.

use lgsp_bus::Envelope;
use lgsp_bus::privacy::redact;
use lgsp_bus::routing::agency_word;
use serde_json::{Value, json};

/// Every name on the wire. `[A]` marks an assumption about systems whose contract is not
/// published: change it here and nowhere else.
pub mod wire {
    /// `[A]` Where a one-stop system takes the bus's messages, below its `url`.
    pub const DEFAULT_MESSAGES_ENDPOINT: &str = "/lgsp/messages";
    /// The header that makes a repeated delivery harmless: the envelope's id.
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    /// The scheme of the `Authorization` header (RFC 6750).
    pub const BEARER: &str = "Bearer";

    /// The token request: a form (RFC 6749 §4.4.2), the client authenticating with its id and
    /// secret in the body (§2.3.1).
    pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
    pub const GRANT_TYPE: &str = "grant_type";
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    pub const CLIENT_ID: &str = "client_id";
    pub const CLIENT_SECRET: &str = "client_secret";

    /// The token answer (RFC 6749 §5.1).
    pub const ACCESS_TOKEN: &str = "access_token";
    pub const TOKEN_TYPE: &str = "token_type";
    pub const EXPIRES_IN: &str = "expires_in";

    /// A refusal: `{error, error_description}` (RFC 6749 §5.2, RFC 6750 §3), and `[A]` a one-stop
    /// system's own `{error, message}`.
    pub const ERROR: &str = "error";
    pub const ERROR_DESCRIPTION: &str = "error_description";
    pub const MESSAGE: &str = "message";

    /// The body's extra member beside the envelope's: what the bus adds to the message.
    pub const ANNOTATIONS: &str = "annotations";
}

/// Message types a one-stop system takes, for each agency it serves.
pub const ROUTED_TYPES: [&str; 3] = ["dossier.submitted", "payment.status", "postal.shipment_status"];

/// What a message carries, which decides what a stale delivery of it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    /// The dossier's state: a newer message replaces it at the peer, so a stale one is not sent.
    State,
    /// One event of the dossier's history, with its own time: sent even when a newer one
    /// already went.
    Event,
}

/// The types whose messages are events. `[A]` Any other type carries state: holding back an
/// unknown stale message is safer than overwriting newer state with it.
const EVENT_TYPES: [&str; 3] = ["payment.status", "postal.shipment_status", "dossier.result_ready"];

pub fn carries(message_type: &str) -> Carries {
    if EVENT_TYPES.contains(&message_type) { Carries::Event } else { Carries::State }
}

/// The routing-key patterns for the agencies a system serves: each routed type, any province,
/// that agency (`dossier.submitted.*.000-00-01-H42`).
pub fn routes(agencies: &[String]) -> Vec<String> {
    agencies
        .iter()
        .flat_map(|agency| {
            let word = agency_word(agency);
            ROUTED_TYPES.iter().map(move |message_type| format!("{message_type}.*.{word}"))
        })
        .collect()
}

/// The request body: the canonical envelope as the bus holds it, plus the bus's annotations (an
/// object, empty when there are none).
pub fn request_body(envelope: &Envelope, annotations: &Value) -> Value {
    let mut body = serde_json::to_value(envelope).expect("an envelope always serialises");
    body[wire::ANNOTATIONS] = if annotations.is_object() { annotations.clone() } else { json!({}) };
    body
}

/// What an answer of the messages endpoint means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: taken.
    Accepted,
    /// 409: this Idempotency-Key was taken before; the message is there.
    AlreadyReceived,
    /// 401: the token is not (or no longer) taken; a new one may be.
    RenewToken,
    /// 5xx, and the 4xx that blame the moment or the account rather than the message (403 the
    /// client lacks access, 408, 429), and anything unexpected: retrying may help.
    Retry,
    /// Any other 4xx: the system refused the message itself.
    Refused,
}

impl Verdict {
    pub fn of(status: u16) -> Verdict {
        match status {
            200..=299 => Verdict::Accepted,
            409 => Verdict::AlreadyReceived,
            401 => Verdict::RenewToken,
            403 | 408 | 429 => Verdict::Retry,
            400..=499 => Verdict::Refused,
            _ => Verdict::Retry,
        }
    }
}

/// The form of a token request (client credentials in the body).
pub fn token_form(client_id: &str, client_secret: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(wire::GRANT_TYPE, wire::CLIENT_CREDENTIALS)
        .append_pair(wire::CLIENT_ID, client_id)
        .append_pair(wire::CLIENT_SECRET, client_secret)
        .finish()
}

/// Longest explanation kept from an answer in a failure's reason (the whole answer goes to
/// `peer_answer`).
const MAX_EXPLANATION: usize = 300;

/// What an answer says about itself, for a failure's reason: the message of a JSON refusal
/// (`message`, `error_description`, `detail`, `title` or `error`), else the text; citizen IDs masked.
pub fn explanation(text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text).ok().and_then(|answer| {
        [wire::MESSAGE, wire::ERROR_DESCRIPTION, "detail", "title", wire::ERROR]
            .iter()
            .find_map(|key| answer.get(*key).and_then(Value::as_str).filter(|m| !m.trim().is_empty()).map(String::from))
    });
    let text = from_json.unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    lgsp_bus::shortened(redact(&text), MAX_EXPLANATION)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lgsp_bus::schema::Catalogue;

    use super::*;

    /// A fixture's delivery: `{envelope, annotations, stale}`.
    fn fixture(name: &str) -> (Value, Value) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let read = |file: String| -> Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join(&file)).unwrap())
                .unwrap_or_else(|e| panic!("{file}: {e}"))
        };
        (read(format!("{name}.in.json")), read(format!("{name}.out.json")))
    }

    #[test]
    fn fixtures_become_their_request_bodies() {
        let catalogue = Catalogue::embedded().unwrap();
        for name in ["submitted_annotated", "submitted_plain", "payment_paid", "shipment_delivered"] {
            let (delivery, expected) = fixture(name);
            // The deliveries are what the bus would hand over: valid envelopes.
            let envelope =
                catalogue.check_envelope(delivery["envelope"].clone()).unwrap_or_else(|v| panic!("{name}: {v:?}"));
            assert_eq!(request_body(&envelope, &delivery["annotations"]), expected, "{name}");
        }
    }

    #[test]
    fn the_body_is_the_envelope_and_its_annotations_intact() {
        let (delivery, _) = fixture("submitted_annotated");
        let envelope: Envelope = serde_json::from_value(delivery["envelope"].clone()).unwrap();
        let body = request_body(&envelope, &delivery["annotations"]);
        let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["annotations", "id", "occurred_at", "payload", "seq", "source", "subject", "type"]);
        assert_eq!(body["payload"], delivery["envelope"]["payload"]);
        assert_eq!(body["annotations"]["documents_reuse"]["reusable"][0]["number"], "123/2026");
        // The offset the sender wrote is kept.
        assert_eq!(body["occurred_at"], "2026-11-20T08:30:00+07:00");
        // Annotations that are not an object (never expected) become an empty one.
        assert_eq!(request_body(&envelope, &Value::Null)["annotations"], json!({}));
    }

    #[test]
    fn routes_name_each_agency_as_one_word() {
        let agencies = vec!["000.00.01.H42".to_string(), "000.21.30.H42".to_string()];
        assert_eq!(
            routes(&agencies),
            [
                "dossier.submitted.*.000-00-01-H42",
                "payment.status.*.000-00-01-H42",
                "postal.shipment_status.*.000-00-01-H42",
                "dossier.submitted.*.000-21-30-H42",
                "payment.status.*.000-21-30-H42",
                "postal.shipment_status.*.000-21-30-H42",
            ]
        );
        let key = lgsp_bus::routing::routing_key("payment.status", "42", Some("000.21.30.H42"));
        assert!(routes(&agencies).iter().any(|route| lgsp_bus::routing::matches(route, &key)));
        let other = lgsp_bus::routing::routing_key("payment.status", "42", Some("000.00.02.H42"));
        assert!(!routes(&agencies).iter().any(|route| lgsp_bus::routing::matches(route, &other)));
    }

    #[test]
    fn state_and_events() {
        assert_eq!(carries("dossier.submitted"), Carries::State);
        assert_eq!(carries("dossier.status_changed"), Carries::State);
        assert_eq!(carries("payment.status"), Carries::Event);
        assert_eq!(carries("postal.shipment_status"), Carries::Event);
        assert_eq!(carries("dossier.archived"), Carries::State);
    }

    #[test]
    fn what_each_status_means() {
        for (status, verdict) in [
            (200, Verdict::Accepted),
            (201, Verdict::Accepted),
            (202, Verdict::Accepted),
            (204, Verdict::Accepted),
            (409, Verdict::AlreadyReceived),
            (401, Verdict::RenewToken),
            (403, Verdict::Retry),
            (408, Verdict::Retry),
            (429, Verdict::Retry),
            (400, Verdict::Refused),
            (404, Verdict::Refused),
            (413, Verdict::Refused),
            (422, Verdict::Refused),
            (500, Verdict::Retry),
            (502, Verdict::Retry),
            (503, Verdict::Retry),
            (302, Verdict::Retry),
        ] {
            assert_eq!(Verdict::of(status), verdict, "{status}");
        }
    }

    #[test]
    fn the_token_request_is_a_form() {
        assert_eq!(
            token_form("sotuphap-h42", "a&b=c d"),
            "grant_type=client_credentials&client_id=sotuphap-h42&client_secret=a%26b%3Dc+d"
        );
    }

    #[test]
    fn explanations_come_from_the_answer_and_are_masked() {
        assert_eq!(
            explanation(r#"{"error":"refused","message":"Thiếu tờ khai của 001203000001"}"#),
            "Thiếu tờ khai của 0012******01"
        );
        assert_eq!(explanation(r#"{"error":"invalid_token","error_description":"expired"}"#), "expired");
        assert_eq!(explanation(r#"{"type":"x","title":"Not found","status":404}"#), "Not found");
        assert_eq!(explanation("<h1>Bad   Gateway</h1>\n"), "<h1>Bad Gateway</h1>");
        let long = explanation(&"á".repeat(400));
        assert!(long.len() <= MAX_EXPLANATION + 3 && long.ends_with('…'));
    }
}
