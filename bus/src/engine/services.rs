//! The serving side of request/reply: an adapter's requests queue, answered by the adapter.
//!
//! Requests are acked once answered; a bounded prefetch is the adapter's concurrency. A reply
//! is the adapter's answer or why there is none; the caller (the HTTP API) checks it against
//! the service's reply schema before passing it on.

use std::sync::Arc;

use futures::StreamExt;
use lapin::options::BasicAckOptions;

use super::guard::Now;
use super::{ConsumerError, Context};
use crate::adapter::{Failure, ServiceError, ServiceRequest};
use crate::events;
use crate::transport::{Link, Reply, Request};

/// Answers the adapter's requests on one link (see `on_each_link`).
pub(super) async fn serve(ctx: Arc<Context>, link: Link) -> Result<(), ConsumerError> {
    let adapter = ctx.runtime.id.as_str();
    let concurrency = ctx.runtime.requests.concurrency;
    let queue = ctx.broker.names().request_queue(adapter);
    let tag = format!("lgsp-{adapter}-requests-{}", link.generation);
    // The channel lives as long as its consumer: dropping both closes it.
    let (_channel, mut requests) = link.subscribe(&queue, concurrency, &tag).await?;
    events::answering_requests(adapter, &ctx.runtime.services, concurrency);
    loop {
        let delivery = tokio::select! {
            next = requests.next() => match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ConsumerError::Ended),
            },
            _ = ctx.shutdown.cancelled() => return Ok(()),
        };
        tokio::spawn(answer(ctx.clone(), delivery));
    }
}

async fn answer(ctx: Arc<Context>, delivery: lapin::message::Delivery) {
    let properties = &delivery.properties;
    let (Some(reply_to), Some(correlation)) = (properties.reply_to(), properties.correlation_id()) else {
        events::request_unanswerable(&ctx.runtime.id);
        let _ = delivery.acker.ack(BasicAckOptions::default()).await;
        return;
    };
    let reply = match serde_json::from_slice::<Request>(&delivery.data) {
        Err(e) => Reply::Unavailable { reason: format!("unreadable request: {e}"), peer_answer: None },
        Ok(request) => {
            let request = ServiceRequest {
                request_id: request.request_id,
                service: request.service,
                member: request.member,
                body: request.body,
            };
            let timeout = ctx.runtime.requests.timeout;
            let call = async {
                let pass = match ctx.runtime.guard.now().await {
                    Now::Go(pass) => pass,
                    Now::Open { retry_in } => {
                        let reason = format!(
                            "its peer is failing, so the bus is not calling it for {:.1} s (circuit breaker open)",
                            retry_in.as_secs_f64()
                        );
                        return Reply::Paused { reason, retry_in_secs: retry_in.as_secs().max(1) };
                    }
                };
                let reply = match ctx.runtime.adapter.call(&request).await {
                    Ok(reply) => Reply::Reply(reply),
                    Err(ServiceError::Refused(failure)) => refused(failure),
                    Err(ServiceError::Unavailable(failure)) => unavailable(failure),
                };
                pass.finish(matches!(reply, Reply::Unavailable { .. }));
                reply
            };
            match tokio::time::timeout(timeout, call).await {
                Ok(reply) => reply,
                Err(_) => unavailable(Failure::new(format!("the adapter did not answer within {timeout:?}"))),
            }
        }
    };
    let body = serde_json::to_vec(&reply).expect("a reply always serialises");
    if let Err(e) = ctx.broker.reply(reply_to.as_str(), correlation.as_str(), &body).await {
        events::reply_not_sent(&ctx.runtime.id, &e);
    }
    let _ = delivery.acker.ack(BasicAckOptions::default()).await;
}

fn refused(failure: Failure) -> Reply {
    Reply::Refused { reason: failure.reason, peer_answer: failure.peer_answer }
}

fn unavailable(failure: Failure) -> Reply {
    Reply::Unavailable { reason: failure.reason, peer_answer: failure.peer_answer }
}
