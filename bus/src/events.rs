//! Named events: everything the bus reports about itself goes through one function here.
//!
//! The convention, for the bus and for every adapter (each keeps its own `events.rs`):
//! - An event is a function named for what happened (`delivered`, `broker_lost`). It logs one
//!   line an operator can read and, if it is a failure or something worth counting, increments
//!   a Prometheus metric. Code elsewhere never calls `tracing` or `metrics` directly.
//! - Metric names are snake_case, start with `lgsp_`, and end in `_total` for counters. Labels
//!   are few and bounded: adapter ids and message types come from config and the schemas, never
//!   from callers; reasons are fixed words. An adapter's events count in
//!   `lgsp_adapter_events_total{kind, event}` (see [`adapter_event`]) unless they deserve a
//!   metric of their own.
//! - An adapter's log line carries `event = "<kind>_<name>"`, so its lines can be found by name.
//! - Personal data never reaches a line: free text is passed through [`redact`], citizen IDs
//!   through [`crate::privacy::mask_cccd`]; secrets are never logged.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use tracing::{debug, error, info, warn};

use crate::envelope::Envelope;
use crate::privacy::redact;

// ---- ingress -------------------------------------------------------------------------------

pub fn message_accepted(envelope: &Envelope) {
    counter!("lgsp_messages_accepted_total", "type" => envelope.message_type.clone()).increment(1);
    debug!(id = %envelope.id, r#type = %envelope.message_type, subject = %envelope.subject, seq = envelope.seq, "accepted");
}

/// A submission refused at ingress; `reason` is the problem's fixed slug (invalid-message,
/// unroutable, id-reused…).
pub fn message_rejected(reason: &'static str) {
    counter!("lgsp_messages_rejected_total", "reason" => reason).increment(1);
}

/// The broker confirmed messages the store then failed to record: the caller is told to send
/// them again (the broker's copies are deduplicated).
pub fn published_not_recorded(messages: usize, error: &dyn std::fmt::Display) {
    counter!("lgsp_messages_unrecorded_total").increment(messages as u64);
    error!(messages, error = %error, "published but not recorded; the senders were told to send again");
}

// ---- delivery ------------------------------------------------------------------------------

pub fn consuming(adapter: &str, lanes: usize, prefetch: u16) {
    info!(adapter, lanes, prefetch, "consuming");
}

pub fn answering_requests(adapter: &str, services: &[String], concurrency: u16) {
    info!(adapter, ?services, concurrency, "answering requests");
}

pub fn consumer_stopped(adapter: &str, consumer: &'static str) {
    info!(adapter, consumer, "consumer stopped");
}

/// A consumer lost its channel while the broker stayed connected; it starts again.
pub fn consumer_interrupted(adapter: &str, consumer: &'static str, error: &dyn std::fmt::Display) {
    counter!("lgsp_consumer_interruptions_total", "adapter" => adapter.to_string(), "consumer" => consumer)
        .increment(1);
    warn!(adapter, consumer, error = %error, "consumer interrupted; resuming when the broker is back");
}

/// The adapter's own work (polling its peer, say) returned while the bus runs.
pub fn adapter_work_stopped(adapter: &str, restart_in: Duration) {
    counter!("lgsp_adapter_work_restarts_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, restart_in = ?restart_in, "the adapter's own work stopped; restarting it");
}

/// An adapter joined the running bus: its queue declared and bound, its consumers started.
pub fn adapter_added(adapter: &str) {
    counter!("lgsp_adapter_changes_total", "change" => "added").increment(1);
    info!(adapter, "adapter added");
}

/// An adapter was changed on the running bus: its bindings, policy or settings.
pub fn adapter_replaced(adapter: &str) {
    counter!("lgsp_adapter_changes_total", "change" => "replaced").increment(1);
    info!(adapter, "adapter changed");
}

/// An operator paused an adapter: its messages wait in its queue.
pub fn adapter_paused(adapter: &str) {
    counter!("lgsp_adapter_changes_total", "change" => "paused").increment(1);
    info!(adapter, "adapter paused; its messages wait in its queue");
}

pub fn adapter_resumed(adapter: &str) {
    counter!("lgsp_adapter_changes_total", "change" => "resumed").increment(1);
    info!(adapter, "adapter resumed");
}

/// An adapter is no longer routed to or consumed; what is left for it is being archived.
pub fn adapter_removing(adapter: &str, operator: &str) {
    counter!("lgsp_adapter_changes_total", "change" => "removing").increment(1);
    info!(adapter, operator, "adapter removed from routing; archiving what is left for it");
}

/// A removed adapter's leftovers are archived as its dead letters and its queues deleted.
pub fn adapter_removed(adapter: &str, archived: u64) {
    counter!("lgsp_adapter_changes_total", "change" => "removed").increment(1);
    info!(adapter, archived, "adapter removed; what was left for it is in the dead-letter archive");
}

/// Archiving a removed adapter's leftovers stopped (the broker or the store); it goes on.
pub fn adapter_removal_interrupted(adapter: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_adapter_removal_interruptions_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, error = %error, "archiving a removed adapter's messages was interrupted; resuming");
}

pub fn delivered(adapter: &str, envelope: &Envelope, latency: Option<Duration>) {
    counter!("lgsp_messages_delivered_total", "adapter" => adapter.to_string()).increment(1);
    if let Some(latency) = latency {
        histogram!("lgsp_delivery_latency_seconds", "adapter" => adapter.to_string()).record(latency.as_secs_f64());
    }
    debug!(adapter, id = %envelope.id, subject = %envelope.subject, seq = envelope.seq, "delivered");
}

pub fn superseded(adapter: &str, envelope: &Envelope, newest_seq: u64) {
    counter!("lgsp_messages_superseded_total", "adapter" => adapter.to_string()).increment(1);
    info!(adapter, id = %envelope.id, subject = %envelope.subject, seq = envelope.seq, newest_seq,
        "superseded: a newer state of this subject was delivered first, or is on its way");
}

pub fn duplicate(adapter: &str, envelope: &Envelope) {
    counter!("lgsp_messages_duplicate_total", "adapter" => adapter.to_string()).increment(1);
    debug!(adapter, id = %envelope.id, "duplicate delivery acknowledged without resending");
}

pub fn retrying(adapter: &str, envelope: &Envelope, attempt: u32, wait: Duration, reason: &str) {
    counter!("lgsp_messages_retried_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, id = %envelope.id, subject = %envelope.subject, attempt, retry_in = ?wait,
        reason = %redact(reason), "delivery failed; will retry");
}

pub fn dead_lettered(adapter: &str, id: &str, subject: &str, attempt: u32, reason: &str) {
    counter!("lgsp_messages_dead_lettered_total", "adapter" => adapter.to_string()).increment(1);
    error!(adapter, id, subject, attempt, reason = %redact(reason), "dead-lettered: needs an operator");
}

/// An operator signed in to the console.
pub fn console_signed_in(operator: &str) {
    counter!("lgsp_console_sign_ins_total").increment(1);
    info!(operator, "signed in to the console");
}

/// A test message's one attempt (`POST /v1/adapters/{id}/test`).
pub fn tested(adapter: &str, id: &str, outcome: &str) {
    info!(adapter, id, outcome, "test message tried");
}

/// A test message came back after the bus lost hold of it: a test is tried once.
pub fn test_not_retried(adapter: &str, envelope: &Envelope) {
    warn!(adapter, id = %envelope.id, "test message redelivered; not tried again");
}

/// An adapter broke its contract: not one outcome per delivery. Every delivery of the call is
/// retried.
pub fn wrong_outcome_count(adapter: &str, got: usize, expected: usize) {
    counter!("lgsp_adapter_contract_violations_total", "adapter" => adapter.to_string()).increment(1);
    error!(adapter, got, expected, "adapter returned the wrong number of outcomes");
}

/// A retry or dead-letter copy was not confirmed by the broker: the message stays in its queue
/// and comes back.
pub fn message_not_moved(adapter: &str, id: &str, queue: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_message_moves_failed_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, id, queue, error = %error, "cannot move the message; it stays in the queue and comes back");
}

