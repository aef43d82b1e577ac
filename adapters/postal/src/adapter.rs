//! The `postal` adapter: places and cancels orders (`deliver`), reads the tracking feed (`run`)
//! and takes the postal service's pushed tracking items (`webhook`).
//!
//! Order requests are commands, each with its own order number, not states of the dossier: a
//! `stale` one (a newer request for the same dossier came first) is still placed, since it is
//! another order, not an older version of the newer one.

use std::time::Duration;

use async_trait::async_trait;
use lgsp_bus::privacy::redact;
use lgsp_bus::{Adapter, Delivery, Failure, Memory, Outbox, Outcome, Secret, WebhookRequest, WebhookResponse};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::book::{BookError, OrderBook};
use crate::client::{CallError, Cancelled, ClientError, PostalClient, Posted};
use crate::config::PostalConfig;
use crate::events;
use crate::mapping::{self, CancelRequest, Kind, OrderRequest, Verdict, wire};
use crate::signature;
use crate::tracking::{self, ItemOutcome, Round};

pub const PICKUP_REQUESTED: &str = "postal.pickup_requested";
pub const DELIVERY_REQUESTED: &str = "postal.delivery_requested";
pub const CANCEL_REQUESTED: &str = "postal.cancel_requested";
const ROUTES: [&str; 3] = ["postal.pickup_requested.#", "postal.delivery_requested.#", "postal.cancel_requested.#"];

pub struct PostalAdapter {
    client: PostalClient,
    book: OrderBook,
    poll_every: Duration,
    page_size: usize,
    webhook_secret: Option<Secret>,
}

impl PostalAdapter {
    /// An adapter for `config` that remembers its orders and cursor in `memory`.
    pub fn new(config: &PostalConfig, memory: Memory) -> Result<PostalAdapter, ClientError> {
        Ok(PostalAdapter {
            client: PostalClient::new(config)?,
            book: OrderBook::new(memory),
            poll_every: config.poll_every,
            page_size: config.page_size,
            webhook_secret: config.webhook_secret.clone(),
        })
    }

    /// What the adapter remembers: whose each order is, and the tracking cursor.
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// One polling round: the feed from the saved cursor to its end (what `run` does every
    /// `poll_every`).
    pub async fn poll(&self, outbox: &Outbox) -> Round {
        tracking::poll(&self.client, &self.book, outbox, self.page_size).await
    }

    async fn deliver_one(&self, delivery: &Delivery) -> Outcome {
        let envelope = &delivery.envelope;
        match envelope.message_type.as_str() {
            PICKUP_REQUESTED => self.place(Kind::Pickup, delivery).await,
            DELIVERY_REQUESTED => self.place(Kind::Delivery, delivery).await,
            CANCEL_REQUESTED => self.cancel(delivery).await,
            other => Outcome::Permanent(Failure::new(format!(
                "message {} is a {other}; the postal adapter takes {PICKUP_REQUESTED}, {DELIVERY_REQUESTED} and \
                 {CANCEL_REQUESTED} only",
                envelope.id
            ))),
        }
    }

    /// Places a pickup or delivery order.
    async fn place(&self, kind: Kind, delivery: &Delivery) -> Outcome {
        let envelope = &delivery.envelope;
        let request: OrderRequest = match envelope.payload_as() {
            Ok(request) => request,
            Err(e) => return unreadable(delivery, e),
        };
        let (order_number, dossier) = (request.order_number.as_str(), request.dossier_code.as_str());
        let body = match mapping::order_body(kind, &request, self.client.customer_code()) {
            Ok(body) => body,
            Err(error) => return Outcome::Permanent(Failure::new(redact(&error.to_string()))),
        };
        // Booked before it exists: the first tracking item may come before the answer.
        let record = mapping::order_record(kind, &request, &envelope.id.to_string());
        match self.book.book(order_number, &record).await {
            Ok(()) => {}
            Err(error @ BookError::Taken { .. }) => return Outcome::Permanent(Failure::new(error.to_string())),
            Err(error) => return Outcome::Transient(Failure::new(format!("order {order_number}: {error}"))),
        }
        match self.client.post_order(&body).await {
            Ok(answer) => {
                delivery.answered(&answer.text);
                match answer.what {
                    Posted::Created => events::order_placed(kind.as_str(), order_number, dossier),
                    // A retry after a lost answer: the order is there, once.
                    Posted::AlreadyExists => events::order_exists(kind.as_str(), order_number, dossier),
                }
                Outcome::Delivered
            }
            Err(error) => {
                events::order_failed(kind.as_str(), order_number, dossier, &error);
                outcome(format!("{} order {order_number} of dossier {dossier}", kind.as_str()), &error)
            }
        }
    }

