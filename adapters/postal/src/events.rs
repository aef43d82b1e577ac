//! Named events of the `postal` adapter, following the convention of [`lgsp_bus::events`]: its
//! orders and cancellations, its tokens, and the tracking feed read into the bus.

use std::time::Duration;

use lgsp_bus::events::adapter_event;
use lgsp_bus::privacy::redact;
use serde_json::Value;

const KIND: &str = "postal";

// ---- orders --------------------------------------------------------------------------------
// `kind` is the order's kind (pickup, delivery).

pub fn order_placed(kind: &str, order_number: &str, dossier: &str) {
    adapter_event(KIND, "order_placed");
    tracing::info!(event = "postal_order_placed", kind, order_number, dossier);
}

/// A retry after a lost answer: the order is there, once.
pub fn order_exists(kind: &str, order_number: &str, dossier: &str) {
    adapter_event(KIND, "order_exists");
    tracing::info!(event = "postal_order_exists", kind, order_number, dossier);
}

pub fn order_failed(kind: &str, order_number: &str, dossier: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "order_failed");
    tracing::warn!(event = "postal_order_failed", kind, order_number, dossier, %error);
}

/// `already` when it was cancelled before; `reason` is the sender's free text: redacted.
pub fn order_cancelled(order_number: &str, dossier: &str, already: bool, reason: &str) {
    adapter_event(KIND, "order_cancelled");
    tracing::info!(event = "postal_order_cancelled", order_number, dossier, already, reason = %redact(reason));
}

/// The order has gone too far to be cancelled.
pub fn cancel_refused(order_number: &str, dossier: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "cancel_refused");
    tracing::info!(event = "postal_cancel_refused", order_number, dossier, %error);
}

pub fn cancel_failed(order_number: &str, dossier: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "cancel_failed");
    tracing::warn!(event = "postal_cancel_failed", order_number, dossier, %error);
}

// ---- tokens --------------------------------------------------------------------------------

/// A call to `path` was refused for its token: renewed and called again.
pub fn token_refused(path: &str) {
    adapter_event(KIND, "token_refused");
    tracing::info!(event = "postal_token_refused", path, "postal service refused the token; renewing it");
}

/// `expires_in` as the postal service wrote it.
pub fn token_issued(consumer_key: &str, expires_in: Option<&Value>) {
    adapter_event(KIND, "token_issued");
    tracing::info!(event = "postal_token_issued", consumer_key = %consumer_key, expires_in = ?expires_in);
}

// ---- tracking ------------------------------------------------------------------------------

pub fn webhook_unsigned(error: &dyn std::fmt::Display) {
    adapter_event(KIND, "webhook_unsigned");
    tracing::warn!(event = "postal_webhook_unsigned", %error);
}

pub fn tracking_started(every: Duration, page_size: usize) {
    adapter_event(KIND, "tracking_started");
    tracing::info!(event = "postal_tracking_started", every = ?every, page_size);
}

pub fn tracking_stopped() {
    adapter_event(KIND, "tracking_stopped");
    tracing::info!(event = "postal_tracking_stopped");
}

/// A tracking item was skipped: it cannot be read.
pub fn tracking_item_unreadable(error: &dyn std::fmt::Display) {
    adapter_event(KIND, "tracking_item_unreadable");
    tracing::warn!(event = "postal_tracking_item_unreadable", %error);
}

/// A tracking item was skipped: it has no readable id, so it cannot be placed in the feed.
pub fn tracking_item_without_id() {
    adapter_event(KIND, "tracking_item_unreadable");
    tracing::warn!(event = "postal_tracking_item_unreadable", error = "an item without a readable id");
}

pub fn tracking_unknown_order(order_number: &str, tracking_id: u64) {
    adapter_event(KIND, "tracking_unknown_order");
    tracing::warn!(
        event = "postal_tracking_unknown_order",
        order_number,
        tracking_id,
        "the tracking feed names an order this adapter did not place; skipped"
    );
}

/// The adapter's memory cannot tell whose order `order_number` is: the item waits.
pub fn memory_failed(order_number: &str, error: &dyn std::fmt::Display) {
    adapter_event(KIND, "memory_failed");
    tracing::warn!(event = "postal_memory_failed", order_number, %error);
}

/// The adapter's memory cannot keep the cursor: the next round reads the items again.
pub fn cursor_not_saved(error: &dyn std::fmt::Display) {
    adapter_event(KIND, "memory_failed");
    tracing::warn!(event = "postal_memory_failed", %error, "cannot save the tracking cursor");
}

/// The bus accepted a new `postal.shipment_status`.
pub fn shipment_status_accepted(order_number: &str, dossier: &str, status: u8, tracking_id: u64) {
    adapter_event(KIND, "shipment_status");
    tracing::info!(event = "postal_shipment_status", order_number, dossier, status, tracking_id);
}

// Not counted: an item read again (polled and pushed, or after a restart) is routine.
pub fn shipment_status_known(order_number: &str, dossier: &str, tracking_id: u64) {
    tracing::debug!(event = "postal_shipment_status_known", order_number, dossier, tracking_id);
}

/// The bus cannot take messages now: the item is tried again later.
pub fn shipment_status_deferred(order_number: &str, dossier: &str, refusal: &dyn std::fmt::Display) {
    adapter_event(KIND, "shipment_status_deferred");
    tracing::warn!(event = "postal_shipment_status_deferred", order_number, dossier, %refusal);
}

/// The bus refused the message itself: the item is skipped.
pub fn shipment_status_refused(order_number: &str, dossier: &str, tracking_id: u64, refusal: &dyn std::fmt::Display) {
    adapter_event(KIND, "shipment_status_refused");
    tracing::error!(event = "postal_shipment_status_refused", order_number, dossier, tracking_id, %refusal);
}

// Not counted: one per polling round, and the items are counted by the events above.
pub fn tracking_round(accepted: usize, known: usize, skipped: usize, from: u64, cursor: u64) {
    tracing::debug!(event = "postal_tracking_round", accepted, known, skipped, from, cursor);
}

/// The round stopped before the end of the feed; the next round starts again from `cursor`.
pub fn tracking_round_stopped(accepted: usize, known: usize, skipped: usize, from: u64, cursor: u64, reason: &str) {
    adapter_event(KIND, "tracking_round_stopped");
    tracing::warn!(event = "postal_tracking_round_stopped", accepted, known, skipped, from, cursor, %reason);
}