/// An ack or requeue did not reach the broker: the channel is gone, the broker redelivers and
/// the store deduplicates.
pub fn settle_failed(adapter: &str, action: &'static str, error: &dyn std::fmt::Display) {
    counter!("lgsp_settles_failed_total", "adapter" => adapter.to_string(), "action" => action).increment(1);
    warn!(adapter, action, error = %error, "the broker did not take it; the messages will be redelivered and deduplicated");
}

/// The store cannot be read or written: the adapter's deliveries wait until it can.
pub fn delivery_paused_by_store(adapter: &str, operation: &'static str, error: &dyn std::fmt::Display) {
    counter!("lgsp_store_errors_total", "operation" => operation).increment(1);
    error!(adapter, operation, error = %error, "the store failed; delivery paused");
}

// ---- peers ---------------------------------------------------------------------------------

/// The adapter's peer keeps failing: the bus stops calling it until `open_for` has passed.
pub fn breaker_opened(adapter: &str, failures: u32, open_for: Duration, probe_failed: bool) {
    gauge!("lgsp_breaker_open", "adapter" => adapter.to_string()).set(1.0);
    counter!("lgsp_breaker_opened_total", "adapter" => adapter.to_string()).increment(1);
    let why = if probe_failed { "the probe call failed" } else { "calls in a row failed" };
    warn!(adapter, failures, open_for = ?open_for,
        "circuit breaker open ({why}): messages wait in the queue, requests are answered 503, one probe call after the pause");
}

