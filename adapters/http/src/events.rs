//! Named events of the `http` adapter, following the convention of [`lgsp_bus::events`]: its
//! deliveries, its service calls and its tokens. Lines name the adapter, message ids, types,
//! services and failure codes; never a body, a header or a secret. Reasons are passed in already
//! masked.

use std::time::Duration;

use lgsp_bus::events::adapter_event;

const KIND: &str = "http";

// ---- deliveries ----------------------------------------------------------------------------

// Not counted: the bus counts deliveries per adapter.
pub fn delivered(adapter: &str, message_id: &str, message_type: &str, status: u16) {
    tracing::debug!(event = "http_delivered", adapter, message_id, message_type, status);
}

// Not counted: the bus counts superseded messages per adapter.
pub fn superseded(adapter: &str, message_id: &str, message_type: &str) {
    tracing::debug!(
        event = "http_superseded",
        adapter,
        message_id,
        message_type,
        "a newer state was delivered; not sent"
    );
}

/// The service could not take the message now: retried.
pub fn delivery_failed(adapter: &str, message_id: &str, message_type: &str, code: &str, reason: &str) {
    adapter_event(KIND, "delivery_failed");
    tracing::warn!(event = "http_delivery_failed", adapter, message_id, message_type, code, reason);
}

/// The service refused the message itself: dead-lettered.
pub fn delivery_refused(adapter: &str, message_id: &str, message_type: &str, code: &str, reason: &str) {
    adapter_event(KIND, "delivery_refused");
    tracing::warn!(event = "http_delivery_refused", adapter, message_id, message_type, code, reason);
}

/// The mapping cannot make a body of the message: dead-lettered, never sent.
pub fn mapping_failed(adapter: &str, message_id: &str, message_type: &str, reason: &str) {
    adapter_event(KIND, "mapping_failed");
    tracing::warn!(event = "http_mapping_failed", adapter, message_id, message_type, reason);
}

// ---- services ------------------------------------------------------------------------------

pub fn service_answered(adapter: &str, service: &str, request_id: &str, member: &str) {
    adapter_event(KIND, "service_answered");
    tracing::info!(event = "http_service_answered", adapter, service, request_id, member);
}

/// The service refused the request itself: the caller is told why.
pub fn service_refused(adapter: &str, service: &str, request_id: &str, member: &str, reason: &str) {
    adapter_event(KIND, "service_refused");
    tracing::info!(event = "http_service_refused", adapter, service, request_id, member, reason);
}

pub fn service_failed(adapter: &str, service: &str, request_id: &str, member: &str, reason: &str) {
    adapter_event(KIND, "service_failed");
    tracing::warn!(event = "http_service_failed", adapter, service, request_id, member, reason);
}

// ---- tokens --------------------------------------------------------------------------------

pub fn token_issued(adapter: &str, client_id: &str, expires_in: Option<Duration>) {
    adapter_event(KIND, "token_issued");
    tracing::info!(event = "http_token_issued", adapter, client_id, expires_in = ?expires_in);
}

/// A call to `path` was answered 401: a new token, and the call once more.
pub fn token_refused(adapter: &str, path: &str) {
    adapter_event(KIND, "token_refused");
    tracing::info!(event = "http_token_refused", adapter, path, "the service refused the token; renewing it");
}
