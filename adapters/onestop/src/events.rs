//! Named events of the `onestop` adapter, following the convention of [`lgsp_bus::events`]:
//! its deliveries to a one-stop system, its tokens, and what its simulator sends to a bus.

use std::time::Duration;

use lgsp_bus::events::adapter_event;

const KIND: &str = "onestop";

// ---- deliveries ----------------------------------------------------------------------------
// `adapter` is the adapter's id: several systems are configured at once.

/// A stale state, not sent: it would overwrite newer state at the system.
pub fn superseded(adapter: &str, id: &str, message_type: &str, dossier: &str) {
    adapter_event(KIND, "superseded");
    tracing::info!(event = "onestop_superseded", adapter = %adapter, id, r#type = message_type, dossier);
}

/// The system took the message; `repeated` when it had it already.
pub fn delivered(adapter: &str, id: &str, message_type: &str, dossier: &str, repeated: bool) {
    adapter_event(KIND, "delivered");
    tracing::info!(event = "onestop_delivered", adapter = %adapter, id, r#type = message_type, dossier, repeated);
}

/// `error` masks what the system echoed of the message.
pub fn delivery_failed(adapter: &str, id: &str, message_type: &str, dossier: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "delivery_failed");
    tracing::warn!(event = "onestop_delivery_failed", adapter = %adapter, id, r#type = message_type, dossier, %error);
}

// ---- tokens --------------------------------------------------------------------------------

pub fn token_refused(status: &dyn std::fmt::Display, id: &str) {
    adapter_event(KIND, "token_refused");
    tracing::info!(event = "onestop_token_refused", %status, id, "system refused the token; renewing it");
}

pub fn token_issued(client_id: &str, expires_in: Option<Duration>) {
    adapter_event(KIND, "token_issued");
    tracing::info!(event = "onestop_token_issued", client_id = %client_id, expires_in = ?expires_in);
}

// ---- simulator -----------------------------------------------------------------------------

/// The simulator, as `member`, posted a message to a bus; `status` is the bus's last answer.
pub fn sim_sent(member: &str, id: &str, message_type: &str, dossier: &str, seq: u64, status: u16, attempts: u32) {
    adapter_event(KIND, "sim_sent");
    tracing::info!(event = "onestop_sim_sent", member = %member, id, r#type = message_type, dossier, seq, status, attempts);
}
