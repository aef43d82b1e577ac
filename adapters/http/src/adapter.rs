//! The `http` adapter: each message becomes one call to the agency's service (the envelope, or
//! what the mapping makes of it), and each request to one of its services one call too.
//!
//! A message's `Idempotency-Key` is its envelope id, so a retry (after a timeout, say, when the
//! service may have taken it) is the same call again, which the service can recognise. The
//! adapter cannot ask a generic service what it holds, so it never skips a retry.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use lgsp_bus::privacy::redact;
use lgsp_bus::{Adapter, Delivery, Failure, Outcome, ServiceError, ServiceRequest};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::client::{AnswerCode, CallError, ClientError, HttpClient, Verdict, read_answer_code, verdict};
use crate::config::{HttpConfig, Method};
use crate::events;
use crate::mapping::Mapping;

/// The headers every call carries beside `Content-Type`, `Accept` and the auth.
pub mod headers {
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    pub const MESSAGE_ID: &str = "x-lgsp-message-id";
    pub const MESSAGE_TYPE: &str = "x-lgsp-message-type";
    pub const REQUEST_ID: &str = "x-lgsp-request-id";
    pub const MEMBER: &str = "x-lgsp-member";
    pub const SERVICE: &str = "x-lgsp-service";
}

pub struct HttpAdapter {
    id: String,
    client: HttpClient,
    mapping: Option<Mapping>,
    method: Method,
    delivery_url: Url,
    /// Where the code of a 2xx answer is, and the codes that mean "taken".
    answer: Option<(String, Vec<String>)>,
    services: BTreeMap<String, Url>,
}

impl HttpAdapter {
    /// The adapter `id` for `config` (checked already).
    pub fn new(id: &str, config: &HttpConfig) -> Result<HttpAdapter, ClientError> {
        let mapping = match &config.mapping {
            Some(template) => Some(Mapping::compile(template).map_err(|error| {
                ClientError::Setting(lgsp_bus::ConfigProblem::new("mapping", format!("does not compile: {error}")))
            })?),
            None => None,
        };
        let services =
            config.services.keys().filter_map(|name| Some((name.clone(), config.service_url(name)?))).collect();
        Ok(HttpAdapter {
            id: id.to_string(),
            client: HttpClient::new(id, config)?,
            mapping,
            method: config.method,
            delivery_url: config.delivery_url(),
            answer: config.answer_code.clone().map(|pointer| (pointer, config.success_codes())),
            services,
        })
    }

    /// The body a delivery sends: the mapping's JSON, or the envelope as it is.
    pub fn body(&self, delivery: &Delivery) -> Result<Vec<u8>, crate::mapping::MappingError> {
        let envelope = &*delivery.envelope;
        let Some(mapping) = &self.mapping else {
            return Ok(serde_json::to_vec(envelope).expect("an envelope always serialises"));
        };
        let envelope = serde_json::to_value(envelope).expect("an envelope always serialises");
        let body = mapping.render(&envelope, &delivery.annotations)?;
        Ok(serde_json::to_vec(&body).expect("a JSON value always serialises"))
    }

    async fn deliver_one(&self, delivery: &Delivery) -> Outcome {
        let envelope = &delivery.envelope;
        let (id, message_type) = (envelope.id.to_string(), envelope.message_type.as_str());
        // A stale state would overwrite newer state at the service.
        if delivery.stale {
            events::superseded(&self.id, &id, message_type);
            return Outcome::Superseded;
        }
        let body = match self.body(delivery) {
            Ok(body) => body,
            Err(error) => {
                let reason = redact(&format!("message {id} ({message_type}): the mapping failed: {error}"));
                events::mapping_failed(&self.id, &id, message_type, &reason);
                return Outcome::Permanent(Failure::new(reason).with_code("mapping"));
            }
        };
        let mut headers = json_headers();
        insert(&mut headers, headers::IDEMPOTENCY_KEY, &id);
        insert(&mut headers, headers::MESSAGE_ID, &id);
        insert(&mut headers, headers::MESSAGE_TYPE, message_type);
        let what = format!("message {id} ({message_type})");
        let answer =
            match self.client.call(self.method.as_reqwest(), &self.delivery_url, headers, Bytes::from(body)).await {
                Ok(answer) => answer,
                Err(error) => {
                    let failure = call_failure(&what, &error);
                    events::delivery_failed(&self.id, &id, message_type, &error.code(), &failure.reason);
                    return Outcome::Transient(failure);
                }
            };
        let status = answer.status;
        let refused = |code: String, reason: String| {
            let failure = Failure::new(redact(&reason)).with_code(code).with_answer(answer.as_received());
            events::delivery_refused(
                &self.id,
                &id,
                message_type,
                failure.code.as_deref().unwrap_or(""),
                &failure.reason,
            );
            Outcome::Permanent(failure)
        };
        match verdict(status) {
            Verdict::Accepted => {}
            Verdict::Retry => {
                let reason = redact(&format!(
                    "{} answered HTTP {status} to {what}: {}",
                    self.client.peer(),
                    answer.explanation()
                ));
                let code = format!("http:{}", status.as_u16());
                events::delivery_failed(&self.id, &id, message_type, &code, &reason);
                return Outcome::Transient(Failure::new(reason).with_code(code).with_answer(answer.as_received()));
            }
            Verdict::Refused => {
                let reason = format!("{} refused {what}: HTTP {status}: {}", self.client.peer(), answer.explanation());
                return refused(format!("http:{}", status.as_u16()), reason);
            }
        }
        if let Some((pointer, success)) = &self.answer {
            match read_answer_code(&answer.body, pointer) {
                AnswerCode::Code(code) if success.contains(&code) => {}
                AnswerCode::Code(code) => {
                    let reason = format!(
                        "{} refused {what} with answer code {code}: {}",
                        self.client.peer(),
                        answer.explanation()
                    );
                    return refused(format!("answer:{code}"), reason);
                }
                // The service's contract says it answers a code; without one, nobody knows
                // whether it took the message: asked again, with the same Idempotency-Key.
                AnswerCode::Missing | AnswerCode::NotJson => {
                    let reason = redact(&format!("{} answered {what} without a code at {pointer}", self.client.peer()));
                    events::delivery_failed(&self.id, &id, message_type, "unreadable", &reason);
                    let failure = Failure::new(reason).with_code("unreadable").with_answer(answer.as_received());
                    return Outcome::Transient(failure.uncertain());
                }
            }
        }
        events::delivered(&self.id, &id, message_type, status.as_u16());
        delivery.answered(&answer.body);
        Outcome::Delivered
    }