pub fn breaker_closed(adapter: &str) {
    gauge!("lgsp_breaker_open", "adapter" => adapter.to_string()).set(0.0);
    info!(adapter, "circuit breaker closed: the peer answers again");
}

/// An adapter's own event: counts in `lgsp_adapter_events_total{kind, event}`. The adapter's
/// `events.rs` calls this and logs the line.
pub fn adapter_event(kind: &'static str, event: &'static str) {
    counter!("lgsp_adapter_events_total", "kind" => kind, "event" => event).increment(1);
}

// ---- request/reply -------------------------------------------------------------------------

/// A request came without `reply_to` or `correlation_id`: nobody can be answered; dropped.
pub fn request_unanswerable(adapter: &str) {
    counter!("lgsp_requests_unanswerable_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, "a request without reply_to or correlation_id; dropped");
}

pub fn reply_not_sent(adapter: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_replies_not_sent_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, error = %error, "cannot send a reply; the caller will time out");
}

/// A lookup answered (or refused), recorded for the audit. `service` is a catalogue name or
/// `unknown`; `outcome` a fixed word. The subject (a CCCD or an MST) is masked.
pub fn lookup(service: &str, member: &str, id: &str, dossier: &str, subject: &str, outcome: &'static str) {
    info!(service, member, id, dossier, subject = %redact(subject), outcome, "lookup");
}

/// Every call of `POST /v1/services/{service}`, however it ended.
pub fn lookup_answered(service: String, outcome: &'static str, took: Duration) {
    histogram!("lgsp_lookup_duration_seconds", "service" => service.clone()).record(took.as_secs_f64());
    counter!("lgsp_lookups_total", "service" => service, "outcome" => outcome).increment(1);
}

/// A lookup whose audit record could not be written: its answer is withheld.
pub fn lookup_unrecorded(service: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_lookups_unrecorded_total").increment(1);
    error!(service, error = %error, "the lookup could not be recorded; its answer is withheld");
}

/// An adapter's reply broke the service's reply schema: withheld from the caller.
pub fn reply_broke_contract(service: &str, violations: &dyn std::fmt::Debug) {
    counter!("lgsp_replies_invalid_total", "service" => service.to_string()).increment(1);
    error!(service, ?violations, "an adapter's reply breaks the service's schema; withheld");
}

// ---- dead letters --------------------------------------------------------------------------

/// A dead letter reached the archive. Never the payload; the reason masked.
pub fn dead_letter_archived(record: &crate::store::DeadLetterRecord) {
    counter!("lgsp_dead_letters_archived_total", "adapter" => record.adapter.clone()).increment(1);
    info!(
        adapter = %record.adapter,
        id = %record.message_id,
        r#type = record.message_type.as_deref().unwrap_or("-"),
        subject = record.subject.as_deref().unwrap_or("-"),
        attempts = record.attempts,
        reason = %redact(record.last_error.as_deref().unwrap_or("-")),
        "dead letter archived"
    );
}

/// Dead letters of the adapter waiting in the archive for an operator.
pub fn dead_letters_waiting(adapter: &str, count: u64) {
    gauge!("lgsp_dead_letters", "adapter" => adapter.to_string()).set(count as f64);
}

pub fn dead_letter_replayed(record: &crate::store::DeadLetterRecord, to: &str, operator: &str) {
    counter!("lgsp_dead_letters_replayed_total", "adapter" => record.adapter.clone()).increment(1);
    info!(adapter = %record.adapter, id = %record.message_id, subject = record.subject.as_deref().unwrap_or("-"),
        to, operator, "dead letter replayed");
}

pub fn dead_letter_not_replayed(adapter: &str, id: &str, operator: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_dead_letters_not_replayed_total", "adapter" => adapter.to_string()).increment(1);
    warn!(adapter, id, operator, error = %error, "dead letter not replayed; it stays replaying");
}

