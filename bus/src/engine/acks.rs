//! Acks and requeues of one consumer channel, in delivery-tag order.

use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use tokio::sync::mpsc;

use crate::events;

/// Settles deliveries of one channel. Lanes finish out of order; one task acks the contiguous
/// run of settled delivery tags with `multiple`, so the broker gets one ack per run rather than
/// one per message, and never an ack below one it already had.
#[derive(Clone)]
pub(super) struct Settler(mpsc::UnboundedSender<Settle>);

enum Settle {
    Ack(u64),
    Requeue(u64),
}

impl Settler {
    pub(super) fn start(adapter: &str, channel: lapin::Channel) -> (Settler, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Settler(sender), tokio::spawn(acknowledge(adapter.to_string(), channel, receiver)))
    }

    pub(super) fn ack(&self, amqp: &AmqpDelivery) {
        let _ = self.0.send(Settle::Ack(amqp.delivery_tag));
    }

    pub(super) fn requeue(&self, amqp: &AmqpDelivery) {
        let _ = self.0.send(Settle::Requeue(amqp.delivery_tag));
    }
}

async fn acknowledge(adapter: String, channel: lapin::Channel, mut settles: mpsc::UnboundedReceiver<Settle>) {
    // Delivery tags on a channel count from 1.
    let mut next = 1u64;
    let mut settled = std::collections::BTreeSet::new();
    let mut batch = Vec::new();
    while settles.recv_many(&mut batch, 4096).await > 0 {
        for settle in batch.drain(..) {
            match settle {
                Settle::Ack(tag) => {
                    settled.insert(tag);
                }
                Settle::Requeue(tag) => {
                    let requeue = BasicNackOptions { multiple: false, requeue: true };
                    if let Err(e) = channel.basic_nack(tag, requeue).await {
                        events::settle_failed(&adapter, "requeue", &e);
                    }
                    settled.insert(tag);
                }
            }
        }
        let start = next;
        while settled.remove(&next) {
            next += 1;
        }
        if next > start {
            // A failed ack means the channel is gone: the broker redelivers, the store dedups.
            if let Err(e) = channel.basic_ack(next - 1, BasicAckOptions { multiple: true }).await {
                events::settle_failed(&adapter, "ack", &e);
            }
        }
    }
}
