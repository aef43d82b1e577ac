//! A TCP front between a bus and its broker whose connections a test can cut: to the bus, the
//! broker went away and came back, while the broker (and what it holds) stays as it was.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// Relays every connection to the broker; [`BrokerFront::cut`] drops them all at once.
pub struct BrokerFront {
    url: String,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl BrokerFront {
    /// A front for the broker at `amqp_url`, listening on a loopback port of its own.
    pub async fn start(amqp_url: &str) -> BrokerFront {
        let broker = url::Url::parse(amqp_url).expect("an amqp url");
        let broker_at = format!("{}:{}", broker.host_str().unwrap_or("127.0.0.1"), broker.port().unwrap_or(5672));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let mut through = broker.clone();
        through.set_port(Some(listener.local_addr().expect("bound").port())).expect("a port");
        let relays: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let registry = relays.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let broker_at = broker_at.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(broker_at).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut relays = crate::simulator::lock(&registry);
                relays.retain(|relay| !relay.is_finished());
                relays.push(relay.abort_handle());
            }
        })
        .abort_handle();
        BrokerFront { url: through.to_string(), relays, accepting }
    }

    /// The URL to give the bus instead of the broker's.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops every connection through the front; new ones are relayed again.
    pub fn cut(&self) {
        for relay in crate::simulator::lock(&self.relays).drain(..) {
            relay.abort();
        }
    }
}

impl Drop for BrokerFront {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}