pub fn dead_letter_purged(adapter: &str, id: &str, operator: &str) {
    counter!("lgsp_dead_letters_purged_total", "adapter" => adapter.to_string()).increment(1);
    info!(adapter, id, operator, "dead letter purged");
}

// ---- broker --------------------------------------------------------------------------------

pub fn broker_connected(generation: u64) {
    gauge!("lgsp_broker_connected").set(1.0);
    info!(generation, "broker connected; topology declared");
}

pub fn broker_lost(reason: &str) {
    gauge!("lgsp_broker_connected").set(0.0);
    counter!("lgsp_broker_disconnects_total").increment(1);
    warn!(%reason, "broker connection lost; reconnecting");
}

pub fn broker_unreachable(error: &dyn std::fmt::Display, retry_in: Duration) {
    counter!("lgsp_broker_connect_failures_total").increment(1);
    warn!(error = %error, retry_in = ?retry_in, "cannot connect to the broker");
}

// ---- store ---------------------------------------------------------------------------------

/// One group commit of the store's writer: `writes` writes, of which `dossiers` submitted
/// dossiers, `with_reusable` of them with papers already on file.
pub fn store_committed(writes: usize, dossiers: u64, with_reusable: u64) {
    counter!("lgsp_store_commits_total").increment(1);
    counter!("lgsp_store_writes_total").increment(writes as u64);
    counter!("lgsp_dossiers_submitted_total").increment(dossiers);
    counter!("lgsp_dossiers_with_reusable_documents_total").increment(with_reusable);
}

/// A group commit failed: each of its writers is told, and decides (retry, or 503).
pub fn store_commit_failed(writes: usize, error: &dyn std::fmt::Display) {
    counter!("lgsp_store_errors_total", "operation" => "commit").increment(1);
    error!(writes, error = %error, "store commit failed");
}

pub fn store_read_failed(operation: &'static str, error: &dyn std::fmt::Display) {
    counter!("lgsp_store_errors_total", "operation" => operation).increment(1);
    warn!(operation, error = %error, "store read failed");
}

pub fn store_checkpoint_failed(error: &dyn std::fmt::Display) {
    counter!("lgsp_store_errors_total", "operation" => "checkpoint").increment(1);
    warn!(error = %error, "store checkpoint failed; will try again");
}

// ---- reports ---------------------------------------------------------------------------------

pub fn monthly_report_sent(month: &str, id: uuid::Uuid) {
    counter!("lgsp_monthly_reports_total", "result" => "sent").increment(1);
    info!(month, message_id = %id, "monthly report sent upward");
}

pub fn monthly_report_not_sent(month: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_monthly_reports_total", "result" => "failed").increment(1);
    warn!(month, error = %error, "monthly report not sent; will try again in a minute");
}

// ---- routing tables ------------------------------------------------------------------------

pub fn routing_tables_reloaded(version: &str, rules: usize) {
    counter!("lgsp_routing_reloads_total", "result" => "taken").increment(1);
    info!(version, rules, "routing tables reloaded");
}

/// Edited routing tables that do not check out: the ones in use stay.
pub fn routing_tables_refused(problems: &[crate::config::ConfigProblem]) {
    counter!("lgsp_routing_reloads_total", "result" => "refused").increment(1);
    for problem in problems {
        error!(%problem, "routing tables refused; the ones in use stay");
    }
}

// ---- trust ---------------------------------------------------------------------------------

/// A caller who did not prove who they are (no credentials, a bad token, an unknown certificate).
pub fn caller_refused(path: &str, error: &dyn std::fmt::Display) {
    counter!("lgsp_callers_refused_total").increment(1);
    info!(path, error = %error, "caller refused (401)");
}

pub fn token_issued(client: &str) {
    counter!("lgsp_tokens_issued_total").increment(1);
    debug!(client, "token issued");
}

/// A token asked for with the wrong secret, or for no such client.
pub fn token_refused(client: &str) {
    counter!("lgsp_tokens_refused_total").increment(1);
    warn!(client, "token refused: no such client with that secret");
}

/// No token key configured: one was made for this process.
pub fn token_key_made() {
    warn!("no [auth] signing_key: tokens are signed with a key made now, and die with this process");
}

// ---- the bus itself ------------------------------------------------------------------------

// ---- message log ---------------------------------------------------------------------------

