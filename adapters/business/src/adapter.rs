//! The `business` adapter: answers `business.lookup` from the registry.
//!
//! Each lookup is logged with the enterprise code (public, not personal data), the dossier it is
//! for, the member asking and the outcome; never with the record, which names people.

use async_trait::async_trait;
use lgsp_bus::privacy::redact;
use lgsp_bus::{Adapter, Failure, ServiceError, ServiceRequest};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{ClientError, Lookup, LookupError, RegistryClient};
use crate::config::BusinessConfig;
use crate::events;
use crate::mapping;

/// The one service this adapter answers.
pub const LOOKUP: &str = "business.lookup";

pub struct BusinessAdapter {
    client: RegistryClient,
}

/// The adapter's view of a `business.lookup` request (the bus checked it against the schema).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct LookupRequest {
    pub mst: String,
    pub dossier_code: String,
}

impl BusinessAdapter {
    pub fn new(config: &BusinessConfig) -> Result<BusinessAdapter, ClientError> {
        Ok(BusinessAdapter { client: RegistryClient::new(config)? })
    }

    /// Looks up one enterprise code for `member`: the reply, valid against the reply schema.
    pub async fn lookup(&self, member: &str, request: &LookupRequest) -> Result<Value, ServiceError> {
        let LookupRequest { mst, dossier_code: dossier } = request;
        let answer = self.client.lookup(mst).await.map_err(|error| {
            let failure = failure(format!("business registry lookup of {mst} failed: {error}"), &error);
            if let LookupError::Refused { .. } = error {
                events::lookup_refused(mst, dossier, member, &error);
                ServiceError::Refused(failure)
            } else {
                events::lookup_failed(mst, dossier, member, &error);
                ServiceError::Unavailable(failure)
            }
        })?;
        let record = match answer {
            Lookup::Found(record) => record,
            Lookup::NotFound => {
                events::not_found(mst, dossier, member);
                return Ok(mapping::not_found());
            }
        };
        let mapped = mapping::business(mst, &record).map_err(|error| {
            events::record_unreadable(mst, dossier, member, &error);
            ServiceError::Unavailable(Failure::new(format!(
                "business registry record of {mst} cannot be used: {error}"
            )))
        })?;
        for note in &mapped.notes {
            events::record_noted(mst, dossier, note);
        }
        events::found(mst, dossier, member, mapped.business.legal_status.as_str());
        Ok(mapping::found(&mapped.business))
    }
}

/// A failure with the registry's answer, when there was one.
fn failure(reason: String, error: &LookupError) -> Failure {
    let failure = Failure::new(redact(&reason));
    match error.peer_answer() {
        Some(answer) => failure.with_answer(answer),
        None => failure,
    }
}

#[async_trait]
impl Adapter for BusinessAdapter {
    fn services(&self) -> Vec<String> {
        vec![LOOKUP.to_string()]
    }

    async fn call(&self, request: &ServiceRequest) -> Result<Value, ServiceError> {
        if request.service != LOOKUP {
            let reason = format!("{} is not served by the business adapter, which answers {LOOKUP}", request.service);
            return Err(ServiceError::Unavailable(Failure::new(reason)));
        }
        let lookup: LookupRequest = serde_json::from_value(request.body.clone()).map_err(|e| {
            ServiceError::Refused(Failure::new(redact(&format!(
                "{LOOKUP} request does not fit the adapter's view: {e}"
            ))))
        })?;
        self.lookup(&request.member, &lookup).await
    }
}