    async fn cancel(&self, delivery: &Delivery) -> Outcome {
        let request: CancelRequest = match delivery.envelope.payload_as() {
            Ok(request) => request,
            Err(e) => return unreadable(delivery, e),
        };
        let (order_number, dossier) = (request.order_number.as_str(), request.dossier_code.as_str());
        match self.book.order(order_number).await {
            Ok(Some(record)) if record.dossier_code != dossier => {
                return Outcome::Permanent(Failure::new(format!(
                    "order {order_number} belongs to dossier {}, not to {dossier}: not cancelled",
                    record.dossier_code
                )));
            }
            Ok(_) => {}
            Err(error) => return Outcome::Transient(Failure::new(format!("order {order_number}: {error}"))),
        }
        match self.client.cancel(order_number).await {
            Ok(answer) => {
                delivery.answered(&answer.text);
                let already = answer.what == Cancelled::AlreadyCancelled;
                events::order_cancelled(order_number, dossier, already, &request.reason);
                Outcome::Delivered
            }
            Err(error) if error.verdict() == Some(Verdict::NotCancellable) => {
                events::cancel_refused(order_number, dossier, &error);
                let said = error.message().unwrap_or_default();
                let failure = Failure::new(format!(
                    "postal service refused to cancel order {order_number} of dossier {dossier}: {said}"
                ));
                Outcome::Permanent(with_answer(failure, &error))
            }
            Err(error) => {
                events::cancel_failed(order_number, dossier, &error);
                outcome(format!("cancellation of order {order_number} of dossier {dossier}"), &error)
            }
        }
    }

    /// One webhook call: a tracking item (or a list of them), signed.
    async fn take_webhook(&self, request: &WebhookRequest, outbox: &Outbox) -> WebhookResponse {
        let Some(secret) = &self.webhook_secret else {
            return WebhookResponse::new(404, "this adapter takes no webhook: its webhook_secret is not set");
        };
        if let Err(error) = signature::verify(secret.expose(), &request.body, request.header(wire::SIGNATURE_HEADER)) {
            events::webhook_unsigned(&error);
            return WebhookResponse::new(401, error.to_string());
        }
        let items = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Array(items)) => items,
            Ok(item @ Value::Object(_)) => vec![item],
            Ok(_) | Err(_) => return WebhookResponse::new(400, "the body is not a tracking item or a list of them"),
        };
        for item in &items {
            match tracking::submit_item(&self.book, outbox, item).await {
                ItemOutcome::Accepted | ItemOutcome::Known | ItemOutcome::UnknownOrder(_) => {}
                ItemOutcome::Unreadable(reason) => return WebhookResponse::new(400, reason),
                ItemOutcome::Refused(reason) => return WebhookResponse::new(422, reason),
                // The postal service calls again later; polling finds the item anyway.
                ItemOutcome::Retry(reason) => return WebhookResponse::new(503, reason),
            }
        }
        WebhookResponse::new(200, "accepted")
    }
}

/// A payload that does not fit the adapter's view: the bus checked it against the schema, so
/// the schema and the adapter disagree.
fn unreadable(delivery: &Delivery, error: serde_json::Error) -> Outcome {
    let envelope = &delivery.envelope;
    Outcome::Permanent(Failure::new(redact(&format!(
        "message {} ({}): payload does not fit the postal view of {}: {error}",
        envelope.id, envelope.subject, envelope.message_type
    ))))
}

/// The outcome of a call that failed: `what` failed because of `error`.
fn outcome(what: String, error: &CallError) -> Outcome {
    let failure = with_answer(Failure::new(redact(&format!("{what} failed: {error}"))), error).with_code(error.code());
    if error.is_transient() { Outcome::Transient(failure) } else { Outcome::Permanent(failure) }
}

fn with_answer(failure: Failure, error: &CallError) -> Failure {
    match error.peer_answer() {
        Some(answer) => failure.with_answer(answer),
        None => failure,
    }
}

#[async_trait]
impl Adapter for PostalAdapter {
    fn routes(&self) -> Vec<String> {
        ROUTES.iter().map(|r| r.to_string()).collect()
    }

    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for delivery in batch {
            outcomes.push(self.deliver_one(delivery).await);
        }
        outcomes
    }

    /// Reads the tracking feed now and every `poll_every`, until `shutdown`. A round cut short by
    /// the shutdown loses nothing: the cursor only ever moves past settled items.
    async fn run(&self, outbox: Outbox, shutdown: CancellationToken) {
        events::tracking_started(self.poll_every, self.page_size);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                _ = self.poll(&outbox) => {}
            }
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.poll_every) => {}
            }
        }
        events::tracking_stopped();
    }

    async fn webhook(&self, request: WebhookRequest, outbox: &Outbox) -> WebhookResponse {
        self.take_webhook(&request, outbox).await
    }
}
