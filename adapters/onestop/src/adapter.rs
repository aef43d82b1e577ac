//! The `onestop` adapter: hands each message for its agencies to their one-stop system, one
//! call per message, with the bus's annotations beside the envelope.

use async_trait::async_trait;
use lgsp_bus::{Adapter, Delivery, Failure, Outcome};

use crate::client::{Answer, ClientError, OnestopClient};
use crate::config::OnestopConfig;
use crate::events;
use crate::mapping::{self, Carries};

pub struct OnestopAdapter {
    /// The adapter's id (`onestop_sotuphap`), for logs: several systems are configured at once.
    id: String,
    client: OnestopClient,
    routes: Vec<String>,
}

impl OnestopAdapter {
    pub fn new(id: &str, config: &OnestopConfig) -> Result<OnestopAdapter, ClientError> {
        Ok(OnestopAdapter {
            id: id.to_string(),
            client: OnestopClient::new(config)?,
            routes: mapping::routes(&config.agencies),
        })
    }

    async fn deliver_one(&self, delivery: &Delivery) -> Outcome {
        let envelope = &delivery.envelope;
        let (id, message_type, dossier) = (envelope.id.to_string(), envelope.message_type.as_str(), &envelope.subject);
        // A stale state would overwrite newer state at the system; an event still goes, since
        // it carries its own time.
        if delivery.stale && mapping::carries(message_type) == Carries::State {
            events::superseded(&self.id, &id, message_type, dossier);
            return Outcome::Superseded;
        }
        let body = mapping::request_body(envelope, &delivery.annotations);
        match self.client.send(&id, &body).await {
            Ok(answer) => {
                delivery.answered(answer.text());
                let repeated = matches!(answer, Answer::AlreadyReceived { .. });
                events::delivered(&self.id, &id, message_type, dossier, repeated);
                Outcome::Delivered
            }
            Err(error) => {
                events::delivery_failed(&self.id, &id, message_type, dossier, &error);
                let reason = if error.is_transient() {
                    format!("{message_type} of {dossier} not delivered: {error}")
                } else {
                    format!("one-stop system refused {message_type} of {dossier}: {error}")
                };
                let mut failure = Failure::new(reason).with_code(error.code());
                if let Some(answer) = error.peer_answer() {
                    failure = failure.with_answer(answer);
                }
                if error.is_transient() { Outcome::Transient(failure) } else { Outcome::Permanent(failure) }
            }
        }
    }
}

#[async_trait]
impl Adapter for OnestopAdapter {
    fn routes(&self) -> Vec<String> {
        self.routes.clone()
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        // In order: one subject's messages must reach the system in the order they came.
        for delivery in batch {
            outcomes.push(self.deliver_one(delivery).await);
        }
        outcomes
    }
}
