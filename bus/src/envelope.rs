//! The canonical envelope: every message on the bus (schemas/envelope.json is its contract).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The idempotency key: the same id twice is one message.
    pub id: Uuid,
    /// The message type, such as `dossier.status_changed`; selects the payload schema.
    #[serde(rename = "type")]
    pub message_type: String,
    /// The member that sent it, such as `onestop.sandbox`.
    pub source: String,
    /// What it is about (the dossier code); the ordering key.
    pub subject: String,
    /// Monotonic per (type, subject) at the source; a lower seq never overwrites a higher one.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// The payload read as an adapter's view of this message type.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }

    /// The envelope's canonical JSON (keys sorted), as published, and its SHA-256: the digest
    /// tells a retry of the same message from a different message reusing its id.
    pub fn encode(&self) -> (Vec<u8>, String) {
        let canonical = serde_json::to_vec(self).expect("an envelope always serialises");
        let digest = sha256_hex(&canonical);
        (canonical, digest)
    }

    pub fn digest(&self) -> String {
        self.encode().1
    }
}

/// The SHA-256 of `bytes`, in lower-case hex: how the bus writes every digest.
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> serde_json::Value {
        serde_json::json!({
            "id": "019A9E4C-7B1E-7C3A-9F7E-2D4B6A8C0E11",
            "type": "dossier.status_changed",
            "source": "onestop.sandbox",
            "subject": "000.00.01.H42-261120-0001",
            "seq": 3,
            "occurred_at": "2026-11-20T09:15:00+07:00",
            "payload": {"b": 1, "a": 2}
        })
    }

    #[test]
    fn ids_are_normalised_and_digest_ignores_key_order_and_spacing() {
        let a: Envelope = serde_json::from_value(example()).unwrap();
        assert_eq!(a.id.to_string(), "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11");
        let reordered = r#"{"payload":{"a":2,"b":1},"seq":3,"subject":"000.00.01.H42-261120-0001",
            "source":"onestop.sandbox","type":"dossier.status_changed",
            "occurred_at":"2026-11-20T09:15:00+07:00","id":"019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11"}"#;
        let b: Envelope = serde_json::from_str(reordered).unwrap();
        assert_eq!(a.digest(), b.digest());

        let mut changed = b.clone();
        changed.seq = 4;
        assert_ne!(a.digest(), changed.digest());
    }
}
