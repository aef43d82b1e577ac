//! The tracking feed into the bus: each item the postal service records (polled from
//! `/order/tracking`, or pushed to the webhook) becomes one `postal.shipment_status`.
//!
//! An item's envelope id is a UUID v5 of its order number and tracking id, and the envelope is
//! made of the item and the order's record only; so an item read twice (polled again after a
//! restart, or both pushed and polled) is `Known` to the bus, never a second message.
//!
//! The cursor (`lastId`) moves past an item only once the bus accepted or knew it, or once it is
//! clear that it never will (an order this adapter did not place, an item that cannot be read,
//! a message the bus refuses as invalid: each logged). When the bus cannot take messages for a
//! while, the round stops there and the next one starts again from that item.

use lgsp_bus::{Outbox, Submitted};
use serde_json::Value;

use crate::book::OrderBook;
use crate::client::PostalClient;
use crate::events;
use crate::mapping;

/// What became of one tracking item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// A new `postal.shipment_status`, accepted by the bus.
    Accepted,
    /// The bus holds it already (read before, or pushed and polled).
    Known,
    /// An order this adapter did not place: logged and skipped.
    UnknownOrder(String),
    /// The item cannot be read: logged and skipped.
    Unreadable(String),
    /// The bus refused the message itself: logged and skipped.
    Refused(String),
    /// Not now (the bus or the adapter's memory is unreachable): try again later.
    Retry(String),
}

impl ItemOutcome {
    /// Whether the item is done with, so that the cursor may move past it.
    pub fn is_settled(&self) -> bool {
        !matches!(self, ItemOutcome::Retry(_))
    }
}

/// Submits one tracking item, as the postal service wrote it, through `outbox`.
pub async fn submit_item(book: &OrderBook, outbox: &Outbox, raw: &Value) -> ItemOutcome {
    let item = match mapping::tracking_item(raw) {
        Ok(item) => item,
        Err(error) => {
            events::tracking_item_unreadable(&error);
            return ItemOutcome::Unreadable(error.to_string());
        }
    };
    let order_number = item.order_number.as_str();
    let record = match book.order(order_number).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            events::tracking_unknown_order(order_number, item.id);
            return ItemOutcome::UnknownOrder(order_number.to_string());
        }
        Err(error) => {
            events::memory_failed(order_number, &error);
            return ItemOutcome::Retry(error.to_string());
        }
    };
    let envelope = mapping::shipment_status(&item, &record, outbox.source());
    let (dossier, status) = (record.dossier_code.as_str(), item.status_code);
    match outbox.submit(envelope).await {
        Ok(Submitted::Accepted) => {
            events::shipment_status_accepted(order_number, dossier, status, item.id);
            ItemOutcome::Accepted
        }
        Ok(Submitted::Known) => {
            events::shipment_status_known(order_number, dossier, item.id);
            ItemOutcome::Known
        }
        Err(refusal) if refusal.is_transient() => {
            events::shipment_status_deferred(order_number, dossier, &refusal);
            ItemOutcome::Retry(refusal.to_string())
        }
        Err(refusal) => {
            events::shipment_status_refused(order_number, dossier, item.id, &refusal);
            ItemOutcome::Refused(refusal.to_string())
        }
    }
}

/// What one polling round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// New messages the bus accepted.
    pub accepted: usize,
    /// Items the bus knew already.
    pub known: usize,
    /// Items logged and skipped (unknown orders, unreadable items, refused messages).
    pub skipped: usize,
    /// The cursor after the round: the last item settled.
    pub cursor: u64,
    /// Why the round stopped before the end of the feed, if it did; the next round retries.
    pub stopped: Option<String>,
}

/// Reads the feed from the saved cursor to its end, page by page, submitting each item.
pub async fn poll(client: &PostalClient, book: &OrderBook, outbox: &Outbox, page_size: usize) -> Round {
    let mut round = Round::default();
    let start = match book.cursor().await {
        Ok(cursor) => cursor,
        Err(error) => {
            round.stopped = Some(error.to_string());
            return round;
        }
    };
    round.cursor = start;
    loop {
        let page = match client.tracking(round.cursor, page_size).await {
            Ok(page) => page,
            Err(error) => {
                round.stopped = Some(format!("tracking after {}: {error}", round.cursor));
                break;
            }
        };
        let (before, full) = (round.cursor, page.len() >= page_size);
        for raw in &page {
            let Some(id) = mapping::item_id(raw) else {
                // Without an id the item cannot be placed in the feed; later ones move past it.
                events::tracking_item_without_id();
                round.skipped += 1;
                continue;
            };
            if id <= round.cursor {
                // A postal service that repeats itself: read already.
                continue;
            }
            let outcome = submit_item(book, outbox, raw).await;
            match &outcome {
                ItemOutcome::Accepted => round.accepted += 1,
                ItemOutcome::Known => round.known += 1,
                ItemOutcome::UnknownOrder(_) | ItemOutcome::Unreadable(_) | ItemOutcome::Refused(_) => {
                    round.skipped += 1
                }
                ItemOutcome::Retry(reason) => {
                    round.stopped = Some(format!("tracking item {id}: {reason}"));
                    break;
                }
            }
            round.cursor = id;
        }
        if round.cursor != before
            && let Err(error) = book.set_cursor(round.cursor).await
        {
            // The items are in the bus; reading them again next round only finds them known.
            events::cursor_not_saved(&error);
            round.stopped.get_or_insert(error.to_string());
        }
        // A short page is the end of the feed; a page that moved nothing would only come again.
        if round.stopped.is_some() || !full || round.cursor == before {
            break;
        }
    }
    let Round { accepted, known, skipped, cursor, .. } = round;
    match &round.stopped {
        None => events::tracking_round(accepted, known, skipped, start, cursor),
        Some(reason) => events::tracking_round_stopped(accepted, known, skipped, start, cursor, reason),
    }
    round
}
