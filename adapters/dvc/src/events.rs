//! Named events of the `dvc` adapter, following the convention of [`lgsp_bus::events`]: its
//! calls to the portal (batches, failures, copies already there) and its sessions.

use lgsp_bus::events::adapter_event;

const KIND: &str = "dvc";

// ---- calls ---------------------------------------------------------------------------------

/// The portal refused a whole call for its items: they are sent again one by one.
pub fn batch_split(service: &str, items: usize) {
    adapter_event(KIND, "batch_split");
    tracing::info!(event = "dvc_batch_split", service, items);
}

// Not counted: one per call, and the bus counts the deliveries.
pub fn call_accepted(service: &str, dossiers: &[&str]) {
    tracing::debug!(event = "dvc_call_accepted", service, ?dossiers);
}

pub fn call_failed(service: &str, dossiers: &[&str], error: &dyn std::fmt::Display) {
    adapter_event(KIND, "call_failed");
    tracing::warn!(event = "dvc_call_failed", service, ?dossiers, %error);
}

/// An earlier attempt reached the portal: the dossier's state is not sent again.
pub fn already_at_portal(id: &dyn std::fmt::Display, dossier: &str) {
    adapter_event(KIND, "already_at_portal");
    tracing::info!(event = "dvc_already_at_portal", id = %id, dossier = %dossier,
        "an earlier attempt reached the portal; not sent again");
}

// ---- session -------------------------------------------------------------------------------

pub fn session_refused(error: &dyn std::fmt::Display) {
    adapter_event(KIND, "session_refused");
    tracing::info!(event = "dvc_session_refused", error = %error, "portal refused the session; logging in again");
}

pub fn logged_in(username: &str) {
    adapter_event(KIND, "logged_in");
    tracing::info!(event = "dvc_logged_in", username = %username);
}