    /// Answers one request to one of the agency's services.
    async fn call_service(&self, request: &ServiceRequest) -> Result<Value, ServiceError> {
        let ServiceRequest { request_id, service, member, body } = request;
        let Some(url) = self.services.get(service) else {
            let offered: Vec<&str> = self.services.keys().map(String::as_str).collect();
            let reason =
                format!("{service} is not served by adapter {}, which offers: {}", self.id, offered.join(", "));
            return Err(ServiceError::Unavailable(Failure::new(reason)));
        };
        let mut headers = json_headers();
        insert(&mut headers, headers::IDEMPOTENCY_KEY, request_id);
        insert(&mut headers, headers::REQUEST_ID, request_id);
        insert(&mut headers, headers::MEMBER, member);
        insert(&mut headers, headers::SERVICE, service);
        let body = serde_json::to_vec(body).expect("a JSON value always serialises");
        let what = format!("request {request_id} to {service}");
        let failed = |failure: Failure| {
            events::service_failed(&self.id, service, request_id, member, &failure.reason);
            Err(ServiceError::Unavailable(failure))
        };
        let answer = match self.client.call(reqwest::Method::POST, url, headers, Bytes::from(body)).await {
            Ok(answer) => answer,
            Err(error) => return failed(call_failure(&what, &error)),
        };
        let status = answer.status;
        let reason =
            redact(&format!("{} answered HTTP {status} to {what}: {}", self.client.peer(), answer.explanation()));
        let failure =
            Failure::new(reason).with_code(format!("http:{}", status.as_u16())).with_answer(answer.as_received());
        if crate::client::refuses_request(status) {
            events::service_refused(&self.id, service, request_id, member, &failure.reason);
            return Err(ServiceError::Refused(failure));
        }
        if verdict(status) != Verdict::Accepted {
            return failed(failure);
        }
        match serde_json::from_slice::<Value>(&answer.body) {
            Ok(reply) => {
                events::service_answered(&self.id, service, request_id, member);
                Ok(reply)
            }
            Err(_) => failed(
                Failure::new(format!("{} answered {what} with something that is not JSON", self.client.peer()))
                    .with_code("unreadable")
                    .with_answer(answer.as_received()),
            ),
        }
    }
}

/// The failure of a call that got no answer; uncertain when the service may have taken it.
fn call_failure(what: &str, error: &CallError) -> Failure {
    let mut failure = Failure::new(redact(&format!("{what}: {error}"))).with_code(error.code());
    if let Some(answer) = error.peer_answer() {
        failure = failure.with_answer(answer);
    }
    if error.uncertain() { failure.uncertain() } else { failure }
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers
}

/// Sets a header; a value a header cannot carry (checked ids never are) is left out.
fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[async_trait]
impl Adapter for HttpAdapter {
    /// None of its own: the bus's `routes` key says what an agency's service takes.
    fn routes(&self) -> Vec<String> {
        Vec::new()
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn deliver(&self, batch: &[Delivery]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(batch.len());
        // In order: one subject's messages must reach the service in the order they came.
        for delivery in batch {
            outcomes.push(self.deliver_one(delivery).await);
        }
        outcomes
    }

    fn services(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    async fn call(&self, request: &ServiceRequest) -> Result<Value, ServiceError> {
        self.call_service(request).await
    }
}
