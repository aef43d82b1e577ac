//! RabbitMQ: connections that come back by themselves, the topology, and confirmed publishes.
//!
//! Publishing and consuming use separate connections, so that the broker's flow control on
//! publishers never holds back consumers' acks. A supervisor task connects, declares the
//! topology, hands out the live [`Link`], and when either connection dies, withdraws it and
//! reconnects with backoff; `None` in the meantime is what makes ingress answer 503.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::AmqpConfig;
use crate::events;

pub mod headers;
mod rpc;
use rpc::Requester;
pub use rpc::{Reply, Request, RequestError};

/// Names of exchanges and queues, all under the configured namespace (`lgsp` by default).
#[derive(Debug, Clone)]
pub struct Names {
    namespace: String,
}

impl Names {
    pub fn new(namespace: &str) -> Self {
        Self { namespace: namespace.to_string() }
    }

    /// The topic exchange every message is published to.
    pub fn exchange(&self) -> String {
        format!("{}.events", self.namespace)
    }

    /// The adapter's queue.
    pub fn queue(&self, adapter: &str) -> String {
        format!("{}.{adapter}", self.namespace)
    }

    /// The headers exchange retries are published to: it routes a copy to its tier's queue by
    /// the `lgsp-retry-tier` header, keeping the routing key (the adapter's queue) for its way
    /// back.
    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.namespace)
    }

    /// A retry tier, shared by every adapter and named by its delay: changing the tiers in config
    /// creates new queues rather than clashing with the old ones' arguments (old tiers drain back
    /// by themselves).
    pub fn retry_queue(&self, delay: Duration) -> String {
        format!("{}.retry.{}", self.namespace, tier_name(delay))
    }

    /// The direct exchange requests are published to, with the service as routing key.
    pub fn services_exchange(&self) -> String {
        format!("{}.services", self.namespace)
    }

    /// Where an adapter's requests wait (bound once per service it answers).
    pub fn request_queue(&self, adapter: &str) -> String {
        format!("{}.{adapter}.requests", self.namespace)
    }
}

/// A retry tier's name, as its queue and the `lgsp-retry-tier` header spell it: `30s`.
pub fn tier_name(delay: Duration) -> String {
    humantime::format_duration(delay).to_string()
}

/// What one adapter needs declared.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub adapter: String,
    pub routes: Vec<String>,
    pub retry_tiers: Vec<Duration>,
    /// Request/reply services it answers.
    pub services: Vec<String>,
}

/// Live connections to the broker.
#[derive(Clone)]
pub struct Link {
    /// For consumers (each opens its own channel).
    consuming: Arc<Connection>,
    publisher: Channel,
    requester: Arc<Requester>,
    /// Increases with each reconnection.
    pub generation: u64,
    /// `amqp.connect_timeout`, which also bounds opening a consumer.
    setup_timeout: Duration,
}

impl Link {
    /// A channel of its own on the consuming connection, for a one-off task (emptying a queue).
    pub async fn channel(&self) -> Result<lapin::Channel, lapin::Error> {
        within(self.setup_timeout, self.consuming.create_channel()).await
    }

    /// Opens a channel of its own and consumes `queue`, at most `prefetch` unacked. Dropping the
    /// last handle of the channel closes it (closing it explicitly as well makes lapin log a
    /// spurious connection error); what was not acked then returns to the queue.
    pub async fn subscribe(
        &self,
        queue: &str,
        prefetch: u16,
        tag: &str,
    ) -> Result<(lapin::Channel, lapin::Consumer), lapin::Error> {
        let open = async {
            let channel = self.consuming.create_channel().await?;
            channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
            let options = BasicConsumeOptions::default();
            let consumer = channel.basic_consume(queue.into(), tag.into(), options, FieldTable::default()).await?;
            Ok((channel, consumer))
        };
        within(self.setup_timeout, open).await
    }
}

/// An adapter's queue as the broker counts it.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct QueueDepth {
    /// Waiting to be delivered, and delivered but not yet acked.
    pub messages: u32,
    pub consumers: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker is unreachable: {0}")]
    Unavailable(String),
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("the broker refused the message")]
    Refused,
    #[error("no queue is bound for routing key `{0}`")]
    Unroutable(String),
}

