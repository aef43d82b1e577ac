//! What the adapter remembers across restarts, in its `Memory`: whose each order is (the tracking
//! feed names only the order) and how far the feed has been read.
//!
//! Keys: `order/{orderNumber}` → an [`OrderRecord`] as JSON; `tracking/last_id` → the id of the
//! last tracking item the bus accepted or knew.

use lgsp_bus::Memory;
use lgsp_bus::memory::MemoryError;

use crate::mapping::OrderRecord;

const CURSOR: &str = "tracking/last_id";

/// The adapter's memory, read and written the adapter's way.
#[derive(Clone)]
pub struct OrderBook {
    memory: Memory,
}

/// Why an order could not be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// The order number is booked for another dossier or kind: placing it would confuse the two.
    #[error("order {order_number} already belongs to the {} of dossier {}", .existing.kind.as_str(), .existing.dossier_code)]
    Taken { order_number: String, existing: OrderRecord },
    /// The memory could not be read or written (the store is unreachable, say). Transient.
    #[error("{0}")]
    Memory(#[from] MemoryError),
    /// What the memory holds cannot be read back.
    #[error("the adapter's memory holds {0}")]
    Unreadable(String),
}

impl OrderBook {
    pub fn new(memory: Memory) -> OrderBook {
        OrderBook { memory }
    }

    /// Whose order `order_number` is, if it is one we placed.
    pub async fn order(&self, order_number: &str) -> Result<Option<OrderRecord>, BookError> {
        let Some(text) = self.memory.get(&order_key(order_number)).await.map_err(BookError::from)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| BookError::Unreadable(format!("order {order_number} unreadably: {e}")))
    }

    /// Books `order_number` for `record` before the order is placed, so that no tracking item can
    /// come before the adapter knows whose order it is. Booking it again for the same dossier and
    /// kind (a retry) keeps the first record, so that every status of the order stays the same
    /// message however often it is read.
    pub async fn book(&self, order_number: &str, record: &OrderRecord) -> Result<(), BookError> {
        if let Some(existing) = self.order(order_number).await? {
            if existing.dossier_code == record.dossier_code && existing.kind == record.kind {
                return Ok(());
            }
            return Err(BookError::Taken { order_number: order_number.to_string(), existing });
        }
        let text = serde_json::to_string(record).expect("a record serialises");
        self.memory.set(&order_key(order_number), &text).await.map_err(BookError::from)
    }

    /// The id of the last tracking item read; 0 before the first.
    pub async fn cursor(&self) -> Result<u64, BookError> {
        match self.memory.get(CURSOR).await.map_err(BookError::from)? {
            None => Ok(0),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| BookError::Unreadable(format!("a tracking cursor `{text}` that is not a number"))),
        }
    }

    pub async fn set_cursor(&self, last_id: u64) -> Result<(), BookError> {
        self.memory.set(CURSOR, &last_id.to_string()).await.map_err(BookError::from)
    }
}

fn order_key(order_number: &str) -> String {
    format!("order/{order_number}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Kind;

    fn record(dossier: &str, kind: Kind, request: &str) -> OrderRecord {
        OrderRecord {
            dossier_code: dossier.into(),
            kind,
            agency_code: Some("000.00.01.H42".into()),
            request_id: Some(request.into()),
        }
    }

    #[tokio::test]
    async fn an_order_is_booked_once_and_kept() {
        let book = OrderBook::new(Memory::in_memory("postal"));
        assert_eq!(book.order("PU-0001").await, Ok(None));
        let first = record("000.00.01.H42-261120-0003", Kind::Pickup, "first");
        book.book("PU-0001", &first).await.unwrap();
        // A retry with another message id keeps the first record.
        book.book("PU-0001", &record("000.00.01.H42-261120-0003", Kind::Pickup, "second")).await.unwrap();
        assert_eq!(book.order("PU-0001").await, Ok(Some(first.clone())));

        let other = book.book("PU-0001", &record("000.00.01.H42-261120-0004", Kind::Pickup, "x")).await.unwrap_err();
        assert_eq!(
            other.to_string(),
            "order PU-0001 already belongs to the pickup of dossier 000.00.01.H42-261120-0003"
        );
        let kind = book.book("PU-0001", &record("000.00.01.H42-261120-0003", Kind::Delivery, "x")).await;
        assert!(matches!(kind, Err(BookError::Taken { .. })));
    }

    #[tokio::test]
    async fn the_cursor_starts_at_zero_and_is_kept() {
        let memory = Memory::in_memory("postal");
        let book = OrderBook::new(memory.clone());
        assert_eq!(book.cursor().await, Ok(0));
        book.set_cursor(42).await.unwrap();
        assert_eq!(OrderBook::new(memory.clone()).cursor().await, Ok(42));
        memory.set(CURSOR, "forty-two").await.unwrap();
        assert!(matches!(book.cursor().await, Err(BookError::Unreadable(_))));
    }
}
