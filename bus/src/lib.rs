//! lgsp core: everything that is not about one external system. It names no adapter: adapters
//! plug in through [`AdapterKind`] and [`Adapter`], and the binary registers them.
//!
//! The modules, by layer, each depending only on those above it or beside it:
//!
//! **Contract and model**
//! - [`envelope`]: the canonical envelope every message travels in.
//! - [`schema`]: `schemas/*.json`, compiled; every violation with its JSON pointer.
//! - [`identifiers`]: the domain identifiers (CCCD, MST, agency, dossier, procedure and unit
//!   codes), checked by the patterns of `schemas/common.json`.
//! - [`adapter`]: the contract an adapter implements; the engine does the rest.
//! - [`privacy`]: personal data masked before it reaches a log line.
//! - [`events`]: named events, each a log line and a metric; the convention adapters follow.
//!
//! **Configuration and data tables**
//! - [`config`]: the config file, environment overrides, secrets and every problem with its key.
//! - [`procedures`]: the procedure catalogue (papers each procedure needs).
//! - [`competence`]: the unit catalogue and competence rules, reloaded while the bus runs.
//! - [`routing`]: routing keys and the topic patterns adapters subscribe with.
//! - [`registry`]: the configured adapters, built by their kinds.
//! - [`roster`]: the adapters of the running bus at one moment, as ingress, the API and the
//!   broker's topology read them.
//!
//! **Transport and storage**
//! - [`transport`]: RabbitMQ: connections that come back, the topology, confirmed publishes,
//!   request/reply, and the headers the bus sets.
//! - [`store`]: SQLite: message states, dedup keys, newest seq, projections, dead-letter
//!   archive, lookups audit; one writer that group-commits.
//! - [`memory`]: an adapter's own keys and values, kept in the store.
//!
//! **Trust**
//! - [`auth`]: members and operators, how they prove who they are (tokens, client certificates),
//!   and their rights.
//!
//! **Flow**
//! - [`ingress`]: how a message becomes accepted (checked, routed, annotated, confirmed,
//!   recorded), from a member or an adapter.
//! - [`outbox`]: an adapter's way into ingress.
//! - [`engine`]: per adapter, the consumer of its queue (lanes, dedup, newest-seq-wins,
//!   retries, dead letters, acks), its request server, and its peer's guard.
//! - [`fleet`]: adapters added, paused, resumed and removed while the bus runs, nothing lost.
//!
//! **Edges**
//! - [`http`]: the HTTP API, its problem vocabulary and its OpenAPI document.
//! - [`server`]: starting and stopping a whole bus.
//! - [`listener`]: plain or TLS listeners, and who is at the other end of a connection.
//! - [`peer`]: what adapters' HTTP clients share (TLS trust, timeouts, url checks).
//! - [`simulator`]: what peer simulators share (listeners, behaviour knobs, recording).
//! - `testing` (feature `testing`): the conformance suite every adapter passes, and helpers for
//!   tests that run a real bus on a real broker.

pub mod adapter;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod client_credentials;
pub mod competence;
pub mod config;
pub mod console;
pub mod engine;
pub mod envelope;
pub mod events;
pub mod fleet;
pub mod http;
pub mod identifiers;
pub mod ingress;
pub mod listener;
pub mod memory;
pub mod monitoring;
pub mod outbox;
pub mod peer;
pub mod privacy;
pub mod procedures;
pub mod registrar;
pub mod registry;
pub mod roster;
pub mod routing;
pub mod schema;
pub mod server;
pub mod simulator;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use adapter::{
    Adapter, AdapterKind, BuildContext, Delivery, Failure, Outcome, ServiceError, ServiceRequest, Simulator,
    WebhookRequest, WebhookResponse,
};
pub use config::{ConfigProblem, Secret};
pub use envelope::Envelope;
pub use ingress::Submitted;
pub use memory::Memory;
pub use outbox::{Outbox, Refusal, RefusalKind};

/// `text` cut to at most `max` bytes (on a character's boundary), marked `…` where cut: what
/// the bus keeps of a peer's answer or a refusal's detail.
pub fn shortened(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Now, in Unix milliseconds: how the store and headers keep time.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as RFC 3339 (UTC), the way the API shows times.
pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