/// Where a message is published to.
pub enum Target<'a> {
    /// The topic exchange, with this routing key.
    Exchange(&'a str),
    /// One queue directly (through the default exchange).
    Queue(&'a str),
    /// A retry tier (the `lgsp-retry-tier` header names it), back to this queue when it
    /// expires.
    Retry(&'a str),
}

/// What the broker must have declared, read at every connection: the adapters change while the
/// bus runs.
pub type Topology = Arc<dyn Fn() -> Vec<Subscription> + Send + Sync>;

#[derive(Clone)]
pub struct Broker {
    config: Arc<AmqpConfig>,
    names: Names,
    link: watch::Receiver<Option<Link>>,
}

impl Broker {
    /// Starts the supervisor; the first connection is made in the background, so the bus starts
    /// (and reports not-ready) while the broker is down. The task ends, connections closed, after
    /// `shutdown`.
    pub fn start(
        config: AmqpConfig,
        topology: Topology,
        shutdown: CancellationToken,
    ) -> (Broker, tokio::task::JoinHandle<()>) {
        let names = Names::new(&config.namespace);
        let (sender, link) = watch::channel(None);
        let broker = Broker { config: Arc::new(config), names, link };
        let supervisor = tokio::spawn(broker.clone().supervise(sender, topology, shutdown));
        (broker, supervisor)
    }

    /// The live link, if connected now.
    pub fn link(&self) -> Option<Link> {
        self.link.borrow().clone()
    }

    /// Declares one adapter's queue, bindings and retry tiers on the live link (an adapter added
    /// while the bus runs; the next connection declares it with the others).
    pub async fn declare(&self, subscription: &Subscription) -> Result<(), lapin::Error> {
        let link = self.link().ok_or_else(not_connected)?;
        within(self.config.connect_timeout, declare(&link.publisher, &self.names, std::slice::from_ref(subscription)))
            .await
    }

    /// Removes one adapter's bindings: nothing more is routed to its queues.
    pub async fn unbind(&self, subscription: &Subscription) -> Result<(), lapin::Error> {
        let link = self.link().ok_or_else(not_connected)?;
        let names = &self.names;
        let unbind = async {
            let queue = names.queue(&subscription.adapter);
            for route in &subscription.routes {
                let (exchange, args) = (names.exchange(), FieldTable::default());
                link.publisher
                    .queue_unbind(queue.as_str().into(), exchange.into(), route.as_str().into(), args)
                    .await?;
            }
            let requests = names.request_queue(&subscription.adapter);
            for service in &subscription.services {
                let (exchange, args) = (names.services_exchange(), FieldTable::default());
                link.publisher
                    .queue_unbind(requests.as_str().into(), exchange.into(), service.as_str().into(), args)
                    .await?;
            }
            Ok(())
        };
        within(self.config.connect_timeout, unbind).await
    }

    /// Deletes one adapter's queues (the shared retry tiers stay).
    pub async fn delete(&self, subscription: &Subscription) -> Result<(), lapin::Error> {
        let link = self.link().ok_or_else(not_connected)?;
        let delete = async {
            for queue in [self.names.queue(&subscription.adapter), self.names.request_queue(&subscription.adapter)] {
                link.publisher.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
            }
            Ok(())
        };
        within(self.config.connect_timeout, delete).await
    }

    /// How many messages wait in each of these adapters' queues (ready and unacked), and how
    /// many consumers each has; an adapter without a queue is left out. One channel of its own,
    /// opened again when the broker closes it over a queue it does not have.
    pub async fn queue_depths(&self, adapters: &[&str]) -> Result<HashMap<String, QueueDepth>, lapin::Error> {
        let link = self.link().ok_or_else(not_connected)?;
        let passive = QueueDeclareOptions { passive: true, ..Default::default() };
        let count = async {
            let mut depths = HashMap::new();
            let mut channel = link.channel().await?;
            for adapter in adapters {
                let queue = self.names.queue(adapter);
                match channel.queue_declare(queue.as_str().into(), passive, FieldTable::default()).await {
                    Ok(q) => {
                        let depth = QueueDepth { messages: q.message_count(), consumers: q.consumer_count() };
                        depths.insert(adapter.to_string(), depth);
                    }
                    // The broker closed the channel over it (it has no such queue now).
                    Err(_) => channel = link.channel().await?,
                }
            }
            Ok(depths)
        };
        within(self.config.connect_timeout, count).await
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Whether the broker is connected now.
    pub fn is_connected(&self) -> bool {
        self.link.borrow().is_some()
    }

    /// Waits until the broker is connected (`true`) or not (`false`).
    pub async fn wait_connected(&self, connected: bool) {
        let mut link = self.link.clone();
        let _ = link.wait_for(|l| l.is_some() == connected).await;
    }

    /// The live link, waiting for one; `None` once shutting down.
    pub async fn wait_link(&self, shutdown: &CancellationToken) -> Option<Link> {
        let mut link = self.link.clone();
        tokio::select! {
            found = link.wait_for(Option::is_some) => found.ok().and_then(|l| l.clone()),
            _ = shutdown.cancelled() => None,
        }
    }

    /// Waits until the link of `generation` is gone (or shutdown).
    pub async fn wait_link_lost(&self, generation: u64, shutdown: &CancellationToken) {
        let mut link = self.link.clone();
        tokio::select! {
            _ = link.wait_for(|l| l.as_ref().is_none_or(|l| l.generation != generation)) => {}
            _ = shutdown.cancelled() => {}
        }
    }

    /// Publishes a persistent message and waits for the broker's confirm. Many publishes may
    /// wait at once: confirms are pipelined on the channel, never one round trip per message.
    pub async fn publish(
        &self,
        target: Target<'_>,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let Some(link) = self.link.borrow().clone() else {
            return Err(PublishError::Unavailable("not connected".into()));
        };
        let (exchange, routing_key) = match target {
            Target::Exchange(key) => (self.names.exchange(), key),
            Target::Queue(queue) => (String::new(), queue),
            Target::Retry(queue) => (self.names.retry_exchange(), queue),
        };
        let options = BasicPublishOptions { mandatory: true, ..Default::default() };
        let properties = properties.with_delivery_mode(2);
        let confirm = async {
            link.publisher
                .basic_publish(exchange.as_str().into(), routing_key.into(), options, body, properties)
                .await?
                .await
        };
        match tokio::time::timeout(self.config.confirm_timeout, confirm).await {
            Err(_) => Err(PublishError::Timeout(self.config.confirm_timeout)),
            Ok(Err(e)) => Err(PublishError::Unavailable(e.to_string())),
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable(routing_key.to_string())),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Refused),
            Ok(Ok(Confirmation::NotRequested)) => unreachable!("confirms are selected on the publisher channel"),
        }
    }

    /// Sends a request to whichever adapter answers `service` and waits for its reply.
    pub async fn request(&self, service: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>, RequestError> {
        let Some(link) = self.link.borrow().clone() else {
            return Err(RequestError::Unavailable("not connected".into()));
        };
        link.requester.request(&self.names.services_exchange(), service, body, timeout).await
    }

    /// Sends a reply to a request's `reply_to`. Not confirmed: a reply that is lost is a timeout
    /// for the caller, which a confirm could not prevent.
    pub async fn reply(&self, reply_to: &str, correlation_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let Some(link) = self.link.borrow().clone() else {
            return Err(PublishError::Unavailable("not connected".into()));
        };
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_correlation_id(correlation_id.into());
        link.publisher
            .basic_publish("".into(), reply_to.into(), BasicPublishOptions::default(), body, properties)
            .await
            .map(drop)
            .map_err(|e| PublishError::Unavailable(e.to_string()))
    }

    async fn supervise(self, sender: watch::Sender<Option<Link>>, topology: Topology, shutdown: CancellationToken) {
        let generation = AtomicU64::new(0);
        let mut backoff = Duration::from_millis(100);
        loop {
            let subscriptions = topology();
            let attempt = tokio::select! {
                attempt = self.connect(&subscriptions, generation.fetch_add(1, Ordering::Relaxed) + 1) => attempt,
                _ = shutdown.cancelled() => return,
            };
            match attempt {
                Ok((link, publishing)) => {
                    events::broker_connected(link.generation);
                    backoff = Duration::from_millis(100);
                    let consuming = link.consuming.clone();
                    sender.send_replace(Some(link));
                    let reason = tokio::select! {
                        reason = lost(&publishing, &consuming) => reason,
                        _ = shutdown.cancelled() => {
                            // Consumers have stopped by now (they hold the drain). The connections
                            // close before the link's channels are dropped: a channel dropped on a
                            // live connection closes itself, racing the connection's own close.
                            close(&publishing, 200, "lgsp stopping").await;
                            close(&consuming, 200, "lgsp stopping").await;
                            sender.send_replace(None);
                            return;
                        }
                    };
                    sender.send_replace(None);
                    events::broker_lost(&reason);
                    close(&publishing, 320, "lgsp reconnecting").await;
                    close(&consuming, 320, "lgsp reconnecting").await;
                }
                Err(e) => {
                    events::broker_unreachable(&e, backoff);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(self.config.reconnect_max);
        }
    }

    async fn connect(
        &self,
        subscriptions: &[Subscription],
        generation: u64,
    ) -> Result<(Link, Connection), lapin::Error> {
        let url = self.config.connect_url();
        let properties =
            |role: &str| ConnectionProperties::default().with_connection_name(format!("lgsp-{role}").into());
        let timeout = self.config.connect_timeout;
        let publishing = within(timeout, Connection::connect(url.as_str(), properties("publisher"))).await?;
        let setup = within(timeout, async {
            let consuming = Connection::connect(url.as_str(), properties("consumer")).await?;
            let publisher = publishing.create_channel().await?;
            declare(&publisher, &self.names, subscriptions).await?;
            publisher.confirm_select(ConfirmSelectOptions::default()).await?;
            let requester = Arc::new(Requester::open(&publishing).await?);
            Ok(Link { consuming: Arc::new(consuming), publisher, requester, generation, setup_timeout: timeout })
        });
        match setup.await {
            Ok(link) => Ok((link, publishing)),
            Err(e) => {
                close(&publishing, 320, "lgsp setup failed").await;
                Err(e)
            }
        }
    }
}

fn not_connected() -> lapin::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "the broker is not connected").into()
}

/// A step of connecting that the broker may never answer, bounded by `amqp.connect_timeout`.
async fn within<T>(timeout: Duration, step: impl Future<Output = Result<T, lapin::Error>>) -> Result<T, lapin::Error> {
    match tokio::time::timeout(timeout, step).await {
        Ok(result) => result,
        Err(_) => {
            let late = std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {timeout:?}"));
            Err(late.into())
        }
    }
}

/// Closes a connection, waiting at most a second: on a connection that is already lost, the
/// broker's answer may never come, and reconnecting must not wait for it.
async fn close(connection: &Connection, code: u16, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(1), connection.close(code, reason.into())).await;
}

