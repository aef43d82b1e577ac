//! The requesting side of request/reply: RabbitMQ's direct reply-to.
//!
//! One channel consumes the `amq.rabbitmq.reply-to` pseudo-queue and publishes every request
//! with it as `reply_to`, so replies come straight back to this connection without a queue of
//! their own; a correlation id pairs each reply with its waiting caller. A request carries its
//! timeout as its expiration, so a request nobody took in time is dropped, not answered late.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

/// The wire format of request/reply, both ways.
/// A request, as it travels to the adapter.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub request_id: String,
    pub service: String,
    pub member: String,
    pub body: Value,
}

/// The answer, as it travels back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Reply(Value),
    Refused {
        reason: String,
        peer_answer: Option<String>,
    },
    Unavailable {
        reason: String,
        peer_answer: Option<String>,
    },
    /// The peer's circuit breaker is open: not called; worth asking again in `retry_in_secs`.
    Paused {
        reason: String,
        retry_in_secs: u64,
    },
}

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the broker is unreachable: {0}")]
    Unavailable(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
}

pub(crate) struct Requester {
    channel: Channel,
    pending: Pending,
}

impl Requester {
    pub(crate) async fn open(connection: &Connection) -> Result<Requester, lapin::Error> {
        let channel = connection.create_channel().await?;
        let no_ack = BasicConsumeOptions { no_ack: true, ..Default::default() };
        let replies =
            channel.basic_consume(REPLY_TO.into(), "lgsp-replies".into(), no_ack, FieldTable::default()).await?;
        let pending = Pending::default();
        tokio::spawn(dispatch(replies, pending.clone()));
        Ok(Requester { channel, pending })
    }

    pub(crate) async fn request(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let correlation = uuid::Uuid::new_v4().to_string();
        let (sender, reply) = oneshot::channel();
        self.pending.lock().expect("pending replies").insert(correlation.clone(), sender);
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_reply_to(REPLY_TO.into())
            .with_correlation_id(correlation.as_str().into())
            .with_expiration(timeout.as_millis().max(1).to_string().into());
        let published = self
            .channel
            .basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), body, properties)
            .await;
        if let Err(e) = published {
            self.pending.lock().expect("pending replies").remove(&correlation);
            return Err(RequestError::Unavailable(e.to_string()));
        }
        match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(RequestError::Unavailable("the connection was lost before the reply".into())),
            Err(_) => {
                self.pending.lock().expect("pending replies").remove(&correlation);
                Err(RequestError::Timeout(timeout))
            }
        }
    }
}

async fn dispatch(mut replies: lapin::Consumer, pending: Pending) {
    while let Some(Ok(reply)) = replies.next().await {
        let Some(correlation) = reply.properties.correlation_id() else { continue };
        // A reply whose caller gave up (timed out) has nobody waiting: dropped.
        if let Some(waiting) = pending.lock().expect("pending replies").remove(correlation.as_str()) {
            let _ = waiting.send(reply.data);
        }
    }
    // The channel is gone: every caller still waiting learns it now rather than at its timeout.
    pending.lock().expect("pending replies").clear();
}