pub fn audit_opened(path: &std::path::Path, head: u64, unsealed: u64, closed_before: bool) {
    if closed_before && unsealed == 0 {
        info!(path = %path.display(), head, "message log opened");
    } else {
        warn!(path = %path.display(), head, unsealed, closed_before, "message log opened: entries were written after the last seal (the bus before was killed, or someone wrote to the file); they are sealed now, and accepted messages a killed bus had not written are recovered from the store");
    }
}

pub fn audit_committed(entries: usize) {
    counter!("lgsp_audit_entries_total").increment(entries as u64);
}

/// The log's queue was full: entries were lost and a gap entry will say how many.
pub fn audit_dropped() {
    counter!("lgsp_audit_dropped_total").increment(1);
}

pub fn audit_gap(lost: u64) {
    error!(lost, "message log fell behind: entries were lost; the chain records the gap");
}

pub fn audit_behind(pending: usize) {
    gauge!("lgsp_audit_pending").set(pending as f64);
}

pub fn audit_write_failed(entries: usize, error: &dyn std::fmt::Display) {
    counter!("lgsp_audit_write_failures_total").increment(1);
    error!(entries, error = %error, "message log: cannot write; traffic goes on, entries wait (bounded) and the write is tried again");
}

/// The chain's head signed: `hash` also goes to the bus's own log, a witness outside the file.
pub fn audit_sealed(seq: u64, hash: &str, closing: bool) {
    counter!("lgsp_audit_seals_total").increment(1);
    if closing {
        info!(seq, hash, "message log sealed at shutdown");
    } else {
        debug!(seq, hash, "message log sealed");
    }
}

pub fn audit_close_timed_out(timeout: Duration) {
    error!(
        ?timeout,
        "message log: its last entries could not be written and sealed in time; the next start seals them and says so"
    );
}

pub fn audit_recovered(messages: usize) {
    if messages > 0 {
        warn!(
            messages,
            "message log: accepted messages its writer had not written when the bus died were recorded from the store"
        );
    }
}

pub fn audit_recovery_failed(error: &dyn std::fmt::Display) {
    error!(error = %error, "message log: cannot look for entries a killed bus did not write");
}

pub fn audit_archived(path: &std::path::Path, first: u64, last: u64) {
    info!(path = %path.display(), first, last, "message log archived");
}

pub fn audit_archive_failed(error: &dyn std::fmt::Display) {
    counter!("lgsp_audit_archive_failures_total").increment(1);
    error!(error = %error, "message log: archiving failed; tried again in an hour");
}

pub fn audit_key_made(path: &std::path::Path) {
    warn!(path = %path.display(), "no message-log key configured: one was made and kept beside the log; keep it elsewhere in production (audit.signing_key_file)");
}

pub fn simulator_serving(adapter: &str, addr: std::net::SocketAddr) {
    info!(adapter, %addr, "sandbox: the peer's simulator is serving");
}

/// Sandbox: a registered adapter's simulator was not started (served already, or its address
/// is taken).
pub fn simulator_not_served(adapter: &str, error: &dyn std::fmt::Display) {
    warn!(adapter, error = %error, "sandbox: the peer's simulator was not started");
}

/// An adapter registered, changed, approved, rejected or removed over the API.
pub fn registration_changed(action: &str, adapter: &str, by: &str) {
    counter!("lgsp_registration_changes_total", "action" => action.to_string()).increment(1);
    info!(adapter, action, by, "adapter registration changed");
}

/// An approved registration that no longer builds (its kind left the binary, say): not run.
pub fn registration_unusable(adapter: &str, problems: &[crate::config::ConfigProblem]) {
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    error!(adapter, problems = %problems.join("; "), "a registered adapter cannot be built; it is not run");
}

/// A simulator's server stopped on its own.
pub fn simulator_stopped(simulator: &str, error: &dyn std::fmt::Display) {
    error!(simulator, error = %error, "simulator stopped");
}

pub fn bus_up(http_addr: std::net::SocketAddr, adapters: usize) {
    info!(%http_addr, adapters, "lgsp is up");
}

pub fn http_server_stopped(error: &dyn std::fmt::Display) {
    counter!("lgsp_http_server_failures_total").increment(1);
    error!(error = %error, "HTTP server stopped");
}

pub fn stopping() {
    info!("stopping: draining in-flight work");
}

pub fn drain_timed_out(timeout: Duration) {
    counter!("lgsp_drain_timeouts_total").increment(1);
    warn!(timeout = ?timeout, "drain timed out; unacked messages return to the queue");
}

pub fn stopped() {
    info!("stopped");
}