/// Resolves when either connection stops being usable.
async fn lost(publishing: &Connection, consuming: &Connection) -> String {
    let mut events = futures::stream::select(publishing.events_listener(), consuming.events_listener());
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(lapin::Event::Error(e)) => return e.to_string(),
                Some(_) => {}
                None => return "connection closed".into(),
            },
            _ = check.tick() => {
                if !publishing.status().connected() || !consuming.status().connected() {
                    return "connection closed".into();
                }
            }
        }
    }
}

/// Declares the exchanges, the retry tiers every adapter shares and, per adapter, its queue and
/// bindings: one quorum queue (one Raft group) per adapter, so a broker node carries hundreds of
/// adapters. Dead letters go straight to the store's archive, not through a queue. Declaring is
/// idempotent: every start (and reconnection) makes sure all of it exists.
async fn declare(channel: &Channel, names: &Names, subscriptions: &[Subscription]) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel.exchange_declare(names.exchange().into(), ExchangeKind::Topic, durable, FieldTable::default()).await?;
    let services = names.services_exchange();
    channel.exchange_declare(services.into(), ExchangeKind::Direct, durable, FieldTable::default()).await?;
    let retry = names.retry_exchange();
    channel.exchange_declare(retry.as_str().into(), ExchangeKind::Headers, durable, FieldTable::default()).await?;
    let mut tiers: Vec<Duration> = subscriptions.iter().flat_map(|sub| sub.retry_tiers.iter().copied()).collect();
    tiers.sort();
    tiers.dedup();
    for delay in tiers {
        // Copies wait out the tier's TTL (or their own, shorter, expiration), then are
        // dead-lettered through the default exchange by their routing key: their adapter's
        // queue. At-least-once dead-lettering keeps them safe across a broker crash.
        let queue = names.retry_queue(delay);
        let mut args = FieldTable::default();
        args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(delay.as_millis() as i64));
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
        args.insert("x-dead-letter-strategy".into(), AMQPValue::LongString("at-least-once".into()));
        args.insert("x-overflow".into(), AMQPValue::LongString("reject-publish".into()));
        declare_quorum(channel, &queue, args).await?;
        let mut binding = FieldTable::default();
        binding.insert("x-match".into(), AMQPValue::LongString("all".into()));
        binding.insert(headers::RETRY_TIER.into(), AMQPValue::LongString(tier_name(delay).into()));
        let bind = QueueBindOptions::default();
        channel.queue_bind(queue.as_str().into(), retry.as_str().into(), "".into(), bind, binding).await?;
    }
    for sub in subscriptions.iter().filter(|sub| !sub.routes.is_empty()) {
        let queue = names.queue(&sub.adapter);
        declare_quorum(channel, &queue, FieldTable::default()).await?;
        for route in &sub.routes {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    names.exchange().into(),
                    route.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    for sub in subscriptions {
        if !sub.services.is_empty() {
            // Requests are worth nothing after their caller's timeout: a classic queue of
            // transient messages, each expiring with its timeout.
            let queue = names.request_queue(&sub.adapter);
            let options = QueueDeclareOptions { durable: true, ..Default::default() };
            channel.queue_declare(queue.as_str().into(), options, FieldTable::default()).await?;
            for service in &sub.services {
                let bind = QueueBindOptions::default();
                let exchange = names.services_exchange();
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        exchange.into(),
                        service.as_str().into(),
                        bind,
                        FieldTable::default(),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

async fn declare_quorum(channel: &Channel, queue: &str, mut args: FieldTable) -> Result<(), lapin::Error> {
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    let options = QueueDeclareOptions { durable: true, ..Default::default() };
    channel.queue_declare(queue.into(), options, args).await?;
    Ok(())
}
