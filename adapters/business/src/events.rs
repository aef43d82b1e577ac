//! Named events of the `business` adapter, following the convention of [`lgsp_bus::events`]:
//! its lookups in the business registry (by enterprise code, never the record) and its tokens.

use std::time::Duration;

use lgsp_bus::events::adapter_event;
use lgsp_bus::privacy::redact;

use crate::mapping::Note;

const KIND: &str = "business";

// ---- lookups -------------------------------------------------------------------------------

pub fn found(mst: &str, dossier: &str, member: &str, legal_status: &str) {
    adapter_event(KIND, "lookup");
    tracing::info!(event = "business_lookup", mst, dossier, member, outcome = "found", legal_status);
}

pub fn not_found(mst: &str, dossier: &str, member: &str) {
    adapter_event(KIND, "lookup");
    tracing::info!(event = "business_lookup", mst, dossier, member, outcome = "not_found");
}

pub fn lookup_refused(mst: &str, dossier: &str, member: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "lookup_refused");
    tracing::info!(event = "business_lookup_refused", mst, dossier, member, %error);
}

pub fn lookup_failed(mst: &str, dossier: &str, member: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "lookup_failed");
    tracing::warn!(event = "business_lookup_failed", mst, dossier, member, %error);
}

/// The registry answered with a record that cannot become a reply.
pub fn record_unreadable(mst: &str, dossier: &str, member: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "record_unreadable");
    tracing::warn!(event = "business_record_unreadable", mst, dossier, member, %error);
}

/// The record was answered with a caveat, logged under the note's own event ([`Note::event`]:
/// `business_unknown_legal_status`, `business_unnamed_business_line` or
/// `business_record_field_left_out`). The note quotes the record's wording: redacted.
pub fn record_noted(mst: &str, dossier: &str, note: &Note) {
    let event = note.event();
    adapter_event(KIND, event.trim_start_matches("business_"));
    tracing::warn!(event, mst, dossier, note = %redact(&note.to_string()));
}

// ---- tokens --------------------------------------------------------------------------------

pub fn token_refused(status: &dyn std::fmt::Display, mst: &str) {
    adapter_event(KIND, "token_refused");
    tracing::info!(event = "business_token_refused", %status, mst, "registry refused the token; renewing it");
}

pub fn refresh_refused(status: &dyn std::fmt::Display) {
    adapter_event(KIND, "refresh_refused");
    tracing::info!(event = "business_refresh_refused", %status, "registry refused the refresh token; logging in");
}

pub fn logged_in(username: &str) {
    adapter_event(KIND, "logged_in");
    tracing::info!(event = "business_logged_in", username = %username);
}

pub fn token_refreshed(username: &str) {
    adapter_event(KIND, "token_refreshed");
    tracing::info!(event = "business_token_refreshed", username = %username);
}

/// The token answer says nothing readable of its expiry: the token is kept for `assumed`.
pub fn token_expiry_unreadable(assumed: Duration) {
    adapter_event(KIND, "token_expiry_unreadable");
    tracing::warn!(
        event = "business_token_expiry_unreadable",
        assumed = ?assumed,
        "the token answer has no readable expiryDate"
    );
}
